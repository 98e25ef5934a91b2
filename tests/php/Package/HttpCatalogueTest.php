<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Illuminate\Http\Request;
use Illuminate\Http\UploadedFile;
use Seiger\sTask\Facades\sTask;
use Symfony\Component\HttpFoundation\Response;
use Symfony\Component\HttpKernel\Exception\HttpExceptionInterface;

/**
 * Every HTTP endpoint, and every parameter it reads, given what an attacker or a careless client
 * sends (issue 11, "kept found"): wrong types (lists, nested lists, objects, booleans, numbers),
 * huge values (ids above PHP_INT_MAX, 10 MB strings), traversal strings (plain and encoded), NUL
 * bytes, invalid UTF-8, ids out of range (0, -1, 1e30). A value the parameter cannot take gets a
 * 4xx answer with a message (JSON `message`, or an HTML page's text) and changes nothing: the
 * database's tables and the storage directory are compared before and after. No answer is a 500
 * (here an exception escaping the router, as the test site's handler rethrows).
 *
 * The route list comes from the router: a route without an entry in ROUTES fails the test, so a
 * new endpoint is catalogued when it is added.
 */
final class HttpCatalogueTest extends PackageTestCase
{
    private const UPLOAD_PARAMS = ['{identifier}' => 'path', 'file' => 'file', 'chunk_index' => 'chunk', 'total_chunks' => 'enum',
        'session_id' => 'session', 'original_filename' => 'enum'];
    private const RUN_PARAMS = ['{identifier}' => 'path', '{action}' => 'path', 'options' => 'object', 'upload' => 'enum',
        'priority' => 'enum', 'filename' => 'any'];
    private const CREATE_PARAMS = ['identifier' => 'enum', 'action' => 'enum', 'data' => 'object', 'priority' => 'enum'];

    /**
     * name => [method, URI, parameter => kind]. `{x}` is a path parameter. What each kind takes
     * of the hostile values is in VALID; "writes" kinds may change something when they take one.
     */
    private const ROUTES = [
        'sTask.index' => ['GET', 'stask', []],
        'sTask.api.dashboard' => ['GET', 'stask/api/dashboard', []],
        'sTask.stats' => ['GET', 'stask/stats', []],
        'sTask.asset' => ['GET', 'stask/assets/{file}', ['{file}' => 'path']],
        'sTask.tasks' => ['GET', 'stask/tasks', ['q' => 'text', 'status' => 'enum', 'worker' => 'text', 'action' => 'text',
            'priority' => 'enum', 'from' => 'enum', 'to' => 'enum', 'per_page' => 'number', 'page' => 'number']],
        'sTask.tasks.bulk' => ['POST', 'stask/tasks/bulk', ['action' => 'enum', 'ids' => 'enum']],
        'sTask.task.create' => ['POST', 'stask/task', self::CREATE_PARAMS],
        'sTask.task.store' => ['POST', 'stask/task/store', self::CREATE_PARAMS],
        'sTask.task.show' => ['GET', 'stask/task/{id}', ['{id}' => 'path']],
        'sTask.task.progress' => ['GET', 'stask/task/{id}/progress', ['{id}' => 'path', 'include_log' => 'flag']],
        'sTask.task.logs' => ['GET', 'stask/task/{id}/logs', ['{id}' => 'path', 'level' => 'enum', 'limit' => 'number']],
        'sTask.task.logs.download' => ['GET', 'stask/task/{id}/logs/download', ['{id}' => 'path']],
        'sTask.task.download' => ['GET', 'stask/task/{id}/download', ['{id}' => 'path']],
        'sTask.task.retry' => ['POST', 'stask/task/{id}/retry', ['{id}' => 'path']],
        'sTask.task.cancel' => ['POST', 'stask/task/{id}/cancel', ['{id}' => 'path']],
        'sTask.workers' => ['GET', 'stask/workers', []],
        'sTask.workers.discover' => ['POST', 'stask/workers/discover', ['mode' => 'enum']],
        'sTask.worker.clean' => ['POST', 'stask/worker/clean-orphaned', []],
        'sTask.worker.activate' => ['POST', 'stask/worker/activate', ['identifier' => 'enum']],
        'sTask.worker.deactivate' => ['POST', 'stask/worker/deactivate', ['identifier' => 'enum']],
        'sTask.worker.show' => ['GET', 'stask/worker/{identifier}', ['{identifier}' => 'path', 'saved' => 'flag']],
        'sTask.worker.settings.save' => ['POST', 'stask/worker/{identifier}/settings', ['{identifier}' => 'path',
            'settings_json' => 'object', 'schedule' => 'object', 'worker_form' => 'enum']],
        'sTask.worker.upload' => ['POST', 'stask/worker/{identifier}/upload', self::UPLOAD_PARAMS],
        'sTask.serverLimits' => ['GET', 'stask/server-limits', []],
        'sTask.task.upload' => ['POST', 'stask/task/{id}/upload', ['{id}' => 'path', 'file' => 'file']],
        'sTask.worker.task.run' => ['POST', 'stask/worker/{identifier}/run/{action}', self::RUN_PARAMS],
        'sTask.workers.tasks.run' => ['POST', 'stask/workers/{identifier}/tasks/{action}/run', self::RUN_PARAMS],
        'sTask.workers.upload' => ['POST', 'stask/workers/{identifier}/upload', self::UPLOAD_PARAMS],
        'sTask.performance.summary' => ['GET', 'stask/performance/summary', ['hours' => 'number']],
        'sTask.performance.workers' => ['GET', 'stask/performance/workers', ['identifier' => 'text', 'hours' => 'number']],
        'sTask.performance.alerts' => ['GET', 'stask/performance/alerts', []],
        'sTask.cache.stats' => ['GET', 'stask/cache/stats', []],
        'sTask.cache.clear' => ['POST', 'stask/cache/clear', ['identifier' => 'text']],
        // Last: `days=0` is taken, and deletes the finished tasks other routes are tried on.
        'sTask.clean' => ['POST', 'stask/clean', ['days' => 'days']],
    ];

