<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Models\sWorker;

/** The manager pages and endpoints over HTTP: permissions, CSRF, JSON shapes, escaping, paths. */
final class HttpTest extends PackageTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->artisan('stask:discover', ['--activate' => ['report', 'newsletter', 'product', 'artisan']]);
    }

    /** @return list<array{string, string}> every route: method and path */
    private function routes(int $taskId): array
    {
        return [
            ['GET', 'stask'], ['GET', 'stask/api/dashboard'], ['GET', 'stask/stats'], ['GET', 'stask/tasks'],
            ['GET', "stask/task/$taskId"], ['GET', "stask/task/$taskId/progress"], ['GET', "stask/task/$taskId/logs"],
            ['GET', "stask/task/$taskId/logs/download"], ['GET', "stask/task/$taskId/download"],
            ['POST', "stask/task/$taskId/retry"], ['POST', "stask/task/$taskId/cancel"], ['POST', 'stask/tasks/bulk'],
            ['GET', 'stask/workers'], ['POST', 'stask/workers/discover'], ['POST', 'stask/worker/activate'],
            ['POST', 'stask/worker/deactivate'], ['GET', 'stask/worker/report'], ['POST', 'stask/worker/report/settings'],
            ['POST', 'stask/worker/report/run/build'], ['GET', 'stask/assets/stask.css'],
            ['POST', 'stask/task'], ['POST', 'stask/task/store'], ['POST', 'stask/clean'], ['POST', 'stask/worker/clean-orphaned'],
            ['POST', 'stask/worker/report/upload'], ['GET', 'stask/server-limits'],
            ['POST', 'stask/workers/report/tasks/build/run'], ['POST', 'stask/workers/report/upload'],
            ['GET', 'stask/performance/summary'], ['GET', 'stask/performance/workers'], ['GET', 'stask/performance/alerts'],
            ['GET', 'stask/cache/stats'], ['POST', 'stask/cache/clear'], ['POST', "stask/task/$taskId/upload"],
        ];
    }

    public function testEveryRouteNeedsTheStaskPermission(): void
    {
        $task = sTask::create('report', 'build');
        $this->site->app->permissions = ['stask_artisan' => 1];
        foreach ($this->routes((int) $task->id) as [$method, $path]) {
            $response = $method === 'GET' ? $this->get($path) : $this->post($path);
            self::assertSame(403, $response->getStatusCode(), "$method $path");
        }
        self::assertTrue($task->fresh()->isPending(), 'nothing happened');
        $routes = $this->site->app->make('router')->getRoutes()->getRoutesByName();
        $ours = array_filter(array_keys($routes), fn ($n) => str_starts_with($n, 'sTask.'));
        self::assertCount(count($this->routes(1)), $ours, 'every route is in this test');
    }

    public function testEveryWriteNeedsTheCsrfToken(): void
    {
        $task = sTask::create('report', 'build');
        foreach ($this->routes((int) $task->id) as [$method, $path]) {
            if ($method === 'POST') {
                $response = $this->post($path, ['action' => 'cancel', 'ids' => [$task->id], 'identifier' => 'report'], false);
                self::assertSame(419, $response->getStatusCode(), "POST $path");
            }
        }
        $wrong = $this->site->request("stask/task/{$task->id}/cancel", 'POST', ['_token' => 'forged']);
        self::assertSame(419, $this->site->dispatch($wrong)->getStatusCode());
        self::assertTrue($task->fresh()->isPending());
        $form = $this->site->request("stask/task/{$task->id}/cancel", 'POST', ['_token' => csrf_token()]);
        self::assertSame(200, $this->site->dispatch($form)->getStatusCode(), 'the form field works too');
    }

    public function testPagesRender(): void
    {
        $task = sTask::create('report', 'build', ['month' => 5]);
        foreach (['stask', 'stask/tasks', "stask/task/{$task->id}", 'stask/workers', 'stask/worker/report'] as $path) {
            $response = $this->get($path);
            self::assertSame(200, $response->getStatusCode(), "$path: " . substr((string) $response->getContent(), 0, 500));
            self::assertStringContainsString('<meta name="csrf-token"', (string) $response->getContent());
            self::assertSame('SAMEORIGIN', $response->headers->get('X-Frame-Options'));
            // Blade directives newer than Laravel 8 (Evolution CMS 3.1) would be printed as text.
            self::assertDoesNotMatchRegularExpression('/@(checked|selected|disabled|readonly|required|class|style)\(|\{\{|\{!!/',
                (string) $response->getContent(), $path);
        }
        self::assertSame(404, $this->get('stask/task/999999')->getStatusCode());
        self::assertSame(404, $this->get('stask/worker/nobody')->getStatusCode());
        self::assertSame(404, $this->get('stask/task/abc')->getStatusCode(), 'ids are numbers');
    }

    public function testUpstreamsCreateCleanAndCleanOrphanedRoutes(): void
    {
        $d = $this->json($this->post('stask/task', ['identifier' => 'report', 'action' => 'build', 'data' => ['month' => 3], 'priority' => 'high']));
        self::assertSame(['month' => 3], $d['task']['meta']);
        self::assertSame('high', sTask::find($d['id'])->priority);
        $this->json($this->post('stask/task/store', ['identifier' => 'report', 'action' => 'build']));
        $this->json($this->post('stask/task', ['identifier' => 'nobody', 'action' => 'build']), 404);
        $this->json($this->post('stask/task', ['identifier' => 'report', 'action' => 'nothing']), 422);
        $this->json($this->post('stask/task', ['identifier' => 'report', 'action' => 'build', 'priority' => 'urgent']), 422);
        $this->json($this->post('stask/task', ['identifier' => 'report', 'action' => 'build', 'data' => 'not json']), 422);
        self::assertSame(2, sTaskModel::query()->count(), 'refused requests created nothing');

        sTask::processPendingTasks();
        $this->json($this->post('stask/clean', ['days' => 'soon']), 422);
        self::assertSame(0, $this->json($this->post('stask/clean', ['days' => 1]))['deleted_tasks'], 'just finished: kept');
        $this->site->pdo()->exec("UPDATE evo_s_tasks SET finished_at = '2001-01-01 00:00:00'");
        self::assertSame(2, $this->json($this->post('stask/clean'))['deleted_tasks']);

        sWorker::query()->create(['identifier' => 'ghost', 'scope' => 'x', 'class' => 'Gone\\GhostWorker', 'active' => true, 'settings' => []]);
        $d = $this->json($this->post('stask/worker/clean-orphaned'));
        self::assertSame(1, $d['deleted']);
        self::assertNull(sWorker::query()->where('identifier', 'ghost')->first());
    }

    public function testTheBuiltCssStylesEveryStatusAndLogLevel(): void
    {
        // These classes are put together at runtime, so Tailwind must be told to keep them.
        $css = (string) file_get_contents(dirname(__DIR__, 3) . '/assets/dist/stask.css');
        foreach (['pending', 'preparing', 'running', 'completed', 'cancelled', 'failed'] as $status) {
            self::assertStringContainsString(".st-status-$status", $css);
        }
        foreach (['info', 'warning', 'error'] as $level) {
            self::assertStringContainsString(".st-log-$level", $css);
        }
    }

    public function testTaskOutputIsEscaped(): void
    {
        $task = sTask::create('report', 'build', ['html' => '<img src=x onerror=alert(1)>']);
        sTask::engine()->pushProgress((int) $task->id, ['message' => '<script>alert("xss")</script>']);
        sTask::log($task, 'info', '<b>bold</b>');
        $this->site->pdo()->exec("UPDATE evo_s_tasks SET message = '<script>alert(2)</script>'");
        $shown = [
            'stask/tasks' => '&lt;script&gt;alert(2)&lt;/script&gt;', // the row's message
            "stask/task/{$task->id}" => '&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;', // the live snapshot's
        ];
        foreach ($shown as $path => $escaped) {
            $html = (string) $this->get($path)->getContent();
            self::assertStringNotContainsString('<script>alert', $html, $path);
            self::assertStringNotContainsString('<img src=x', $html, $path);
            self::assertStringContainsString($escaped, $html, $path);
        }
        $json = $this->json($this->get("stask/task/{$task->id}/logs"));
        self::assertSame('<b>bold</b>', $json['entries'][0]['message'], 'JSON carries text; the page sets it with textContent');
    }

    public function testProgressAndLogEndpoints(): void
    {
        $task = sTask::create('newsletter', 'send', ['to' => ['a@example.com', 'b@example.com']]);
        sTask::processPendingTasks();
        sTask::log($task, 'warning', 'slow');
        $p = $this->json($this->get("stask/task/{$task->id}/progress"));
        foreach (['success', 'code', 'id', 'status', 'progress', 'processed', 'total', 'eta', 'message', 'log_lines', 'attempts', 'max_attempts', 'can_retry', 'can_cancel',
            'started_at', 'finished_at', 'duration', 'last_error'] as $key) {
            self::assertArrayHasKey($key, $p);
        }
        self::assertSame('completed', $p['status']);
        self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/', $p['finished_at']);
        self::assertIsFloat($p['duration']);
        self::assertNull($p['last_error']);
        $this->site->pdo()->exec("UPDATE evo_s_tasks SET start_at = finished_at WHERE id = {$task->id}");
        self::assertSame(0.0, $this->json($this->get("stask/task/{$task->id}/progress"))['duration'], 'a duration of 0 is still a float');
        self::assertSame(100, $p['progress']);
        self::assertSame(2, $p['total']);
        self::assertContains('slow', $p['log_lines']);
        self::assertFalse($p['can_cancel']);
        $this->json($this->get('stask/task/999999/progress'), 404);

        $warnings = $this->json($this->get("stask/task/{$task->id}/logs?level=warning"));
        self::assertSame(['slow'], array_column($warnings['entries'], 'message'));
        $this->json($this->get("stask/task/{$task->id}/logs?level=debug"), 422);
        $this->json($this->get('stask/task/999999/logs'), 404);
    }

    public function testLogDownloadIsTheTasksOwnFile(): void
    {
        $task = sTask::create('report', 'build');
        sTask::log($task, 'error', 'line one');
        $response = $this->get("stask/task/{$task->id}/logs/download");
        self::assertSame(200, $response->getStatusCode());
        self::assertStringContainsString('attachment; filename=task-' . $task->id . '-report-', (string) $response->headers->get('Content-Disposition'));
        ob_start();
        $response->sendContent();
        self::assertStringContainsString("error\tline one", (string) ob_get_clean());
        // Traversal attempts never reach a controller.
        foreach (['stask/task/..%2F..%2Fetc%2Fpasswd/logs/download', 'stask/task/1%00/logs/download', 'stask/assets/..%2F..%2Fcomposer.json', 'stask/assets/passwd'] as $path) {
            self::assertSame(404, $this->get($path)->getStatusCode(), $path);
        }
    }

    public function testResultDownloadIsConfinedToStorage(): void
    {
        $inside = $this->site->core . '/storage/stask/uploads/export.csv';
        @mkdir(dirname($inside), 0777, true);
        file_put_contents($inside, "a,b\n");
        $good = sTask::create('report', 'build');
        sTask::engine()->complete((int) $good->id, $inside);
        $bad = sTask::create('report', 'build');
        sTask::engine()->complete((int) $bad->id, '/etc/passwd');
        $sneaky = sTask::create('report', 'build');
        sTask::engine()->complete((int) $sneaky->id, $this->site->core . '/storage/stask/../../../../../etc/passwd');
        self::assertSame(200, $this->get("stask/task/{$good->id}/download")->getStatusCode());
        self::assertSame(404, $this->get("stask/task/{$bad->id}/download")->getStatusCode());
        self::assertSame(404, $this->get("stask/task/{$sneaky->id}/download")->getStatusCode());
    }

    public function testRetryCancelAndBulk(): void
    {
        $a = sTask::create('report', 'build', ['month' => 1]);
        $b = sTask::create('report', 'build', ['month' => 2]);
        $c = sTask::create('report', 'build', ['month' => 3]);
        $r = $this->json($this->post("stask/task/{$a->id}/cancel"));
        self::assertTrue($r['cancelled']);
        self::assertSame('cancelled', $r['status']);
        $this->json($this->post("stask/task/{$a->id}/cancel"), 409);
        $this->json($this->post("stask/task/{$a->id}/retry"));
        $this->json($this->post('stask/task/999999/retry'), 404);

        $bulk = $this->json($this->post('stask/tasks/bulk', ['action' => 'cancel', 'ids' => [$a->id, $b->id, 999999]]));
        self::assertSame([(int) $a->id, (int) $b->id], $bulk['done']);
        self::assertSame([999999], $bulk['skipped']);
        $bulk = $this->json($this->post('stask/tasks/bulk', ['action' => 'retry', 'ids' => [$a->id, $c->id]]));
        self::assertSame([(int) $a->id], $bulk['done'], 'pending tasks are not retried');
        $bulk = $this->json($this->post('stask/tasks/bulk', ['action' => 'delete', 'ids' => [$b->id]]));
        self::assertSame([(int) $b->id], $bulk['done']);
        self::assertNull(sTask::find((int) $b->id));
        $this->json($this->post('stask/tasks/bulk', ['action' => 'explode', 'ids' => [1]]), 422);
        $this->json($this->post('stask/tasks/bulk', ['action' => 'retry', 'ids' => []]), 422);
    }

    public function testTaskListFilters(): void
    {
        sTask::create('report', 'build', [], 'high');
        $n = sTask::create('newsletter', 'send');
        sTask::cancel($n);
        $html = (string) $this->get('stask/tasks?worker=newsletter&status=cancelled')->getContent();
        self::assertStringContainsString('data-task-row="' . $n->id . '"', $html);
        self::assertSame(1, substr_count($html, 'data-task-row='));
        self::assertSame(1, substr_count((string) $this->get('stask/tasks?priority=high')->getContent(), 'data-task-row='));
        self::assertSame(1, substr_count((string) $this->get('stask/tasks?q=%23' . $n->id)->getContent(), 'data-task-row='));
        self::assertSame(0, substr_count((string) $this->get('stask/tasks?from=2001-01-01&to=2001-01-02')->getContent(), 'data-task-row='));
    }

    public function testDashboardJson(): void
    {
        sTask::create('report', 'build');
        sTask::processPendingTasks();
        $failed = sTask::create('newsletter', 'send', ['to' => ['bounce@example.com']], 'normal', null, ['maxAttempts' => 1]);
        sTask::processPendingTasks();
        $d = $this->json($this->get('stask/api/dashboard'));
        self::assertSame(2, $d['stats']['total']);
        self::assertCount(60, $d['metrics']['per_minute']);
        self::assertSame(1, $d['metrics']['totals']['completed']);
        self::assertSame(1, $d['metrics']['workers']['newsletter']['failed']);
        self::assertSame((int) $failed->id, $d['failures'][0]['id']);
        self::assertStringContainsString('Mailbox bounce@example.com is full', $d['failures'][0]['last_error']);
        self::assertSame([], $d['running']);
        self::assertSame(2, $this->json($this->get('stask/stats'))['total']);
    }

    public function testWorkersEndpoints(): void
    {
        $d = $this->json($this->post('stask/workers/discover', ['mode' => 'discover']));
        self::assertArrayHasKey('found', $d);
        $this->json($this->post('stask/workers/discover', ['mode' => 'rescan']));
        $this->json($this->post('stask/workers/discover', ['mode' => 'clean']));
        $this->json($this->post('stask/workers/discover', ['mode' => 'nuke']), 422);

        self::assertFalse($this->json($this->post('stask/worker/deactivate', ['identifier' => 'report']))['active']);
        self::assertFalse(sTask::getWorker('report')->active);
        self::assertTrue($this->json($this->post('stask/worker/activate', ['identifier' => 'report']))['active']);
        $this->json($this->post('stask/worker/activate', ['identifier' => 'nobody']), 404);
    }

    public function testRunningAnActionFromTheManager(): void
    {
        $r = $this->json($this->post('stask/worker/report/run/build', ['options' => ['month' => 7], 'priority' => 'high']));
        self::assertTrue($r['success']);
        $task = sTaskModel::query()->find($r['id']);
        self::assertSame(['month' => 7], $task->meta);
        self::assertSame('high', $task->priority);
        self::assertStringEndsWith("/stask/task/{$r['id']}", $r['url']);
        $this->json($this->post('stask/worker/report/run/build', ['options' => '{"month": 8}']));
        $this->json($this->post('stask/worker/report/run/nonexistent'), 422);
        $this->json($this->post('stask/worker/report/run/build', ['options' => '[not json']), 422);
        $this->json($this->post('stask/worker/report/run/build', ['priority' => 'urgent']), 422);
        sTask::deactivateWorker('report');
        $this->json($this->post('stask/worker/report/run/build'), 404);
    }

    public function testArtisanTasksFromTheManagerNeedTheirPermission(): void
    {
        \STask\Tests\Evo\EvoCore::$cli = false;
        try {
            $this->site->app->permissions = ['stask' => 1];
            $r = $this->json($this->post('stask/worker/artisan/run/make', ['options' => ['command' => 'list']]), 403);
            self::assertStringContainsString('stask_artisan', $r['message']);
            $this->site->app->permissions = ['stask' => 1, 'stask_artisan' => 1];
            $this->json($this->post('stask/worker/artisan/run/make', ['options' => ['command' => 'list']]));
        } finally {
            \STask\Tests\Evo\EvoCore::$cli = true;
        }
    }

    public function testSavingSettingsKeepsEveryScheduleKey(): void
    {
        $request = $this->site->request('stask/worker/newsletter/settings', 'POST', [
            '_token' => csrf_token(),
            'schedule' => ['enabled' => '1', 'type' => 'periodic', 'frequency' => 'weekly', 'time' => '08:15', 'days' => ['monday', 'friday'], 'interval' => 'every_15min'],
            'settings_json' => '{"endpoint": "https://erp.example.com", "batch": 50}',
        ]);
        $response = $this->site->dispatch($request);
        self::assertSame(303, $response->getStatusCode());
        self::assertStringEndsWith('/stask/worker/newsletter?saved=1', (string) $response->headers->get('Location'));
        $settings = sTask::getWorker('newsletter')->settings;
        self::assertSame('https://erp.example.com', $settings['endpoint']);
        self::assertSame(['monday', 'friday'], $settings['schedule']['days'], 'upstream dropped the days');
        self::assertSame('08:15', $settings['schedule']['time']);
        self::assertTrue($settings['schedule']['enabled']);
        $this->json($this->post('stask/worker/newsletter/settings', ['settings_json' => '[1,2]']), 422);
        self::assertStringContainsString('Saved.', (string) $this->get('stask/worker/newsletter?saved=1')->getContent());
    }

    public function testAssetsAreServedFromThePackage(): void
    {
        $css = $this->get('stask/assets/stask.css');
        self::assertSame(200, $css->getStatusCode());
        self::assertStringStartsWith('text/css', (string) $css->headers->get('Content-Type'));
        self::assertStringContainsString('.st-card', (string) $css->getContent());
        self::assertStringStartsWith('application/javascript', (string) $this->get('stask/assets/stask.js')->headers->get('Content-Type'));
        self::assertSame(404, $this->get('stask/assets/stask.php')->getStatusCode());
    }

    public function testUpstreamsPerformanceAndCacheEndpoints(): void
    {
        sTask::create('report', 'build');
        sTask::processPendingTasks();
        $summary = $this->json($this->get('stask/performance/summary?hours=2'));
        self::assertTrue($summary['success']);
        self::assertSame(1, $summary['data']['tasks']['completed'], json_encode($summary));
        $workers = $this->json($this->get('stask/performance/workers?identifier=report'));
        self::assertTrue($workers['success']);
        self::assertIsArray($this->json($this->get('stask/performance/alerts'))['data']);
        self::assertArrayHasKey('hits', $this->json($this->get('stask/cache/stats'))['data']);
        self::assertTrue($this->json($this->post('stask/cache/clear', ['identifier' => 'report']))['success']);
        $this->json($this->post('stask/cache/clear', [], false), 419);
        // The route names an older revision of upstream's widgets used.
        $r = $this->json($this->post('stask/workers/report/tasks/build/run', ['options' => ['month' => 12]]));
        self::assertSame(['month' => 12], sTask::find($r['id'])->meta);
        self::assertStringEndsWith('/stask/workers/report/upload', route('sTask.workers.upload', ['identifier' => 'report']));
    }
}
