<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use STask\Engine;
use STask\Exception\NotFoundException;
use STask\Exception\StateException;
use STask\Task;

/** Every method of STask\Engine and STask\Task, on the embedded SQLite backend. */
final class EngineApiTest extends EngineTestCase
{
    public function testExtensionIsLoadedUnderItsName(): void
    {
        self::assertTrue(extension_loaded('stask'));
        self::assertNotFalse((new \ReflectionExtension('stask'))->getVersion());
    }

    public function testCreateAndFind(): void
    {
        $task = $this->engine->create('product', 'import', ['file' => 'products.csv'], 'high', [
            'maxAttempts' => 5,
            'userId' => 7,
        ]);
        self::assertInstanceOf(Task::class, $task);
        self::assertGreaterThan(0, $task->id);
        self::assertSame('product', $task->identifier);
        self::assertSame('import', $task->action);
        self::assertSame(10, $task->status);
        self::assertSame(Task::PENDING, $task->status);
        self::assertSame('pending', $task->statusText);
        self::assertSame('high', $task->priority);
        self::assertSame(['file' => 'products.csv'], $task->data);
        self::assertSame(0, $task->progress);
        self::assertSame(0, $task->attempts);
        self::assertSame(5, $task->maxAttempts);
        self::assertSame(7, $task->userId);
        self::assertNull($task->result);
        self::assertNull($task->finishedAt);
        self::assertEqualsWithDelta(time(), $task->createdAt, 2);
        self::assertTrue($task->isPending());
        self::assertFalse($task->isRunning() || $task->isFinished());

        $found = $this->engine->find($task->id);
        self::assertNotNull($found);
        self::assertSame($task->toArray(), $found->toArray());
        self::assertNull($this->engine->find($task->id + 100));
    }

    public function testCreateDefaultsAndNamedArguments(): void
    {
        $task = $this->engine->create(identifier: 'mail', action: 'send');
        self::assertSame('normal', $task->priority);
        self::assertSame([], $task->data);
        self::assertSame(3, $task->maxAttempts);
        self::assertNull($task->userId);
        $delayed = $this->engine->create('mail', 'send', [], 'low', ['delay' => 60]);
        self::assertEqualsWithDelta(time() + 60, $delayed->availableAt, 2);
        $at = $this->engine->create('mail', 'send', [], 'low', ['availableAt' => new \DateTimeImmutable('2030-01-01 00:00:00 UTC')]);
        self::assertSame(1893456000, $at->availableAt);
    }

    public function testCreateManyInOneTransaction(): void
    {
        $tasks = $this->engine->createMany([
            ['identifier' => 'mail', 'action' => 'send', 'data' => ['to' => 'a@example.com']],
            ['identifier' => 'mail', 'action' => 'send', 'data' => ['to' => 'b@example.com'], 'priority' => 'high', 'maxAttempts' => 1],
        ]);
        self::assertCount(2, $tasks);
        self::assertSame('b@example.com', $tasks[1]->data['to']);
        self::assertSame('high', $tasks[1]->priority);
        self::assertSame(1, $tasks[1]->maxAttempts);
        self::assertSame([], $this->engine->createMany([]));
        self::assertSame(2, $this->countRows());
    }

    public function testProcessRunsByPriorityAndCompletes(): void
    {
        $low = $this->engine->create('w', 'a', [], 'low');
        $high = $this->engine->create('w', 'a', [], 'high');
        $normal = $this->engine->create('w', 'a', [], 'normal');
        $order = [];
        $done = $this->engine->processPendingTasks(function (Task $t) use (&$order) {
            self::assertTrue($t->isRunning());
            self::assertSame(1, $t->attempts);
            $order[] = $t->id;
        });
        self::assertSame(3, $done);
        self::assertSame([$high->id, $normal->id, $low->id], $order);
        $t = $this->engine->find($high->id);
        self::assertSame('completed', $t->statusText);
        self::assertSame(100, $t->progress);
        self::assertTrue($t->isCompleted() && $t->isFinished());
        self::assertNotNull($t->finishedAt);
        self::assertSame(0, $this->engine->processPendingTasks(fn () => null), 'nothing left');
    }

