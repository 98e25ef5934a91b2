<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Illuminate\Console\Scheduling\Schedule;
use Illuminate\Support\ServiceProvider;
use Seiger\sTask\Facades\sTask as sTaskFacade;
use Seiger\sTask\sTask;
use Seiger\sTask\sTaskServiceProvider;
use STask\Tests\Evo\EvoCore;
use STask\Tests\Evo\Site;

/** The provider in an Evolution CMS site: wiring, migrations, permissions, menu, schedule, routes. */
final class ProviderTest extends PackageTestCase
{
    public function testComposerManifestDeclaresTheProviderAndAlias(): void
    {
        $manifest = json_decode((string) file_get_contents(Site::REPO . '/composer.json'), true);
        self::assertSame('seiger/stask', $manifest['name']);
        self::assertArrayHasKey('ext-stask', $manifest['require']);
        self::assertSame('php/', $manifest['autoload']['psr-4']['Seiger\\sTask\\']);
        foreach ($manifest['extra']['laravel']['providers'] as $provider) {
            self::assertTrue(class_exists($provider), $provider);
        }
        self::assertSame(sTaskFacade::class, $manifest['extra']['laravel']['aliases']['sTask']);
        self::assertSame(sTaskFacade::class, require Site::REPO . '/config/sTaskAlias.php');
    }

    public function testServicesAndFacadeResolve(): void
    {
        self::assertInstanceOf(sTask::class, $this->site->app->make('sTask'));
        self::assertSame($this->site->app->make(sTask::class), $this->site->app->make('sTask'));
        self::assertInstanceOf(\STask\Engine::class, sTaskFacade::engine());
        self::assertSame('default', sTaskFacade::connectionName(), 'tasks live in the site database');
        self::assertTrue((bool) evo()->getConfig('check_sTask'));
        self::assertSame(sTask::VERSION, evo()->getConfig('sTaskVer'));
    }

    public function testEveryCommandIsRegistered(): void
    {
        $names = array_keys($this->site->artisan->all());
        foreach (['stask:work', 'stask:worker', 'stask:discover', 'stask:list', 'stask:show', 'stask:retry',
                  'stask:cancel', 'stask:prune', 'stask:stats', 'stask:publish'] as $command) {
            self::assertContains($command, $names);
        }
        self::assertCount(10, sTaskServiceProvider::COMMANDS);
    }

    public function testMigrationsCreateTablesWithThePrefixAndThePermissions(): void
    {
        $pdo = $this->site->pdo();
        $columns = array_column($pdo->query("PRAGMA table_info(evo_s_tasks)")->fetchAll(), 'name');
        foreach (['identifier', 'action', 'status', 'meta', 'result', 'priority', 'progress', 'attempts', 'max_attempts',
                  'available_at', 'fence', 'locked_by', 'lease_expires_at', 'cancel_requested', 'last_error'] as $column) {
            self::assertContains($column, $columns);
        }
        $permissions = $pdo->query("SELECT key, group_id FROM evo_permissions ORDER BY key")->fetchAll();
        self::assertSame(['stask', 'stask_artisan', 'stask_composer'], array_column($permissions, 'key'));
        self::assertSame('sTask', $pdo->query('SELECT name FROM evo_permissions_groups')->fetchColumn());
        $granted = $pdo->query("SELECT permission FROM evo_role_permissions WHERE role_id = 1 ORDER BY permission")->fetchAll(\PDO::FETCH_COLUMN);
        self::assertSame(['stask', 'stask_artisan', 'stask_composer'], $granted);

        // Idempotent: migrating again changes nothing.
        $this->artisan('migrate', ['--force' => true]);
        self::assertSame(3, (int) $pdo->query('SELECT COUNT(*) FROM evo_role_permissions')->fetchColumn());

        $this->artisan('migrate:rollback', ['--force' => true]);
        $tables = $pdo->query("SELECT name FROM sqlite_master WHERE type = 'table'")->fetchAll(\PDO::FETCH_COLUMN);
        self::assertNotContains('evo_s_tasks', $tables);
        self::assertSame(0, (int) $pdo->query('SELECT COUNT(*) FROM evo_permissions')->fetchColumn());
    }

    public function testTheMenuItemAppearsOnlyWithThePermission(): void
    {
        $base = ['site' => ['site', 'main', 'Site', '', '', '', '', 'main', 0, 1]];
        // The manager renders its menu in a web request (in the CLI every permission is granted).
        $results = $this->site->web(fn () => evo()->invokeEvent('OnManagerMenuPrerender', ['menu' => $base]));
        self::assertIsArray($results);
        $menu = unserialize($results[0], ['allowed_classes' => false]);
        self::assertSame($base['site'], $menu['site'], 'the existing menu is kept');
        self::assertSame('tools', $menu['stask'][1]);
        self::assertSame('http://example.test/manager/stask', $menu['stask'][3]);
        self::assertStringContainsString('Task Manager', $menu['stask'][2]);
        self::assertStringContainsString('<img src="http://example.test/manager/stask/assets/stask.svg"', $menu['stask'][2], 'the logo');

        $this->site->app->permissions = [];
        self::assertFalse($this->site->web(fn () => evo()->invokeEvent('OnManagerMenuPrerender', ['menu' => $base])));
    }

