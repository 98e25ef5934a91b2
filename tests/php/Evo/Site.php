<?php

declare(strict_types=1);

namespace STask\Tests\Evo;

use Illuminate\Config\Repository;
use Illuminate\Console\Application as Artisan;
use Illuminate\Container\Container;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Facade;
use Seiger\sTask\sTaskServiceProvider;
use Symfony\Component\Console\Output\BufferedOutput;

/**
 * A throwaway Evolution CMS site for one test: the directory tree (core/, custom/config,
 * storage/, vendor/composer/installed.json listing fixture packages), Debian's Laravel 8
 * components wired the way Evolution CMS wires them, Evo's permission tables, our provider,
 * and an artisan console. Tests only.
 */
final class Site
{
    public EvoCore $app;
    public Artisan $artisan;
    public string $root;
    public string $core;
    public string $database;
    /** The site's own code (core/app, autoloaded as App\\). */
    public string $appDir;

    /** Repository root and fixtures. */
    public const REPO = __DIR__ . '/../../..';
    public const FIXTURES = __DIR__ . '/../../fixtures';

    /**
     * @param list<string> $packages fixture packages (vendor/name) installed besides seiger/stask
     * @param array<string, mixed> $stask `stask` config overrides
     * @param callable(EvoCore): void|null $beforeProvider runs after the core providers, before ours
     * @param array<string, mixed>|null $connection the site's database connection (Laravel's
     *        settings, e.g. a MariaDB or PostgreSQL server); null: an SQLite file in core/database
     * @param bool $withRequest false: boot like the real core's CLI/API entry points, with no
     *        `request` in the container (route() cannot build URLs there)
     */
    public function __construct(
        array $packages = [],
        array $stask = [],
        ?callable $beforeProvider = null,
        string $prefix = 'evo_',
        ?string $existingRoot = null,
        ?string $newRoot = null,
        ?string $appDir = null,
        private ?array $connection = null,
        bool $withRequest = true,
    ) {
        $fresh = $existingRoot === null;
        $this->root = $existingRoot ?? $newRoot ?? sys_get_temp_dir() . '/stask-site-' . getmypid() . '-' . bin2hex(random_bytes(4));
        $this->appDir = $appDir ?? self::FIXTURES . '/project/app';
        $this->core = $this->root . '/core';
        $this->database = $this->core . '/database/evo.sqlite';
        if ($fresh) {
            foreach (['storage/bootstrap', 'storage/blade', 'custom/config', 'config', 'database', 'lang', 'vendor/composer', 'vendor/seiger'] as $dir) {
                mkdir($this->core . '/' . $dir, 0777, true);
            }
            $this->installPackages($packages);
            if ($this->connection === null) {
                touch($this->database);
            }
            $this->writeArtisan($packages, $stask, $prefix);
        }

        EvoCore::$cli = true;
        $this->app = new EvoCore($this->core);
        Container::setInstance($this->app);
        Facade::clearResolvedInstances();
        Facade::setFacadeApplication($this->app);
        $GLOBALS['modx'] = $this->app;
        $this->app->instance('config', new Repository($this->config($stask, $prefix)));

        foreach ([
            \Illuminate\Events\EventServiceProvider::class,
            \Illuminate\Filesystem\FilesystemServiceProvider::class,
            \Illuminate\Database\DatabaseServiceProvider::class,
            \Illuminate\Database\MigrationServiceProvider::class,
            \Illuminate\View\ViewServiceProvider::class,
            \Illuminate\Translation\TranslationServiceProvider::class,
            \Illuminate\Cache\CacheServiceProvider::class,
            \Illuminate\Routing\RoutingServiceProvider::class,
        ] as $provider) {
            $this->app->register($provider);
        }
        $this->app->singleton('composer', fn ($app) => new \Illuminate\Support\Composer($app['files'], $this->core));
        if ($withRequest) {
            $this->app->instance('request', Request::create('http://example.test/manager/'));
        }
        $this->app->singleton(\Illuminate\Contracts\Debug\ExceptionHandler::class, fn () => new ExceptionHandler());
        if ($fresh) {
            $this->createEvoTables();
        }
        if ($beforeProvider !== null) {
            $beforeProvider($this->app);
        }
        $this->app->register(sTaskServiceProvider::class);
        $this->app->boot();
        if ($withRequest) {
            $this->app->make('url')->forceRootUrl('http://example.test/manager');
        }
        $this->artisan = $this->console();
    }