    /**
     * The hostile values each kind of parameter takes (answered like any good value); every other
     * one must be refused. enum: one of a fixed set, or the name of something that must exist;
     * flag: "0" or "1"; path: a path segment; text: any text up to a length; number: a whole number, clamped to its
     * range; days: a whole number from 0; object: a JSON object or its text; chunk: a chunk's
     * index; session: an upload session id; any: a task option kept as sent; file: an uploaded file.
     */
    private const VALID = [
        'enum' => [], 'path' => [], 'file' => [], 'flag' => ['zero'],
        'text' => ['traversal', 'encoded traversal', 'dot-encoded traversal', 'zero', 'minus one', 'int too big', 'sci'],
        'number' => ['zero', 'minus one', 'int too big'],
        'days' => ['zero'],
        'object' => ['object'],
        'chunk' => ['zero'],
        'session' => ['int too big'],
        'any' => ['list', 'nested list', 'object', 'true', 'false', 'float', 'int too big', 'sci', 'zero', 'minus one', '10 MB',
            'traversal', 'encoded traversal', 'dot-encoded traversal', 'NUL', 'invalid UTF-8'],
    ];
    /** Kinds whose accepted values may write (a task, a setting, a stored chunk, a prune). */
    private const WRITES = ['days', 'object', 'chunk', 'session', 'any'];
    /** Values only a JSON body can carry. */
    private const JSON_ONLY = ['true', 'false', 'float'];

    private int $pending;
    private int $pending2;
    private int $pending3;
    private int $completed;
    private int $failed;
    /** @var list<string> */
    private array $failures = [];

    protected function setUp(): void
    {
        parent::setUp();
        $this->artisan('stask:discover', ['--activate' => ['report', 'newsletter', 'product']]);
        $this->completed = (int) sTask::create('report', 'build', ['month' => 1])->id;
        sTask::processPendingTasks();
        $result = $this->site->core . '/storage/stask/uploads/export.csv';
        @mkdir(dirname($result), 0777, true);
        file_put_contents($result, "a,b\n");
        $this->completed = (int) sTask::create('report', 'build', ['month' => 2])->id;
        sTask::engine()->complete($this->completed, $result);
        sTask::log($this->completed, 'warning', 'a line');
        $this->failed = (int) sTask::create('newsletter', 'send', ['to' => ['bounce@example.com']], 'normal', null, ['maxAttempts' => 1])->id;
        sTask::processPendingTasks();
        $this->pending = (int) sTask::create('report', 'build', ['month' => 3])->id;
        $this->pending2 = (int) sTask::create('report', 'build', ['month' => 4])->id;
        $this->pending3 = (int) sTask::create('report', 'count', ['month' => 5])->id;
    }

