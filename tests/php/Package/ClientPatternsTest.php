<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Clients\Ai\AiDispatcher;
use Clients\Csv\Integration\ImportExportCsvWorker;
use Clients\Feed\Integration\MerchantFeedWorker;
use Clients\Gallery\Services\ImageOptimizationQueue;
use Clients\Mailer\Database\MailerTables;
use Clients\Mailer\Models\MailDelivery;
use Clients\Mailer\Models\Mailing;
use Clients\Mailer\Services\MailingDeliveryQueue;
use Clients\Metrics\Database\RegisterMetricsWorker;
use Illuminate\Http\Request;
use Illuminate\Http\UploadedFile;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Models\sWorker;
use STask\Tests\Evo\Site;
use Symfony\Component\HttpFoundation\Response;

/**
 * Issue 10: packages written against upstream sTask 2.x run unchanged. Each fixture package
 * under tests/fixtures/packages/clients/ reproduces one public client's way of using sTask
 * (own code); here they go through discovery, sTask::create, the manager's run and upload
 * endpoints, and real `php artisan stask:work` / `stask:worker` processes, and the row, the
 * progress snapshot, the log and the manager's progress JSON must agree at the end.
 * On SQLite here; on MariaDB and PostgreSQL in the subclasses.
 */
class ClientPatternsTest extends PackageTestCase
{
    protected array $packages = [
        'clients/listing', 'clients/csv', 'clients/feed', 'clients/metrics',
        'clients/mailer', 'clients/gallery', 'clients/ai', 'clients/flaky', 'clients/steps',
    ];
    /** "mysql" or "pgsql": the site's database is a server (ServerDatabase); null: SQLite. */
    /** Short leases: a worker that outlives one must keep its task through the heartbeat. */
    protected array $staskConfig = ['lease_seconds' => 2];
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
    }

    protected function tearDown(): void
    {
        if (isset($this->site)) {
            parent::tearDown();
        }
        $this->db?->drop();
        $this->db = null;
    }

    // --- helpers -----------------------------------------------------------------------------

    /**
     * Runs `php artisan …` in a process of its own (with the extension); returns [exit code,
     * output]. A process still running after $timeout seconds is killed and the test fails.
     */
    private function process(array $args, float $timeout = 30.0): array
    {
        return self::finish($this->spawn($args), $timeout);
    }

    /** Starts `php artisan …` in a process of its own (with the extension). */
    private function spawn(array $args): array
    {
        $extension = realpath((string) getenv('STASK_EXTENSION')) ?: Site::REPO . '/target/release/libstask.so';
        return self::start(array_merge([PHP_BINARY, '-d', 'extension=' . $extension, $this->site->core . '/artisan'], $args), $this->site->core);
    }

    /** @return array{0: resource, 1: array<int, resource>, 2: list<string>} */
    private static function start(array $cmd, string $cwd): array
    {
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $cwd);
        self::assertIsResource($proc);
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
        return [$proc, $pipes, $cmd];
    }

    /**
     * Waits for a started process and returns [exit code, stdout + stderr]; kills it and fails
     * the test after $timeout seconds.
     *
     * @return array{int, string}
     */
    private static function finish(array $started, float $timeout = 30.0): array
    {
        [$proc, $pipes, $cmd] = $started;
        $out = '';
        $deadline = microtime(true) + $timeout;
        while (!(feof($pipes[1]) && feof($pipes[2]))) {
            $read = [$pipes[1], $pipes[2]];
            $write = $except = null;
            if (@stream_select($read, $write, $except, 0, 100_000) > 0) {
                foreach ($read as $pipe) {
                    $out .= (string) fread($pipe, 65536);
                }
            }
            if (microtime(true) > $deadline) {
                proc_terminate($proc, SIGKILL);
                fclose($pipes[1]);
                fclose($pipes[2]);
                proc_close($proc);
                self::fail(sprintf("%s did not finish within %.0f s; its output:\n%s", implode(' ', array_slice($cmd, 3)), $timeout, $out));
            }
        }
        fclose($pipes[1]);
        fclose($pipes[2]);
        return [proc_close($proc), $out];
    }

    private function waitFor(callable $condition, string $what, float $seconds = 15.0): void
    {
        $deadline = microtime(true) + $seconds;
        while (!$condition()) {
            if (microtime(true) > $deadline) {
                self::fail("timed out waiting: $what");
            }
            usleep(20_000);
        }
    }

    /** `stask:work --stop-when-empty` in its own process; returns its output. */
    private function work(array $more = []): string
    {
        [$code, $out] = $this->process(array_merge(['stask:work', '--stop-when-empty', '--sleep=0.2', '--supervise=0'], $more));
        self::assertSame(0, $code, "stask:work exited with $code:\n$out");
        return $out;
    }

    /** One `stask:worker` pass (cron's command) in its own process; returns its output. */
    private function pass(array $more = []): string
    {
        [$code, $out] = $this->process(array_merge(['stask:worker'], $more));
        self::assertSame(0, $code, "stask:worker exited with $code:\n$out");
        return $out;
    }

    private function discover(array $identifiers): void
    {
        $this->artisan('stask:discover', ['--activate' => $identifiers]);
    }

    private function task(int $id): sTaskModel
    {
        $task = sTaskModel::query()->find($id);
        self::assertNotNull($task, "task $id exists");
        return $task;
    }

    /** @return array<string, mixed> the manager's progress answer (GET stask/task/{id}/progress) */
    private function managerProgress(int $id): array
    {
        return $this->json($this->get("stask/task/$id/progress"));
    }

    /**
     * The end state of a finished task agrees everywhere: the row, the engine's snapshot, the
     * manager's progress JSON and the log; no log line speaks of a lost lease.
     *
     * @return sTaskModel the row
     */
    private function assertOutcome(int $id, string $status, ?string $message, int $attempts = 1, string $why = '', ?int $failureLines = null): sTaskModel
    {
        $why = $why === '' ? "task $id" : "$why (task $id)";
        $row = $this->task($id);
        $code = ['completed' => 80, 'failed' => 100, 'cancelled' => 90][$status];
        self::assertSame($code, $row->status, "$why: row status; message: {$row->message}; last_error: {$row->last_error}");
        if ($message !== null) {
            self::assertSame($message, $row->message, "$why: row message");
        }
        self::assertSame($attempts, $row->attempts, "$why: attempts");
        self::assertNotNull($row->finished_at, "$why: finished_at");
        if ($status === 'completed') {
            self::assertSame(100, $row->progress, "$why: row progress");
        }
        $snapshot = sTask::progress($id);
        self::assertSame($status, $snapshot['status'], "$why: snapshot status " . json_encode($snapshot));
        self::assertSame($row->message, $snapshot['message'], "$why: the snapshot's message is the row's");
        self::assertSame($row->progress, (int) $snapshot['progress'], "$why: the snapshot's progress is the row's");
        if ($status === 'completed') {
            self::assertSame(100, (int) $snapshot['progress'], "$why: snapshot progress");
        }
        $manager = $this->managerProgress($id);
        self::assertSame($status, $manager['status'], "$why: manager status");
        self::assertSame($row->message, $manager['message'], "$why: manager message");
        self::assertSame($row->attempts, (int) $manager['attempts'], "$why: manager attempts");
        $logs = sTask::logs($id, null, 1000);
        foreach ($logs as $entry) {
            self::assertDoesNotMatchRegularExpression('/lease|\blost\b|discarded/i', $entry['message'], "$why: log line " . json_encode($entry));
        }
        foreach ($manager['log_lines'] as $line) {
            self::assertDoesNotMatchRegularExpression('/lease|\blost\b|discarded/i', (string) $line, "$why: manager log line");
        }
        self::assertStringContainsString('st-status-' . $status, $this->page("stask/task/$id"), "$why: the task's page");
        $errors = array_values(array_filter($logs, static fn (array $e): bool => $e['level'] === 'error'));
        if ($status === 'failed') {
            self::assertCount($failureLines ?? 1, $errors, "$why: one failure line in the log (per failure written): " . json_encode($logs));
        } elseif ($attempts === 1) {
            self::assertCount($failureLines ?? 0, $errors, "$why: no error in the log of a task that completed at once: " . json_encode($logs));
        }
        return $row;
    }

    /** A JSON body, as the widgets' callApi() sends it. */
    private function postJson(string $path, array $body): Response
    {
        $request = Request::create('http://example.test/manager/' . $path, 'POST', [], [], [], [
            'SCRIPT_NAME' => '/manager/index.php',
            'SCRIPT_FILENAME' => $this->site->root . '/manager/index.php',
            'CONTENT_TYPE' => 'application/json',
            'HTTP_ACCEPT' => 'application/json',
            'HTTP_X_CSRF_TOKEN' => csrf_token(),
        ], (string) json_encode($body));
        return $this->site->dispatch($request);
    }

    /** Runs an action through the manager's run endpoint; returns the new task's id. */
    private function runEndpoint(string $identifier, string $action, array $body = [], bool $json = false): int
    {
        $path = "stask/worker/$identifier/run/$action";
        $answer = $this->json($json ? $this->postJson($path, $body) : $this->post($path, $body));
        self::assertTrue($answer['success'], json_encode($answer));
        return (int) $answer['id'];
    }

    private function page(string $path): string
    {
        $response = $this->get($path);
        self::assertSame(200, $response->getStatusCode(), "$path: " . substr((string) $response->getContent(), 0, 800));
        return (string) $response->getContent();
    }

    /** The number of runs a fixture recorded in storage/{$file} (one line each). */
    private function runs(string $file): array
    {
        $path = $this->site->core . '/storage/' . $file;
        return is_file($path) ? array_values(array_filter(explode("\n", (string) file_get_contents($path)))) : [];
    }

    // --- discovery and signatures ------------------------------------------------------------

    public function testEveryClientClassLoadsAndDiscoveryFindsOnlyTheWorkers(): void
    {
        $extension = realpath((string) getenv('STASK_EXTENSION')) ?: Site::REPO . '/target/release/libstask.so';
        [$code, $stdout] = self::finish(self::start([PHP_BINARY, '-d', 'extension=' . $extension, Site::REPO . '/tests/php/fixtures/client_classes.php', $this->site->root], $this->site->core));
        self::assertSame(0, $code, "loading the client classes failed:\n$stdout");
        $report = json_decode((string) $stdout, true);
        self::assertIsArray($report, $stdout);

        $workers = [
            'Clients\\Ai\\sTask\\AiSmokeWorker' => 'clients_ai_smoke',
            'Clients\\Csv\\Integration\\ImportExportCsvWorker' => 'clients_csv',
            'Clients\\Feed\\Integration\\MerchantFeedWorker' => 'merchant_feed',
            'Clients\\Flaky\\FlakyApiWorker' => 'clients_flaky_api',
            'Clients\\Flaky\\OneShotWorker' => 'clients_one_shot',
            'Clients\\Gallery\\Workers\\ImageOptimizeWorker' => 'clients.image-optimize',
            'Clients\\Listing\\Integration\\ListingCacheWorker' => 'listingCache',
            'Clients\\Mailer\\Workers\\MailingDeliveryWorker' => 'clients_mail_delivery',
            'Clients\\Metrics\\Workers\\DashboardMetricsWorker' => 'clients_dashboard_metrics',
            'Clients\\Steps\\StepsWorker' => 'clients_steps',
        ];
        $found = array_filter($report['found'], static fn (string $class): bool => str_starts_with($class, 'Clients\\'), ARRAY_FILTER_USE_KEY);
        ksort($found);
        self::assertSame($workers, $found);
        self::assertSame([], array_filter($report['invalid'], static fn ($m, string $c): bool => str_starts_with($c, 'Clients\\'), ARRAY_FILTER_USE_BOTH));
        self::assertSame([], $report['conflicts']);
        $loaded = array_diff($report['loaded_by_scan'], array_keys($workers));
        self::assertSame([], array_values($loaded), 'the scan loaded no class but the workers');

        foreach ($workers as $class => $identifier) {
            self::assertTrue($report['classes'][$class]['worker'], $class);
            self::assertSame($identifier, $report['classes'][$class]['identifier'], $class);
        }
        // The members a client declares against upstream 2.x's BaseWorker load on ours.
        $ai = $report['classes']['Clients\\Ai\\sTask\\AiSmokeWorker']['methods'];
        foreach (['__construct', 'getConfig', 'shouldRunNow', 'createTask', 'log', 'renderWidget', 'taskMake', 'taskDispatch'] as $method) {
            self::assertContains($method, $ai);
        }
        self::assertFalse($report['classes']['Clients\\Ai\\sTask\\AiSmokeWorker']['shouldRunNow']);
        $csv = $report['classes']['Clients\\Csv\\Integration\\ImportExportCsvWorker'];
        self::assertSame(['cleanupDirectory', 'getSettingValue', 'calculateProgress'], array_values(array_intersect($csv['methods'], ['cleanupDirectory', 'getSettingValue', 'calculateProgress'])));
        self::assertSame(';', $csv['settings']['delimiter'], 'settings() overridden with a fixed array');
        self::assertSame('photo', $report['classes']['Clients\\Gallery\\Workers\\ImageOptimizeWorker']['icon']);
        self::assertNotContains('renderWidget', $report['classes']['Clients\\Gallery\\Workers\\ImageOptimizeWorker']['methods']);
        $metrics = $report['classes']['Clients\\Metrics\\Workers\\DashboardMetricsWorker'];
        self::assertSame(['enabled' => true, 'type' => 'periodic', 'frequency' => 'daily', 'time' => '04:15'], $metrics['schedule'], 'its own getSchedule() default');
    }

    // --- 1. listing cache: 30 → 50 → 80 / 100 through the model, then a progress report --------

    public function testListingCacheWorkerMovesItsOwnTaskThroughTheModel(): void
    {
        $this->discover(['listingCache']);
        $ok = sTask::create('listingCache', 'make', ['categories' => 5]);
        $bad = $this->runEndpoint('listingCache', 'make', ['options' => ['categories' => 5, 'fail_at' => 3]]);

        $out = $this->work();
        self::assertStringContainsString("#{$ok->id} listingCache:make", $out);
        $row = $this->assertOutcome($ok->id, 'completed', '**done**', 1, 'listing');
        self::assertSame(['categories' => 5], $row->meta);
        self::assertSame(5, (int) sTask::progress($ok->id)['processed']);
        self::assertFileExists($this->site->core . "/storage/listing-cache/task-{$ok->id}.json");

        $row = $this->assertOutcome($bad, 'failed', 'Listing cache failed: category 3 has no price column', 1, 'listing, failing');
        self::assertSame(1, $row->max_attempts, 'no retries: the worker declares none');
        self::assertStringContainsString('category 3 has no price column', (string) $row->last_error);

        // Nothing left to run: another pass and another worker leave both alone.
        $this->pass();
        $this->work();
        self::assertSame(1, $this->task($ok->id)->attempts);
        self::assertSame(1, $this->task($bad)->attempts);
        self::assertSame('failed', $this->managerProgress($bad)['status']);
    }

    public function testALongRebuildKeepsItsTaskWhileAnotherWorkerPolls(): void
    {
        $this->discover(['listingCache']);
        $slow = sTask::create('listingCache', 'make', ['categories' => 6, 'pause_ms' => 600]);
        $first = $this->spawn(['stask:work', '--stop-when-empty', '--sleep=0.2', '--supervise=0']);
        $this->waitFor(fn () => $this->task((int) $slow->id)->isRunning(), 'the rebuild started');
        // Another worker polls the queue for longer than the lease (2 s) lasts.
        [$code, $out] = $this->process(['stask:work', '--sleep=0.2', '--max-time=4', '--supervise=0']);
        self::assertSame(0, $code, $out);
        self::assertStringContainsString('after 0 task(s)', $out, 'the other worker took nothing over');
        [$code, $out] = self::finish($first);
        self::assertSame(0, $code, $out);
        $this->assertOutcome((int) $slow->id, 'completed', '**done**', 1, 'a rebuild longer than the lease');
        $started = array_filter(sTask::logs((int) $slow->id), static fn (array $e): bool => str_contains($e['message'], 'started'));
        self::assertCount(1, $started, 'one attempt');
    }

    /** A slow rebuild, cancelled from the manager while it runs; returns the task's id. */
    private function cancelledRebuild(): int
    {
        $this->discover(['listingCache']);
        $id = (int) sTask::create('listingCache', 'make', ['categories' => 20, 'pause_ms' => 150])->id;
        $worker = $this->spawn(['stask:work', '--stop-when-empty', '--sleep=0.2', '--supervise=0']);
        $this->waitFor(fn () => (int) sTask::progress($id)['processed'] >= 2, 'the rebuild is under way');
        $answer = $this->json($this->post("stask/task/$id/cancel"));
        self::assertTrue($answer['success'], json_encode($answer));
        [$code, $out] = self::finish($worker);
        self::assertSame(0, $code, $out);
        return $id;
    }

    public function testCancellingARebuildWhoseCatchBlockWritesFailed(): void
    {
        // The cancel reaches the worker as an exception from pushProgress(); its catch block
        // writes 100 with its own message and rethrows. Cancelled or failed, it ends once,
        // and everything says the same.
        $id = $this->cancelledRebuild();
        $row = $this->task($id);
        self::assertContains($row->status_text, ['failed', 'cancelled'], (string) $row->message);
        $row = $this->assertOutcome($id, $row->status_text, null, 1, 'cancelled rebuild');
        self::assertTrue($row->cancel_requested);
        self::assertLessThan(20, (int) sTask::progress($id)['processed'], 'it stopped early');
        // The manager's "cancel requested" line and the worker's lines, oldest first.
        $times = array_column(sTask::logs($id), 'time');
        $sorted = $times;
        sort($sorted);
        self::assertSame($sorted, $times, 'the log is oldest first: ' . json_encode(sTask::logs($id), JSON_PRETTY_PRINT));
        $this->work();
        self::assertSame(1, $this->task($id)->attempts, 'not run again');
    }

    public function testCsvExportFinishesWithADownloadableFile(): void
    {
        $this->discover(['clients_csv']);
        $id = $this->runEndpoint('clients_csv', 'export', ['rows' => '4']);
        self::assertSame(['rows' => '4'], $this->task($id)->meta, 'a form post without options: the body is the options');

        $this->pass();
        $link = 'http://example.test/manager/stask/task/' . $id . '/download';
        $row = $this->assertOutcome($id, 'completed', '**Done. [Download](' . $link . ')**', 1, 'export');
        $file = $this->site->core . "/storage/clients-csv/products-$id.csv";
        self::assertSame(realpath($file), realpath((string) $row->result), 'the result is the file');

        $download = $this->get("stask/task/$id/download");
        self::assertSame(200, $download->getStatusCode());
        self::assertInstanceOf(\Symfony\Component\HttpFoundation\BinaryFileResponse::class, $download);
        $csv = (string) file_get_contents($download->getFile()->getPathname());
        self::assertSame("sku;name;price\nSKU-1;\"Product 1\";10\nSKU-2;\"Product 2\";20\nSKU-3;\"Product 3\";30\nSKU-4;\"Product 4\";40\n", $csv);
    }

    public function testCsvImportReadsTheUploadByItsTokenAndReportsAMissingFile(): void
    {
        $this->discover(['clients_csv']);
        $path = tempnam(sys_get_temp_dir(), 'csv');
        file_put_contents($path, "sku;name;price\nA-1;Chair;45\nB-2;Table;120\n");
        $upload = $this->json($this->post('stask/worker/clients_csv/upload', [], true, ['file' => new UploadedFile($path, 'products.csv', null, null, true)]));
        self::assertTrue($upload['success']);
        $token = $upload['result'];

        // upstream's widget: upload, then run with the token as a top-level `filename`
        $ok = $this->runEndpoint('clients_csv', 'import', ['filename' => $token], true);
        self::assertSame($token, $this->task($ok)->meta['filename']);
        $missing = $this->runEndpoint('clients_csv', 'import', ['filename' => 'nothing-here.csv'], true);
        self::assertArrayNotHasKey('uploaded_file', $this->task($missing)->meta, 'not a token: a plain string');

        $this->work();
        $this->assertOutcome($ok, 'completed', 'Imported 2 products', 1, 'import');
        self::assertSame([
            ['sku' => 'A-1', 'name' => 'Chair', 'price' => '45'],
            ['sku' => 'B-2', 'name' => 'Table', 'price' => '120'],
        ], json_decode((string) file_get_contents($this->site->core . '/storage/' . ImportExportCsvWorker::IMPORTED_FILE), true));
        $row = $this->assertOutcome($missing, 'failed', 'Import failed: File not found: nothing-here.csv', 1, 'import of a missing file');
        self::assertNull($row->result);
    }

    // --- 3. merchant feed: legacy widget, settings form, generated files, long message -----

    public function testFeedWorkerWithItsOwnWidgetSettingsAndFiles(): void
    {
        $this->discover(['merchant_feed']);
        $html = $this->page('stask/worker/merchant_feed');
        self::assertStringContainsString('merchant_feedProgress', $html, 'the legacy widget is on the page');
        self::assertStringContainsString('name="currency"', $html, 'the worker\'s settings form is on the page');

        $saved = $this->json($this->post('stask/worker/merchant_feed/settings', ['worker_form' => '1', 'currency' => ' usd ', 'limit' => '25']));
        self::assertSame('USD', $saved['settings']['currency'], 'normalizeSettingsForSave() cleaned the form');
        self::assertSame(25, $saved['settings']['limit']);

        $id = $this->runEndpoint('merchant_feed', 'make');
        $this->work();
        $message = (new MerchantFeedWorker())->summary(25, 'USD', "feed-$id.xml");
        self::assertGreaterThan(500, strlen($message));
        $this->assertOutcome($id, 'completed', $message, 1, 'feed');
        self::assertSame(25, (int) sTask::progress($id)['total']);
        self::assertSame(25, substr_count((string) file_get_contents($this->site->core . "/storage/clients-feeds/feed-$id.xml"), '<item>'));
        self::assertStringContainsString("feed-$id.xml", $this->page('stask/worker/merchant_feed'), 'getGeneratedFiles() is listed');
    }

    // --- 4. scheduled metrics: a hidden worker registered by the package, getSchedule() -----

    public function testScheduledMetricsWorkerRegisteredByItsPackage(): void
    {
        $at = date('H:i', time() + 7200);
        (new RegisterMetricsWorker())->up(['enabled' => true, 'type' => 'periodic', 'frequency' => 'daily', 'time' => $at]);
        $worker = sWorker::query()->where('identifier', 'clients_dashboard_metrics')->first();
        self::assertTrue((bool) $worker->active);
        self::assertSame(1, (int) $worker->hidden);

        // The cron pass queues the next run from the worker's getSchedule(), for later.
        $out = $this->pass();
        self::assertStringContainsString('Scheduled clients_dashboard_metrics', $out);
        $task = sTaskModel::query()->where('identifier', 'clients_dashboard_metrics')->sole();
        self::assertTrue($task->isPending());
        self::assertSame('make', $task->action);
        self::assertGreaterThan(time() + 3600, intdiv((int) $task->available_at, 1000), 'not before its time');
        $this->work();
        self::assertTrue($task->fresh()->isPending(), 'stask:work leaves it until its time');

        // The package's code moves it to now (its start_at): it runs.
        $task->update(['start_at' => now()]);
        $this->work();
        $row = $this->assertOutcome((int) $task->id, 'completed', 'Metrics refreshed', 1, 'metrics');
        self::assertSame(100, $row->progress);
        $metrics = json_decode((string) file_get_contents($this->site->core . '/storage/clients-metrics.json'), true);
        self::assertSame(12, $metrics['orders']);

        // No try/catch in the worker: a throw after its own status 50 write fails the task, once.
        $broken = sTask::create('clients_dashboard_metrics', 'make', ['fail' => true]);
        $this->pass();
        $row = $this->assertOutcome((int) $broken->id, 'failed', null, 1, 'metrics, failing');
        self::assertStringEndsWith('the statistics source is offline', $row->message);
        $this->work();
        self::assertSame(1, $this->task((int) $broken->id)->attempts, 'not run again');
    }

    // --- 5. mailer: send_once, start_at from the package, reuse, cancel, missing record ----

    public function testMailerQueueSchedulesReusesAndCancelsItsTasks(): void
    {
        MailerTables::up();
        $mailing = Mailing::query()->create(['subject' => 'News', 'recipients' => ['a@example.test', 'b@example.test', 'c@example.test']]);
        $later = Mailing::query()->create(['subject' => 'Later', 'recipients' => ['d@example.test']]);
        $queue = new MailingDeliveryQueue();

        $first = $queue->enqueue((int) $mailing->id, now()->addMinutes(30));
        $worker = sWorker::query()->where('identifier', 'clients_mail_delivery')->first();
        self::assertTrue((bool) $worker->active);
        self::assertTrue((bool) $worker->hidden);
        self::assertInstanceOf(\Clients\Mailer\Workers\MailingDeliveryWorker::class,
            app(\Seiger\sTask\Services\WorkerService::class)->resolveWorker('clients_mail_delivery'));
        // Enqueued again, sooner: the same task, moved.
        $soon = microtime(true) + 2.5;
        $again = $queue->enqueue((int) $mailing->id, now()->setTimestamp((int) ceil($soon)));
        self::assertSame($first->id, $again->id);
        self::assertSame(1, sTaskModel::query()->where('identifier', 'clients_mail_delivery')->count());
        self::assertTrue($again->fresh()->meta['requeued']);

        $this->work();
        $this->pass();
        self::assertSame(0, MailDelivery::query()->count(), 'not before its start_at (stask:work, stask:worker)');
        self::assertTrue($first->fresh()->isPending());

        usleep((int) max(0, (ceil($soon) - microtime(true) + 0.3) * 1e6));
        $this->work();
        $this->assertOutcome((int) $first->id, 'completed', 'Sent 3 e-mails', 1, 'mailing');
        self::assertSame(['a@example.test', 'b@example.test', 'c@example.test'],
            MailDelivery::query()->orderBy('id')->pluck('email')->all(), 'each e-mail sent once');

        // A mailing that is gone: the worker throws without marking; failed once, not retried.
        $gone = $queue->enqueue(999);
        $this->pass();
        $row = $this->assertOutcome((int) $gone->id, 'failed', null, 1, 'missing mailing');
        self::assertStringEndsWith('Mailing #999 not found', $row->message, 'the exception\'s message');
        self::assertSame(1, $row->max_attempts);
        $this->pass();
        $this->work();
        self::assertSame(1, $this->task((int) $gone->id)->attempts);
        self::assertSame(3, MailDelivery::query()->count());

        // While a mailing is being sent, the queue refuses to move it.
        $slow = Mailing::query()->create(['subject' => 'Slow', 'recipients' => ['e@mail.slow', 'f@mail.slow', 'g@mail.slow']]);
        $sending = $queue->enqueue((int) $slow->id);
        $worker = $this->spawn(['stask:work', '--stop-when-empty', '--sleep=0.2', '--supervise=0']);
        $this->waitFor(fn () => MailDelivery::query()->where('mailing_id', $slow->id)->exists(), 'the slow mailing is being sent');
        $running = $this->task((int) $sending->id);
        self::assertTrue($running->isRunning(), 'status ' . $running->status);
        self::assertSame('running', sTask::progress((int) $sending->id)['status']);
        self::assertSame('running', $this->managerProgress((int) $sending->id)['status']);
        try {
            $queue->enqueue((int) $slow->id, now()->addHour());
            self::fail('enqueue() moved a running task');
        } catch (\RuntimeException $e) {
            self::assertStringContainsString('is being sent right now', $e->getMessage());
        }
        self::assertSame(0, $queue->cancelScheduled((int) $slow->id), 'a running task is not a scheduled one');
        [$code, $out] = self::finish($worker);
        self::assertSame(0, $code, $out);
        $this->assertOutcome((int) $sending->id, 'completed', 'Sent 3 e-mails', 1, 'slow mailing');
        self::assertSame(3, MailDelivery::query()->where('mailing_id', $slow->id)->count());

        // Scheduled for later, then "send now": start_at back to null runs it at once.
        $urgent = Mailing::query()->create(['subject' => 'Urgent', 'recipients' => ['h@example.test']]);
        $queued = $queue->enqueue((int) $urgent->id, now()->addHour());
        $this->work();
        self::assertTrue($queued->fresh()->isPending());
        self::assertSame($queued->id, $queue->enqueue((int) $urgent->id)->id);
        $this->work();
        $this->assertOutcome((int) $queued->id, 'completed', 'Sent 1 e-mails', 1, 'sent now');

        // A scheduled one is cancelled: deleted.
        $scheduled = $queue->enqueue((int) $later->id, now()->addHour());
        self::assertSame(1, $queue->cancelScheduled((int) $later->id));
        self::assertNull(sTaskModel::query()->find($scheduled->id));
        self::assertSame(0, $queue->cancelScheduled((int) $later->id));
    }

    // --- 6. gallery: heartbeat check, firstOrCreate, findActiveDuplicate, create ------------

    public function testGalleryQueueUsesTheHeartbeatAndReusesDuplicates(): void
    {
        $queue = new ImageOptimizationQueue();
        $image = $this->site->core . '/storage/photo.jpg';
        file_put_contents($image, str_repeat('x', 1000));
        self::assertFalse($queue->available(), 'no runner has run yet');
        self::assertSame('missing', sTask::heartbeatStatus()['state']);
        self::assertNull($queue->defer(['path' => $image, 'quality' => 70]));
        self::assertNull(sWorker::query()->where('identifier', 'clients.image-optimize')->first());

        $this->pass(); // a runner was here: the heartbeat is fresh
        self::assertTrue($queue->available());
        self::assertSame('available', sTask::heartbeatStatus()['state']);
        $task = $queue->defer(['path' => $image, 'quality' => 70, 'sizes' => ['s' => 100, 'm' => 300]]);
        self::assertNotNull($task);
        $same = $queue->defer(['sizes' => ['m' => 300, 's' => 100], 'quality' => 70, 'path' => $image]);
        self::assertSame($task->id, $same->id, 'findActiveDuplicate() found it');
        self::assertSame($task->id, sTask::create('clients.image-optimize', 'optimize', ['quality' => 70, 'path' => $image, 'sizes' => ['s' => 100, 'm' => 300]])->id, 'sTask::create() hands it back too');
        $other = $queue->defer(['path' => $image, 'quality' => 50]);
        self::assertNotSame($task->id, $other->id);
        $worker = sWorker::query()->where('identifier', 'clients.image-optimize')->first();
        self::assertTrue((bool) $worker->active);
        self::assertSame(0, (int) $worker->hidden);
        self::assertStringContainsString('Image optimisation', $this->page('stask/worker/clients.image-optimize'), 'BaseWorker\'s own widget');

        $this->work();
        $row = $this->assertOutcome((int) $task->id, 'completed', null, 1, 'gallery');
        self::assertSame('photo.q70.webp (1000 → 700 bytes)', $row->result);
        self::assertSame('photo.q50.webp (1000 → 500 bytes)', $this->assertOutcome((int) $other->id, 'completed', null, 1, 'gallery 50')->result);
        self::assertSame(700, filesize($this->site->core . '/storage/photo.q70.webp'));
        self::assertStringContainsString('clients.image-optimize', $this->page('stask/tasks'));
        self::assertStringContainsString('clients.image-optimize', $this->page('stask/workers'));
    }

    // --- 7. AI: constructor, own log(), overrides, legacy partial, named arguments ---------

    public function testAiWorkerWithUpstreamSignaturesAndNamedArgumentDispatch(): void
    {
        $this->discover(['clients_ai_smoke']);
        $html = $this->page('stask/worker/clients_ai_smoke');
        self::assertStringContainsString('clients_ai_smokeRun', $html, 'the legacy partial renders the Run button');
        self::assertStringContainsString('Checks that the AI provider answers', $html);

        $dispatched = (new AiDispatcher())->dispatch(['prompt' => 'Hello']);
        self::assertSame(7, $dispatched->started_by);
        self::assertSame($dispatched->id, (new AiDispatcher())->dispatch(['prompt' => 'Hello'], 8)->id, 'the unfinished duplicate, unchanged');
        self::assertSame(7, $this->task((int) $dispatched->id)->started_by);
        self::assertSame(['prompt' => 'Hello'], $dispatched->meta);
        $make = $this->runEndpoint('clients_ai_smoke', 'make');
        self::assertSame('test-provider', $this->task($make)->meta['provider'], 'the worker\'s createTask() override ran');
        $fail = $this->runEndpoint('clients_ai_smoke', 'make', ['options' => ['fail' => 1]]);

        $this->pass();
        $row = $this->assertOutcome((int) $dispatched->id, 'completed', 'Dispatched', 1, 'dispatch');
        self::assertSame(7, $row->started_by);
        self::assertSame('{"reply":"ok","prompt":"Hello"}', $row->result);
        $this->assertOutcome($make, 'completed', 'Done', 1, 'smoke');
        $this->assertOutcome($fail, 'failed', 'AI smoke test failed: provider answered 503', 1, 'smoke, failing');
        $own = (string) file_get_contents($this->site->core . '/storage/clients-ai.log');
        self::assertStringContainsString("smoke test #$make for clients_ai_smoke", $own, 'its own log() and $this->worker');
        self::assertStringContainsString('smoke test failed: provider answered 503', $own);
        self::assertStringContainsString('by user 7', $own);
    }

    // --- retries: opt-in only ------------------------------------------------------------------

    public function testRetriesOnlyForAWorkerThatDeclaresTries(): void
    {
        $this->discover(['clients_flaky_api', 'clients_one_shot']);
        $flaky = sTask::create('clients_flaky_api', 'sync');
        $caught = sTask::create('clients_flaky_api', 'refresh');
        $once = sTask::create('clients_one_shot', 'charge');
        self::assertSame(3, $flaky->max_attempts, 'public $tries = 3');
        self::assertSame(1, $once->max_attempts);

        // 3 + 2 + 1 runs
        [$code, $out] = $this->process(['stask:work', '--sleep=0.5', '--max-jobs=6', '--max-time=20', '--supervise=0']);
        self::assertSame(0, $code, $out);
        $row = $this->assertOutcome((int) $flaky->id, 'completed', 'Synced on attempt 3', 3, 'flaky');
        self::assertSame(3, $row->max_attempts);
        $errors = array_filter(sTask::logs((int) $flaky->id), static fn (array $e): bool => $e['level'] === 'error');
        self::assertCount(2, $errors, 'one line per failed attempt');

        // A catch block that writes 100 and rethrows: with attempts left, the throw retries it.
        $this->assertOutcome((int) $caught->id, 'completed', 'Tokens refreshed', 2, 'failed once in a catch block');
        self::assertCount(2, $this->runs("clients-flaky-{$caught->id}.log"));
        $times = array_map(static fn (string $l): float => (float) explode(' ', $l)[0], $this->runs("clients-flaky-{$flaky->id}.log"));
        self::assertCount(3, $times);
        self::assertGreaterThanOrEqual(0.9, $times[1] - $times[0], '$backoff[0] = 1 s');
        self::assertGreaterThanOrEqual(1.9, $times[2] - $times[1], '$backoff[1] = 2 s');

        $row = $this->assertOutcome((int) $once->id, 'failed', null, 1, 'one shot');
        self::assertStringEndsWith('Payment gateway refused the charge', $row->message);
        $this->pass();
        self::assertCount(1, $this->runs("clients-oneshot-{$once->id}.log"), 'ran exactly once');
    }

    // --- status writes in any order ------------------------------------------------------------

    /**
     * Runs each list of StepsWorker steps as a task, all in one `stask:work`.
     *
     * @param array<string, mixed> $cases "step,step,…" => anything
     * @return array<string, int> the same keys => task id
     */
    private function runSteps(array $cases): array
    {
        $this->discover(['clients_steps']);
        $ids = [];
        foreach (array_keys($cases) as $steps) {
            $ids[$steps] = (int) sTask::create('clients_steps', 'run', ['steps' => explode(',', $steps)])->id;
        }
        $this->work();
        return $ids;
    }

    /** What sTask threw at the worker's steps (StepsWorker writes it down), or ''. */
    private function stepErrors(int $id): string
    {
        return trim((string) @file_get_contents($this->site->core . "/storage/clients-steps-$id.log"));
    }

    public function testAWorkerMayWriteItsStatusInAnyOrder(): void
    {
        // steps => [status, row message, result, failure lines in the log]
        $cases = [
            's30,s50,p,u80,pf' => ['completed', 'done by update', null, 0],
            's30,u100' => ['failed', 'failed by update', null, 1],
            's30,s50,u100,throw' => ['failed', 'failed by update', null, 1],
            'u100,throw' => ['failed', 'failed by update', null, 1],
            'mfail' => ['failed', 'failed by markFailed', null, 1],
            'mfail,throw' => ['failed', 'failed by markFailed', null, 1],
            // finished by its worker, then a throw: the worker's outcome stands
            'u80,throw' => ['completed', 'done by update', null, 0],
            'mf,throw' => ['completed', 'done by markFinished', null, 0],
            'u80,p' => ['completed', 'done by update', null, 0],
            's30,mf,pf' => ['completed', 'done by markFinished', null, 0],
            'save80' => ['completed', 'done by save', null, 0],
            'mass80' => ['completed', 'done by mass update', null, 0],
            's50,refresh,p,mf' => ['completed', 'done by markFinished', null, 0],
            'progress,msg,mf' => ['completed', 'done by markFinished', null, 0],
            'running,p,mf' => ['completed', 'done by markFinished', null, 0],
            'u80result' => ['completed', 'done by update', 'result by update', 0],
            'mfresult,u80bare' => ['completed', 'done by markFinished', 'result by markFinished', 0],
            // the last final write while the handler runs wins, as upstream's did
            'u80bare,mfresult' => ['completed', 'done by markFinished', 'result by markFinished', 0],
            's50,u80,mf' => ['completed', 'done by markFinished', null, 0],
            'mf,u80' => ['completed', 'done by update', null, 0],
            'u100,mfail' => ['failed', 'failed by markFailed', null, 2],
            'mfail,u100' => ['failed', 'failed by update', null, 2],
            'u100,mf' => ['completed', 'done by markFinished', null, 1],
            'mfail,mf' => ['completed', 'done by markFinished', null, 1],
            'mf,mfail' => ['failed', 'failed by markFailed', null, 1],
            'u80,u100' => ['failed', 'failed by update', null, 1],
            // a failed task keeps the progress it reached, in its row and its snapshot alike…
            's50,p,mfail' => ['failed', 'failed by markFailed', null, 1],
            's50,p,u100,throw' => ['failed', 'failed by update', null, 1],
            // …and progress reported after the worker failed it changes neither
            's30,s50,u100,pfail,throw' => ['failed', 'failed by update', null, 1],
            'u100,pf' => ['failed', 'failed by update', null, 1],
            's50,p,mfail,pf' => ['failed', 'failed by markFailed', null, 1],
            // left running by its worker (upstream completed it): one message in row and snapshot
            's30' => ['completed', null, null, 0],
            's50,p' => ['completed', null, null, 0],
            'msg' => ['completed', null, null, 0],
            'progress' => ['completed', null, null, 0],
        ];
        foreach ($this->runSteps($cases) as $steps => $id) {
            [$status, $message, $result, $failures] = $cases[$steps];
            $row = $this->assertOutcome($id, $status, $message, 1, $steps, $failures);
            self::assertSame($result, $row->result, "$steps: result");
            self::assertSame('', $this->stepErrors($id), "$steps: sTask refused none of the worker's writes");
            if ($status === 'failed' && str_contains($steps, 'p,')) {
                self::assertSame(40, $row->progress, "$steps: the progress it reached");
            }
        }
    }
}
