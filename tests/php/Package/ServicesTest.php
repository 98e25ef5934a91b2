<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Acme\Feeds\FeedWorker;
use Acme\Mail\NewsletterWorker;
use Acme\Shop\Workers\ProductWorker;
use Seiger\sTask\Contracts\TaskInterface;
use Seiger\sTask\Exceptions\WorkerClassNotFoundException;
use Seiger\sTask\Exceptions\WorkerInvalidInterfaceException;
use Seiger\sTask\Exceptions\WorkerNotFoundException;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Services\MetricsService;
use Seiger\sTask\Services\TaskProgress;
use Seiger\sTask\Services\WorkerService;
use STask\Tests\Evo\Site;

/**
 * Upstream 2.x's services that packages call directly — WorkerService, TaskProgress,
 * MetricsService and the facade's performance methods — on the engine, with real numbers.
 * On the embedded SQLite site here; on MariaDB and PostgreSQL in the subclasses.
 */
class ServicesTest extends PackageTestCase
{
    protected array $packages = ['acme/shop', 'acme/mail', 'acme/feeds'];
    /** "mysql" or "pgsql": the site's database is a server (ServerDatabase); null: SQLite. */
    protected ?string $server = null;
    private ?ServerDatabase $db = null;

    protected function setUp(): void
    {
        if ($this->server === null) {
            parent::setUp();
        } else {
            $this->db = ServerDatabase::create($this, $this->server);
            $this->site = new Site($this->packages, $this->staskConfig, null, 'evo_', null, null, null, $this->db->connection);
            $this->artisan('migrate', ['--force' => true]);
        }
        $this->artisan('stask:discover', ['--activate' => ['product', 'newsletter', 'feed']]);
        FeedWorker::$seen = [];
    }

    protected function tearDown(): void
    {
        if (isset($this->site)) {
            parent::tearDown();
        }
        $this->db?->drop();
        $this->db = null;
    }

    private function workers(): WorkerService
    {
        return app(WorkerService::class);
    }

    // --- WorkerService -----------------------------------------------------------------------

    public function testWorkerServiceResolvesFromItsCacheAndRefreshesOnRequest(): void
    {
        $service = $this->workers();
        self::assertSame($service, app(WorkerService::class), 'a container singleton');
        $before = $service->getCacheStats();
        self::assertSame(['hits', 'misses', 'evictions', 'hit_rate', 'cache_size', 'memory_usage'], array_keys($before));

        $product = $service->resolveWorker('product');
        self::assertInstanceOf(ProductWorker::class, $product);
        self::assertInstanceOf(TaskInterface::class, $product);
        self::assertSame($product, $service->resolveWorker('product'), 'cached');
        $stats = $service->getCacheStats();
        self::assertSame([1, 1, 1], [$stats['misses'] - $before['misses'], $stats['hits'] - $before['hits'], $stats['cache_size']]);
        self::assertGreaterThan(0, $stats['memory_usage']);

        $fresh = $service->resolveWorker('product', true);
        self::assertInstanceOf(ProductWorker::class, $fresh);
        self::assertNotSame($product, $fresh, 'forceRefresh builds a new object');
        $stats = $service->getCacheStats();
        self::assertSame(2, $stats['misses'] - $before['misses']);
        self::assertSame(1, $stats['evictions'] - $before['evictions']);
        self::assertSame($fresh, $service->resolveWorker('product'));

        $many = $service->resolveWorkers(['product', 'newsletter', 'nobody']);
        self::assertSame(['product', 'newsletter'], array_keys($many), 'unknown identifiers are left out');
        self::assertSame($fresh, $many['product']);
        self::assertInstanceOf(NewsletterWorker::class, $many['newsletter']);
        self::assertSame(2, $service->getCacheStats()['cache_size']);

        $service->clearCache('product');
        self::assertSame(1, $service->getCacheStats()['cache_size']);
        self::assertNotSame($fresh, $service->resolveWorker('product'), 'rebuilt after clearCache');

        // The facade's cache methods are the same cache.
        $withoutMemory = static fn (array $stats): array => array_diff_key($stats, ['memory_usage' => 0]);
        self::assertSame($withoutMemory($service->getCacheStats()), $withoutMemory(sTask::getCacheStats()));
        sTask::clearWorkerCache();
        self::assertSame(0, $service->getCacheStats()['cache_size']);

        $service->resolveWorker('newsletter');
        $service->cleanup();
        self::assertSame(0, $service->getCacheStats()['cache_size']);
    }

