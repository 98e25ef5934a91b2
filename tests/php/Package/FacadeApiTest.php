<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Acme\Shop\Workers\ProductWorker;
use Acme\Shop\Workers\StockSync;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Workers\BaseWorker;

/** Upstream sTask's facade and models, running on the engine, with upstream-style workers. */
final class FacadeApiTest extends PackageTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->discoverAndActivate();
        ProductWorker::$imported = [];
        StockSync::$runs = [];
    }

    private function csv(int $rows): string
    {
        $file = $this->site->root . '/products.csv';
        $lines = ['sku,name,price'];
        for ($i = 1; $i <= $rows; $i++) {
            $lines[] = "SKU$i,Product $i,$i.50";
        }
        file_put_contents($file, implode("\n", $lines) . "\n");
        return $file;
    }

    public function testTheReadmeExampleRunsUnchanged(): void
    {
        // Create task
        $task = sTask::create(
            identifier: 'product',
            action: 'import',
            data: ['file' => $this->csv(250)],
            priority: 'high'
        );
        self::assertInstanceOf(sTaskModel::class, $task);
        self::assertTrue($task->isPending());

        // Process tasks
        $processed = sTask::processPendingTasks();
        self::assertSame(1, $processed);

        // Check status
        self::assertTrue($task->fresh()->isFinished());
        self::assertSame('completed', $task->fresh()->status_text);
        self::assertSame('Imported 250 products', $task->fresh()->message);
        self::assertCount(250, ProductWorker::$imported);

        // Get all incomplete tasks
        self::assertCount(0, sTaskModel::incomplete()->get());

        $progress = sTask::progress($task);
        self::assertSame(100, $progress['progress']);
        self::assertSame(250, $progress['total']);
        self::assertSame('completed', $progress['status']);
    }

    public function testResultsFailuresAndTheInterfaceOnlyWorker(): void
    {
        $dir = $this->site->root;
        $export = sTask::create('product', 'export', ['dir' => $dir]);
        $broken = sTask::create('product', 'sync_stock', ['source' => 'broken']);
        $synced = sTask::create('product', 'sync-stock', ['source' => 'erp']);
        $bare = sTask::create('stock_sync', 'run', ['warehouse' => 7]);
        self::assertSame(3, sTask::processPendingTasks(10));

        self::assertSame("$dir/products_{$export->id}.csv", $export->fresh()->result);
        self::assertFileExists($export->fresh()->result);
        self::assertSame('failed', $broken->fresh()->status_text);
        self::assertSame('Stock source unavailable', $broken->fresh()->message);
        self::assertFalse($broken->fresh()->canRetry() === false);
        self::assertTrue($synced->fresh()->isCompleted());
        self::assertSame('Stock synced', $synced->fresh()->logs('info')[1]['message'] ?? $synced->fresh()->logs()[0]['message']);
        self::assertTrue($bare->fresh()->isCompleted());
        self::assertSame([[(int) $bare->id, ['warehouse' => 7]]], StockSync::$runs);
    }

    public function testExceptionsRetryWithBackoffThenFail(): void
    {
        $task = sTask::create('newsletter', 'send', ['to' => ['a@example.com', 'bounce@example.com']], 'normal', null, ['maxAttempts' => 2]);
        self::assertSame(0, sTask::processPendingTasks());
        $row = $task->fresh();
        self::assertTrue($row->isPending());
        self::assertSame(1, $row->attempts);
        self::assertStringContainsString('Mailbox bounce@example.com is full', $row->last_error);
        self::assertCount(0, sTask::getPendingTasks(), 'waiting for its backoff, not due');
        $this->site->pdo()->exec('UPDATE evo_s_tasks SET available_at = 0');
        self::assertCount(1, sTask::getPendingTasks());
        sTask::processPendingTasks();
        self::assertTrue($task->fresh()->isFailed());
        self::assertTrue($task->fresh()->canRetry());
        self::assertTrue(sTask::retry($task));
        self::assertTrue($task->fresh()->isPending());
        self::assertSame(0, $task->fresh()->attempts);
    }

    public function testUnknownActionsAndInactiveWorkersFailWithAClearMessage(): void
    {
        $secret = sTask::create('product', 'secret', [], 'normal', null, ['maxAttempts' => 1]);
        $missing = sTask::create('product', 'nonexistent', [], 'normal', null, ['maxAttempts' => 1]);
        sTask::deactivateWorker('newsletter');
        $inactive = sTask::create('newsletter', 'send', [], 'normal', null, ['maxAttempts' => 1]);
        sTask::processPendingTasks();
        self::assertStringContainsString('has no public method taskSecret()', $secret->fresh()->last_error, 'protected methods are not actions');
        self::assertStringContainsString('taskNonexistent', $missing->fresh()->last_error);
        self::assertStringContainsString('Worker not found or inactive: newsletter', $inactive->fresh()->last_error);
    }

    public function testExecuteRunsOneTaskNow(): void
    {
        $later = sTask::create('report', 'build', ['month' => 11], 'low', null, ['delay' => 3600]);
        $other = sTask::create('report', 'build', ['month' => 12]);
        self::assertTrue(sTask::execute($later));
        self::assertSame(['month' => 11], $later->fresh()->result);
        self::assertTrue($other->fresh()->isPending());
    }

    public function testCreateManyQueuesAllOrNothing(): void
    {
        $tasks = sTask::createMany([
            ['identifier' => 'report', 'action' => 'build', 'data' => ['month' => 1], 'priority' => 'high'],
            ['identifier' => 'report', 'action' => 'build', 'data' => ['month' => 2], 'delay' => 3600],
        ]);
        self::assertCount(2, $tasks);
        self::assertContainsOnlyInstancesOf(sTaskModel::class, $tasks);
        self::assertSame(['month' => 1], $tasks[0]->meta);
        self::assertSame('high', $tasks[0]->priority);
        self::assertTrue($tasks[1]->fresh()->isPending());

        try {
            sTask::createMany([
                ['identifier' => 'report', 'action' => 'build'],
                ['identifier' => 'report', 'action' => 'build', 'priority' => 'urgent'],
            ]);
            self::fail('a bad priority must be refused');
        } catch (\STask\Exception\InvalidArgumentException $e) {
            self::assertStringContainsString('urgent', $e->getMessage());
        }
        self::assertSame(2, sTaskModel::query()->count(), 'nothing of the refused batch was written');
    }

    public function testAModelBuiltFromATaskEqualsTheOneAQueryReads(): void
    {
        $created = sTask::create('report', 'build', ['n' => 1.0, 'list' => [1, 2]], 'low', 7);
        sTask::processPendingTasks();
        $task = sTask::engine()->find((int) $created->id);
        $built = sTaskModel::fromTask($task);
        $read = sTaskModel::query()->find($created->id);
        self::assertTrue($built->exists);
        self::assertSame($read->getConnectionName(), $built->getConnectionName());
        foreach (['id', 'identifier', 'action', 'status', 'message', 'started_by', 'meta', 'result', 'attempts', 'max_attempts', 'priority', 'progress'] as $key) {
            self::assertEquals($read->{$key}, $built->{$key}, $key);
        }
        foreach (['start_at', 'finished_at', 'created_at'] as $key) {
            self::assertSame($read->{$key}->getTimestamp(), $built->{$key}->getTimestamp(), $key);
        }
        self::assertSame($built->id, $built->taskId());
        // Copies of one blank model: changing one changes no other.
        $other = sTaskModel::fromTask($task);
        $built->message = 'changed';
        self::assertNotSame('changed', $other->message);
        self::assertFalse($other->isDirty());
    }

    public function testPendingTasksInRunOrder(): void
    {
        $low = sTask::create('report', 'build', ['month' => 1], 'low');
        $high = sTask::create('report', 'build', ['month' => 2], 'high');
        $normal = sTask::create('report', 'build', ['month' => 3], 'normal');
        self::assertSame([(int) $high->id, (int) $normal->id, (int) $low->id], sTask::getPendingTasks()->pluck('id')->map(fn ($i) => (int) $i)->all());
        self::assertSame(1, sTaskModel::highPriority()->count());
        self::assertSame(3, sTaskModel::byIdentifier('report')->byAction('build')->count());
    }

    public function testStatsCancelLogsAndCleanup(): void
    {
        $a = sTask::create('report', 'build');
        self::assertSame($a->id, sTask::create('report', 'build')->id, 'an unfinished duplicate is handed back');
        $b = sTask::create('report', 'build', ['month' => 2]);
        self::assertTrue(sTask::cancel($b));
        self::assertTrue($b->fresh()->isCancelled());
        self::assertSame(1, sTaskModel::cancelled()->count());
        sTask::log($a, 'warning', 'disk almost full', ['free' => '2%']);
        self::assertSame('disk almost full', sTask::logs($a, 'warning')[0]['message']);
        self::assertSame(['free' => '2%'], $a->logs()[0]['context']);
        $stats = sTask::getStats();
        self::assertSame(2, $stats['total']);
        self::assertSame(1, $stats['pending']);
        self::assertSame(1, $stats['cancelled']);
        self::assertSame(9, $stats['total_workers']);
        self::assertSame(6, $stats['active_workers']);
        $this->site->pdo()->exec("UPDATE evo_s_tasks SET finished_at = '2001-01-01 00:00:00' WHERE finished_at IS NOT NULL");
        self::assertSame(1, sTask::cleanOldLogs(30), 'the cancelled task logged its cancel');
        self::assertSame(1, sTask::cleanOldTasks(30));
        self::assertNull(sTask::find((int) $b->id));
    }

    public function testModelsCastAndConvertTimes(): void
    {
        $previous = date_default_timezone_get();
        date_default_timezone_set('Europe/Kyiv');
        try {
            $task = sTask::create('report', 'build', ['n' => 1]);
            $row = sTaskModel::query()->find($task->id);
            self::assertSame(10, $row->status, 'status is an int even with STRINGIFY_FETCHES');
            self::assertSame(['n' => 1], $row->meta);
            self::assertSame('Europe/Kyiv', $row->created_at->getTimezone()->getName());
            self::assertEqualsWithDelta(time(), $row->created_at->getTimestamp(), 5, 'UTC text read as UTC');
            self::assertNull($row->duration);
            sTask::processPendingTasks();
            $row = $row->fresh();
            self::assertGreaterThanOrEqual(0.0, $row->duration);
            self::assertLessThan(5.0, $row->duration);
            self::assertSame('report', $row->worker->identifier);
            self::assertSame(1, $row->worker->tasks()->count());
        } finally {
            date_default_timezone_set($previous);
        }
    }

    public function testWorkerSettingsPersistWithDotNotation(): void
    {
        $worker = new ProductWorker();
        self::assertSame(100, $worker->getConfig('batch_size'));
        $worker->setConfig('api.endpoint', 'https://erp.example.com');
        $worker->setConfig('api.key', null);
        $worker->updateConfig(['mode' => 'full']);
        $fresh = new ProductWorker();
        self::assertSame('https://erp.example.com', $fresh->getConfig('api.endpoint'));
        self::assertNull($fresh->getConfig('api.key', 'default'), 'a stored null is null, not the default');
        self::assertSame('full', $fresh->getConfig('mode'));
        self::assertSame('fallback', $fresh->getConfig('api.missing', 'fallback'));
        self::assertSame(['endpoint' => 'https://erp.example.com', 'key' => null], sWorker::query()->where('identifier', 'product')->first()->settings['api']);
    }

    public function testALongRunningWorkerSeesSettingsEditedSinceItsLastTask(): void
    {
        $first = sTask::create('product', 'syncStock');
        sTask::processPendingTasks();
        self::assertSame(100, sTask::logs($first)[1]['context']['batch'] ?? null, json_encode(sTask::logs($first)));
        // The manager (another process) saves new settings while this worker object stays cached.
        $row = sWorker::query()->where('identifier', 'product')->first();
        $row->settings = ['batch_size' => 250];
        $row->save();
        $second = sTask::create('product', 'syncStock');
        sTask::processPendingTasks();
        self::assertSame(250, sTask::logs($second)[1]['context']['batch'] ?? null, json_encode(sTask::logs($second)));
    }

    public function testATransactionLeftOpenByAFailedTaskIsRolledBackAndLogged(): void
    {
        $db = app('db')->connection();
        $db->getSchemaBuilder()->create('reports', fn ($t) => $t->string('name'));
        $failed = sTask::create('report', 'save', ['name' => 'half', 'fail' => true], options: ['maxAttempts' => 2]);
        $saved = sTask::create('report', 'save', ['name' => 'whole'], 'low');
        sTask::processPendingTasks();

        self::assertSame(0, $db->transactionLevel(), 'no transaction left open for the next task');
        self::assertSame(['whole'], $db->table('reports')->pluck('name')->all(), 'the half-done write was rolled back, the next task committed');
        self::assertSame('pending', $failed->fresh()->status_text, 'the failure is retried as usual');
        $warnings = sTask::logs($failed, 'warning');
        self::assertCount(1, $warnings);
        self::assertStringContainsString('left a database transaction open', $warnings[0]['message']);
        self::assertSame([], sTask::logs($saved, 'warning'));
    }

    public function testCreateTaskFromAWorker(): void
    {
        $task = (new ProductWorker())->createTask('import', ['file' => $this->csv(3)]);
        self::assertSame('product', $task->identifier);
        self::assertSame('import', $task->action);
        self::assertSame(0, $task->started_by, 'created from the CLI: the system user');
        sTask::processPendingTasks();
        self::assertTrue($task->fresh()->isCompleted());
    }

    public function testModelHelpersGoThroughTheEngine(): void
    {
        $task = sTask::create('report', 'build');
        $task->updateProgress(150, 'clamped');
        self::assertSame(100, sTask::progress($task)['progress']);
        $task->markAsFinished('done by hand', ['ok' => true]);
        self::assertTrue($task->isCompleted());
        self::assertSame(['ok' => true], $task->result);
        $other = sTask::create('report', 'build');
        $other->markAsFailed('not needed');
        self::assertTrue($other->isFailed());
        self::assertTrue($other->retry());
        self::assertTrue($other->cancel());
    }

    public function testBaseWorkerIsAbstractAndTheFacadeCachesWorkers(): void
    {
        self::assertTrue((new \ReflectionClass(BaseWorker::class))->isAbstract());
        sTask::create('report', 'build', ['month' => 1]);
        sTask::create('report', 'build', ['month' => 2]);
        sTask::processPendingTasks();
        $stats = sTask::getCacheStats();
        self::assertSame(1, $stats['misses']);
        // create() looks the worker up for its `tries` (1 hit), then each run (2 hits).
        self::assertSame(3, $stats['hits']);
        sTask::clearWorkerCache();
        self::assertSame(0, sTask::getCacheStats()['cache_size']);
    }
}