    public function testLimitAndIdentifierFilter(): void
    {
        for ($i = 0; $i < 6; $i++) {
            $this->engine->create($i % 2 ? 'odd' : 'even', 'run');
        }
        $seen = [];
        $report = $this->engine->process(function (Task $t) use (&$seen) { $seen[] = $t->identifier; }, 2, ['identifiers' => ['odd']]);
        self::assertSame(['odd', 'odd'], $seen);
        self::assertSame(2, $report['completed']);
        self::assertSame(2, $report['claimed']);
        self::assertFalse($report['exited']);
        foreach (['claimed', 'completed', 'retried', 'failed', 'cancelled', 'lost', 'released', 'rescued', 'exited'] as $key) {
            self::assertArrayHasKey($key, $report);
        }
    }

    public function testHandlerMayCompleteWithAResultOrFail(): void
    {
        $a = $this->engine->create('w', 'a');
        $b = $this->engine->create('w', 'b');
        $this->engine->processPendingTasks(function (Task $t) {
            if ($t->action === 'a') {
                $this->engine->complete($t->id, ['rows' => 10, 'file' => 'out.csv'], 'Imported 10 rows');
            } else {
                $this->engine->fail($t->id, 'the source file is missing');
            }
        });
        $ta = $this->engine->find($a->id);
        self::assertSame(['rows' => 10, 'file' => 'out.csv'], $ta->result);
        self::assertSame('Imported 10 rows', $ta->message);
        $tb = $this->engine->find($b->id);
        self::assertSame('failed', $tb->statusText);
        self::assertSame(1, $tb->attempts, 'fail() does not retry');
        self::assertStringContainsString('the source file is missing', $tb->message);
    }

    public function testScalarResultsRoundTrip(): void
    {
        foreach (['/storage/export.csv', 42, 1.5, true, ['a' => [1, 2]]] as $result) {
            $t = $this->engine->create('w', 'r');
            $this->engine->complete($t->id, $result);
            self::assertSame($result, $this->engine->find($t->id)->result);
        }
    }

    public function testCompleteFailOutsideHandlersOnlyForPendingTasks(): void
    {
        $t = $this->engine->create('w', 'a');
        $this->engine->complete($t->id);
        self::assertTrue($this->engine->find($t->id)->isCompleted());
        $this->expectException(StateException::class);
        $this->expectExceptionMessage('completed');
        $this->engine->fail($t->id, 'too late');
    }

    public function testCancelAndRetry(): void
    {
        $t = $this->engine->create('w', 'a');
        self::assertFalse($this->engine->isCancelled($t->id));
        self::assertTrue($this->engine->cancel($t->id));
        self::assertTrue($this->engine->isCancelled($t->id));
        self::assertSame('cancelled', $this->engine->find($t->id)->statusText);
        self::assertFalse($this->engine->cancel($t->id), 'already finished');
        self::assertTrue($this->engine->retry($t->id));
        $again = $this->engine->find($t->id);
        self::assertSame('pending', $again->statusText);
        self::assertSame(0, $again->attempts);
        self::assertFalse($this->engine->retry($t->id), 'only failed or cancelled tasks are retried');
    }

    public function testCancellingARunningTaskStopsItAtTheNextProgressReport(): void
    {
        $t = $this->engine->create('import', 'csv');
        $reached = 0;
        $report = $this->engine->process(function (Task $task) use (&$reached) {
            for ($i = 1; $i <= 100; $i++) {
                if ($i === 30) {
                    self::assertTrue($this->engine->cancel($task->id));
                }
                $this->engine->pushProgress($task->id, ['progress' => $i]);
                $reached = $i;
            }
        });
        self::assertSame(29, $reached);
        self::assertSame(1, $report['cancelled']);
        self::assertSame('cancelled', $this->engine->find($t->id)->statusText);
    }