    /** @return array<string, mixed> the hostile values, by label */
    private static function hostile(): array
    {
        static $values = null;
        return $values ??= [
            'list' => ['x'],
            'nested list' => [['99']],
            'object' => ['a' => ['b' => 'c']],
            'true' => true,
            'false' => false,
            'float' => 1e30,
            'int too big' => '99999999999999999999',
            'sci' => '1e30',
            'zero' => '0',
            'minus one' => '-1',
            '10 MB' => str_repeat('x', (int) (getenv('STASK_CAT_MB') ?: 10) * 1024 * 1024),
            'traversal' => '../../etc/passwd',
            'encoded traversal' => '..%2F..%2Fetc%2Fpasswd',
            'dot-encoded traversal' => '%2e%2e/%2e%2e/etc/passwd',
            'NUL' => "report\0.csv",
            'invalid UTF-8' => "\xC3\x28\xFF",
        ];
    }

    /** A good request for each route: path values, parameters, files. */
    private function baseline(string $name): array
    {
        $upload = fn (): array => ['file' => $this->file('rows.csv', "a\nb\n")];
        return match ($name) {
            'sTask.asset' => [['{file}' => 'stask.css'], [], []],
            'sTask.tasks' => [[], ['q' => 'report', 'status' => 'pending', 'worker' => 'report', 'action' => 'build', 'priority' => 'normal',
                'from' => '2001-01-01', 'to' => '2099-01-01', 'per_page' => '50', 'page' => '1'], []],
            'sTask.tasks.bulk' => [[], ['action' => 'cancel', 'ids' => [$this->pending2]], []],
            'sTask.task.create', 'sTask.task.store' => [[], ['identifier' => 'report', 'action' => 'build', 'data' => ['month' => 9], 'priority' => 'normal'], []],
            'sTask.clean' => [[], ['days' => '30'], []],
            'sTask.task.show', 'sTask.task.logs.download', 'sTask.task.download' => [['{id}' => $this->completed], [], []],
            'sTask.task.progress' => [['{id}' => $this->completed], ['include_log' => '0'], []],
            'sTask.task.logs' => [['{id}' => $this->completed], ['level' => 'warning', 'limit' => '10'], []],
            'sTask.task.retry' => [['{id}' => $this->failed], [], []],
            'sTask.task.cancel' => [['{id}' => $this->pending], [], []],
            'sTask.task.upload' => [['{id}' => $this->pending3], [], $upload()],
            'sTask.workers.discover' => [[], ['mode' => 'discover'], []],
            'sTask.worker.activate', 'sTask.worker.deactivate' => [[], ['identifier' => 'product'], []],
            'sTask.worker.show' => [['{identifier}' => 'report'], ['saved' => '1'], []],
            'sTask.worker.settings.save' => [['{identifier}' => 'newsletter'], ['settings_json' => '{"batch": 5}',
                'schedule' => ['enabled' => '0', 'type' => 'manual']], []],
            'sTask.worker.upload', 'sTask.workers.upload' => [['{identifier}' => 'report'], ['chunk_index' => '0', 'total_chunks' => '2',
                'session_id' => 'catalogue-session', 'original_filename' => 'rows.csv'], $upload()],
            'sTask.worker.task.run', 'sTask.workers.tasks.run' => [['{identifier}' => 'report', '{action}' => 'build'],
                ['options' => ['month' => 5], 'upload' => '', 'priority' => 'high', 'filename' => 'report.csv'], []],
            'sTask.performance.summary' => [[], ['hours' => '2'], []],
            'sTask.performance.workers' => [[], ['identifier' => 'report', 'hours' => '2'], []],
            'sTask.cache.clear' => [[], ['identifier' => 'report'], []],
            default => [[], [], []],
        };
    }

    private function file(string $name, string $content): UploadedFile
    {
        $path = tempnam(sys_get_temp_dir(), 'cat');
        file_put_contents($path, $content);
        return new UploadedFile($path, $name, null, null, true);
    }

    public function testEveryRouteIsCatalogued(): void
    {
        $found = [];
        foreach ($this->site->app->make('router')->getRoutes()->getRoutes() as $route) {
            $name = (string) $route->getName();
            if (str_starts_with($name, 'sTask.')) {
                $found[$name] = [array_values(array_diff($route->methods(), ['HEAD']))[0], $route->uri()];
            }
        }
        ksort($found);
        $catalogue = array_map(static fn (array $r) => [$r[0], $r[1]], self::ROUTES);
        ksort($catalogue);
        self::assertSame($catalogue, $found, 'every sTask route, with its method and URI, has an entry in ROUTES');
        foreach (self::ROUTES as $name => [, $uri, $params]) {
            preg_match_all('/\{(\w+)\}/', $uri, $m);
            $declared = array_values(array_filter(array_keys($params), static fn ($p) => $p[0] === '{'));
            self::assertSame(array_map(static fn ($p) => '{' . $p . '}', $m[1]), $declared, "$name: every path parameter is catalogued");
        }
    }

