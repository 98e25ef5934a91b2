<?php

declare(strict_types=1);

/*
 * The demo's web server (php -S 127.0.0.1:8080 examples/server.php): serves the manager pages
 * at /manager/stask, as Evolution CMS's manager would, on the demo site.
 */

require __DIR__ . '/bootstrap.php';

// The address the demo listens on (demo.php passes it). Links are built from it, never from the
// request's Host header, and a request naming another host is refused: a web page elsewhere
// cannot reach the demo through a DNS name of its own pointed at 127.0.0.1 (DNS rebinding).
$origin = getenv('STASK_DEMO_ORIGIN') ?: 'http://127.0.0.1:8080';
$port = (int) parse_url($origin, PHP_URL_PORT);
$host = strtolower((string) ($_SERVER['HTTP_HOST'] ?? ''));
if (!in_array($host, ["127.0.0.1:$port", "localhost:$port"], true)) {
    http_response_code(421);
    header('Content-Type: text/plain; charset=utf-8');
    echo "This demo answers at $origin only.\n";
    return true;
}
$path = (string) parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
if (!str_starts_with($path, '/manager/stask')) {
    header('Location: ' . $origin . '/manager/stask', true, 302);
    return true;
}
$_SERVER['SCRIPT_NAME'] = '/manager/index.php';
$_SERVER['SCRIPT_FILENAME'] = DEMO_ROOT . '/manager/index.php';
$_SERVER['PHP_SELF'] = '/manager/index.php';

$site = demo_site(false);
// A manager web request: building the site set the CLI flag (as the tests want it), so it is
// cleared afterwards — is_cli() is false here, as in Evolution CMS's manager.
\STask\Tests\Evo\EvoCore::$cli = false;
$site->app->make('url')->forceRootUrl($origin . '/manager');
$response = $site->dispatch(\Illuminate\Http\Request::capture());
$response->send();