    public function testAWorkerCheckingIsCancelledStopsCooperatively(): void
    {
        $t = $this->engine->create('import', 'csv');
        $this->engine->process(function (Task $task) {
            $this->engine->cancel($task->id);
            while (!$this->engine->isCancelled($task->id)) {
                usleep(1000);
            }
            // Returning after seeing the cancel: the task is cancelled, not completed.
        });
        self::assertSame('cancelled', $this->engine->find($t->id)->statusText);
    }

    public function testProgressSnapshotAndLiveProgress(): void
    {
        $t = $this->engine->create('import', 'csv');
        $this->engine->processPendingTasks(function (Task $task) {
            for ($i = 1; $i <= 1000; $i++) {
                $this->engine->pushProgress($task->id, ['processed' => $i, 'total' => 1000, 'message' => "row $i"]);
            }
            $live = $this->engine->progress($task->id);
            self::assertSame('running', $live['status']);
            self::assertSame(100, $live['progress']);
            self::assertSame(1000, $live['processed']);
            self::assertSame('row 1000', $live['message']);
            self::assertFileExists($this->storage . "/{$task->id}.json");
        });
        $snapshot = json_decode(file_get_contents($this->storage . "/{$t->id}.json"), true);
        self::assertSame('completed', $snapshot['status']);
        self::assertSame(100, $snapshot['progress']);
        self::assertSame(1000, $snapshot['total']);
        foreach (['id', 'identifier', 'action', 'status', 'progress', 'processed', 'total', 'eta', 'eta_seconds', 'message',
                  'attempt', 'max_attempts', 'started_at', 'updated_at', 'finished_at'] as $key) {
            self::assertArrayHasKey($key, $snapshot);
        }
        self::assertSame($snapshot['status'], $this->engine->progress($t->id)['status']);
    }

    public function testProgressOfATaskWithoutSnapshotComesFromTheDatabase(): void
    {
        $t = $this->engine->create('w', 'a');
        $p = $this->engine->progress($t->id);
        self::assertSame('pending', $p['status']);
        self::assertSame(0, $p['progress']);
        self::assertSame('—', $p['eta']);
    }

    public function testPendingTasksMayBeAnnotatedButOthersRunningMayNot(): void
    {
        $t = $this->engine->create('w', 'a');
        $this->engine->pushProgress($t->id, ['message' => 'waiting for the upload']);
        self::assertSame('waiting for the upload', $this->engine->progress($t->id)['message']);
        $this->engine->complete($t->id);
        $this->expectException(StateException::class);
        $this->engine->pushProgress($t->id, ['progress' => 5]);
    }

    public function testLogsByLevelAndLimit(): void
    {
        $t = $this->engine->create('w', 'a', [], 'normal');
        $this->engine->log($t->id, 'info', 'started');
        $this->engine->log($t->id, 'warning', "row 7 skipped\twith a tab", ['row' => 7]);
        $this->engine->log($t->id, 'error', "line one\nline two", ['e' => ['code' => 5]]);
        $all = $this->engine->logs($t->id);
        self::assertCount(3, $all);
        self::assertSame(['time', 'level', 'message', 'context'], array_keys($all[0]));
        self::assertSame("line one\nline two", $all[2]['message']);
        self::assertSame(['row' => 7], $all[1]['context']);
        self::assertSame([], $all[0]['context']);
        self::assertCount(1, $this->engine->logs($t->id, 'warning'));
        self::assertSame('error', $this->engine->logs($t->id, null, 1)[0]['level']);
        self::assertSame('error', $this->engine->logs(id: $t->id, limit: 1)[0]['level']);
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/', $all[0]['time']);
        self::assertSame($this->storage . "/{$t->id}.log", $this->engine->logPath($t->id));
        self::assertSame(3, count(file($this->engine->logPath($t->id))), 'one line per entry');
    }