    public function testTheScheduleEntrySurvivesOtherPackagesRebindingTheSchedule(): void
    {
        $site = new Site([], [], function (EvoCore $app): void {
            // Another package, the way Evolution CMS's docs recommend, before ours.
            $app->singleton(Schedule::class, fn () => tap(new Schedule(), fn (Schedule $s) => $s->command('other:early')->hourly()));
        });
        // …and one that rebinds after ours.
        $site->app->singleton(Schedule::class, fn () => tap(new Schedule(), fn (Schedule $s) => $s->command('other:late')->daily()));
        try {
            $events = $site->app->make(Schedule::class)->events();
            $commands = array_map(fn ($e) => $e->command, $events);
            self::assertCount(2, $events);
            self::assertStringContainsString('other:late', $commands[0]);
            self::assertStringContainsString('stask:worker', $commands[1]);
            self::assertSame('* * * * *', $events[1]->expression);
            self::assertTrue($events[1]->withoutOverlapping);
        } finally {
            $site->destroy();
        }
    }

    public function testTheScheduleEntryCanBeTurnedOff(): void
    {
        $site = new Site([], ['worker' => ['schedule' => false]]);
        try {
            self::assertSame([], $site->app->make(Schedule::class)->events());
        } finally {
            $site->destroy();
        }
    }

    public function testTheDashboardRouteNeedsThePermission(): void
    {
        $response = $this->site->dispatch($this->site->request('stask'));
        self::assertSame(200, $response->getStatusCode());
        self::assertStringContainsString('Task Manager', $response->getContent());
        $this->site->app->permissions = [];
        $response = $this->site->dispatch($this->site->request('stask'));
        self::assertSame(403, $response->getStatusCode());
    }

    public function testTranslationsExistForEveryShippedLocale(): void
    {
        $en = require Site::REPO . '/lang/en/global.php';
        foreach (['uk', 'ru'] as $locale) {
            $other = require Site::REPO . "/lang/$locale/global.php";
            self::assertSame(array_keys($en), array_keys($other), "lang/$locale/global.php has the same keys as en");
            $this->site->app->setLocale($locale);
            self::assertNotSame('sTask::global.title', __('sTask::global.title'));
        }
        $this->site->app->setLocale('uk');
        self::assertSame('Менеджер завдань', __('sTask::global.title'));
    }

