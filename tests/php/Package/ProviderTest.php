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
        self::assertSame(['stask', 'stask_artisan'], array_column($permissions, 'key'));
        self::assertSame('sTask', $pdo->query('SELECT name FROM evo_permissions_groups')->fetchColumn());
        $granted = $pdo->query("SELECT permission FROM evo_role_permissions WHERE role_id = 1 ORDER BY permission")->fetchAll(\PDO::FETCH_COLUMN);
        self::assertSame(['stask', 'stask_artisan'], $granted);

        // Idempotent: migrating again changes nothing.
        $this->artisan('migrate', ['--force' => true]);
        self::assertSame(2, (int) $pdo->query('SELECT COUNT(*) FROM evo_role_permissions')->fetchColumn());

        $this->artisan('migrate:rollback', ['--force' => true]);
        $tables = $pdo->query("SELECT name FROM sqlite_master WHERE type = 'table'")->fetchAll(\PDO::FETCH_COLUMN);
        self::assertNotContains('evo_s_tasks', $tables);
        self::assertSame(0, (int) $pdo->query('SELECT COUNT(*) FROM evo_permissions')->fetchColumn());
    }

    public function testTheMenuItemAppearsOnlyWithThePermission(): void
    {
        $base = ['site' => ['site', 'main', 'Site', '', '', '', '', 'main', 0, 1]];
        $results = evo()->invokeEvent('OnManagerMenuPrerender', ['menu' => $base]);
        self::assertIsArray($results);
        $menu = unserialize($results[0], ['allowed_classes' => false]);
        self::assertSame($base['site'], $menu['site'], 'the existing menu is kept');
        self::assertSame('tools', $menu['stask'][1]);
        self::assertSame('http://example.test/manager/stask', $menu['stask'][3]);
        self::assertStringContainsString('Task Manager', $menu['stask'][2]);

        $this->site->app->permissions = [];
        self::assertFalse(evo()->invokeEvent('OnManagerMenuPrerender', ['menu' => $base]));
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