    /** Opens a site made by another process (the core/artisan script uses this). */
    public static function open(string $root): self
    {
        $spec = json_decode((string) file_get_contents($root . '/core/site.json'), true);
        return new self($spec['packages'], $spec['stask'], null, $spec['prefix'], $root, null, $spec['app'], $spec['connection'] ?? null);
    }

    /** core/artisan, so that real `php artisan …` processes can run against this site. */
    private function writeArtisan(array $packages, array $stask, string $prefix): void
    {
        file_put_contents($this->core . '/site.json', json_encode(['packages' => $packages, 'stask' => $stask, 'prefix' => $prefix, 'app' => realpath($this->appDir), 'connection' => $this->connection]));
        $template = <<<'PHP'
            #!/usr/bin/env php
            <?php
            // Evolution CMS's core/artisan, for this test site.
            putenv('STASK_SITE_APP=' . realpath(__DIR__ . '/app'));
            require __AUTOLOAD__;
            $site = \STask\Tests\Evo\Site::open(dirname(__DIR__));
            exit($site->artisan->run(new \Symfony\Component\Console\Input\ArgvInput(), new \Symfony\Component\Console\Output\ConsoleOutput()));

            PHP;
        file_put_contents($this->core . '/artisan', str_replace('__AUTOLOAD__', var_export(realpath(__DIR__ . '/autoload.php'), true), $template));
    }

    /** Runs an artisan command; returns [exit code, output]. */
    public function call(string $command, array $parameters = []): array
    {
        $output = new BufferedOutput();
        $code = $this->artisan->call($command, $parameters, $output);
        return [$code, $output->fetch()];
    }

    /** A manager request, as the manager's front controller (manager/index.php) receives it. */
    /** @param array<string, \Illuminate\Http\UploadedFile> $files */
    public function request(string $path, string $method = 'GET', array $parameters = [], array $files = []): Request
    {
        return Request::create('http://example.test/manager/' . ltrim($path, '/'), $method, $parameters, [], $files, [
            'SCRIPT_NAME' => '/manager/index.php',
            'SCRIPT_FILENAME' => $this->root . '/manager/index.php',
        ]);
    }

    /**
     * Dispatches a manager request through the router, as a web request (is_cli() is false
     * meanwhile: the session's permissions and user apply, as on a real site).
     */
    public function dispatch(Request $request): \Symfony\Component\HttpFoundation\Response
    {
        $this->app->instance('request', $request);
        return $this->web(function () use ($request) {
            try {
                return $this->app->make('router')->dispatch($request);
            } catch (\Symfony\Component\HttpKernel\Exception\HttpExceptionInterface $e) {
                // What the framework's exception handler answers for an unmatched route.
                return new \Symfony\Component\HttpFoundation\Response('', $e->getStatusCode());
            }
        });
    }

    /**
     * Runs $fn as a manager web request would: is_cli() false, so hasPermission() and
     * getLoginUserID() answer from the session ($app->permissions, $app->userId).
     *
     * @template T
     * @param callable(): T $fn
     * @return T
     */
    public function web(callable $fn): mixed
    {
        $cli = EvoCore::$cli;
        EvoCore::$cli = false;
        try {
            return $fn();
        } finally {
            EvoCore::$cli = $cli;
        }
    }

    public function pdo(): \PDO
    {
        $pdo = new \PDO('sqlite:' . $this->database);
        $pdo->setAttribute(\PDO::ATTR_ERRMODE, \PDO::ERRMODE_EXCEPTION);
        $pdo->setAttribute(\PDO::ATTR_DEFAULT_FETCH_MODE, \PDO::FETCH_ASSOC);
        $pdo->exec('PRAGMA busy_timeout = 10000');
        return $pdo;
    }

    public function destroy(): void
    {
        // Drop everything that holds the database open before deleting it.
        Facade::clearResolvedInstances();
        if ($this->app->resolved('db')) {
            foreach ($this->app->make('db')->getConnections() as $name => $_) {
                $this->app->make('db')->purge($name);
            }
        }
        $this->app->flush();
        unset($this->artisan);
        gc_collect_cycles();
        exec('rm -rf ' . escapeshellarg($this->root));
    }