    public function testTheTaskRunnerSharesTheCache(): void
    {
        $service = $this->workers();
        $service->clearCache();
        $worker = $service->resolveWorker('feed');
        $before = $service->getCacheStats();
        sTask::create('feed', 'build', ['items' => 1]);
        self::assertSame(1, sTask::processPendingTasks());
        $after = $service->getCacheStats();
        self::assertGreaterThanOrEqual(1, $after['hits'] - $before['hits'], 'the runner found the object resolved here');
        self::assertSame($before['misses'], $after['misses']);
        self::assertSame($worker, $service->resolveWorker('feed'));
    }

    public function testUnknownInactiveAndBrokenWorkersThrowUpstreamsExceptions(): void
    {
        $service = $this->workers();
        try {
            $service->resolveWorker('nobody');
            self::fail('no exception for an unknown worker');
        } catch (WorkerNotFoundException $e) {
            self::assertSame('nobody', $e->identifier);
            self::assertSame(404, $e->getCode());
            self::assertSame(['identifier' => 'nobody'], $e->getContext());
            self::assertStringContainsString('Worker not found or inactive: nobody', $e->getMessage());
        }

        $service->resolveWorker('newsletter');
        sTask::deactivateWorker('newsletter');
        $this->assertNotFound(fn () => $service->resolveWorker('newsletter'), 'deactivated through the facade');

        // Deactivated behind the service's back: a cache hit still answers for a few seconds;
        // forceRefresh re-reads the registry at once.
        $service->resolveWorker('product');
        sWorker::query()->where('identifier', 'product')->update(['active' => false]);
        self::assertInstanceOf(ProductWorker::class, $service->resolveWorker('product'));
        $this->assertNotFound(fn () => $service->resolveWorker('product', true), 'forceRefresh');
        self::assertSame([], $service->resolveWorkers(['product', 'newsletter']));

        sWorker::query()->create(['identifier' => 'ghost', 'scope' => 'test', 'class' => 'Acme\\Nowhere\\GhostWorker', 'active' => true, 'position' => 90, 'settings' => []]);
        sWorker::query()->create(['identifier' => 'plain', 'scope' => 'test', 'class' => \ArrayObject::class, 'active' => true, 'position' => 91, 'settings' => []]);
        try {
            $service->resolveWorker('ghost', true);
            self::fail('no exception for a missing class');
        } catch (WorkerClassNotFoundException $e) {
            self::assertStringContainsString('GhostWorker', $e->getMessage());
        }
        $this->expectException(WorkerInvalidInterfaceException::class);
        $service->resolveWorker('plain');
    }

    private function assertNotFound(callable $resolve, string $why): void
    {
        try {
            $resolve();
            self::fail("no WorkerNotFoundException: $why");
        } catch (WorkerNotFoundException $e) {
            self::assertStringContainsString('Worker not found or inactive', $e->getMessage(), $why);
        }
    }

    // --- TaskProgress ------------------------------------------------------------------------

