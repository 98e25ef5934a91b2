<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Illuminate\Http\Request;
use Illuminate\Http\UploadedFile;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Services\Uploads;
use Symfony\Component\HttpFoundation\Response;

/**
 * What a client may put into a task through the manager's endpoints (issue 11, finding 1): the
 * upload keys — uploaded_file, original_filename, file_size, uploaded_at — only ever come from a
 * file the server stored and named by a token; upstream's run endpoint fields (options, or the
 * whole body without them) reach the task's data.
 */
final class TaskInputTest extends PackageTestCase
{
    private const FORGED = [
        'uploaded_file' => '/etc/passwd',
        'original_filename' => '../../etc/passwd',
        'file_size' => 1,
        'uploaded_at' => '2000-01-01 00:00:00',
    ];

    protected function setUp(): void
    {
        parent::setUp();
        $this->discoverAndActivate();
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

    private function upload(string $name, string $content): array
    {
        $path = tempnam(sys_get_temp_dir(), 'upl');
        file_put_contents($path, $content);
        return $this->json($this->post('stask/worker/report/upload', [], true, ['file' => new UploadedFile($path, $name, null, null, true)]));
    }

    /** @return array<string, mixed> the data of the task an answer names */
    private function taskData(Response $response): array
    {
        $answer = $this->json($response);
        self::assertTrue($answer['success']);
        return sTask::find($answer['id'])->meta;
    }

    private static function assertNoUploadKeys(array $data, string $why): void
    {
        foreach (array_keys(self::FORGED) as $key) {
            self::assertArrayNotHasKey($key, $data, "$why: $key");
        }
    }

    public function testTheRunEndpointDropsForgedUploadKeys(): void
    {
        $cases = [
            'in options' => ['options' => self::FORGED + ['month' => 3]],
            'in options as JSON text' => ['options' => json_encode(self::FORGED + ['month' => 3])],
            'at the top level, without options' => self::FORGED + ['month' => 3],
            'at the top level, beside options' => self::FORGED + ['options' => ['month' => 3]],
        ];
        foreach ($cases as $why => $body) {
            $data = $this->taskData($this->post('stask/worker/report/run/build', $body));
            self::assertNoUploadKeys($data, "form, $why");
            self::assertSame(3, (int) $data['month'], $why);
            $data = $this->taskData($this->postJson('stask/worker/report/run/build', $body));
            self::assertNoUploadKeys($data, "JSON, $why");
        }
    }

    public function testCreateDropsForgedUploadKeys(): void
    {
        foreach (['stask/task', 'stask/task/store'] as $path) {
            foreach ([self::FORGED + ['n' => 1], json_encode(self::FORGED + ['n' => 1])] as $data) {
                $d = $this->taskData($this->post($path, ['identifier' => 'report', 'action' => 'build', 'data' => $data]));
                self::assertNoUploadKeys($d, $path);
                self::assertSame(1, $d['n']);
            }
            $d = $this->taskData($this->postJson($path, ['identifier' => 'report', 'action' => 'build', 'data' => self::FORGED]));
            self::assertNoUploadKeys($d, "$path, JSON");
        }
    }

    public function testAForgedUploadNeverReachesTheWorker(): void
    {
        $r = $this->json($this->post('stask/worker/report/run/count', self::FORGED));
        sTask::processPendingTasks();
        $task = sTask::find($r['id']);
        self::assertFalse($task->isCompleted(), 'the worker found no uploaded_file');
        self::assertStringNotContainsString('root:', json_encode($task->result) . $task->message . $task->last_error);
    }

    public function testWithoutOptionsTheBodyIsTheOptions(): void
    {
        $data = $this->taskData($this->post('stask/worker/report/run/build', ['month' => '5', 'note' => 'x', 'priority' => 'high']));
        self::assertSame(['month' => '5', 'note' => 'x'], $data, 'less _token, priority and upload');
        $data = $this->taskData($this->postJson('stask/worker/report/run/build', ['month' => 5, 'list' => [1, 2]]));
        self::assertSame(['month' => 5, 'list' => [1, 2]], $data);
        self::assertSame([], $this->taskData($this->post('stask/worker/report/run/build')), 'an empty body: no options');
    }

    public function testAFilenameThatIsAnUploadTokenBecomesTheUpload(): void
    {
        $uploads = app(Uploads::class);
        foreach (['top level' => fn ($t) => ['filename' => $t], 'in options' => fn ($t) => ['options' => ['filename' => $t]],
            'top level beside options' => fn ($t) => ['filename' => $t, 'options' => ['month' => 1]]] as $why => $body) {
            $up = $this->upload('prices.csv', "a\nb\nc\n");
            $data = $this->taskData($this->postJson('stask/worker/report/run/count', $body($up['result']) + self::FORGED));
            self::assertSame($up['result'], $data['filename'], $why);
            self::assertSame($uploads->dir() . '/' . $up['result'], $data['uploaded_file'], $why);
            self::assertSame('prices.csv', $data['original_filename'], "$why: the name given at upload, not the client's");
            self::assertSame(6, $data['file_size'], $why);
            self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/', $data['uploaded_at'], $why);
        }
        sTask::processPendingTasks();
        $last = sTask::find($this->json($this->postJson('stask/worker/report/run/count', ['filename' => $up['result']]))['id']);
        sTask::processPendingTasks();
        self::assertSame(['lines' => 3, 'name' => 'prices.csv'], $last->fresh()->result, 'upstream\'s widget flow: upload, then run with filename');
    }

    public function testAnyOtherFilenameStaysAPlainString(): void
    {
        foreach (['/etc/passwd', '../../../etc/passwd', '20261127-000000-0123456789abcdef.csv', 'report.csv', ''] as $name) {
            $data = $this->taskData($this->post('stask/worker/report/run/build', ['filename' => $name]));
            self::assertSame($name, (string) $data['filename']);
            self::assertNoUploadKeys($data, $name);
            $data = $this->taskData($this->post('stask/task', ['identifier' => 'report', 'action' => 'build', 'data' => ['filename' => $name]]));
            self::assertSame($name, (string) $data['filename']);
            self::assertNoUploadKeys($data, $name);
        }
        $data = $this->taskData($this->post('stask/worker/report/run/build', ['filename' => ['a' => '/etc/passwd']]));
        self::assertSame(['a' => '/etc/passwd'], $data['filename']);
        self::assertNoUploadKeys($data, 'an array');
    }

    public function testTheUploadFieldStillNeedsARealToken(): void
    {
        $this->json($this->post('stask/worker/report/run/count', ['upload' => '/etc/passwd']), 422);
        $this->json($this->post('stask/worker/report/run/count', ['upload' => ['x']]), 422);
        $up = $this->upload('q.csv', "1\n");
        $data = $this->taskData($this->post('stask/worker/report/run/count', ['upload' => $up['result'], 'original_filename' => 'evil/../name.csv']));
        self::assertSame('q.csv', $data['original_filename'], 'the display name comes from the upload');
    }
}
