<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use STask\Exception\StateException;

/**
 * Writes to a task through its Eloquent model from outside its worker (upstream packages do
 * this from services and controllers): they are engine transitions, allowed where no worker
 * holds the task, and everything else is refused without changing the row.
 */
final class ModelWritesTest extends PackageTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->discoverAndActivate();
    }

    public function testPendingTasksMayBeFinishedCancelledOrDelayedThroughTheModel(): void
    {
        $done = sTask::create('report', 'build', ['month' => 1]);
        $done->update(['status' => sTaskModel::TASK_STATUS_FINISHED, 'message' => 'Built elsewhere', 'progress' => 100]);
        $row = $done->fresh();
        self::assertSame([80, 'Built elsewhere', 100], [$row->status, $row->message, $row->progress]);
        self::assertNotNull($row->finished_at);
        self::assertFalse($done->isDirty(), 'the model holds what the row holds');

        $failed = sTask::create('report', 'build', ['month' => 2]);
        $failed->update(['status' => 100, 'message' => 'Not needed']);
        self::assertSame([100, 'Not needed'], [$failed->fresh()->status, $failed->fresh()->message]);

        $cancelled = sTask::create('report', 'build', ['month' => 3]);
        $cancelled->update(['status' => 90]);
        self::assertTrue($cancelled->fresh()->isCancelled());

        $later = sTask::create('report', 'build', ['month' => 4]);
        $later->update(['start_at' => now()->addHour(), 'meta' => ['month' => 4, 'note' => 'kept']]);
        self::assertSame(['month' => 4, 'note' => 'kept'], $later->fresh()->meta);
        self::assertSame(0, sTask::processPendingTasks(), 'not before its start_at');
        self::assertSame('pending', $later->fresh()->status_text);
        $later->update(['start_at' => null]);
        self::assertSame(1, sTask::processPendingTasks(), 'due again');
        self::assertTrue($later->fresh()->isCompleted());
    }

    public function testFinishedTasksAreNotMovedByModelWrites(): void
    {
        $task = sTask::create('report', 'build');
        sTask::processPendingTasks();
        $task = $task->fresh();
        try {
            $task->update(['status' => sTaskModel::TASK_STATUS_FAILED, 'message' => 'emergency stop']);
            self::fail('a finished task changed status');
        } catch (StateException $e) {
            self::assertStringContainsString('retry() queues it again', $e->getMessage());
        }
        self::assertSame([80, 'Report built'], [$task->fresh()->status, $task->fresh()->message]);
        $task->update(['result' => null]);
        self::assertNull($task->fresh()->result, 'other columns are written as usual');
        try {
            sTask::create('report', 'build', ['month' => 9])->update(['status' => 50]);
            self::fail('a pending task was marked running by a process that does not run it');
        } catch (StateException) {
            self::assertSame(1, sTaskModel::pending()->count());
        }
    }

    public function testModelInsertsMassUpdatesAndDeletesGoThroughTheEngine(): void
    {
        $created = sTaskModel::create(['identifier' => 'report', 'action' => 'build', 'meta' => ['month' => 5], 'priority' => 'high', 'started_by' => 3]);
        self::assertTrue($created->exists);
        self::assertSame([10, 'high', 3, ['month' => 5]], [$created->status, $created->priority, $created->started_by, $created->meta]);
        self::assertSame((int) $created->id, (int) sTask::getPendingTasks()->first()->id, 'queued like sTask::create()');

        $event = sTaskModel::create(['identifier' => 'report', 'action' => 'supervisor', 'status' => 80, 'message' => 'Started', 'meta' => ['x' => 1]]);
        self::assertSame([80, 'Started'], [$event->fresh()->status, $event->fresh()->message]);

        sTask::create('report', 'build', ['month' => 6]);
        self::assertSame(2, sTaskModel::query()->queued()->update(['status' => 90, 'message' => 'Cleared']));
        self::assertSame(2, sTaskModel::cancelled()->count());

        $low = sTask::create('report', 'build', ['month' => 10], 'low');
        $high = sTask::create('report', 'build', ['month' => 11], 'high');
        $low->update(['priority' => 'HIGH']);
        self::assertSame('high', $low->fresh()->priority);
        self::assertSame([(int) $low->id, (int) $high->id], sTask::getPendingTasks()->pluck('id')->map(fn ($i) => (int) $i)->all(), 'a raised priority moves it up (then oldest first)');
        try {
            $low->update(['priority' => 'urgent']);
            self::fail('an unknown priority was saved');
        } catch (\InvalidArgumentException) {
            self::assertSame('high', $low->fresh()->priority);
        }
        $low->delete();
        $high->delete();

        $pending = sTask::create('report', 'build', ['month' => 7]);
        sTask::log($pending, 'info', 'a line');
        $log = sTask::engine()->logPath((int) $pending->id);
        self::assertFileExists($log);
        $pending->delete();
        self::assertNull(sTask::find((int) $pending->id));
        self::assertFileDoesNotExist($log, 'its log went with it');
        self::assertSame(2, sTaskModel::query()->cancelled()->delete());
    }

    public function testUpstreamStaticsAndDuplicates(): void
    {
        self::assertSame([10, 30, 50], sTaskModel::activeStatuses());
        self::assertSame(['a' => 1, 'b' => ['x' => 1, 'y' => [3, 1]]], sTaskModel::normalizeMeta(['b' => ['y' => [3, 1], 'x' => 1], 'a' => 1]));
        $first = sTask::create('report', 'build', ['b' => 2, 'a' => 1]);
        $again = sTask::create(identifier: 'report', action: 'build', data: ['a' => 1, 'b' => 2], priority: 'high', userId: 4);
        self::assertSame((int) $first->id, (int) $again->id, 'the active duplicate is handed back');
        self::assertSame('normal', $again->priority, 'unchanged, as upstream');
        self::assertNotSame((int) $first->id, (int) sTask::create('report', 'build', ['a' => '1', 'b' => 2])->id, 'types count');
        self::assertSame((int) $first->id, (int) sTaskModel::findActiveDuplicate('report', 'build', ['a' => 1, 'b' => 2])->id);
        self::assertNull(sTaskModel::findActiveDuplicate('report', 'build', ['a' => 2]));
        self::assertNotSame((int) $first->id, (int) sTask::create('report', 'build', ['a' => 1, 'b' => 2], options: ['unique' => false])->id);
        sTask::cancel($first);
        self::assertNotSame((int) $first->id, (int) sTask::create('report', 'build', ['a' => 1, 'b' => 2])->id, 'a finished task is no duplicate');
    }

    /** Several processes creating the same task at once get one task. */
    public function testDuplicateSuppressionHoldsAcrossProcesses(): void
    {
        $script = $this->site->core . '/create-dup.php';
        $autoload = var_export(realpath(dirname(__DIR__) . '/Evo/autoload.php'), true);
        file_put_contents($script, <<<PHP
        <?php
        putenv('STASK_SITE_APP=' . realpath(__DIR__ . '/app'));
        require $autoload;
        \\STask\\Tests\\Evo\\Site::open(dirname(__DIR__));
        \$ids = [];
        for (\$i = 0; \$i < 40; \$i++) {
            \$ids[] = (int) \\Seiger\\sTask\\Facades\\sTask::create('report', 'build', ['round' => \$i % 4])->id;
        }
        echo json_encode(array_values(array_unique(\$ids)));
        PHP);
        $procs = [];
        foreach (range(1, 4) as $n) {
            $procs[] = popen(sprintf('%s -d extension=%s %s', PHP_BINARY, escapeshellarg((string) getenv('STASK_EXTENSION')), escapeshellarg($script)), 'r');
        }
        $seen = [];
        foreach ($procs as $p) {
            $seen[] = json_decode((string) stream_get_contents($p), true);
            pclose($p);
        }
        self::assertSame(4, sTaskModel::count(), 'four distinct payloads, one task each: ' . json_encode($seen));
    }
}