    /** Symlinks fixture packages into vendor/ and writes installed.json like Composer 2. */
    private function installPackages(array $packages): void
    {
        symlink(realpath(self::REPO), $this->core . '/vendor/seiger/stask');
        $installed = [['name' => 'seiger/stask', 'install-path' => '../seiger/stask', 'autoload' => ['psr-4' => ['Seiger\\sTask\\' => 'php/']]]];
        foreach ($packages as $package) {
            $source = realpath(self::FIXTURES . '/packages/' . $package);
            if ($source === false) {
                throw new \InvalidArgumentException("no fixture package $package");
            }
            @mkdir($this->core . '/vendor/' . dirname($package), 0777, true);
            symlink($source, $this->core . '/vendor/' . $package);
            $manifest = json_decode((string) file_get_contents($source . '/composer.json'), true);
            $installed[] = ['name' => $package, 'install-path' => '../' . $package, 'autoload' => $manifest['autoload'] ?? []];
        }
        file_put_contents($this->core . '/vendor/composer/installed.json', json_encode(['packages' => $installed, 'dev' => false], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
        // The site's own code: core/composer.json autoloads app/.
        symlink(realpath($this->appDir), $this->core . '/app');
        file_put_contents($this->core . '/composer.json', json_encode(['name' => 'evolution-cms/evolution', 'autoload' => ['psr-4' => ['App\\' => 'app/']]]));
    }

    /** @return array<string, mixed> */
    private function config(array $stask, string $prefix): array
    {
        return [
            'app' => ['locale' => 'en', 'fallback_locale' => 'en', 'middleware' => ['mgr' => []], 'aliases' => []],
            'cms' => ['settings' => []],
            'database' => [
                'default' => 'default',
                'migrations' => 'migrations',
                'connections' => [
                    'default' => $this->connection !== null ? ['prefix' => $prefix] + $this->connection : [
                        'driver' => 'sqlite',
                        'database' => $this->database,
                        'prefix' => $prefix,
                        'foreign_key_constraints' => false,
                        // As in Evolution CMS: integers come back as strings.
                        'options' => [\PDO::ATTR_STRINGIFY_FETCHES => true],
                    ],
                ],
            ],
            'view' => ['paths' => [$this->root . '/views'], 'compiled' => $this->core . '/storage/blade'],
            'cache' => ['default' => 'array', 'stores' => ['array' => ['driver' => 'array']], 'prefix' => 'evo'],
            'stask' => $stask,
        ];
    }

    /** The permission tables of Evolution CMS's installer. */
    private function createEvoTables(): void
    {
        $schema = $this->app->make('db')->connection()->getSchemaBuilder();
        $schema->create('permissions_groups', function (Blueprint $t) {
            $t->increments('id');
            $t->string('name');
            $t->string('lang_key')->default('');
            $t->timestamps();
        });
        $schema->create('permissions', function (Blueprint $t) {
            $t->increments('id');
            $t->string('name');
            $t->string('key');
            $t->string('lang_key')->default('');
            $t->integer('group_id')->nullable();
            $t->integer('disabled')->nullable();
            $t->timestamps();
        });
        $schema->create('role_permissions', function (Blueprint $t) {
            $t->increments('id');
            $t->string('permission');
            $t->integer('role_id');
            $t->timestamps();
        });
        $schema->create('user_roles', function (Blueprint $t) {
            $t->increments('id');
            $t->string('name');
        });
        $this->app->make('db')->connection()->table('user_roles')->insert(['id' => 1, 'name' => 'Administrator']);
    }

    private function console(): Artisan
    {
        $artisan = new Artisan($this->app, $this->app->make('events'), 'test');
        $artisan->setAutoExit(false);
        // The scheduler commands Evolution CMS's ArtisanServiceProvider adds (the migration
        // commands come with MigrationServiceProvider).
        foreach ([
            \Illuminate\Console\Scheduling\ScheduleRunCommand::class,
            \Illuminate\Console\Scheduling\ScheduleListCommand::class,
        ] as $command) {
            $artisan->add($this->app->make($command));
        }
        // Laravel 9+: commands registered by name are resolved from the container on first use.
        if (method_exists($artisan, 'setContainerCommandLoader')) {
            $artisan->setContainerCommandLoader();
        }
        return $artisan;
    }
}
