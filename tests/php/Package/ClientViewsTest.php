<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;

/**
 * The views client packages include (`sTask::widgets.*`, `sTask::partials.defaultWorkerWidget`,
 * `sTask::scripts.*`, `sTask::fields.*`), rendered the way a client renders them, and the worker
 * page's hooks: a worker's renderSettings() form (saved through normalizeSettingsForSave()) and
 * its getGeneratedFiles() list.
 */
final class ClientViewsTest extends PackageTestCase
{
    protected array $packages = ['acme/widgets'];

    /** The widget functions upstream's clients call. */
    private const TASK_API = ['widgetClearLog', 'widgetLogLine', 'getWidgetButtons', 'disableButtons', 'enableButtons',
        'widgetProgressBar', 'animateCounter', 'widgetWatcher', 'uploadFile'];

    protected function setUp(): void
    {
        parent::setUp();
        $this->artisan('stask:discover', ['--activate' => ['csv_export', 'csv_import', 'broken_hooks', 'report']]);
    }

    private static function assertDefinesTaskApi(string $html, string $why): void
    {
        foreach (self::TASK_API as $function) {
            self::assertMatchesRegularExpression('/function ' . $function . '\(/', $html, "$why: $function");
        }
        self::assertStringContainsString('window[key] = api[key]', $html, "$why: the API is global");
        self::assertStringContainsString('window.callApi = callApi', $html, "$why: callApi when the page has none");
    }

    /** No Blade left unrendered, and every <script> closed once (nothing in the data ends one). */
    private static function assertCleanHtml(string $html, string $why): void
    {
        self::assertDoesNotMatchRegularExpression('/\{\{|\{!!|@(include|php|if|foreach|lang)\b/', $html, $why);
        self::assertSame(substr_count(strtolower($html), '<script'), substr_count(strtolower($html), '</script>'), $why);
    }

    public function testScriptsGlobalDefinesCallApiAndNiceSize(): void
    {
        $html = view('sTask::scripts.global')->render();
        self::assertStringStartsWith('<script>', trim($html));
        self::assertMatchesRegularExpression('/function callApi\(url, data, method, type\)/', $html);
        self::assertMatchesRegularExpression('/function niceSize\(bytes\)/', $html);
        self::assertStringContainsString('window.callApi = callApi', $html);
        self::assertStringContainsString('window.niceSize = niceSize', $html);
        self::assertStringNotContainsString('eval(', $html);
        self::assertCleanHtml($html, 'scripts.global');
    }

    public function testScriptsTaskDefinesTheWidgetApi(): void
    {
        $html = view('sTask::scripts.task')->render();
        self::assertDefinesTaskApi($html, 'scripts.task');
        self::assertStringNotContainsString('eval(', $html);
        self::assertStringNotContainsString('new Function', $html);
        self::assertStringNotContainsString('marked', $html, 'log lines never go through an HTML-producing Markdown library');
        preg_match('/window\.sTaskWidgetConfig = (\{.*?\});\n/s', $html, $m);
        $config = json_decode($m[1], true);
        self::assertSame(route('sTask.serverLimits'), $config['serverLimitsUrl']);
        self::assertSame('Run Task', $config['i18n']['run_task']);
        self::assertSame('Uploading in parts', $config['i18n']['chunk_upload']);
        self::assertCleanHtml($html, 'scripts.task');

        $this->site->app->setLocale('uk');
        $html = view('sTask::scripts.task')->render();
        preg_match('/window\.sTaskWidgetConfig = (\{.*?\});\n/s', $html, $m);
        self::assertSame('Запустити завдання', json_decode($m[1], true)['i18n']['run_task']);
    }

