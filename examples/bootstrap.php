<?php

declare(strict_types=1);

/*
 * The demo's Evolution CMS site: the package booted on Debian's Laravel components with the
 * same small Evolution CMS stand-in the tests use (tests/php/Evo), on the embedded SQLite
 * default, with the demo's workers (examples/app) as the site's own code.
 */

use STask\Tests\Evo\Site;

define('DEMO_ROOT', getenv('STASK_DEMO_ROOT') ?: __DIR__ . '/../var/demo-site');

putenv('STASK_SITE_APP=' . __DIR__ . '/app');
require_once __DIR__ . '/../tests/php/Evo/autoload.php';

function demo_site(bool $fresh): Site
{
    if ($fresh) {
        if (is_dir(DEMO_ROOT)) {
            exec('rm -rf ' . escapeshellarg(DEMO_ROOT));
        }
        @mkdir(dirname(DEMO_ROOT), 0777, true);
        // Short backoffs so the retry is seen; small upload chunks so a CSV goes in several.
        $site = new Site([], ['backoff' => ['base' => 1, 'jitter' => 0], 'uploads' => ['chunk_mb' => 0.1]], null, 'evo_', null, DEMO_ROOT, __DIR__ . '/app');
    } else {
        $site = Site::open(realpath(DEMO_ROOT));
    }
    // A local demo: the visitor is an administrator, with every sTask permission — or those
    // STASK_DEMO_PERMISSIONS lists (e.g. "stask"), to try the pages as a manager with fewer.
    $permissions = getenv('STASK_DEMO_PERMISSIONS');
    $site->app->permissions = array_fill_keys($permissions === false
        ? ['stask', 'stask_artisan', 'stask_composer']
        : array_filter(array_map('trim', explode(',', $permissions))), 1);
    return $site;
}

/** `php` with the stask extension, as this process was started. */
function php_command(): array
{
    return \Seiger\sTask\Support\PhpBinary::command();
}
