<?php

/*
 * The global helpers Evolution CMS defines itself (core/functions/*.php) instead of Laravel's
 * Foundation helpers, reduced to what a package uses. Tests only.
 */

use Illuminate\Container\Container;

if (!function_exists('evolutionCMS')) {
    function evolutionCMS()
    {
        return $GLOBALS['modx'];
    }
}

if (!function_exists('evo')) {
    function evo()
    {
        return evolutionCMS();
    }
}

if (!function_exists('is_cli')) {
    function is_cli(): bool
    {
        return \STask\Tests\Evo\EvoCore::$cli;
    }
}

if (!function_exists('app')) {
    function app($abstract = null, array $parameters = [])
    {
        $app = Container::getInstance();
        return $abstract === null ? $app : $app->make($abstract, $parameters);
    }
}

if (!function_exists('config')) {
    function config($key = null, $default = null)
    {
        $config = app('config');
        if ($key === null) {
            return $config;
        }
        if (is_array($key)) {
            $config->set($key);
            return null;
        }
        return $config->get($key, $default);
    }
}

if (!function_exists('view')) {
    function view($view = null, $data = [], $mergeData = [])
    {
        $factory = app('view');
        return $view === null ? $factory : $factory->make($view, $data, $mergeData);
    }
}

if (!function_exists('__')) {
    function __($key = null, $replace = [], $locale = null)
    {
        return $key === null ? $key : app('translator')->get($key, $replace, $locale);
    }
}

if (!function_exists('trans')) {
    function trans($key = null, $replace = [], $locale = null)
    {
        return $key === null ? app('translator') : app('translator')->get($key, $replace, $locale);
    }
}

if (!function_exists('route')) {
    function route($name, $parameters = [], $absolute = true)
    {
        return app('url')->route($name, $parameters, $absolute);
    }
}

if (!function_exists('now')) {
    function now($tz = null)
    {
        return \Illuminate\Support\Carbon::now($tz);
    }
}

if (!function_exists('request')) {
    function request($key = null, $default = null)
    {
        return $key === null ? app('request') : app('request')->input($key, $default);
    }
}

if (!function_exists('storage_path')) {
    function storage_path($path = '')
    {
        return app('path.storage') . ($path !== '' ? DIRECTORY_SEPARATOR . $path : '');
    }
}

if (!function_exists('base_path')) {
    function base_path($path = '')
    {
        return app()->basePath($path);
    }
}

if (!function_exists('public_path')) {
    function public_path($path = '')
    {
        return dirname(app()->basePath()) . ($path !== '' ? DIRECTORY_SEPARATOR . $path : '');
    }
}

if (!function_exists('database_path')) {
    function database_path($path = '')
    {
        return app()->databasePath($path);
    }
}

if (!function_exists('config_path')) {
    /** Evolution CMS: $custom points at core/custom/config. */
    function config_path($path = '', $custom = false)
    {
        return app()->basePath($custom ? 'custom/config' : 'config') . ($path !== '' ? DIRECTORY_SEPARATOR . $path : '');
    }
}

if (!function_exists('csrf_token')) {
    /** The manager's session token; the demo server sets a random one per run. */
    function csrf_token()
    {
        return getenv('STASK_CSRF_TOKEN') ?: 'test-csrf-token';
    }
}