    public function testAttemptsThatLogSomethingAreFramedByLifecycleLines(): void
    {
        $t = $this->engine->create('w', 'a');
        $this->engine->processPendingTasks(fn (Task $task) => $this->engine->log($task->id, 'info', 'working'));
        $messages = array_column($this->engine->logs($t->id), 'message');
        self::assertCount(3, $messages);
        self::assertStringStartsWith('Attempt 1/3 started', $messages[0]);
        self::assertSame('working', $messages[1]);
        self::assertStringStartsWith('Completed in', $messages[2]);
    }

    public function testSilentQuickTasksCostNoLogFile(): void
    {
        $t = $this->engine->create('w', 'a');
        $this->engine->processPendingTasks(fn () => null);
        self::assertSame([], $this->engine->logs($t->id));
        self::assertFileDoesNotExist($this->engine->logPath($t->id));
    }

    public function testARetriedAttemptIsLoggedInFull(): void
    {
        $t = $this->engine->create('w', 'a');
        $this->engine->processPendingTasks(function () { throw new \RuntimeException('first try fails'); });
        $this->makeDue($t->id);
        $this->engine->processPendingTasks(fn () => null);
        $lines = array_map(fn ($e) => $e['level'] . ' ' . $e['message'], $this->engine->logs($t->id));
        self::assertCount(4, $lines, implode("\n", $lines));
        self::assertStringStartsWith('info Attempt 1/3 started', $lines[0]);
        self::assertStringStartsWith('error Attempt 1/3 failed: first try fails; next attempt in', $lines[1]);
        self::assertStringStartsWith('info Attempt 2/3 started', $lines[2]);
        self::assertStringStartsWith('info Completed in', $lines[3]);
    }

    public function testLifecycleLinesCanBeTurnedOff(): void
    {
        $quiet = $this->newEngine(['lifecycleLog' => false]);
        $t = $quiet->create('w', 'a');
        $quiet->processPendingTasks(fn (Task $task) => $quiet->log($task->id, 'info', 'only this'));
        self::assertSame(['only this'], array_column($quiet->logs($t->id), 'message'));
    }

    public function testStats(): void
    {
        $this->engine->create('mail', 'send');
        $this->engine->create('mail', 'send');
        $c = $this->engine->create('product', 'import');
        $this->engine->complete($c->id);
        $stats = $this->engine->stats();
        self::assertSame(3, $stats['total']);
        self::assertSame(2, $stats['pending']);
        self::assertSame(1, $stats['completed']);
        self::assertSame(0, $stats['failed']);
        self::assertSame(0, $stats['cancelled']);
        self::assertSame(2, $stats['identifiers']['mail']['pending']);
        self::assertSame(1, $stats['identifiers']['product']['total']);
    }

    public function testPruneRemovesOldFinishedTasksAndFiles(): void
    {
        $old = $this->engine->create('w', 'a');
        $this->engine->log($old->id, 'info', 'x');
        $this->engine->complete($old->id);
        $fresh = $this->engine->create('w', 'a');
        $this->engine->complete($fresh->id);
        $pending = $this->engine->create('w', 'a');
        $this->pdo()->prepare("UPDATE evo_s_tasks SET finished_at = '2001-01-01 00:00:00' WHERE id = ?")->execute([$old->id]);
        self::assertSame(1, $this->engine->prune(30));
        self::assertNull($this->engine->find($old->id));
        self::assertFileDoesNotExist($this->storage . "/{$old->id}.log");
        self::assertNotNull($this->engine->find($fresh->id));
        self::assertNotNull($this->engine->find($pending->id));
    }

    public function testUnknownIdsThrowNotFound(): void
    {
        foreach ([
            fn () => $this->engine->pushProgress(999, ['progress' => 1]),
            fn () => $this->engine->log(999, 'info', 'x'),
            fn () => $this->engine->logs(999),
            fn () => $this->engine->complete(999),
            fn () => $this->engine->fail(999, 'x'),
            fn () => $this->engine->cancel(999),
            fn () => $this->engine->retry(999),
            fn () => $this->engine->isCancelled(999),
            fn () => $this->engine->progress(999),
        ] as $i => $call) {
            try {
                $call();
                self::fail("call #$i did not throw");
            } catch (NotFoundException $e) {
                self::assertSame('task 999 does not exist', $e->getMessage());
            }
        }
    }

