<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Illuminate\Http\UploadedFile;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Services\Uploads;
use Symfony\Component\HttpFoundation\Response;

/** Files uploaded for a task from a worker's page: whole, chunked, refused, used by the task. */
final class UploadTest extends PackageTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->discoverAndActivate();
    }

    private function file(string $name, string $content): UploadedFile
    {
        $path = tempnam(sys_get_temp_dir(), 'upl');
        file_put_contents($path, $content);
        return new UploadedFile($path, $name, null, null, true);
    }

    private function upload(string $worker, UploadedFile $file, array $fields = [], bool $token = true): Response
    {
        return $this->post("stask/worker/$worker/upload", $fields, $token, ['file' => $file]);
    }

    private function uploadsDir(): string
    {
        return app(Uploads::class)->dir();
    }

    /** @return list<string> files in the uploads directory, chunks included */
    private function stored(): array
    {
        if (!is_dir($this->uploadsDir())) {
            return [];
        }
        $files = [];
        foreach (new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($this->uploadsDir(), \FilesystemIterator::SKIP_DOTS)) as $f) {
            $name = substr((string) $f, strlen($this->uploadsDir()) + 1);
            // A stored file's display name lives in .meta/{token}.json: one per stored file.
            if (str_starts_with($name, '.meta/')) {
                self::assertFileExists($this->uploadsDir() . '/' . substr($name, 6, -5), "$name belongs to a stored file");
                continue;
            }
            $files[] = $name;
        }
        sort($files);
        return $files;
    }

    private function runAction(string $worker, string $action, array $data): Response
    {
        return $this->post("stask/worker/$worker/run/$action", $data);
    }

    public function testAFileUploadedWholeReachesTheTaskByItsToken(): void
    {
        $d = $this->json($this->upload('report', $this->file('../../prices 2026.csv', "a,b\n1,2\n3,4\n")));
        self::assertTrue($d['complete']);
        self::assertMatchesRegularExpression('/^\d{8}-\d{6}-[a-f0-9]{16}\.csv$/', $d['result']);
        self::assertSame($d['result'], $d['filename']);
        self::assertSame('prices 2026.csv', $d['original_filename'], 'a display name only, stripped of directories');
        self::assertSame(12, $d['file_size']);
        self::assertStringNotContainsString($this->site->root, (string) json_encode($d), 'no server path in the answer');

        $run = $this->json($this->runAction('report', 'count', ['upload' => $d['result'], 'original_filename' => $d['original_filename'], 'options' => ['x' => 1]]));
        $task = sTask::find($run['id']);
        self::assertSame($this->uploadsDir() . '/' . $d['result'], $task->meta['uploaded_file']);
        self::assertSame('prices 2026.csv', $task->meta['original_filename']);
        self::assertSame(12, $task->meta['file_size']);
        self::assertSame(1, $task->meta['x']);
        sTask::processPendingTasks();
        self::assertSame(['lines' => 3, 'name' => 'prices 2026.csv'], $task->fresh()->result);

        $page = (string) $this->get("stask/task/{$run['id']}")->getContent();
        self::assertStringContainsString('uploads/' . $d['result'], $page);
        self::assertStringNotContainsString($this->uploadsDir(), $page, 'the task page names the upload, not its server path');
    }

    public function testALargeFileArrivesInChunksInAnyOrder(): void
    {
        $content = '';
        for ($i = 0; $i < 5000; $i++) {
            $content .= "SKU-$i,Product $i," . ($i * 3) . "\n";
        }
        $parts = str_split($content, intdiv(strlen($content), 3) + 1);
        $session = 'sess-' . bin2hex(random_bytes(6));
        $answers = [];
        foreach ([2, 0, 1] as $index) {
            $answers[$index] = $this->json($this->upload('report', $this->file('chunk', $parts[$index]), [
                'chunk_index' => $index, 'total_chunks' => 3, 'session_id' => $session, 'original_filename' => 'big.csv',
            ]));
        }
        self::assertFalse($answers[2]['complete']);
        self::assertSame(1, $answers[2]['received']);
        self::assertFalse($answers[0]['complete']);
        self::assertTrue($answers[1]['complete'], 'the last missing chunk assembles the file');
        self::assertSame('big.csv', $answers[1]['original_filename']);
        self::assertSame(strlen($content), $answers[1]['file_size']);
        self::assertSame($content, file_get_contents(app(Uploads::class)->path($answers[1]['result'])), 'chunks joined in index order');
        self::assertSame([$answers[1]['result']], $this->stored(), 'no chunk left behind');
    }

    public function testRefusedUploadsWriteNothing(): void
    {
        $cases = [
            'not on the worker\'s list' => ['report', $this->file('shell.php', '<?php system($_GET[1]);'), [], 422],
            'not on the site\'s list' => ['report', $this->file('tool.exe', 'MZ'), [], 422],
            'no extension' => ['report', $this->file('README', 'text'), [], 422],
            'a worker that takes no files' => ['newsletter', $this->file('list.csv', "a\n"), [], 422],
            'an unknown worker' => ['nobody', $this->file('list.csv', "a\n"), [], 404],
            'a traversing session id' => ['report', $this->file('c', 'x'), ['chunk_index' => 0, 'total_chunks' => 2, 'session_id' => '../../../../tmp/evil', 'original_filename' => 'a.csv'], 422],
            'a chunk index out of range' => ['report', $this->file('c', 'x'), ['chunk_index' => 5, 'total_chunks' => 2, 'session_id' => 'abcdefgh12', 'original_filename' => 'a.csv'], 422],
            'a chunked php file' => ['report', $this->file('c', 'x'), ['chunk_index' => 0, 'total_chunks' => 2, 'session_id' => 'abcdefgh12', 'original_filename' => 'a.php'], 422],
        ];
        foreach ($cases as $why => [$worker, $file, $fields, $status]) {
            $d = $this->json($this->upload($worker, $file, $fields), $status);
            self::assertFalse($d['success'], $why);
            self::assertSame([], $this->stored(), $why);
        }
        self::assertSame(419, $this->upload('report', $this->file('a.csv', "a\n"), [], false)->getStatusCode(), 'CSRF');
        self::assertSame([], $this->stored());
        self::assertFalse(file_exists('/tmp/evil'));
    }

    public function testTheSiteLimitsTheSize(): void
    {
        config(['stask.uploads.max_mb' => 0.2]); // 209,715 bytes
        $d = $this->json($this->upload('report', $this->file('big.csv', str_repeat('x', 250_000))), 413);
        self::assertStringContainsString('larger than', $d['message']);
        $session = 'abcdefgh12';
        foreach ([0 => 200, 1 => 200, 2 => 413] as $index => $status) {
            $this->json($this->upload('report', $this->file('c', str_repeat('x', 100_000)),
                ['chunk_index' => $index, 'total_chunks' => 3, 'session_id' => $session, 'original_filename' => 'a.csv']), $status);
        }
        self::assertSame([], $this->stored(), 'the partial upload is dropped');
        $limits = $this->json($this->get('stask/server-limits'));
        self::assertSame(209_715, $limits['maxFileSize']);
        self::assertGreaterThanOrEqual(65_536, $limits['chunkSize']);
        self::assertLessThanOrEqual(209_715, $limits['singleUploadLimit']);
    }

    public function testUpstreamsAllowedExtensionsSettingOptsAWorkerIn(): void
    {
        // As upstream: CSV files by default, other types only when the setting allows them.
        self::assertStringEndsWith('.csv', $this->json($this->upload('product', $this->file('a.csv', "a\n")))['result']);
        $this->json($this->upload('product', $this->file('a.json', "{}\n")), 422);
        $worker = sWorker::query()->where('identifier', 'product')->first();
        $worker->settings = ['allowed_extensions' => ['.JSON', 'php']];
        $worker->save();
        $d = $this->json($this->upload('product', $this->file('a.json', "{}\n")));
        self::assertStringEndsWith('.json', $d['result']);
        $this->json($this->upload('product', $this->file('a.csv', "a\n")), 422);
        $this->json($this->upload('product', $this->file('a.php', "<?php\n")), 422);
        $worker->settings = ['allowed_extensions' => ['.CSV']];
        $worker->save();
        $html = (string) $this->get('stask/worker/product')->getContent();
        self::assertStringContainsString('accept=".csv"', $html, 'the run form offers the file input');
        $html = (string) $this->get('stask/worker/newsletter')->getContent();
        self::assertStringNotContainsString('type="file"', $html);
    }

    public function testARunWithAnUnknownOrForgedTokenIsRefused(): void
    {
        foreach (['../../etc/passwd', '20261127-000000-0123456789abcdef.csv', '/etc/passwd'] as $token) {
            $d = $this->json($this->runAction('report', 'count', ['upload' => $token]), 422);
            self::assertFalse($d['success'], $token);
        }
        self::assertSame(0, \Seiger\sTask\Models\sTaskModel::query()->count(), 'no task created');
    }

    public function testOldUploadsAndAbandonedChunksArePruned(): void
    {
        $kept = $this->json($this->upload('report', $this->file('new.csv', "a\n")))['result'];
        $old = $this->json($this->upload('report', $this->file('old.csv', "a\n")))['result'];
        touch($this->uploadsDir() . "/$old", time() - 40 * 86400);
        $this->json($this->upload('report', $this->file('c', 'x'), ['chunk_index' => 0, 'total_chunks' => 2, 'session_id' => 'abandoned1', 'original_filename' => 'a.csv']));
        touch($this->uploadsDir() . '/.chunks/abandoned1', time() - 7200);
        self::assertSame(2, app(Uploads::class)->prune(30));
        self::assertSame([$kept], $this->stored());
    }

    /** Upstream's task.upload: a file for a queued task, which then runs with it. */
    public function testAFileAttachedToAQueuedTaskReachesIt(): void
    {
        $task = \Seiger\sTask\Facades\sTask::create('report', 'count', ['uploaded_file' => '/etc/passwd']);
        $d = $this->json($this->post("stask/task/{$task->id}/upload", [], true, ['file' => $this->file('prices.csv', "a\nb\n")]));
        self::assertTrue($d['success']);
        self::assertArrayNotHasKey('file_path', $d, 'no server path in the answer');
        $meta = $task->fresh()->meta;
        self::assertSame($d['result'], $meta['filename']);
        self::assertStringStartsWith($this->uploadsDir(), $meta['uploaded_file'], 'the stored file, not what the task was created with');
        self::assertSame('prices.csv', $meta['original_filename']);
        \Seiger\sTask\Facades\sTask::processPendingTasks();
        self::assertSame(['lines' => 2, 'name' => 'prices.csv'], $task->fresh()->result);
        $this->json($this->post("stask/task/{$task->id}/upload", [], true, ['file' => $this->file('more.csv', "a\n")]), 409);
        $this->json($this->post('stask/task/999999/upload', [], true, ['file' => $this->file('more.csv', "a\n")]), 404);
        $other = \Seiger\sTask\Facades\sTask::create('report', 'count', ['n' => 2]);
        $this->json($this->post("stask/task/{$other->id}/upload", [], true, ['file' => $this->file('evil.php', "<?php\n")]), 422);
        $this->json($this->post("stask/task/{$other->id}/upload"), 422);
    }
}
