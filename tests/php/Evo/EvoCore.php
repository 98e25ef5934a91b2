<?php

declare(strict_types=1);

namespace STask\Tests\Evo;

use Illuminate\Container\Container;
use Illuminate\Contracts\Foundation\Application;
use Illuminate\Support\ServiceProvider;

/**
 * A stand-in for Evolution CMS's Core (`evo()`): the container with its path helpers, provider
 * lifecycle, events, permissions and configuration API. Tests only.
 */
class EvoCore extends Container implements Application
{
    /** What is_cli() answers (tests switch it to act as a manager web request). */
    public static bool $cli = true;

    /** @var array<string, int> the session's manager permissions */
    public array $permissions = ['stask' => 1];
    public int $userId = 1;
    /** @var array<string, mixed> */
    public array $settings = ['site_status' => 1];
    /** @var array<string, array> modules registered with registerModule() */
    public array $modulesFromFile = [];

    /** @var list<ServiceProvider> */
    private array $providers = [];
    private bool $booted = false;
    /** @var list<callable> */
    private array $bootingCallbacks = [];
    /** @var list<callable> */
    private array $bootedCallbacks = [];

    public function __construct(private string $corePath)
    {
        static::setInstance($this);
        $this->instance('app', $this);
        $this->instance(Container::class, $this);
        $this->instance(Application::class, $this);
        foreach ([
            'path' => $corePath . '/src', 'path.base' => $corePath, 'path.config' => $corePath . '/config',
            'path.public' => dirname($corePath), 'path.storage' => $corePath . '/storage',
            'path.database' => $corePath . '/database', 'path.lang' => $corePath . '/lang',
            'path.bootstrap' => $corePath . '/storage/bootstrap',
        ] as $key => $path) {
            $this->instance($key, $path);
        }
        $this->registerCoreAliases();
    }

    /** AbstractLaravel::$coreAliases, the part the components need. */
    private function registerCoreAliases(): void
    {
        foreach ([
            'app' => [self::class, \Psr\Container\ContainerInterface::class],
            'events' => [\Illuminate\Events\Dispatcher::class, \Illuminate\Contracts\Events\Dispatcher::class],
            'config' => [\Illuminate\Config\Repository::class, \Illuminate\Contracts\Config\Repository::class],
            'db' => [\Illuminate\Database\DatabaseManager::class, \Illuminate\Database\ConnectionResolverInterface::class],
            'db.connection' => [\Illuminate\Database\Connection::class, \Illuminate\Database\ConnectionInterface::class],
            'files' => [\Illuminate\Filesystem\Filesystem::class],
            'view' => [\Illuminate\View\Factory::class, \Illuminate\Contracts\View\Factory::class],
            'translator' => [\Illuminate\Translation\Translator::class, \Illuminate\Contracts\Translation\Translator::class],
            'cache' => [\Illuminate\Cache\CacheManager::class, \Illuminate\Contracts\Cache\Factory::class],
            'cache.store' => [\Illuminate\Cache\Repository::class, \Illuminate\Contracts\Cache\Repository::class],
            'router' => [\Illuminate\Routing\Router::class, \Illuminate\Contracts\Routing\Registrar::class, \Illuminate\Contracts\Routing\BindingRegistrar::class],
            'url' => [\Illuminate\Routing\UrlGenerator::class, \Illuminate\Contracts\Routing\UrlGenerator::class],
            'request' => [\Illuminate\Http\Request::class, \Symfony\Component\HttpFoundation\Request::class],
            'blade.compiler' => [\Illuminate\View\Compilers\BladeCompiler::class],
            'redirect' => [\Illuminate\Routing\Redirector::class],
        ] as $key => $aliases) {
            foreach ($aliases as $alias) {
                $this->alias($key, $alias);
            }
        }
    }

    // --- Evolution CMS API used by packages ----------------------------------------------------

    /** Like Evolution CMS: every permission in the CLI (artisan, cron), the session's otherwise. */
    public function hasPermission($pm, $context = ''): bool
    {
        return is_cli() || (bool) ($this->permissions[$pm] ?? 0);
    }

    /** Like Evolution CMS: user 1 in the CLI, the logged-in manager user otherwise. */
    public function getLoginUserID($context = '')
    {
        return is_cli() ? 1 : $this->userId;
    }

    public function getConfig($name = '', $default = null)
    {
        return $this->settings[$name] ?? $this->make('config')->get('cms.settings.' . $name, $default);
    }

    public function setConfig($name, $value): void
    {
        $this->settings[$name] = $value;
    }

    public function isBackend(): bool
    {
        return defined('IN_MANAGER_MODE') && IN_MANAGER_MODE === true;
    }

    /** Core::invokeEvent: Laravel listeners of evolution.<event>, non-null results, or false. */
    public function invokeEvent($evtName, $extParams = [])
    {
        $results = array_values(array_filter(
            (array) $this->make('events')->dispatch('evolution.' . $evtName, [$extParams]),
            static fn ($r) => $r !== null
        ));
        return $results === [] ? false : $results;
    }

    public function registerModule($name, $file, $icon = 'fa fa-cube', $params = [])
    {
        if (!$this->isBackend() || is_cli()) {
            return false;
        }
        $id = md5($name);
        $this->modulesFromFile[$id] = ['name' => $name, 'file' => $file, 'icon' => $icon, 'params' => $params];
        return $id;
    }

    // --- Illuminate Application contract -----------------------------------------------------------