    public function testTaskPropertiesAreReadOnly(): void
    {
        $t = $this->engine->create('w', 'a');
        $this->expectException(\Throwable::class);
        $t->status = 80;
    }

    public function testTheEngineClassIsFinalAndTaskHasNoPublicConstructor(): void
    {
        self::assertTrue((new \ReflectionClass(Engine::class))->isFinal());
        $this->expectException(\Throwable::class);
        new Task();
    }

    public function testMigrateIsIdempotentAndEnginesShareTheDatabase(): void
    {
        $this->engine->migrate();
        $t = $this->engine->create('w', 'a');
        $other = $this->newEngine();
        $other->migrate();
        self::assertSame($t->id, $other->find($t->id)->id);
    }

    public function testAMissingSchemaSaysToMigrate(): void
    {
        $fresh = new Engine('sqlite:' . $this->dir . '/empty.sqlite', ['storage' => $this->storage]);
        try {
            $fresh->create('w', 'a');
            self::fail('expected an exception');
        } catch (\STask\Exception\DatabaseException $e) {
            self::assertStringContainsString('migrate()', $e->getMessage());
        }
    }

    public function testRunningChosenTasksNowAndStoppingEarly(): void
    {
        $later = $this->engine->create('w', 'later', [], 'normal', ['delay' => 3600]);
        $other = $this->engine->create('w', 'other');
        $report = $this->engine->process(fn () => null, 10, ['ids' => [$later->id]]);
        self::assertSame(1, $report['completed']);
        self::assertTrue($this->engine->find($later->id)->isCompleted(), 'run on demand before it was due');
        self::assertTrue($this->engine->find($other->id)->isPending());

        for ($i = 0; $i < 5; $i++) {
            $this->engine->create('w', 'more');
        }
        $report = $this->engine->process(function () { $this->engine->requestStop(); }, 100);
        self::assertTrue($report['stopped']);
        self::assertSame(1, $report['completed'], 'stopped after the current task');
    }

    public function testPruneFilesKeepsRows(): void
    {
        $t = $this->engine->create('w', 'a');
        $this->engine->log($t->id, 'info', 'x');
        $this->engine->complete($t->id);
        self::assertSame(1, $this->engine->pruneFiles(0));
        self::assertFileDoesNotExist($this->engine->logPath($t->id));
        self::assertNotNull($this->engine->find($t->id));
    }

    public function testDiscoverWorkersReadsComposerMetadataWithoutLoadingClasses(): void
    {
        $root = $this->dir . '/project';
        @mkdir("$root/vendor/composer", 0777, true);
        @mkdir("$root/vendor/acme/shop/src", 0777, true);
        file_put_contents("$root/vendor/composer/installed.json", json_encode(['packages' => [
            ['name' => 'acme/shop', 'install-path' => '../acme/shop', 'autoload' => ['psr-4' => ['Acme\\Shop\\' => 'src/']]],
        ]]));
        file_put_contents("$root/vendor/acme/shop/src/ImportWorker.php",
            "<?php namespace Acme\\Shop; use Seiger\\sTask\\Workers\\BaseWorker; class ImportWorker extends BaseWorker {}");
        $found = Engine::discoverWorkers($root, ['Seiger\\sTask\\Workers\\BaseWorker']);
        self::assertSame([['class' => 'Acme\\Shop\\ImportWorker', 'file' => "$root/vendor/composer/../acme/shop/src/ImportWorker.php", 'package' => 'acme/shop']], $found['candidates']);
        self::assertSame(1, $found['packages']);
        self::assertFalse(class_exists('Acme\\Shop\\ImportWorker', false), 'nothing was loaded');
        $this->expectException(\STask\Exception\InvalidArgumentException::class);
        Engine::discoverWorkers($this->dir . '/missing', []);
    }
}