    public function testEveryBaselineRequestWorks(): void
    {
        foreach (self::ROUTES as $name => [$method, $uri]) {
            [$path, $params, $files] = $this->baseline($name);
            $response = $this->send($method, $uri, $path, $params, 'form', $files);
            self::assertLessThan(400, $response->getStatusCode(), "$name: " . substr((string) $response->getContent(), 0, 300));
        }
    }

    public function testHostileValuesAreRefusedAndWriteNothing(): void
    {
        foreach (self::ROUTES as $name => [$method, $uri, $params]) {
            foreach ($params as $param => $kind) {
                foreach (self::hostile() as $label => $value) {
                    foreach ($this->transports($method, $param, $label, $name) as $transport) {
                        $this->check($name, $method, $uri, $param, $kind, $label, $value, $transport);
                    }
                }
            }
        }
        self::assertSame([], $this->failures, count($this->failures) . " hostile requests were mishandled:\n" . implode("\n", $this->failures));
    }

    /** The CSRF field itself, without the header: always 419, nothing written. */
    public function testHostileCsrfTokensAreRefused(): void
    {
        foreach (self::ROUTES as $name => [$method, $uri]) {
            if ($method !== 'POST') {
                continue;
            }
            [$path, $params, $files] = $this->baseline($name);
            foreach (self::hostile() as $label => $value) {
                foreach (in_array($label, self::JSON_ONLY, true) ? ['json'] : ['form', 'json'] as $transport) {
                    if ($transport === 'json' && ($files !== [] || $label === 'invalid UTF-8')) {
                        continue;
                    }
                    $before = $this->snapshot();
                    $response = $this->attemptRequest("$name _token=$label ($transport)", fn () => $this->send($method, $uri, $path,
                        ['_token' => $value] + $params, $transport, $files, false));
                    if ($response !== null && $response->getStatusCode() !== 419) {
                        $this->failures[] = "$name _token=$label ($transport): {$response->getStatusCode()}";
                    }
                    if ($before !== $this->snapshot()) {
                        $this->failures[] = "$name _token=$label ($transport): something was written";
                    }
                }
            }
        }
        self::assertSame([], $this->failures, implode("\n", $this->failures));
    }

    /** @return list<string> how a value can reach the parameter */
    private function transports(string $method, string $param, string $label, string $name): array
    {
        $jsonOnly = in_array($label, self::JSON_ONLY, true);
        if ($param[0] === '{') {
            return $jsonOnly || in_array($label, ['list', 'nested list', 'object'], true) ? [] : ['path'];
        }
        if ($method === 'GET') {
            return $jsonOnly ? [] : ['query'];
        }
        $json = $this->baseline($name)[2] === [] && $label !== 'invalid UTF-8';
        return array_values(array_filter([$jsonOnly ? null : 'form', $json ? 'json' : null]));
    }

    private function check(string $name, string $method, string $uri, string $param, string $kind, string $label, mixed $value, string $transport): void
    {
        [$path, $params, $files] = $this->baseline($name);
        if ($param[0] === '{') {
            // No web server passes on a URL of megabytes (8 KB is the usual cap): 64 KB here.
            $path[$param] = $label === '10 MB' ? substr($value, 0, 65536) : $value;
        } else {
            $params[$param] = $value;
            unset($files[$param]);
        }
        $what = sprintf('%s %s=%s (%s)', $name, $param, $label, $transport);
        $before = $this->snapshot();
        $response = $this->attemptRequest($what, fn () => $this->send($method, $uri, $path, $params, $transport, $files));
        if ($response === null) {
            return;
        }
        $status = $response->getStatusCode();
        $valid = in_array($label, self::VALID[$kind], true);
        if ($status >= 500) {
            $this->failures[] = "$what: $status " . substr((string) $response->getContent(), 0, 200);
            return;
        }
        if (!$valid) {
            if ($status < 400) {
                $this->failures[] = "$what: accepted with $status, expected a 4xx";
            } elseif (($message = $this->message($response, $method, $uri, $path)) !== null) {
                $this->failures[] = "$what: $status without a message ($message)";
            }
        }
        if ((!$valid || $method === 'GET' || !in_array($kind, self::WRITES, true)) && $before !== $this->snapshot()) {
            $this->failures[] = "$what: $status, and something was written";
        }
        if ($valid && in_array($kind, self::WRITES, true)) {
            // A task the value made (a 10 MB option, say) goes, so that the next snapshots stay quick.
            $made = $this->pdo()->query('SELECT id FROM evo_s_tasks WHERE id > ' . $before['last'])->fetchAll(\PDO::FETCH_COLUMN);
            if ($made !== []) {
                sTask::engine()->delete(array_map('intval', $made));
            }
        }
    }

