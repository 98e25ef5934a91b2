<?php

/*
 * What the tests of the Composer package need loaded: Debian's split Illuminate components
 * (the set Evolution CMS requires; no Illuminate\Foundation), Evolution CMS's helpers and base
 * provider, and a PSR-4 autoloader for the package and the fixture packages — standing in for
 * a site's vendor/autoload.php.
 */

foreach ([
    'Container', 'Contracts', 'Support', 'Collections', 'Macroable', 'Config', 'Events', 'Filesystem',
    'Console', 'Database', 'View', 'Translation', 'Routing', 'Http', 'Session', 'Cache', 'Pagination',
    'Log', 'Validation', 'Pipeline', 'Bus', 'Queue',
] as $component) {
    require_once "Illuminate/$component/autoload.php";
}

require_once __DIR__ . '/functions.php';
require_once __DIR__ . '/ServiceProvider.php';

spl_autoload_register(static function (string $class): void {
    static $map = null;
    if ($map === null) {
        $repo = dirname(__DIR__, 3);
        // App\ is the site's own code: the test fixtures, or the demo's workers.
        $app = getenv('STASK_SITE_APP') ?: $repo . '/tests/fixtures/project/app';
        $map = ['Seiger\\sTask\\' => [$repo . '/php/'], 'STask\\Tests\\Evo\\' => [__DIR__ . '/'], 'App\\' => [rtrim($app, '/') . '/']];
        foreach (glob($repo . '/tests/fixtures/packages/*/*/composer.json') ?: [] as $manifest) {
            $json = json_decode((string) file_get_contents($manifest), true);
            foreach ($json['autoload']['psr-4'] ?? [] as $prefix => $dirs) {
                foreach ((array) $dirs as $dir) {
                    $map[$prefix][] = dirname($manifest) . '/' . $dir;
                }
            }
        }
    }
    foreach ($map as $prefix => $dirs) {
        if (str_starts_with($class, $prefix)) {
            foreach ($dirs as $dir) {
                $file = rtrim($dir, '/') . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                if (is_file($file)) {
                    require $file;
                    return;
                }
            }
        }
    }
});