    public function testThePartialWidgetAsAClientRendersIt(): void
    {
        $html = view('sTask::partials.defaultWorkerWidget', ['identifier' => 'csv_export', 'description' => 'Exports <b>all</b>'])->render();
        foreach (['csv_exportWidget', 'csv_exportRun', 'csv_exportProgress', 'csv_exportLog'] as $id) {
            self::assertStringContainsString('id="' . $id . '"', $html);
        }
        self::assertStringContainsString('Exports &lt;b&gt;all&lt;/b&gt;', $html, 'the description is escaped');
        self::assertStringContainsString('Run Task', $html);
        self::assertStringContainsString('widget-progress__pct', $html);
        self::assertDefinesTaskApi($html, 'partials.defaultWorkerWidget');
        self::assertStringContainsString(json_encode(route('sTask.worker.task.run', ['identifier' => 'csv_export', 'action' => 'make']), JSON_UNESCAPED_SLASHES | JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT), $html);
        self::assertStringContainsString('"progressUrl":null', $html, 'nothing to follow yet');
        self::assertCleanHtml($html, 'partials.defaultWorkerWidget');

        // What upstream's BaseWorker passed besides: ignored.
        $more = view('sTask::partials.defaultWorkerWidget', ['identifier' => 'csv_export', 'description' => '', 'worker' => null,
            'scope' => 'widgets', 'icon' => '<i></i>', 'title' => 'T', 'settings' => [], 'class' => 'X'])->render();
        self::assertStringContainsString('id="csv_exportRun"', $more);

        $task = sTask::create('csv_export', 'make');
        $html = view('sTask::partials.defaultWorkerWidget', ['identifier' => 'csv_export', 'description' => ''])->render();
        self::assertStringContainsString('"progressUrl":' . json_encode(route('sTask.task.progress', ['id' => $task->id]), JSON_UNESCAPED_SLASHES), $html,
            'the newest unfinished task is followed on load');
    }

    public function testTheLegacyWidgetAsAClientRendersIt(): void
    {
        $html = view('sTask::widgets.defaultWorkerWidget', ['identifier' => 'csv_export'])->render();
        self::assertStringContainsString('id="csv_exportProgress"', $html);
        self::assertStringContainsString('id="csv_exportLog"', $html);
        self::assertStringNotContainsString('id="csv_exportRun"', $html, 'the Run button is the page\'s own');
        self::assertStringContainsString('Endpoint: not set', $html);
        self::assertStringContainsString('Schedule: Manual', $html);
        self::assertDefinesTaskApi($html, 'widgets.defaultWorkerWidget');
        self::assertCleanHtml($html, 'widgets.defaultWorkerWidget');

        $worker = sTask::getWorker('csv_export');
        $worker->settings = ['endpoint' => 'https://erp.example.com/<x>', 'schedule' => ['type' => 'periodic', 'enabled' => true]];
        $worker->save();
        sTask::clearWorkerCache('csv_export');
        $pending = sTask::create('csv_export', 'make');
        $html = view('sTask::widgets.defaultWorkerWidget', ['identifier' => 'csv_export'])->render();
        self::assertStringContainsString('Endpoint: https://erp.example.com/&lt;x&gt;', $html);
        self::assertStringContainsString('Schedule: Periodic', $html);
        self::assertStringContainsString('"progressUrl":null', $html, 'only a running task is followed');
        $this->site->pdo()->exec("UPDATE evo_s_tasks SET status = 50 WHERE id = {$pending->id}");
        $html = view('sTask::widgets.defaultWorkerWidget', ['identifier' => 'csv_export'])->render();
        self::assertStringContainsString('/stask/task/' . $pending->id . '/progress', $html);
    }