    /** Runs a request; an exception escaping the router is the test site's 500. */
    private function attemptRequest(string $what, callable $request): ?Response
    {
        try {
            return $request();
        } catch (\Throwable $e) {
            $this->failures[] = sprintf('%s: 500 (%s: %s)', $what, get_class($e), substr($e->getMessage(), 0, 200));
            return null;
        }
    }

    /** Why the answer has no clear message, or null when it has one. */
    private function message(Response $response, string $method, string $uri, array $path): ?string
    {
        $body = (string) $response->getContent();
        if (str_contains((string) $response->headers->get('Content-Type'), 'json')) {
            $decoded = json_decode($body, true);
            return is_array($decoded) && is_string($decoded['message'] ?? null) && trim($decoded['message']) !== '' ? null : 'JSON without message';
        }
        if (trim(strip_tags($body)) !== '') {
            return null;
        }
        // An empty 404 is the host's "not found" page, for a path no route matches.
        if ($response->getStatusCode() === 404 && $body === '') {
            try {
                $this->site->app->make('router')->getRoutes()->match($this->site->request($this->url($uri, $path), $method));
            } catch (HttpExceptionInterface) {
                return null;
            }
            return 'an empty 404 from a route that matched';
        }
        return 'empty body';
    }

    private function url(string $uri, array $path): string
    {
        return preg_replace_callback('/\{(\w+)\}/', static fn ($m) => rawurlencode((string) $path['{' . $m[1] . '}']), $uri);
    }

    /** @param array<string, mixed> $params */
    private function send(string $method, string $uri, array $path, array $params, string $transport, array $files, bool $csrf = true): Response
    {
        $url = 'http://example.test/manager/' . $this->url($uri, $path);
        $server = ['SCRIPT_NAME' => '/manager/index.php', 'SCRIPT_FILENAME' => $this->site->root . '/manager/index.php'];
        if ($csrf && $method === 'POST') {
            $server['HTTP_X_CSRF_TOKEN'] = csrf_token();
        }
        if ($method === 'GET') {
            $request = Request::create($url . ($params === [] ? '' : '?' . http_build_query($params)), 'GET', [], [], [], $server);
        } elseif ($transport === 'json') {
            $server += ['CONTENT_TYPE' => 'application/json', 'HTTP_ACCEPT' => 'application/json'];
            $request = Request::create($url, 'POST', [], [], [], $server, (string) json_encode($params, JSON_THROW_ON_ERROR));
        } else {
            // As a browser's form post arrives: strings and arrays of strings.
            parse_str(http_build_query($params), $fields);
            $request = Request::create($url, 'POST', $fields, [], $files, $server + ['HTTP_ACCEPT' => 'application/json']);
        }
        return $this->site->dispatch($request);
    }

    private function pdo(): \PDO
    {
        static $pdo = [];
        return $pdo[$this->site->database] ??= $this->site->pdo();
    }

    /** @return array{tables: array<string, string>, files: array<string, string>, last: int} */
    private function snapshot(): array
    {
        $pdo = $this->pdo();
        $tables = [];
        foreach ($pdo->query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")->fetchAll(\PDO::FETCH_COLUMN) as $table) {
            $tables[$table] = md5(serialize($pdo->query('SELECT * FROM "' . $table . '"')->fetchAll()));
        }
        $files = [];
        $storage = $this->site->core . '/storage';
        $iterator = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($storage, \FilesystemIterator::SKIP_DOTS));
        foreach ($iterator as $file) {
            $relative = substr((string) $file, strlen($storage) + 1);
            // Compiled views are the view engine's cache, not data.
            if (!str_starts_with($relative, 'blade/') && $file->isFile()) {
                $files[$relative] = $file->getSize() . ':' . md5_file((string) $file);
            }
        }
        ksort($files);
        return ['tables' => $tables, 'files' => $files, 'last' => (int) $pdo->query('SELECT MAX(id) FROM evo_s_tasks')->fetchColumn()];
    }
}
