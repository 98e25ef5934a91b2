<?php

declare(strict_types=1);

namespace Seiger\sTask;

use EvolutionCMS\ServiceProvider;
use Illuminate\Console\Scheduling\Schedule;
use Illuminate\Contracts\Container\Container;
use Seiger\sTask\Services\TaskRunner;
use Seiger\sTask\Services\Uploads;
use Seiger\sTask\Services\WorkerDiscovery;
use Seiger\sTask\Services\WorkerRegistry;
use Seiger\sTask\Support\EngineSettings;
use STask\Engine;

/**
 * Plugs sTask into Evolution CMS: the engine and services, artisan commands, migrations, the
 * manager menu item, routes, views and translations, and the scheduler entry. Nothing here
 * touches the database or the extension at boot; both are reached on first use.
 */
class sTaskServiceProvider extends ServiceProvider
{
    /** Artisan commands, one class each. */
    public const COMMANDS = [
        Console\WorkCommand::class,
        Console\WorkerCommand::class,
        Console\DiscoverCommand::class,
        Console\ListCommand::class,
        Console\ShowCommand::class,
        Console\RetryCommand::class,
        Console\CancelCommand::class,
        Console\PruneCommand::class,
        Console\StatsCommand::class,
        Console\PublishCommand::class,
    ];

    public function register(): void
    {
        $this->mergeConfigFrom($this->path('config/stask.php'), 'stask');
        $this->registerEngine();
        $this->registerServices();
        $this->registerCommands();
        $this->registerAlias();
        $this->loadPluginsFrom($this->path('plugins/'));
    }

    /**
     * The global `sTask` facade alias, whatever wrote (or did not write) the site's alias files:
     * some cores' package:discover ignores extra.laravel.aliases, and stask:publish may not have
     * run. Lazy: the facade loads when `sTask` is first used; an alias the site defines wins.
     */
    private function registerAlias(): void
    {
        static $registered = false;
        if ($registered) {
            return;
        }
        $registered = true;
        spl_autoload_register(static function (string $class): void {
            if (strcasecmp($class, 'sTask') === 0 && !class_exists('sTask', false)) {
                class_alias(Facades\sTask::class, 'sTask');
            }
        }, true, false);
    }

    public function boot(): void
    {
        $this->mergeConfigFrom($this->path('config/sTaskCheck.php'), 'cms.settings');
        $this->loadMigrationsFrom($this->path('database/migrations'));
        $this->loadTranslationsFrom($this->path('lang'), 'sTask');
        $this->loadViewsFrom($this->path('views'), 'sTask');
        $this->registerRoutes();
        $this->registerPublishing();
        $this->registerSchedule();
    }

    /** Where tasks live, and the engine over it. */
    private function registerEngine(): void
    {
        $this->app->singleton(EngineSettings::class, function (Container $app) {
            $config = $app->make('config');
            $supported = class_exists(Engine::class, false) ? Engine::supportedBackends() : [];
            $settings = EngineSettings::resolve(
                (array) $config->get('stask', []),
                (array) $config->get('database', []),
                $this->storagePath(),
                $supported
            );
            if ($settings->connectionConfig !== null) {
                $config->set('database.connections.' . $settings->connectionName, $settings->connectionConfig);
            }
            return $settings;
        });
        $this->app->singleton(Engine::class, function (Container $app) {
            $settings = $app->make(EngineSettings::class);
            return new Engine($settings->url, $settings->options);
        });
    }

    private function registerServices(): void
    {
        $this->app->singleton(sTask::class, fn (Container $app) => new sTask($app));
        $this->app->alias(sTask::class, 'sTask');
        $this->app->singleton(WorkerRegistry::class, fn (Container $app) => new WorkerRegistry($app));
        // Upstream's public services, for packages that call them directly.
        $this->app->singleton(Services\WorkerService::class);
        $this->app->singleton(Services\MetricsService::class);
        $this->app->singleton(Services\SupervisorService::class);
        $this->app->bind(TaskRunner::class, fn (Container $app) => new TaskRunner($app->make(WorkerRegistry::class), $app->make('db')));
        $this->app->bind(WorkerDiscovery::class, fn (Container $app) => new WorkerDiscovery(
            $app->make(WorkerRegistry::class),
            $this->basePath(),
            (array) $app->make('config')->get('stask.discovery.exclude', []),
            (bool) $app->make('config')->get('stask.discovery.activate_new', false),
            $this->discoveryCache(),
        ));
        $this->app->bind(Uploads::class, function (Container $app) {
            $config = $app->make('config');
            return new Uploads(
                $app->make(EngineSettings::class)->options['storage'] . '/uploads',
                array_values(array_map('strtolower', (array) $config->get('stask.uploads.extensions', Uploads::DEFAULT_EXTENSIONS))),
                (int) ((float) $config->get('stask.uploads.max_mb', 100) * 1024 * 1024),
                (int) ((float) $config->get('stask.uploads.chunk_mb', 1) * 1024 * 1024),
            );
        });
    }

    private function registerCommands(): void
    {
        if ($this->app->runningInConsole()) {
            $this->commands(self::COMMANDS);
        }
    }

    /** Manager pages under /manager/stask, behind the manager middleware and the stask permission. */
    private function registerRoutes(): void
    {
        $router = $this->app->make('router');
        $router->middlewareGroup('mgr', (array) $this->app->make('config')->get('app.middleware.mgr', []));
        $this->loadRoutesFrom($this->path('php/Http/routes.php'));
        // Names are indexed when routes are added; ours get theirs afterwards.
        $router->getRoutes()->refreshNameLookups();
        $router->getRoutes()->refreshActionLookups();
    }

    private function registerPublishing(): void
    {
        $this->publishes([
            $this->path('config/sTaskAlias.php') => $this->customConfigPath('app/aliases/sTask.php'),
            $this->path('config/stask.php') => $this->customConfigPath('stask.php'),
        ], 'stask');
    }

    /**
     * `stask:worker` every minute from `schedule:run`. Added after the Schedule is resolved
     * rather than by rebinding it, so other packages' scheduled commands survive (and ours
     * survives theirs).
     */
    private function registerSchedule(): void
    {
        if (!$this->app->make('config')->get('stask.worker.schedule', true)) {
            return;
        }
        $this->callAfterResolving(Schedule::class, function (Schedule $schedule): void {
            $schedule->command('stask:worker')->everyMinute()->withoutOverlapping(10);
        });
    }

    /** Where discovery remembers what each PHP file declared (null: do not remember). */
    private function discoveryCache(): ?string
    {
        $dir = $this->storagePath() . '/stask';
        return is_dir($dir) || @mkdir($dir, 0775, true) ? $dir . '/discovery-cache.json' : null;
    }

    private function path(string $relative): string
    {
        return dirname(__DIR__) . '/' . $relative;
    }

    /** core/storage, without a trailing slash (Evolution CMS cores answer with or without one). */
    private function storagePath(): string
    {
        return rtrim(method_exists($this->app, 'storagePath') ? (string) $this->app->storagePath() : storage_path(), '/');
    }

    /** core, without the trailing slash Evolution CMS's basePath() has. */
    private function basePath(): string
    {
        return rtrim(method_exists($this->app, 'basePath') ? (string) $this->app->basePath() : base_path(), '/');
    }

    /** core/custom/config/… in Evolution CMS. */
    private function customConfigPath(string $relative): string
    {
        return $this->basePath() . '/custom/config/' . $relative;
    }
}