    public function testTheFieldViewsTakeEvoUisFieldContext(): void
    {
        $html = view('sTask::fields.worker-settings', [
            'fieldId' => 'settings_payload_field', 'model' => 'data.settings_payload', 'controller' => 'workers',
            'field' => ['html' => '<input name="endpoint" value="a">', 'serializer' => 'mySerializer', 'name' => 'settings_payload'],
        ])->render();
        self::assertStringContainsString('id="settings_payload_field"', $html);
        self::assertStringContainsString('<input name="endpoint" value="a">', $html, 'the worker\'s own HTML, as is');
        self::assertStringContainsString('wire:ignore', $html);
        self::assertStringContainsString('data-stask-serializer="mySerializer"', $html);
        self::assertStringContainsString('window.sTask.initWorkerSettings(el', $html);
        self::assertCleanHtml($html, 'fields.worker-settings');
        $plain = view('sTask::fields.worker-settings', ['field' => ['html' => '<b>x</b>']])->render();
        self::assertStringContainsString('data-stask-serializer="serializeWorkerSettings"', $plain);
        self::assertStringNotContainsString('<script', $plain, 'no EvoUI controller: no modal to sync');

        $html = view('sTask::fields.worker-files', ['field' => [
            'title' => 'Exports <1>', 'open_label' => 'Open it',
            'files' => [['filename' => 'a<b>.csv', 'url' => ' /files/a.csv '], ['filename' => 'b.csv', 'url' => 'javascript:alert(1)'],
                ['filename' => 'c.csv'], ['url' => '/x'], 'junk', ['filename' => 'd.csv', 'url' => "java\tscript:x"]],
        ]])->render();
        self::assertStringContainsString('Exports &lt;1&gt;', $html);
        self::assertStringContainsString('a&lt;b&gt;.csv', $html);
        self::assertStringContainsString('href="/files/a.csv"', $html);
        self::assertSame(1, substr_count($html, '<a '), 'only the safe URL is a link');
        self::assertStringContainsString('Open it', $html);
        self::assertStringContainsString('c.csv', $html);
        self::assertStringNotContainsString('javascript:', $html);
        self::assertStringContainsString('No files yet.', view('sTask::fields.worker-files', ['field' => ['files' => []]])->render());
    }

    public function testTheWorkerPageShowsTheSettingsFormAndGeneratedFiles(): void
    {
        $html = (string) $this->get('stask/worker/csv_export')->getContent();
        self::assertStringContainsString('Additional settings', $html);
        self::assertStringContainsString('<input name="endpoint" value="" data-export-endpoint>', $html, 'the worker\'s form, as is');
        self::assertStringContainsString('name="worker_form" value="1"', $html);
        self::assertStringContainsString('Generated files', $html);
        self::assertStringContainsString('href="/assets/exports/products.csv"', $html);
        self::assertStringContainsString('&lt;img src=x onerror=alert(1)&gt;.csv', $html);
        self::assertStringNotContainsString('<img src=x', $html);
        self::assertStringContainsString('evil.csv', $html);
        self::assertStringNotContainsString('javascript:alert', $html);
        self::assertStringNotContainsString('nameless', $html);
        self::assertStringContainsString('href="https://cdn.example.com/a?b=1&amp;c=&quot;2&quot;"', $html);
        self::assertStringContainsString('id="csv_exportRun"', $html, 'the worker\'s widget: upstream\'s partial');
        self::assertStringContainsString('function widgetWatcher(', $html);

        $report = (string) $this->get('stask/worker/report')->getContent();
        self::assertStringNotContainsString('name="worker_form"', $report, 'no hooks, no sections');
        self::assertStringNotContainsString('Generated files', $report);
    }

    public function testAThrowingHookIsLoggedAndLeftOut(): void
    {
        $log = new class {
            public array $warnings = [];
            public function warning(string $message, array $context = []): void
            {
                $this->warnings[] = $message;
            }
        };
        $this->site->app->instance('log', $log);
        $response = $this->get('stask/worker/broken_hooks');
        self::assertSame(200, $response->getStatusCode());
        $html = (string) $response->getContent();
        self::assertStringNotContainsString('name="worker_form"', $html);
        self::assertStringNotContainsString('exploded', $html);
        self::assertCount(2, $log->warnings);
        self::assertStringContainsString('renderSettings() failed: RuntimeException: settings form exploded', $log->warnings[0]);
        self::assertStringContainsString('getGeneratedFiles() failed: LogicException: no files today', $log->warnings[1]);

        $before = sTask::getWorker('broken_hooks')->settings;
        $r = $this->json($this->post('stask/worker/broken_hooks/settings', ['worker_form' => '1', 'x' => 'y']), 422);
        self::assertStringContainsString('cannot normalize', $r['message']);
        self::assertSame($before, sTask::getWorker('broken_hooks')->settings, 'nothing saved');
        self::assertStringContainsString('normalizeSettingsForSave() failed', $log->warnings[2]);
    }

