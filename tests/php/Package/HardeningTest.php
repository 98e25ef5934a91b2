<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Illuminate\Http\Request;
use Illuminate\Http\UploadedFile;
use PHPUnit\Framework\Attributes\DataProvider;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Workers\ArtisanWorker;
use STask\Tests\Evo\EvoCore;

/**
 * Issue 11, the manager's side: ids beyond PHP_INT_MAX, NUL bytes in result paths, bulk ids that
 * are not ids, chunk counts changed mid-upload, cached result downloads, the permission of the
 * dangerous built-in workers (checked whatever is_cli() says), the artisan worker's stask:prune,
 * and the upload keys of BaseWorker::createTask() reading the request.
 */
final class HardeningTest extends PackageTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->artisan('stask:discover', ['--activate' => ['report', 'newsletter', 'artisan', 'composer_update']]);
    }

    private function file(string $name, string $content): UploadedFile
    {
        $path = tempnam(sys_get_temp_dir(), 'hrd');
        file_put_contents($path, $content);
        return new UploadedFile($path, $name, null, null, true);
    }

    public function testIdsBeyondPhpIntMaxAreNotFound(): void
    {
        $huge = '99999999999999999999';
        $page = $this->get("stask/task/$huge");
        self::assertSame(404, $page->getStatusCode());
        self::assertStringContainsString($huge, (string) $page->getContent(), 'says which task');
        foreach (["stask/task/$huge/progress", "stask/task/$huge/logs", 'stask/task/9223372036854775808/progress'] as $path) {
            self::assertStringContainsString(explode('/', $path)[2], $this->json($this->get($path), 404)['message'], $path);
        }
        self::assertSame(404, $this->get("stask/task/$huge/logs/download")->getStatusCode());
        self::assertSame(404, $this->get("stask/task/$huge/download")->getStatusCode());
        foreach (['retry', 'cancel', 'upload'] as $action) {
            self::assertFalse($this->json($this->post("stask/task/$huge/$action"), 404)['success'], $action);
        }
        // PHP_INT_MAX itself is a possible id: an ordinary "not found".
        $this->json($this->get('stask/task/' . PHP_INT_MAX . '/progress'), 404);
        $this->json($this->get('stask/task/0/progress'), 404);
    }

    public function testAResultPathWithANulByteIsNoDownload(): void
    {
        $inside = $this->site->core . '/storage/stask/uploads/export.csv';
        @mkdir(dirname($inside), 0777, true);
        file_put_contents($inside, "a,b\n");
        foreach (["$inside\0.png", ['file' => "$inside\0"], ['path' => "\0"]] as $result) {
            $task = sTask::create('report', 'build', ['r' => $result]);
            sTask::engine()->complete((int) $task->id, $result);
            $response = $this->get("stask/task/{$task->id}/download");
            self::assertSame(404, $response->getStatusCode());
            self::assertNotSame('', trim((string) $response->getContent()));
            self::assertSame(200, $this->get("stask/task/{$task->id}")->getStatusCode(), 'the task page shows no download link');
        }
    }

    public function testResultAndLogDownloadsAreNeverStoredByCaches(): void
    {
        $file = $this->site->core . '/storage/stask/uploads/export.csv';
        @mkdir(dirname($file), 0777, true);
        file_put_contents($file, "a,b\n");
        $task = sTask::create('report', 'build');
        sTask::engine()->complete((int) $task->id, $file);
        foreach (["stask/task/{$task->id}/download", "stask/task/{$task->id}/logs/download"] as $path) {
            $response = $this->get($path);
            self::assertSame(200, $response->getStatusCode(), $path);
            $response->prepare($this->site->app->make('request'));
            $cache = (string) $response->headers->get('Cache-Control');
            self::assertStringNotContainsString('public', $cache, $path);
            self::assertStringContainsString('private', $cache, $path);
            self::assertStringContainsString('no-store', $cache, $path);
        }
    }

    public function testBulkIdsMustBeTaskIds(): void
    {
        $first = sTask::create('report', 'build', ['n' => 1]);
        self::assertSame(1, (int) $first->id);
        $second = sTask::create('report', 'build', ['n' => 2]);
        $bodies = [
            'nested list' => [['99']], 'true' => true, 'object' => ['a' => 1], 'float' => 1.5, 'zero' => 0, 'minus one' => -1,
            'beyond PHP_INT_MAX' => '99999999999999999999', 'text' => 'one', 'a list with one bad id' => [$second->id, 'x'],
            'empty list' => [], 'too many' => range(1, 1001),
        ];
        foreach ($bodies as $why => $ids) {
            foreach (['cancel', 'delete'] as $action) {
                $request = Request::create('http://example.test/manager/stask/tasks/bulk', 'POST', [], [], [], [
                    'SCRIPT_NAME' => '/manager/index.php', 'SCRIPT_FILENAME' => $this->site->root . '/manager/index.php', 'CONTENT_TYPE' => 'application/json', 'HTTP_ACCEPT' => 'application/json',
                    'HTTP_X_CSRF_TOKEN' => csrf_token(),
                ], (string) json_encode(['action' => $action, 'ids' => $ids]));
                $answer = $this->json($this->site->dispatch($request), 422);
                self::assertStringContainsString('ids must be', $answer['message'], $why);
            }
        }
        self::assertTrue($first->fresh()->isPending(), 'task 1 untouched');
        self::assertTrue($second->fresh()->isPending());
        // A form's ids[] and a single id still work.
        self::assertSame([(int) $first->id], $this->json($this->post('stask/tasks/bulk', ['action' => 'cancel', 'ids' => [(string) $first->id]]))['done']);
        self::assertSame([(int) $second->id], $this->json($this->post('stask/tasks/bulk', ['action' => 'cancel', 'ids' => (string) $second->id]))['done']);
    }

    public function testTheChunkCountCannotChangeDuringAnUpload(): void
    {
        $send = fn (int $index, int $total, string $content) => $this->post('stask/worker/report/upload', [
            'chunk_index' => $index, 'total_chunks' => $total, 'session_id' => 'shrinking-upload', 'original_filename' => 'rows.csv',
        ], true, ['file' => $this->file('blob', $content)]);
        // Chunks arrive in any order; the last to arrive says there is only 1: before, the file
        // was "complete" with chunk 0 alone, and chunks 1 and 2 were dropped.
        $this->json($send(2, 3, "c\n"));
        $this->json($send(1, 3, "b\n"));
        $dir = $this->site->core . '/storage/stask/uploads';
        $before = glob("$dir/*.csv");
        $refused = $this->json($send(0, 1, "a\n"), 422);
        self::assertStringContainsString('total_chunks must stay 3', $refused['message']);
        self::assertSame($before, glob("$dir/*.csv"), 'no file assembled');
        self::assertFileDoesNotExist("$dir/.chunks/shrinking-upload/0.part", 'the refused chunk is not kept');
        $done = $this->json($send(0, 3, "a\n"));
        self::assertTrue($done['complete']);
        self::assertSame("a\nb\nc\n", file_get_contents("$dir/{$done['result']}"), 'every chunk, in order');
        // More chunks than the first one said are refused too.
        $this->json($send(0, 2, "a\n"));
        self::assertStringContainsString('total_chunks must stay 2', $this->json($send(1, 5, "b\n"), 422)['message']);
    }

    /** @return array<string, array{0: string, 1: string}> worker and the permission its tasks need */
    public static function dangerousWorkers(): array
    {
        return ['composer_update' => ['composer_update', 'stask_composer'], 'artisan' => ['artisan', 'stask_artisan']];
    }

    /**
     * Each check is made whatever is_cli() answers: the demo built its site after clearing the
     * CLI flag, which the site then set again, and the artisan check was skipped.
     *
     * @dataProvider dangerousWorkers
     */
    #[DataProvider('dangerousWorkers')]
    public function testDangerousWorkersNeedTheirOwnPermissionInEveryEndpoint(string $worker, string $permission): void
    {
        foreach ([true, false] as $cli) {
            EvoCore::$cli = $cli;
            try {
                $this->site->app->permissions = ['stask' => 1];
                $failed = sTask::create($worker, 'make', ['command' => 'cache:clear', 'n' => (int) $cli]);
                sTask::engine()->fail((int) $failed->id, 'earlier failure');
                $pending = sTask::create($worker, 'make', ['command' => 'list', 'n' => (int) $cli]);
                $denied = [
                    'run' => $this->post("stask/worker/$worker/run/make", ['options' => ['command' => 'list']]),
                    'old run route' => $this->post("stask/workers/$worker/tasks/make/run", ['options' => ['command' => 'list']]),
                    'create' => $this->post('stask/task', ['identifier' => $worker, 'action' => 'make', 'data' => ['command' => 'list']]),
                    'store' => $this->post('stask/task/store', ['identifier' => $worker, 'action' => 'make']),
                    'retry' => $this->post("stask/task/{$failed->id}/retry"),
                    'settings' => $this->post("stask/worker/$worker/settings", ['schedule' => ['enabled' => '1', 'type' => 'periodic', 'frequency' => 'hourly']]),
                    'upload' => $this->post("stask/worker/$worker/upload", [], true, ['file' => $this->file('a.csv', "a\n")]),
                    'attach' => $this->post("stask/task/{$pending->id}/upload", [], true, ['file' => $this->file('a.csv', "a\n")]),
                ];
                foreach ($denied as $what => $response) {
                    $message = $this->json($response, 403)['message'];
                    self::assertStringContainsString("\"$permission\"", $message, "$what (is_cli " . var_export($cli, true) . ')');
                }
                $bulk = $this->json($this->post('stask/tasks/bulk', ['action' => 'retry', 'ids' => [$failed->id]]));
                self::assertSame([(int) $failed->id], $bulk['skipped'], 'bulk retry skips it');
                self::assertSame('failed', $failed->fresh()->status_text);
                self::assertSame(2, sTaskModel::query()->where('identifier', $worker)->where('meta', 'like', '%"n":' . (int) $cli . '%')->count(), 'no task made');
                self::assertSame([], (array) (sTask::getWorker($worker)->settings['schedule'] ?? []), 'no schedule saved');
                $html = (string) $this->get("stask/worker/$worker")->getContent();
                self::assertStringContainsString('data-permission-needed', $html);
                self::assertStringNotContainsString('data-run-form', $html, 'no run form');

                $this->site->app->permissions = ['stask' => 1, $permission => 1];
                $this->json($this->post("stask/worker/$worker/run/make", ['options' => ['command' => 'list', 'ok' => (int) $cli]]));
                $this->json($this->post("stask/task/{$failed->id}/retry"));
                self::assertStringContainsString('data-run-form', (string) $this->get("stask/worker/$worker")->getContent());
            } finally {
                EvoCore::$cli = true;
            }
        }
    }

    public function testTheMigrationCreatesTheComposerPermission(): void
    {
        $pdo = $this->site->pdo();
        $row = $pdo->query("SELECT name, lang_key FROM evo_permissions WHERE key = 'stask_composer'")->fetch();
        self::assertSame(['name' => 'Run composer update from sTask', 'lang_key' => 'sTask::global.permission_composer'], $row);
        self::assertSame(1, (int) $pdo->query("SELECT COUNT(*) FROM evo_role_permissions WHERE permission = 'stask_composer' AND role_id = 1")->fetchColumn());
        self::assertSame('Run composer update from sTask', __('sTask::global.permission_composer'));
    }

    public function testTheArtisanWorkerRunsStaskPruneOnlyWithDaysOfOneOrMore(): void
    {
        foreach (['--days=0', ['--days', '0'], '--days=', '--days=abc', '--days=00', ['--days=5', '--days=0']] as $arguments) {
            self::assertNotNull(ArtisanWorker::refusal('stask:prune', (array) $arguments), json_encode($arguments));
        }
        foreach ([[], ['--days=1'], ['--days', '30'], ['--files-only']] as $arguments) {
            self::assertNull(ArtisanWorker::refusal('stask:prune', $arguments), json_encode($arguments));
        }
        self::assertNull(ArtisanWorker::refusal('cache:clear', ['--days=0']));

        $finished = sTask::create('report', 'build');
        sTask::processPendingTasks();
        $prune = sTask::create('artisan', 'make', ['command' => 'stask:prune', 'arguments' => '--days=0']);
        sTask::processPendingTasks();
        self::assertSame('failed', $prune->fresh()->status_text);
        self::assertStringContainsString('--days of 1 or more', (string) $prune->fresh()->message);
        self::assertNotNull(sTask::find((int) $finished->id), 'nothing pruned');
        // The CLI refuses what would silently be 0.
        self::assertStringContainsString('whole number', $this->artisan('stask:prune', ['--days' => 'abc'], 2));
        self::assertNotNull(sTask::find((int) $finished->id));
    }

    /** Finding 1 in BaseWorker::createTask(): a worker's own route passing no options. */
    public function testCreateTaskReadingTheRequestDropsForgedUploadKeys(): void
    {
        $forged = ['uploaded_file' => '/etc/passwd', 'original_filename' => 'passwd', 'file_size' => 1, 'uploaded_at' => '2000-01-01 00:00:00'];
        $worker = sTask::getWorker('report')->getInstance();
        foreach (['top level' => $forged + ['month' => 1], 'in options' => ['options' => $forged + ['month' => 2]],
            'beside options' => $forged + ['options' => ['month' => 3]]] as $why => $body) {
            $request = $this->site->request('stask/custom', 'POST', $body + ['_token' => csrf_token()]);
            $this->site->app->instance('request', $request);
            EvoCore::$cli = false;
            try {
                $meta = $worker->createTask('build')->meta;
            } finally {
                EvoCore::$cli = true;
            }
            foreach (array_keys($forged) as $key) {
                self::assertArrayNotHasKey($key, $meta, "$why: $key");
            }
            self::assertArrayNotHasKey('_token', $meta);
            self::assertArrayHasKey('month', $meta, $why);
        }
    }
}
