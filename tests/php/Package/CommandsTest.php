<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;

/** Every artisan command: output, effects and exit codes. */
final class CommandsTest extends PackageTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->discoverAndActivate();
    }

    public function testWorkRunsUntilEmptyWithALinePerTask(): void
    {
        foreach (range(1, 3) as $month) {
            sTask::create('report', 'build', ['month' => $month]);
        }
        sTask::create('newsletter', 'send', ['to' => ['bounce@example.com']], 'low', null, ['maxAttempts' => 1]);
        $out = $this->artisan('stask:work', ['--stop-when-empty' => true]);
        self::assertSame(3, substr_count($out, 'report:build'));
        self::assertSame(3, substr_count($out, 'done'));
        self::assertStringContainsString('newsletter:send', $out);
        self::assertStringContainsString('fail', $out);
        self::assertStringContainsString('Mailbox bounce@example.com is full', $out);
        self::assertStringContainsString('Stopped (queue empty) after 4 task(s)', $out);
        self::assertSame(3, sTaskModel::completed()->count());
    }

    public function testWorkLimitsAndFilters(): void
    {
        foreach (range(1, 5) as $i) {
            sTask::create('report', 'build', ['month' => $i]);
        }
        sTask::create('prices', 'make');
        self::assertStringContainsString('--once', $this->artisan('stask:work', ['--once' => true]));
        self::assertSame(1, sTaskModel::completed()->count());
        self::assertStringContainsString('--max-jobs=2 reached', $this->artisan('stask:work', ['--max-jobs' => 2, '--identifier' => ['report']]));
        self::assertSame(3, sTaskModel::completed()->count());
        $out = $this->artisan('stask:work', ['--identifier' => ['prices'], '--stop-when-empty' => true]);
        self::assertStringContainsString('prices:make', $out);
        self::assertSame(2, sTaskModel::pending()->count(), 'other workers\' tasks were left');
        self::assertStringContainsString('--max-time=1 reached', $this->artisan('stask:work', ['--max-time' => 1, '--sleep' => 0.1, '--identifier' => ['nobody']]));
    }

    public function testWorkFailsATaskThatOutlivesItsTimeout(): void
    {
        if (!function_exists('pcntl_alarm')) {
            self::markTestSkipped('pcntl is not available');
        }
        $this->artisan('stask:discover', ['--activate' => ['slow']]);
        $task = sTask::create('slow', 'wait', ['seconds' => 5], 'normal', null, ['maxAttempts' => 2]);
        $started = microtime(true);
        $out = $this->artisan('stask:work', ['--timeout' => 1, '--stop-when-empty' => true]);
        self::assertLessThan(4.5, microtime(true) - $started, 'the task was interrupted');
        self::assertStringContainsString('The task ran longer than --timeout=1 s', $out);
        $row = $task->fresh();
        self::assertTrue($row->isPending(), 'retried later');
        self::assertStringContainsString('TaskTimeoutException', $row->last_error);
    }

    public function testWorkerPassQueuesScheduledRunsAndProcesses(): void
    {
        sTask::create('report', 'build');
        $newsletter = sTask::getWorker('newsletter');
        $time = self::minuteNotNow();
        $newsletter->settings = ['schedule' => ['type' => 'periodic', 'enabled' => true, 'frequency' => 'hourly', 'time' => $time]];
        $newsletter->save();
        $out = $this->artisan('stask:worker');
        self::assertStringContainsString('Scheduled newsletter', $out);
        self::assertStringContainsString('Scheduled cleanup', $out, 'the cleanup worker schedules itself daily once active');
        self::assertStringContainsString('Processed 1 task(s)', $out);
        self::assertStringContainsString('1 completed', $out);
        $scheduled = sTaskModel::pending()->where('identifier', 'newsletter')->get();
        self::assertCount(1, $scheduled);
        self::assertSame('make', $scheduled[0]->action);
        self::assertSame(substr($time, 2), date('i', intdiv((int) $scheduled[0]->available_at, 1000)), "at minute $time");
        // A second pass (another cron tick, another server) does not queue it twice.
        $this->artisan('stask:worker');
        self::assertCount(1, sTaskModel::pending()->where('identifier', 'newsletter')->get());
    }

    public function testDiscoverPrintsATableAndTogglesWorkers(): void
    {
        $out = $this->artisan('stask:discover', ['--rescan' => true, '--clean' => true, '--deactivate' => ['report']]);
        self::assertStringContainsString('Scanned', $out);
        self::assertMatchesRegularExpression('/\|\s*product\s*\|\s*Acme\\\\Shop\\\\Workers\\\\ProductWorker\s*\|\s*acme\/shop/', $out);
        self::assertStringContainsString('Deactivated report', $out);
        self::assertFalse(sTask::getWorker('report')->active);
        $out = $this->artisan('stask:discover', ['--activate' => ['nobody']], 1);
        self::assertStringContainsString('No worker "nobody" is registered', $out);
    }

    public function testListFiltersAndPages(): void
    {
        $a = sTask::create('report', 'build');
        sTask::create('newsletter', 'send');
        sTask::cancel($a);
        $out = $this->artisan('stask:list');
        self::assertStringContainsString('report', $out);
        self::assertStringContainsString('newsletter', $out);
        self::assertStringContainsString('Page 1 of 1 (2 task(s))', $out);
        $out = $this->artisan('stask:list', ['--status' => ['cancelled']]);
        self::assertStringContainsString('report', $out);
        self::assertStringNotContainsString('newsletter', $out);
        self::assertStringContainsString('No tasks match', $this->artisan('stask:list', ['--identifier' => ['nobody']]));
        self::assertStringContainsString('Unknown status "weird"', $this->artisan('stask:list', ['--status' => ['weird']], 2));
        self::assertStringContainsString('Page 2 of 2', $this->artisan('stask:list', ['--limit' => 1, '--page' => 2]));
    }

    public function testShowDisplaysProgressAndTheLogTail(): void
    {
        $task = sTask::create('newsletter', 'send', ['to' => ['a@example.com', 'b@example.com']]);
        sTask::processPendingTasks();
        sTask::log($task, 'warning', 'slow SMTP', ['ms' => 900]);
        $out = $this->artisan('stask:show', ['id' => $task->id]);
        self::assertStringContainsString('newsletter:send', $out);
        self::assertStringContainsString('100%', $out);
        self::assertStringContainsString('completed 2/2', $out);
        self::assertStringContainsString('slow SMTP', $out);
        self::assertStringContainsString('{"ms":900}', $out);
        self::assertStringContainsString("Full log: {$this->site->core}/storage/stask/{$task->id}.log", $out);
        self::assertStringContainsString('does not exist', $this->artisan('stask:show', ['id' => 999], 1));
    }

    public function testRetryCancelPruneAndStats(): void
    {
        $failing = sTask::create('newsletter', 'send', ['to' => ['bounce@example.com']], 'normal', null, ['maxAttempts' => 1]);
        $pending = sTask::create('report', 'build', [], 'normal', null, ['delay' => 600]);
        sTask::processPendingTasks();
        self::assertTrue($failing->fresh()->isFailed());

        self::assertStringContainsString('Give task ids, or --failed', $this->artisan('stask:retry', [], 2));
        self::assertStringContainsString('queued again', $this->artisan('stask:retry', ['--failed' => true]));
        self::assertTrue($failing->fresh()->isPending());
        self::assertStringContainsString('not failed or cancelled', $this->artisan('stask:retry', ['id' => [$pending->id]], 1));

        self::assertStringContainsString('cancelled', $this->artisan('stask:cancel', ['id' => [$pending->id]]));
        self::assertStringContainsString('already cancelled', $this->artisan('stask:cancel', ['id' => [$pending->id]], 1));
        self::assertStringContainsString('does not exist', $this->artisan('stask:cancel', ['id' => [999]], 1));

        $out = $this->artisan('stask:stats');
        self::assertMatchesRegularExpression('/\|\s*newsletter\s*\|\s*1\s*\|/', $out);
        self::assertStringContainsString('Workers: 9 registered, 6 active.', $out);

        $this->site->pdo()->exec("UPDATE evo_s_tasks SET finished_at = '2001-01-01 00:00:00' WHERE finished_at IS NOT NULL");
        self::assertStringContainsString('Deleted the files of 1 task(s)', $this->artisan('stask:prune', ['--files-only' => true]));
        self::assertStringContainsString('Deleted 1 task(s) finished more than 30 day(s) ago', $this->artisan('stask:prune'));
        self::assertStringContainsString('must not be negative', $this->artisan('stask:prune', ['--days' => -1], 2));
    }
}
