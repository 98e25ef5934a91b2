<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use PHPUnit\Framework\TestCase;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use STask\Tests\Evo\Site;
use Symfony\Component\HttpFoundation\Response;
use PHPUnit\Framework\Attributes\DataProvider;

/**
 * The package on a site whose database is a MariaDB or PostgreSQL server, end to end: the
 * site's `php artisan migrate`, tasks created through the facade and run by a real
 * `php artisan stask:work` process, read back through the Eloquent models (status, times in
 * the application's time zone to the millisecond, duration, JSON), progress and logs through
 * the facade and the manager's HTTP endpoints, and the log download — with logs in files and
 * with logs in the database. Each test gets a database (MariaDB) or schema (PostgreSQL) of
 * its own, with the Evolution CMS table prefix evo_.
 */
final class ServerSiteTest extends TestCase
{
    private ?ServerDatabase $db = null;
    private ?Site $site = null;
    private string $timezone;

    /** @return array<string, array{string}> */
    public static function servers(): array
    {
        return ['mariadb' => ['mysql'], 'postgres' => ['pgsql']];
    }

    protected function setUp(): void
    {
        $this->timezone = date_default_timezone_get();
    }

    protected function tearDown(): void
    {
        $this->site?->destroy();
        $this->site = null;
        $this->db?->drop();
        $this->db = null;
        date_default_timezone_set($this->timezone);
    }

    /** A site on a fresh database of $driver; `$prepare` may change the database first. */
    private function site(string $driver, array $stask = [], ?callable $prepare = null): Site
    {
        $this->db = ServerDatabase::create($this, $driver);
        if ($prepare !== null) {
            $prepare($this->db);
        }
        $this->site = new Site(['acme/shop', 'acme/mail'], $stask, null, 'evo_', null, null, null, $this->db->connection);
        return $this->site;
    }

    private function artisan(string $command, array $parameters = [], int $expect = 0): string
    {
        [$code, $out] = $this->site->call($command, $parameters);
        self::assertSame($expect, $code, "php artisan $command exited with $code:\n$out");
        return $out;
    }

