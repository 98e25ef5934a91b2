<?php

declare(strict_types=1);

/*
 * The demo's web server (php -S 127.0.0.1:8080 examples/server.php): serves the manager pages
 * at /manager/stask, as Evolution CMS's manager would, on the demo site.
 */

require __DIR__ . '/bootstrap.php';

$path = (string) parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
if (!str_starts_with($path, '/manager/stask')) {
    header('Location: /manager/stask', true, 302);
    return true;
}
$_SERVER['SCRIPT_NAME'] = '/manager/index.php';
$_SERVER['SCRIPT_FILENAME'] = DEMO_ROOT . '/manager/index.php';
$_SERVER['PHP_SELF'] = '/manager/index.php';
\STask\Tests\Evo\EvoCore::$cli = false;

$site = demo_site(false);
$site->app->make('url')->forceRootUrl('http://' . ($_SERVER['HTTP_HOST'] ?? '127.0.0.1:8080') . '/manager');
$response = $site->dispatch(\Illuminate\Http\Request::capture());
$response->send();