    public function testTheSettingsFormIsSavedThroughTheWorkersNormalizer(): void
    {
        $worker = sTask::getWorker('csv_export');
        $worker->settings = ['keep' => 'me', 'limit' => 5, 'schedule' => ['type' => 'periodic', 'enabled' => true, 'frequency' => 'daily', 'time' => '04:00']];
        $worker->save();

        $request = $this->site->request('stask/worker/csv_export/settings', 'POST', [
            '_token' => csrf_token(), 'worker_form' => '1', 'endpoint' => '  https://erp.example.com  ', 'limit' => '0',
            'schedule' => ['type' => 'manual'], 'settings_json' => '{"keep": "no"}',
        ]);
        $response = $this->site->dispatch($request);
        self::assertSame(303, $response->getStatusCode(), (string) $response->getContent());
        self::assertStringEndsWith('/stask/worker/csv_export?saved=1', (string) $response->headers->get('Location'));
        $settings = sTask::getWorker('csv_export')->settings;
        self::assertSame('https://erp.example.com', $settings['endpoint']);
        self::assertSame(1, $settings['limit']);
        self::assertFalse($settings['with_images']);
        self::assertSame('me', $settings['keep'], 'other settings stay');
        self::assertSame('periodic', $settings['schedule']['type'], 'the schedule is not the form\'s');

        $d = $this->json($this->post('stask/worker/csv_export/settings', ['worker_form' => '1', 'endpoint' => 'x', 'limit' => '7', 'with_images' => '1']));
        self::assertTrue($d['success']);
        self::assertSame(['x', 7, true], [$d['settings']['endpoint'], $d['settings']['limit'], $d['settings']['with_images']]);
        $html = (string) $this->get('stask/worker/csv_export')->getContent();
        self::assertStringContainsString('<input name="endpoint" value="x" data-export-endpoint>', $html);
        self::assertStringContainsString('name="with_images" value="1" checked', $html);

        $this->json($this->post('stask/worker/report/settings', ['worker_form' => '1', 'x' => 'y']), 422);
        self::assertArrayNotHasKey('x', (array) sTask::getWorker('report')->settings, 'a worker without a form takes no form');
        self::assertSame(419, $this->post('stask/worker/csv_export/settings', ['worker_form' => '1', 'endpoint' => 'evil'], false)->getStatusCode());
    }

    public function testTheRunEndpointTakesUpstreamsTopLevelFields(): void
    {
        // The partial's Run button posts nothing; a client's widget posts {filename: token} or fields.
        $r = $this->json($this->post('stask/worker/csv_export/run/make'));
        self::assertSame([], sTaskModel::query()->find($r['id'])->meta);
        $r = $this->json($this->post('stask/worker/csv_export/run/make', ['manual' => '1', 'source' => 'widget']));
        self::assertSame(['manual' => '1', 'source' => 'widget'], sTaskModel::query()->find($r['id'])->meta);
        $r = $this->json($this->post('stask/worker/csv_export/run/make', ['options' => ['a' => 1], 'filename' => 'x.csv']));
        self::assertSame(['a' => 1, 'filename' => 'x.csv'], sTaskModel::query()->find($r['id'])->meta, 'a top-level filename is kept beside options');
    }