    public function testEveryTranslationKeyTheCodeUsesExists(): void
    {
        $en = require Site::REPO . '/lang/en/global.php';
        $files = [];
        foreach (['php', 'views', 'plugins', 'database'] as $dir) {
            $iterator = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator(Site::REPO . "/$dir", \FilesystemIterator::SKIP_DOTS));
            foreach ($iterator as $file) {
                if (str_ends_with((string) $file, '.php')) {
                    $files[] = (string) $file;
                }
            }
        }
        $missing = [];
        $usedKeys = [];
        foreach ($files as $file) {
            preg_match_all("/sTask::global\\.([a-z0-9_]+)['\"]/", (string) file_get_contents($file), $m);
            foreach ($m[1] as $key) {
                if (str_ends_with($key, '_')) { // "priority_" . $p: a prefix
                    continue;
                }
                $usedKeys[] = $key;
                if (!array_key_exists($key, $en)) {
                    $missing[] = basename($file) . ": $key";
                }
            }
        }
        self::assertSame([], array_values(array_unique($missing)));
        // The strings the page scripts show (Controller::I18N), and those of the widget script
        // clients include (ClientScripts::STRINGS, read by its t('…') calls).
        $i18n = (new \ReflectionClassConstant(\Seiger\sTask\Http\Controllers\Controller::class, 'I18N'))->getValue();
        self::assertSame([], array_values(array_diff($i18n, array_keys($en))));
        preg_match_all("/\\bt\\('([a-z0-9_]+)'/", (string) file_get_contents(Site::REPO . '/assets/js/widgets/task.js'), $m);
        self::assertNotEmpty($m[1]);
        self::assertSame([], array_values(array_diff($m[1], \Seiger\sTask\Support\ClientScripts::STRINGS)), 'task.js is sent every string it shows');
        // Every one of them, in every shipped locale.
        foreach (['en', 'uk', 'ru'] as $locale) {
            $strings = require Site::REPO . "/lang/$locale/global.php";
            foreach (array_unique(array_merge($usedKeys, $i18n, \Seiger\sTask\Support\ClientScripts::STRINGS)) as $key) {
                self::assertIsString($strings[$key] ?? null, "lang/$locale: $key");
                self::assertNotSame('', trim($strings[$key]), "lang/$locale: $key");
            }
        }
    }

    /**
     * Every key upstream sTask 2.2 has that its code, its manager or client packages read
     * (UI, permissions, supervisor, schedules, the keys client widgets use): in every locale,
     * translated (not the English text), with the same :placeholders.
     */
    public function testUpstreamsKeysAreTranslatedInEveryLocale(): void
    {
        $upstream = [
            'module_title', 'module_description', 'module_icon',
            'tasks', 'logs', 'active_workers', 'recent_error_logs', 'search_tasks', 'search_logs', 'created_range', 'task_details',
            'search_workers', 'priority_low', 'priority_normal', 'priority_high', 'user', 'available', 'missing', 'visible', 'hidden',
            'show_worker', 'hide_worker', 'visibility', 'class_exists', 'worker_status', 'last_task', 'last_run', 'default_position',
            'additional_settings', 'additional_settings_help', 'open_file', 'refresh_worker_registry', 'edit_worker',
            'permissions_group', 'permission_access',
            'schedule_supervisor', 'schedule_supervisor_short', 'supervisor_key', 'supervisor_state', 'supervisor_pid',
            'supervisor_heartbeat', 'supervisor_uptime', 'supervisor_last_diagnostic', 'supervisor_last_transition',
            'supervisor_state_healthy', 'supervisor_state_starting', 'supervisor_state_degraded', 'supervisor_state_failed',
            'supervisor_state_stopped', 'supervisor_contract_required', 'supervisor_schedule_unsupported', 'supervisor_empty_key',
            'supervisor_event_started', 'supervisor_event_restarted', 'supervisor_event_recovered', 'supervisor_event_stopped',
            'supervisor_event_failed', 'supervisor_event_degraded', 'supervisor_event_diagnostic_changed',
            'frequency_minutely', 'frequency_monthly', 'frequency_hourly', 'frequency_daily', 'frequency_weekly',
            'interval_5min', 'interval_15min', 'interval_30min', 'interval_hourly',
            'schedule_manual', 'schedule_once', 'schedule_periodic', 'schedule_regular', 'schedule_at', 'schedule_once_label',
            'task_emergency_stopped', 'generated_files', 'worker_description', 'identifier', 'scope', 'active', 'inactive',
            'run_task', 'done', 'task_queued', 'starting_task', 'task_completed', 'file_too_large', 'chunk_upload', 'chunks',
            'uploading_file', 'upload_failed',
            // statuses
            'pending', 'preparing', 'running', 'completed', 'cancelled', 'failed', 'unknown',
        ];
        // The same in every language: names, not words.
        $names = ['module_title' => 'sTask', 'module_icon' => 'tabler-progress-check', 'permissions_group' => null];
        $en = require Site::REPO . '/lang/en/global.php';
        self::assertSame('Run Task', $en['run_task']);
        self::assertLessThanOrEqual(140, mb_strlen($en['module_description']));
        foreach (['en', 'uk', 'ru'] as $locale) {
            $strings = require Site::REPO . "/lang/$locale/global.php";
            foreach ($upstream as $key) {
                self::assertArrayHasKey($key, $strings, "lang/$locale: $key");
                self::assertIsString($strings[$key], "lang/$locale: $key");
                self::assertNotSame('', trim($strings[$key]), "lang/$locale: $key");
                if (array_key_exists($key, $names)) {
                    if ($names[$key] !== null) {
                        self::assertSame($names[$key], $strings[$key], "lang/$locale: $key");
                    }
                    continue;
                }
                preg_match_all('/:[a-z_]+/', $en[$key], $want);
                preg_match_all('/:[a-z_]+/', $strings[$key], $have);
                self::assertEqualsCanonicalizing($want[0], $have[0], "lang/$locale: $key keeps the placeholders");
                if ($locale !== 'en') {
                    self::assertNotSame($en[$key], $strings[$key], "lang/$locale: $key is translated");
                    self::assertMatchesRegularExpression('/\\p{Cyrillic}/u', $strings[$key], "lang/$locale: $key is in $locale");
                }
            }
            self::assertLessThanOrEqual(140, mb_strlen($strings['module_description']), "lang/$locale: module_description");
        }
    }

    public function testPublishingWritesTheAliasAndSettings(): void
    {
        $paths = ServiceProvider::pathsToPublish(sTaskServiceProvider::class, 'stask');
        self::assertCount(2, $paths);
        $out = $this->artisan('stask:publish');
        self::assertStringContainsString('published', $out);
        self::assertSame(sTaskFacade::class, require $this->site->core . '/custom/config/app/aliases/sTask.php');
        self::assertFileExists($this->site->core . '/custom/config/stask.php');
        self::assertStringContainsString('exists', $this->artisan('stask:publish'));
    }

    public function testNoFoundationClassesOrNewerSyntaxInThePackage(): void
    {
        $files = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator(Site::REPO . '/php'));
        foreach ($files as $file) {
            if ($file->getExtension() !== 'php') {
                continue;
            }
            $code = (string) file_get_contents($file->getPathname());
            self::assertStringNotContainsString('Illuminate\\Foundation', $code, $file->getPathname());
            self::assertDoesNotMatchRegularExpression('/(?<![\w>:$])url\(/', $code, "$file uses url(), which is Evolution CMS's document URL helper");
            self::assertStringNotContainsString('$this->components', $code, "$file uses a Laravel 9+ console API");
        }
    }
}