    /** Runs `php artisan …` as a process of its own, as cron or supervisord would. */
    private function artisanProcess(array $args): string
    {
        $extension = realpath((string) getenv('STASK_EXTENSION')) ?: Site::REPO . '/target/release/libstask.so';
        $cmd = array_merge([PHP_BINARY, '-d', 'extension=' . $extension, $this->site->core . '/artisan'], $args);
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $this->site->core);
        self::assertIsResource($proc);
        $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        self::assertSame(0, proc_close($proc), implode(' ', $args) . ":\n$out");
        return $out;
    }

    private function get(string $path): Response
    {
        return $this->site->dispatch($this->site->request($path));
    }

    private function json(string $path, int $status = 200): array
    {
        $response = $this->get($path);
        self::assertSame($status, $response->getStatusCode(), $path . ': ' . $response->getContent());
        return json_decode((string) $response->getContent(), true);
    }

    /** The body of a streamed download, and the most PHP memory that sending it took. */
    private function download(string $path): array
    {
        $response = $this->get($path);
        self::assertSame(200, $response->getStatusCode(), $path);
        self::assertStringStartsWith('text/plain', (string) $response->headers->get('Content-Type'));
        $body = '';
        gc_collect_cycles();
        memory_reset_peak_usage();
        $before = memory_get_usage();
        ob_start(static function (string $buffer) use (&$body): string {
            $body .= $buffer;
            return '';
        }, 8192);
        $response->sendContent();
        ob_end_clean();
        return [$body, memory_get_peak_usage() - $before - strlen($body)];
    }

    /** Milliseconds since the epoch of a task's timestamp column, as the server stores it. */
    private function storedMs(int $id, string $column): int
    {
        $expr = $this->db->driver === 'pgsql'
            ? "(EXTRACT(EPOCH FROM $column) * 1000)::bigint"
            : "CAST(ROUND(UNIX_TIMESTAMP($column) * 1000) AS SIGNED)";
        return (int) $this->db->query("SELECT $expr AS ms FROM evo_s_tasks WHERE id = ?", [$id])[0]['ms'];
    }

    private static function ms(\DateTimeInterface $t): int
    {
        return (int) $t->format('U') * 1000 + (int) $t->format('v');
    }

    /** @dataProvider servers */
    #[DataProvider('servers')]
    public function testMigrateCreatesTheTablesInTheSiteDatabase(string $driver): void
    {
        $site = $this->site($driver);
        $settings = sTask::settings();
        self::assertFalse($settings->embedded, $settings->reason);
        self::assertStringStartsWith($driver === 'pgsql' ? 'postgres://' : 'mysql://', $settings->url);
        self::assertSame('evo_', $settings->options['prefix']);

        $this->artisan('migrate', ['--force' => true]);
        $tables = $this->db->tables();
        foreach (['evo_migrations', 'evo_s_tasks', 'evo_s_workers', 'evo_s_task_schema', 'evo_s_task_progress', 'evo_s_task_logs', 'evo_permissions'] as $table) {
            self::assertContains($table, $tables);
        }
        self::assertSame(3, (int) $this->db->query('SELECT MAX(version) AS v FROM evo_s_task_schema')[0]['v']);
        self::assertSame(3, (int) $this->db->query("SELECT COUNT(*) AS n FROM evo_permissions WHERE " . ($driver === 'pgsql' ? '"key"' : '`key`') . " IN ('stask', 'stask_artisan', 'stask_composer')")[0]['n']);
        self::assertStringContainsString('Nothing to migrate', $this->artisan('migrate', ['--force' => true]));

        // Rolled back and migrated again: the engine's tables go and come back.
        $this->artisan('migrate:rollback', ['--force' => true]);
        self::assertNotContains('evo_s_tasks', $this->db->tables());
        self::assertNotContains('evo_s_task_logs', $this->db->tables());
        $this->artisan('migrate', ['--force' => true]);
        self::assertSame(1, sTask::create('report', 'build')->id);
    }

    /**
     * Tasks from the facade, run by `php artisan stask:work` in its own process, read back
     * through the models with the site in a time zone far from UTC and its database session in
     * another one.
     *
     * @dataProvider servers
     */
    #[DataProvider('servers')]
    public function testTasksRunByTheWorkCommandReadBackThroughTheModels(string $driver): void
    {
        date_default_timezone_set('Pacific/Auckland');
        $this->site($driver, [], function (ServerDatabase $db) use ($driver): void {
            $db->connection['timezone'] = $driver === 'pgsql' ? 'America/New_York' : '+05:00';
        });
        $this->artisan('migrate', ['--force' => true]);
        $this->artisan('stask:discover', ['--activate' => ['report', 'slow', 'product']]);

        $data = ['month' => '2026-11', 'note' => "ünïcode ✓ 🚀 \"quoted\"\ttab", 'nested' => ['a' => [1, 2.5, true, null]], 'empty' => []];
        $report = sTask::create('report', 'build', $data, 'high');
        $slow = sTask::create('slow', 'wait', ['seconds' => 0.35]);
        $csv = $this->site->root . '/products.csv';
        file_put_contents($csv, "sku,name\nA1,One\nA2,Two\nA3,Three\nA4,Four\n");
        $import = sTask::create('product', 'import', ['file' => $csv], 'low');
        $keyed = sTask::create('report', 'build', [], 'normal', null, ['unique' => 'report:2026-11']);
        $again = sTask::create('report', 'build', ['again' => true], 'normal', null, ['unique' => 'report:2026-11']);
        self::assertSame($keyed->id, $again->id, 'an unfinished task holds its key');

        $out = $this->artisanProcess(['stask:work', '--stop-when-empty']);
        self::assertStringContainsString('Stopped (queue empty) after 4 task(s)', $out);

        $row = sTaskModel::query()->find($report->id);
        self::assertSame(80, $row->status);
        self::assertSame('completed', $row->status_text);
        self::assertTrue($row->isFinished());
        self::assertSame(100, $row->progress);
        self::assertSame(1, $row->attempts);
        self::assertSame('high', $row->priority);
        self::assertSame($data, $row->meta, 'meta JSON round trip');
        self::assertSame(['month' => '2026-11'], $row->result);
        self::assertSame('Report built', $row->message);
        foreach (['created_at', 'updated_at', 'start_at', 'finished_at'] as $column) {
            self::assertSame('Pacific/Auckland', $row->{$column}->getTimezone()->getName(), $column);
            self::assertSame($this->storedMs($report->id, $column), self::ms($row->{$column}), "$column to the millisecond");
        }
        self::assertEqualsWithDelta(time(), $row->finished_at->getTimestamp(), 60, 'the session time zone did not shift it');
        self::assertLessThanOrEqual(self::ms($row->finished_at), self::ms($row->start_at));

        $waited = sTaskModel::query()->find($slow->id);
        // Times are stored to the millisecond: a 350 ms task may read as 349.x ms.
        self::assertGreaterThanOrEqual(0.349, $waited->duration);
        self::assertLessThan(10, $waited->duration);
        self::assertEqualsWithDelta(($this->storedMs($slow->id, 'finished_at') - $this->storedMs($slow->id, 'start_at')) / 1000, $waited->duration, 0.0005);
        self::assertSame(4, sTaskModel::completed()->count());
        self::assertSame(0, sTaskModel::query()->incomplete()->count());
        self::assertSame([$report->id, $slow->id, $import->id, $keyed->id], sTaskModel::query()->orderBy('id')->pluck('id')->map(fn ($id) => (int) $id)->all());

        // Progress and logs, through the facade…
        $progress = sTask::progress($import->id);
        self::assertSame(['completed', 100, 4, 4], [$progress['status'], $progress['progress'], $progress['processed'], $progress['total']]);
        $messages = array_column(sTask::logs($slow->id), 'message');
        self::assertSame('Attempt 1/1 started', $messages[0]);
        self::assertContains('started waiting', $messages);
        self::assertContains('done waiting', $messages);
        self::assertStringStartsWith('Completed', end($messages));

        // … and the manager's endpoints.
        $p = $this->json("stask/task/{$slow->id}/progress");
        self::assertTrue($p['success']);
        self::assertSame('completed', $p['status']);
        self::assertEqualsWithDelta($waited->duration, $p['duration'], 0.0005);
        self::assertContains('done waiting', $p['log_lines']);
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/', $p['finished_at']);
        $logs = $this->json("stask/task/{$slow->id}/logs?level=info&limit=2");
        self::assertCount(2, $logs['entries']);
        self::assertSame($messages[count($messages) - 1], $logs['entries'][1]['message']);
        $this->json('stask/task/999999/progress', 404);
        [$body] = $this->download("stask/task/{$slow->id}/logs/download");
        self::assertStringContainsString("info\tdone waiting", $body);
        self::assertSame(count($messages), substr_count($body, "\n"));
        self::assertFileExists($this->site->core . "/storage/stask/{$slow->id}.log", 'files => local keeps logs in files');

        // The pages that query the tables render on this server.
        foreach (['stask', 'stask/tasks', 'stask/tasks?q=REPORT&status=completed', "stask/task/{$report->id}", 'stask/workers', 'stask/worker/report'] as $page) {
            self::assertSame(200, $this->get($page)->getStatusCode(), $page);
        }
        self::assertStringContainsString('data-task-row="' . $report->id . '"', (string) $this->get('stask/tasks?q=REPORT')->getContent(), 'search ignores case');
        $metrics = $this->json('stask/api/dashboard');
        self::assertSame(4, $metrics['metrics']['totals']['completed'] ?? null, json_encode($metrics));
    }

    /**
     * With `files => 'database'` progress and logs live in the server's tables: nothing is
     * written to storage/, and a long log downloads in pieces without being held in memory.
     *
     * @dataProvider servers
     */
    #[DataProvider('servers')]
    public function testLogsInTheDatabaseAreServedAndDownloaded(string $driver): void
    {
        $this->site($driver, ['files' => 'database']);
        $this->artisan('migrate', ['--force' => true]);
        $this->artisan('stask:discover', ['--activate' => ['slow', 'product']]);
        $slow = sTask::create('slow', 'wait', ['seconds' => 0.05]);
        $csv = $this->site->root . '/products.csv';
        file_put_contents($csv, "sku,name\nA1,One\nA2,Two\n");
        $import = sTask::create('product', 'import', ['file' => $csv]);
        $long = sTask::create('slow', 'wait', ['seconds' => 0], 'low');
        $line = str_repeat('x', 900);
        for ($i = 0; $i < 4000; $i++) {
            sTask::log($long, $i % 100 ? 'info' : 'warning', "row $i $line", ['row' => $i]);
        }
        $this->artisan('stask:work', ['--stop-when-empty' => true]);
        self::assertSame(3, sTaskModel::completed()->count());

        $storage = $this->site->core . '/storage/stask';
        self::assertSame([], glob("$storage/[0-9]*.{log,json}", GLOB_BRACE) ?: [], 'no files: everything went to the database');
        self::assertGreaterThan(4000, (int) $this->db->query('SELECT COUNT(*) AS n FROM evo_s_task_logs')[0]['n']);

        $progress = $this->json("stask/task/{$import->id}/progress");
        self::assertSame(['completed', 100, 2, 2], [$progress['status'], $progress['progress'], $progress['processed'], $progress['total']]);
        self::assertContains('done waiting', $this->json("stask/task/{$slow->id}/progress")['log_lines']);
        self::assertCount(40, $this->json("stask/task/{$long->id}/logs?level=warning&limit=1000")['entries']);

        [$body, $memory] = $this->download("stask/task/{$long->id}/logs/download");
        $lines = explode("\n", rtrim($body, "\n"));
        self::assertGreaterThan(4000, count($lines));
        self::assertStringContainsString("\twarning\trow 0 x", $lines[0], 'logged before it ran, oldest first');
        self::assertStringContainsString("\tinfo\trow 3999 x", $lines[3999]);
        self::assertStringContainsString('{"row":3999}', $lines[3999]);
        self::assertStringContainsString("\tinfo\tAttempt 1/1 started", $lines[4000]);
        self::assertStringStartsWith('Completed', explode("\t", end($lines))[2]);
        self::assertGreaterThan(3_600_000, strlen($body));
        self::assertLessThan(2_000_000, $memory, 'the download streamed in pieces (' . strlen($body) . ' bytes)');

        [$small] = $this->download("stask/task/{$slow->id}/logs/download");
        self::assertStringContainsString("info\tdone waiting", $small);
        self::assertStringContainsString('Full log: in the database', $this->artisan('stask:show', ['id' => $slow->id]));
    }

    /**
     * Unique keys and bulk actions through the manager on a server: a finished task cannot be
     * retried while another unfinished task holds its key; delete skips running tasks.
     *
     * @dataProvider servers
     */
    #[DataProvider('servers')]
    public function testRetryRespectsUniqueKeysAndBulkDeleteWorks(string $driver): void
    {
        $this->site($driver);
        $this->artisan('migrate', ['--force' => true]);
        $this->artisan('stask:discover', ['--activate' => ['report']]);
        $first = sTask::create('report', 'build', [], 'normal', null, ['unique' => 'nightly']);
        sTask::cancel($first);
        $second = sTask::create('report', 'build', [], 'normal', null, ['unique' => 'nightly']);
        self::assertNotSame($first->id, $second->id);
        $post = function (string $path, array $data = []): array {
            $request = $this->site->request($path, 'POST', $data);
            $request->headers->set('Accept', 'application/json');
            $request->headers->set('X-CSRF-TOKEN', csrf_token());
            $response = $this->site->dispatch($request);
            return [$response->getStatusCode(), json_decode((string) $response->getContent(), true)];
        };
        [$status, $json] = $post("stask/task/{$first->id}/retry");
        self::assertSame(409, $status);
        self::assertStringContainsString('unique key', $json['message'] ?? json_encode($json));
        self::assertTrue(sTaskModel::query()->find($first->id)->isCancelled());
        self::assertSame(1, sTask::processPendingTasks());
        [$status] = $post("stask/task/{$first->id}/retry");
        self::assertSame(200, $status, 'the key is free once the other task finished');

        [$status, $json] = $post('stask/tasks/bulk', ['action' => 'delete', 'ids' => [$first->id, $second->id, 999999]]);
        self::assertSame(200, $status, json_encode($json));
        self::assertSame(0, sTaskModel::query()->count());
    }

    /**
     * The cron pass queues each schedule once however often it runs (unique keys), and the
     * cleanup worker prunes old tasks with their database journal.
     *
     * @dataProvider servers
     */
    #[DataProvider('servers')]
    public function testSchedulerPassesAndCleanupOnTheServer(string $driver): void
    {
        $this->site($driver, ['files' => 'database']);
        $this->artisan('migrate', ['--force' => true]);
        $this->artisan('stask:discover', ['--activate' => ['newsletter', 'cleanup', 'report']]);
        $newsletter = sTask::getWorker('newsletter');
        $newsletter->settings = ['schedule' => ['type' => 'periodic', 'enabled' => true, 'frequency' => 'hourly', 'time' => PackageTestCase::minuteNotNow()]];
        $newsletter->save();
        $old = sTask::create('report', 'build');
        sTask::log($old, 'info', 'long ago');
        $out = $this->artisan('stask:worker');
        self::assertStringContainsString('Scheduled newsletter', $out);
        self::assertStringContainsString('Scheduled cleanup', $out);
        self::assertStringContainsString('1 completed', $out);
        $this->artisan('stask:worker');
        $this->artisanProcess(['stask:worker']);
        self::assertCount(1, sTaskModel::pending()->where('identifier', 'newsletter')->get(), 'queued once by three passes');
        self::assertCount(1, sTaskModel::pending()->where('identifier', 'cleanup')->get());

        $this->db->query("UPDATE evo_s_tasks SET finished_at = '2001-01-01 00:00:00' WHERE id = ?", [$old->id]);
        $cleanup = sTask::create('cleanup', 'prune', ['days' => 30]);
        sTask::execute($cleanup);
        self::assertSame(['tasks' => 1, 'files' => 0, 'uploads' => 0, 'days' => 30], $cleanup->fresh()->result);
        self::assertNull(sTask::find((int) $old->id));
        self::assertSame(0, (int) $this->db->query('SELECT COUNT(*) AS n FROM evo_s_task_logs WHERE task_id = ?', [$old->id])[0]['n']);
        self::assertContains('Deleted 1 task(s), the files of 0 more, and 0 old upload(s)', array_column(sTask::logs($cleanup), 'message'));
    }

    /**
     * The site reaches its database through a Unix socket, as a user whose password has the
     * characters URLs reserve; the engine gets there too.
     *
     * @dataProvider servers
     */
    #[DataProvider('servers')]
    public function testUnixSocketsAndAwkwardPasswords(string $driver): void
    {
        $this->site($driver, [], function (ServerDatabase $db): void {
            $db->useNewUser("p@ss:w/rd?#%& ü'\"");
            $db->useUnixSocket();
        });
        $url = sTask::settings()->url;
        self::assertStringContainsString($driver === 'pgsql' ? 'host=%2F' : 'socket=%2F', $url);
        $this->artisan('migrate', ['--force' => true]);
        $this->artisan('stask:discover', ['--activate' => ['report']]);
        $task = sTask::create('report', 'build', ['month' => 'May']);
        self::assertSame(1, sTask::processPendingTasks());
        self::assertSame(['month' => 'May'], sTaskModel::query()->find($task->id)->result);
        self::assertContains('evo_s_tasks', $this->db->tables());
    }
}