    public function version()
    {
        return '3.5.0-test';
    }

    /** EVO_CORE_PATH . $path: core/ with its trailing slash, as the real core answers. */
    public function basePath($path = '')
    {
        return $this->corePath . '/' . $path;
    }

    /** MODX_BASE_PATH . $path (with a trailing slash, as the real core answers). */
    public function publicPath($path = '')
    {
        return dirname($this->corePath) . '/' . $path;
    }

    /** core/lang; the real core ignores $path here. */
    public function langPath($path = '')
    {
        return $this->corePath . '/lang';
    }

    public function bootstrapPath($path = '')
    {
        return $this->corePath . '/storage/bootstrap' . ($path !== '' ? DIRECTORY_SEPARATOR . $path : '');
    }

    public function configPath($path = '')
    {
        return $this->corePath . '/config' . ($path !== '' ? DIRECTORY_SEPARATOR . $path : '');
    }

    public function databasePath($path = '')
    {
        return $this->corePath . '/database' . ($path !== '' ? DIRECTORY_SEPARATOR . $path : '');
    }

    public function resourcePath($path = '')
    {
        return dirname($this->corePath) . ($path !== '' ? DIRECTORY_SEPARATOR . $path : '');
    }

    /**
     * EVO_STORAGE_PATH . $path, as the 3.1–3.3 cores answer: core/storage/ with its trailing
     * slash (3.5 trims it), so code that appends '/…' meets the doubled slash a real site shows.
     */
    public function storagePath($path = '')
    {
        return $this->corePath . '/storage/' . $path;
    }

    public function environment(...$environments)
    {
        $env = 'testing';
        return $environments === [] ? $env : in_array($env, is_array($environments[0]) ? $environments[0] : $environments, true);
    }

    public function runningInConsole()
    {
        return true;
    }

    public function runningUnitTests()
    {
        return true;
    }

    public function isProduction()
    {
        return $this->environment('production');
    }

    public function hasDebugModeEnabled()
    {
        return (bool) $this->make('config')->get('app.debug', false);
    }

    /** Laravel 9+: the site's Offline switch (site_status) seen as maintenance mode. */
    public function maintenanceMode()
    {
        return new MaintenanceMode($this);
    }

    public function isDownForMaintenance()
    {
        return (int) ($this->settings['site_status'] ?? 1) === 0;
    }

    public function registerConfiguredProviders()
    {
        foreach ((array) $this->make('config')->get('app.providers', []) as $provider) {
            $this->register($provider);
        }
    }

    public function register($provider, $force = false)
    {
        if (is_string($provider)) {
            foreach ($this->providers as $existing) {
                if ($existing instanceof $provider && !$force) {
                    return $existing;
                }
            }
            $provider = new $provider($this);
        }
        $provider->register();
        foreach (['bindings' => 'bind', 'singletons' => 'singleton'] as $property => $method) {
            if (property_exists($provider, $property)) {
                foreach ($provider->{$property} as $key => $value) {
                    $this->{$method}($key, $value);
                }
            }
        }
        $this->providers[] = $provider;
        if ($this->booted) {
            $this->bootProvider($provider);
        }
        return $provider;
    }

    public function registerDeferredProvider($provider, $service = null)
    {
        $this->register($provider);
    }

    public function resolveProvider($provider)
    {
        return new $provider($this);
    }

    public function boot()
    {
        if ($this->booted) {
            return;
        }
        foreach ($this->bootingCallbacks as $callback) {
            $callback($this);
        }
        foreach ($this->providers as $provider) {
            $this->bootProvider($provider);
        }
        $this->booted = true;
        foreach ($this->bootedCallbacks as $callback) {
            $callback($this);
        }
    }

    private function bootProvider(ServiceProvider $provider): void
    {
        $provider->callBootingCallbacks();
        if (method_exists($provider, 'boot')) {
            $this->call([$provider, 'boot']);
        }
        $provider->callBootedCallbacks();
    }

    public function booting($callback)
    {
        $this->bootingCallbacks[] = $callback;
    }

    public function booted($callback)
    {
        $this->bootedCallbacks[] = $callback;
        if ($this->booted) {
            $callback($this);
        }
    }

    public function bootstrapWith(array $bootstrappers)
    {
    }

    public function getLocale()
    {
        return $this->make('config')->get('app.locale', 'en');
    }

    public function getFallbackLocale()
    {
        return $this->make('config')->get('app.fallback_locale', 'en');
    }

    public function getNamespace()
    {
        return 'EvolutionCMS\\';
    }

    public function getProviders($provider)
    {
        $name = is_string($provider) ? $provider : get_class($provider);
        return array_values(array_filter($this->providers, static fn ($p) => $p instanceof $name));
    }

    public function hasBeenBootstrapped()
    {
        return true;
    }

    public function loadDeferredProviders()
    {
    }

    public function setLocale($locale)
    {
        $this->make('config')->set('app.locale', $locale);
        if ($this->resolved('translator')) {
            $this->make('translator')->setLocale($locale);
        }
    }

    public function shouldSkipMiddleware()
    {
        return false;
    }

    /** @var list<callable> */
    private array $terminatingCallbacks = [];

    public function terminating($callback)
    {
        $this->terminatingCallbacks[] = $callback;
        return $this;
    }

    public function terminate()
    {
        foreach ($this->terminatingCallbacks as $callback) {
            $this->call($callback);
        }
    }
}
