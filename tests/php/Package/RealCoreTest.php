<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Illuminate\Console\Application as Artisan;
use Seiger\sTask\Facades\sTask as sTaskFacade;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Support\EngineSettings;
use STask\Tests\Evo\Site;
use Symfony\Component\Console\Output\BufferedOutput;

/**
 * Where a real Evolution CMS core differs from a plain Laravel application, and the package
 * copes: the CLI is user 1 with every permission, CLI/API boots have no `request`, the core's
 * paths end in a slash, `package:discover` may ignore the alias, and older cores have no
 * `schedule:run`.
 */
final class RealCoreTest extends PackageTestCase
{
    public function testTheCliIsUserOneWithEveryPermissionAndAWebRequestIsTheSessions(): void
    {
        $this->site->app->permissions = [];
        $this->site->app->userId = 7;
        self::assertTrue(evo()->hasPermission('stask'));
        self::assertSame(1, evo()->getLoginUserID('mgr'));
        $this->site->web(function (): void {
            self::assertFalse(evo()->hasPermission('stask'));
            self::assertSame(7, evo()->getLoginUserID('mgr'));
        });
        self::assertSame(403, $this->get('stask')->getStatusCode(), 'the manager checks the session');
    }

    public function testABootWithoutARequestBuildsNoMenuAndRunsTasks(): void
    {
        $site = new Site(['acme/shop', 'acme/mail'], [], withRequest: false);
        try {
            self::assertFalse($site->app->bound('request'));
            self::assertFalse(evo()->invokeEvent('OnManagerMenuPrerender', ['menu' => []]), 'no item, no exception');
            [$code, $out] = $site->call('migrate', ['--force' => true]);
            self::assertSame(0, $code, $out);
            [$code, $out] = $site->call('stask:discover', ['--activate' => ['report']]);
            self::assertSame(0, $code, $out);
            $task = sTask::create('report', 'build');
            [$code, $out] = $site->call('stask:worker');
            self::assertSame(0, $code, $out);
            self::assertTrue($task->fresh()->isFinished(), $out);
        } finally {
            $site->destroy();
        }
    }

    public function testPathsAreJoinedWithoutDoubledSlashes(): void
    {
        self::assertStringEndsWith('/', $this->site->app->storagePath(), 'the stand-in answers like the real core');
        self::assertStringEndsWith('/', $this->site->app->basePath());
        $storage = $this->site->app->make(EngineSettings::class)->options['storage'] ?? '';
        self::assertSame($this->site->core . '/storage/stask', $storage);
        self::assertDirectoryExists($this->site->core . '/storage/stask');
        $out = $this->artisan('stask:publish');
        self::assertStringNotContainsString('//', str_replace('://', '', $out), $out);
        self::assertFileExists($this->site->core . '/custom/config/stask.php');
    }

    public function testTheFacadeAliasNeedsNoAliasFile(): void
    {
        self::assertFileDoesNotExist($this->site->core . '/custom/config/app/aliases/sTask.php');
        self::assertTrue(class_exists('sTask'), 'the provider registers the alias itself');
        self::assertSame(sTaskFacade::class, (new \ReflectionClass('sTask'))->getName());
        $this->discoverAndActivate();
        $task = \sTask::create('report', 'build');
        self::assertTrue($task->isPending());
    }

    public function testTasksRunFromCronWhereThereIsNoScheduleRun(): void
    {
        $this->discoverAndActivate();
        $task = sTask::create('report', 'build');
        // An Evolution CMS 3.1 console: the package's commands, no schedule:* commands.
        $artisan = new Artisan($this->site->app, $this->site->app->make('events'), 'test');
        $artisan->setAutoExit(false);
        self::assertFalse($artisan->has('schedule:run'));
        $output = new BufferedOutput();
        self::assertSame(0, $artisan->call('stask:worker', [], $output), $output->fetch());
        self::assertTrue($task->fresh()->isFinished());
        self::assertSame(0, sTaskModel::pending()->where('identifier', 'report')->count());
        $guide = (string) file_get_contents(Site::REPO . '/docs/getting-started.md');
        self::assertStringContainsString('php artisan stask:worker', $guide, 'the guide gives the cron line');
    }
}