    public function testAWorkerReportingThroughTaskProgressItselfRunsAndReadsItBack(): void
    {
        $task = sTask::create('feed', 'build', ['items' => 4]);
        self::assertSame(1, sTask::processPendingTasks());
        $id = (int) $task->id;

        // What the worker read while it ran: its live state, and one log line per write().
        $seen = FeedWorker::$seen[$id];
        self::assertSame('running', $seen['progress']['status']);
        self::assertSame([$id, 100, 4, 4, 'Item 4 of 4'], [
            $seen['progress']['id'], $seen['progress']['progress'], $seen['progress']['processed'],
            $seen['progress']['total'], $seen['progress']['message'],
        ]);
        self::assertIsString($seen['progress']['eta']);
        self::assertSame(['Item 2 of 4', 'Item 3 of 4', 'Item 4 of 4'], $seen['log']);

        $row = $task->fresh();
        self::assertTrue($row->isCompleted());
        $progress = TaskProgress::readProgress($id);
        foreach (['id', 'status', 'progress', 'processed', 'total', 'eta', 'message'] as $key) {
            self::assertArrayHasKey($key, $progress);
        }
        self::assertSame(['completed', 100, 4, 4], [$progress['status'], $progress['progress'], $progress['processed'], $progress['total']]);
        self::assertSame($progress, TaskProgress::readProgress((string) $id), 'string ids as upstream allowed');

        $log = TaskProgress::readLog($id);
        $mine = array_values(array_filter($log, static fn (string $m) => str_starts_with($m, 'Item') || str_starts_with($m, 'Feed') || str_starts_with($m, 'Building')));
        self::assertSame(['Building the feed', 'Item 1 of 4', 'Item 2 of 4', 'Item 3 of 4', 'Item 4 of 4', 'Feed ready'], $mine);
        self::assertSame(array_slice($log, -2), TaskProgress::readLog($id, 2));
        self::assertSame([], TaskProgress::readLog($id, 0));
        self::assertContains('Feed ready', array_column(sTask::logs($id), 'message'), 'the same log the manager shows');

        // The storage directory and the log file are the engine's.
        $storage = $this->site->core . '/storage/stask';
        self::assertSame(realpath($storage), realpath(TaskProgress::dir()));
        self::assertSame(sTask::engine()->logPath($id), TaskProgress::file($id));
        self::assertSame(TaskProgress::file($id), TaskProgress::file((string) $id));
        self::assertFileExists(TaskProgress::file($id));
        self::assertStringContainsString('Item 3 of 4', (string) file_get_contents(TaskProgress::file($id)));

        // The manager's progress endpoint reads the same.
        $endpoint = $this->json($this->get("stask/task/$id/progress"));
        self::assertSame($progress['processed'], $endpoint['processed']);
        self::assertSame(TaskProgress::readLog($id, 50), $endpoint['log_lines']);
    }

    public function testAFailingWorkerLogsItsLastMessageAsAnError(): void
    {
        $task = sTask::create('feed', 'build', ['items' => 2, 'fail' => true], 'normal', null, ['maxAttempts' => 1]);
        self::assertSame(0, sTask::processPendingTasks());
        self::assertTrue($task->fresh()->isFailed());
        self::assertContains('Feed source unreachable', array_column(sTask::logs($task, 'error'), 'message'));
        self::assertSame('failed', TaskProgress::readProgress($task->id)['status']);
    }

    public function testWritesFromOutsideTheWorker(): void
    {
        $pending = sTask::create('feed', 'build', ['items' => 2], 'normal', null, ['delay' => 3600]);
        $id = (int) $pending->id;

        // A pending task may be annotated by anyone (e.g. "waiting for the upload").
        TaskProgress::init(['id' => $id, 'status' => 'pending', 'progress' => 0, 'message' => 'Waiting for the upload']);
        $progress = TaskProgress::readProgress($id);
        self::assertSame(['pending', 0, 'Waiting for the upload'], [$progress['status'], $progress['progress'], $progress['message']]);
        TaskProgress::write(['id' => $id, 'processed' => 1]);
        TaskProgress::write(['id' => $id, 'message' => 'Waiting for the upload']);
        TaskProgress::write(['id' => $id, 'progress' => 150, 'processed' => 7, 'total' => 5, 'eta' => '2m', 'message' => 'Uploaded']);
        self::assertSame(['Waiting for the upload', 'Waiting for the upload', 'Uploaded'], TaskProgress::readLog($id), 'a line per call with a message, as upstream');
        $progress = TaskProgress::readProgress($id);
        self::assertSame([100, 7, 7], [$progress['progress'], $progress['processed'], $progress['total']], 'values made valid, not refused');

        // A finished task keeps the engine's snapshot; the note still reaches its log.
        $done = sTask::create('feed', 'build', ['items' => 1]);
        sTask::execute($done);
        TaskProgress::write(['id' => $done->id, 'status' => 'running', 'progress' => 10, 'message' => 'A late note']);
        $progress = TaskProgress::readProgress($done->id);
        self::assertSame(['completed', 100], [$progress['status'], $progress['progress']]);
        self::assertSame(['A late note'], TaskProgress::readLog($done->id, 1));

        // Unknown tasks: nothing to write (upstream wrote a file for any id) and nothing to read.
        TaskProgress::write(['id' => 999999, 'message' => 'nobody']);
        self::assertNull(TaskProgress::readProgress(999999));
        self::assertSame([], TaskProgress::readLog(999999));

        foreach ([fn () => TaskProgress::write(['message' => 'no id']), fn () => TaskProgress::file('../../etc/passwd'), fn () => TaskProgress::readProgress('1 OR 1=1')] as $bad) {
            try {
                $bad();
                self::fail('accepted a bad id');
            } catch (\InvalidArgumentException) {
                self::addToAssertionCount(1);
            }
        }
    }