    /** What widgetWatcher() reads from the progress endpoint, with the types it expects. */
    public function testTheProgressAnswerHasWhatWidgetWatcherReads(): void
    {
        $task = sTask::create('csv_export', 'make');
        foreach (['pending' => fn () => null, 'completed' => fn () => sTask::processPendingTasks()] as $status => $step) {
            $step();
            $p = $this->json($this->get("stask/task/{$task->id}/progress"));
            self::assertSame(200, $p['code']);
            self::assertSame($status, $p['status']);
            self::assertIsInt($p['progress']);
            self::assertTrue($p['eta'] === null || is_string($p['eta']) || is_int($p['eta']), 'eta: ' . json_encode($p['eta']));
            self::assertTrue($p['message'] === null || is_string($p['message']));
            self::assertIsArray($p['log_lines']);
            self::assertTrue(array_is_list($p['log_lines']));
            foreach ($p['log_lines'] as $line) {
                self::assertIsString($line);
            }
        }
        self::assertSame(100, $p['progress']);
        self::assertContains('Exporting **products**', $p['log_lines']);
        $quiet = $this->json($this->get("stask/task/{$task->id}/progress?include_log=0"));
        self::assertSame([], $quiet['log_lines'], 'upstream 2.1\'s include_log=0');
        self::assertSame('completed', $quiet['status']);
        $missing = $this->json($this->get('stask/task/999999/progress'), 404);
        self::assertSame('not_found', $missing['status'], 'the watcher stops on it');
    }

    public function testTheLogLineRendererEscapesHtml(): void
    {
        $node = trim((string) shell_exec('command -v node'));
        if ($node === '') {
            self::markTestSkipped('node is not installed');
        }
        $script = <<<'JS'
            const vm = require('vm');
            const fs = require('fs');
            const window = { fetch: () => Promise.reject(new Error('offline')) };
            window.window = window;
            const document = { getElementById: () => null, querySelector: () => null, head: null, hidden: false };
            vm.runInNewContext(fs.readFileSync(process.argv[2], 'utf8') + fs.readFileSync(process.argv[3], 'utf8'), { window, document, URLSearchParams, Promise, JSON, Math, Object, Array, String, Number });
            const out = {};
            for (const [k, v] of Object.entries(JSON.parse(process.argv[4]))) out[k] = window.sTask.renderLogLine(v);
            out.niceSize = [window.niceSize(0), window.niceSize(1536), window.niceSize(5 * 1024 * 1024), window.niceSize(1024 ** 5)];
            out.api = ['callApi', 'niceSize', 'widgetClearLog', 'widgetLogLine', 'getWidgetButtons', 'disableButtons', 'enableButtons',
              'widgetProgressBar', 'animateCounter', 'widgetWatcher', 'uploadFile'].filter((f) => typeof window[f] !== 'function');
            process.stdout.write(JSON.stringify(out));
            JS;
        $file = tempnam(sys_get_temp_dir(), 'js');
        file_put_contents($file, $script);
        $lines = [
            'html' => '<img src=x onerror="alert(1)"> & <script>x</script>',
            'markdown' => '**Import:** _starting…_ `a<b>` ~~old~~',
            'snake' => 'file_name_here and *one*',
            'link' => '[x](javascript:alert(1))',
        ];
        $dir = \STask\Tests\Evo\Site::REPO . '/assets/js/widgets';
        $out = json_decode((string) shell_exec(sprintf('%s %s %s %s %s 2>&1', escapeshellarg($node), escapeshellarg($file),
            escapeshellarg("$dir/global.js"), escapeshellarg("$dir/task.js"), escapeshellarg((string) json_encode($lines)))), true);
        unlink($file);
        self::assertIsArray($out);
        self::assertSame('&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;script&gt;x&lt;/script&gt;', $out['html']);
        self::assertSame('<strong>Import:</strong> <em>starting…</em> <code>a&lt;b&gt;</code> <del>old</del>', $out['markdown']);
        self::assertSame('file_name_here and <em>one</em>', $out['snake']);
        self::assertSame('[x](javascript:alert(1))', $out['link'], 'no links');
        self::assertSame(['0 B', '1.5 KB', '5 MB', '1024 TB'], $out['niceSize']);
        self::assertSame([], $out['api'], 'every function is a global');
    }
}