    public function testReadingAndWritingATaskThatAnotherProcessRuns(): void
    {
        $task = sTask::create('feed', 'build', ['items' => 40, 'pause_ms' => 50]);
        $id = (int) $task->id;
        $extension = realpath((string) getenv('STASK_EXTENSION')) ?: \STask\Tests\Evo\Site::REPO . '/target/release/libstask.so';
        $proc = proc_open([PHP_BINARY, '-d', 'extension=' . $extension, $this->site->core . '/artisan', 'stask:work', '--once'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $this->site->core);
        self::assertIsResource($proc);

        $deadline = microtime(true) + 20;
        do {
            usleep(20_000);
            $progress = TaskProgress::readProgress($id);
        } while (($progress['processed'] < 2 || $progress['status'] !== 'running') && microtime(true) < $deadline);
        self::assertSame('running', $progress['status'], 'the other process reports through TaskProgress');
        self::assertGreaterThanOrEqual(2, $progress['processed']);
        self::assertSame(40, $progress['total']);

        // Not ours to move: the progress is refused quietly, the note is logged.
        TaskProgress::write(['id' => $id, 'progress' => 1, 'processed' => 1, 'message' => 'Note from the manager']);

        $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        self::assertSame(0, proc_close($proc), $out);
        $progress = TaskProgress::readProgress($id);
        self::assertSame(['completed', 100, 40, 40], [$progress['status'], $progress['progress'], $progress['processed'], $progress['total']]);
        $log = TaskProgress::readLog($id, 100);
        self::assertContains('Note from the manager', $log);
        self::assertContains('Item 40 of 40', $log);
        self::assertContains('Feed ready', $log);
    }

    // --- MetricsService and the facade's performance methods --------------------------------

    public function testAnIdleSiteHasNoAlertsAndNeutralNumbers(): void
    {
        self::assertSame([], sTask::getPerformanceAlerts(), 'upstream raised "low success rate" whenever it was idle');
        $summary = sTask::getPerformanceMetrics();
        self::assertSame(['period', 'tasks', 'performance', 'workers', 'errors'], array_keys($summary));
        self::assertSame(['total' => 0, 'completed' => 0, 'failed' => 0, 'cancelled' => 0, 'running' => 0, 'queued' => 0], $summary['tasks']);
        self::assertSame(100.0, $summary['performance']['success_rate']);
        self::assertSame(0.0, $summary['performance']['average_duration']);
        self::assertSame([], $summary['workers']);
        self::assertSame(['total_errors' => 0, 'error_rate' => 0.0, 'common_errors' => []], $summary['errors']);
        self::assertSame(24, $summary['period']['hours']);
        self::assertSame(1, sTask::getPerformanceMetrics(0)['period']['hours']);
        self::assertSame(24, sTask::getPerformanceMetrics(72)['period']['hours'], 'the engine looks back one day at most');
    }

    public function testMetricsAfterRealTasks(): void
    {
        // Two through a real `stask:work`, two through processPendingTasks(); one fails.
        // (Each with its own data: identical active tasks would be one task.)
        sTask::create('feed', 'build', ['items' => 2, 'pause_ms' => 20, 'feed' => 'a']);
        sTask::create('feed', 'build', ['items' => 2, 'pause_ms' => 20, 'feed' => 'b']);
        $out = $this->artisan('stask:work', ['--stop-when-empty' => true]);
        self::assertStringContainsString('Stopped (queue empty) after 2 task(s)', $out);
        sTask::create('feed', 'build', ['items' => 2, 'pause_ms' => 20, 'feed' => 'c']);
        sTask::create('feed', 'build', ['items' => 2, 'pause_ms' => 20, 'fail' => true], 'normal', null, ['maxAttempts' => 1]);
        self::assertSame(1, sTask::processPendingTasks());
        sTask::create('feed', 'build', ['feed' => 'd'], 'low', null, ['delay' => 3600]);

        // Upstream's recording calls are accepted and change nothing.
        $metrics = app(MetricsService::class);
        self::assertSame($metrics, app(MetricsService::class));
        $model = sTaskModel::query()->first();
        $metrics->recordTaskStart($model);
        $metrics->recordTaskEnd($model, false, 'ignored');
        $metrics->recordWorkerMetrics('feed', ['memory' => 1]);

        $summary = sTask::getPerformanceMetrics();
        self::assertSame($metrics->getSystemSummary(), $summary);
        self::assertSame(['total' => 5, 'completed' => 3, 'failed' => 1, 'cancelled' => 0, 'running' => 0, 'queued' => 1], $summary['tasks']);
        $p = $summary['performance'];
        self::assertSame(75.0, $p['success_rate']);
        self::assertSame(25.0, $p['error_rate']);
        self::assertGreaterThanOrEqual(0.04, $p['average_duration'], 'each run paused 2 × 20 ms');
        self::assertLessThan(30.0, $p['average_duration']);
        self::assertGreaterThanOrEqual($p['average_duration'], $p['p95_duration']);
        self::assertGreaterThanOrEqual($p['p95_duration'], $p['max_duration']);
        self::assertEqualsWithDelta($p['average_duration'] * 4, $p['total_execution_time'], 0.01);
        self::assertGreaterThanOrEqual(0.0, $p['average_wait']);
        self::assertEqualsWithDelta(4 / 1440, $p['throughput_per_minute'], 0.001);
        self::assertNull($p['average_memory'], 'not measured, not faked');
        self::assertSame(1, $summary['errors']['total_errors']);
        self::assertSame(25.0, $summary['errors']['error_rate']);
        self::assertCount(1, $summary['errors']['common_errors']);
        self::assertStringContainsString('Feed source unreachable', (string) array_key_first($summary['errors']['common_errors']));
        self::assertSame([1], array_values($summary['errors']['common_errors']));
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/', $summary['period']['from']);

        self::assertSame(['feed'], array_keys($summary['workers']));
        $feed = sTask::getWorkerStats('feed');
        self::assertSame(['feed'], array_keys($feed));
        $feed = $feed['feed'];
        self::assertSame($summary['workers']['feed'], $feed);
        self::assertSame(['feed', 5, 5, 3, 1, 0, 0, 1, 75.0, 25.0], [
            $feed['identifier'], $feed['total_tasks'], $feed['task_count'], $feed['completed'], $feed['failed'],
            $feed['cancelled'], $feed['running'], $feed['queued'], $feed['success_rate'], $feed['error_rate'],
        ]);
        self::assertSame($p['average_duration'], $feed['average_duration']);
        self::assertNull($feed['memory_usage']);
        self::assertLessThan(120, time() - strtotime($feed['last_execution']));
        $lastHour = sTask::getWorkerStats(null, 1)['feed'];
        self::assertSame([5, 75.0], [$lastHour['total_tasks'], $lastHour['success_rate']]);
        self::assertEqualsWithDelta(4 / 60, $lastHour['throughput_per_minute'], 0.001);

        $idle = sTask::getWorkerStats('product')['product'];
        self::assertSame([0, 100.0, 0.0, null], [$idle['total_tasks'], $idle['success_rate'], $idle['average_duration'], $idle['last_execution']]);

        $alerts = sTask::getPerformanceAlerts();
        self::assertSame(['low_success_rate'], array_column($alerts, 'type'));
        self::assertSame(['type' => 'low_success_rate', 'severity' => 'warning', 'value' => 75.0, 'threshold' => 95.0], array_diff_key($alerts[0], ['message' => 1]));
        self::assertStringContainsString('75', $alerts[0]['message']);
    }

    public function testTasksWaitingLongForAWorkerRaiseAnAlert(): void
    {
        $task = sTask::create('feed', 'build', ['items' => 1]);
        // Due ten minutes ago: no worker picked it up until now.
        app('db')->connection(sTask::connectionName())->table('s_tasks')->where('id', $task->id)->update(['available_at' => (time() - 600) * 1000]);
        self::assertSame(1, sTask::processPendingTasks());
        $wait = sTask::getWorkerStats('feed')['feed']['average_wait'];
        self::assertGreaterThanOrEqual(599.0, $wait);
        $alerts = sTask::getPerformanceAlerts();
        self::assertSame(['high_wait_time'], array_column($alerts, 'type'));
        self::assertSame(300.0, $alerts[0]['threshold']);
    }
}
