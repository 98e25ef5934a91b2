<?php

declare(strict_types=1);

/*
 * sTask demo on the embedded SQLite default, through the Evolution CMS package:
 *   - a worker imports a generated CSV of 10,000 products into the site's table,
 *   - another sends a newsletter in two batches,
 *   - a stock sync fails on its first attempt and is retried after a backoff,
 * all run by a separate `php artisan stask:work` process while this one draws their progress
 * live, then a summary table. Afterwards the manager pages are served at
 * http://127.0.0.1:8080/manager/stask with a worker running (Ctrl-C stops; --no-serve skips).
 */

use Illuminate\Database\Schema\Blueprint;
use Seiger\sTask\Facades\sTask;

if (!extension_loaded('stask')) {
    fwrite(STDERR, "Load the extension: make demo (or php -d extension=target/release/libstask.so examples/demo.php)\n");
    exit(1);
}
require __DIR__ . '/bootstrap.php';

$serve = !in_array('--no-serve', $argv, true) && getenv('STASK_DEMO_SERVE') !== '0';
$port = (int) (getenv('STASK_DEMO_PORT') ?: 8080);
$tty = function_exists('posix_isatty') && posix_isatty(STDOUT);

// Every process the demo starts is stopped when it ends — by itself, Ctrl-C, SIGTERM or SIGHUP —
// with the processes those started (the web server's workers outlive a SIGTERM to the server).
$children = [];
register_shutdown_function(function () use (&$children): void {
    foreach ($children as $process) {
        stop_process_tree($process);
    }
});
if (function_exists('pcntl_signal')) {
    pcntl_async_signals(true);
    foreach ([SIGINT, SIGTERM, SIGHUP] as $signal) {
        pcntl_signal($signal, fn () => exit(0));
    }
}

$site = demo_site(true);
[$code, $out] = $site->call('migrate', ['--force' => true]);
if ($code !== 0) {
    fwrite(STDERR, $out);
    exit(1);
}
$site->call('stask:discover', ['--activate' => ['product', 'newsletter', 'sync', 'cleanup', 'feed_export']]);
$site->app->make('db')->connection()->getSchemaBuilder()->create('demo_products', function (Blueprint $t) {
    $t->string('sku')->primary();
    $t->string('name');
    $t->float('price');
    $t->integer('stock');
});

$csvFile = DEMO_ROOT . '/products.csv';
$csv = fopen($csvFile, 'w');
fputcsv($csv, ['sku', 'name', 'price', 'stock'], ',', '"', '\\');
for ($i = 1; $i <= 10_000; $i++) {
    $price = $i % 2500 === 0 ? 'n/a' : number_format(1 + ($i * 7919 % 10_000) / 100, 2, '.', '');
    fputcsv($csv, [sprintf('SKU-%05d', $i), "Product $i", $price, $i % 50], ',', '"', '\\');
}
fclose($csv);

$subscribers = array_map(fn ($i) => "subscriber$i@example.com", range(1, 600));
$tasks = [
    sTask::create('product', 'import', ['file' => $csvFile], 'high'),
    sTask::create('newsletter', 'send', ['subject' => 'November news', 'recipients' => array_slice($subscribers, 0, 300)]),
    sTask::create('newsletter', 'send', ['subject' => 'November news', 'recipients' => array_slice($subscribers, 300)]),
    sTask::create('sync', 'stock', ['supplier' => 'acme', 'flaky' => true], 'low'),
];
printf("Created %d tasks in %s\n\n", count($tasks), $site->database);

// The worker runs in its own process: `php artisan stask:work`, as under supervisor.
// It keeps polling (the retry waits out its backoff); the demo stops it gracefully once every
// task has finished.
$worker = proc_open(array_merge(php_command(), [$site->core . '/artisan', 'stask:work', '--sleep=0.2']),
    [0 => ['file', '/dev/null', 'r'], 1 => ['file', DEMO_ROOT . '/worker.log', 'w'], 2 => ['file', DEMO_ROOT . '/worker.log', 'a']], $pipes);
$children['worker'] = $worker;
$started = microtime(true);
$lines = 0;
$lastPlain = 0.0;
$final = ['completed', 'failed', 'cancelled'];
do {
    $running = proc_get_status($worker)['running'];
    $progress = array_map(fn ($task) => sTask::progress($task), $tasks);
    $done = count(array_filter($progress, fn ($p) => in_array($p['status'], $final, true))) === count($tasks);
    if ($done || microtime(true) - $started > 300) {
        proc_terminate($worker, SIGTERM);
        $running = false;
    }
    $rows = array_map(fn ($task, $p) => render_bar($task, $p), $tasks, $progress);
    if ($tty) {
        echo $lines ? "\033[{$lines}A" : '', implode("\n", $rows), "\n";
        $lines = count($rows);
    } elseif (microtime(true) - $lastPlain >= 1 || !$running) {
        echo implode("\n", $rows), "\n\n";
        $lastPlain = microtime(true);
    }
    usleep(100_000);
} while ($running);
proc_close($worker);
unset($children['worker']);
$elapsed = microtime(true) - $started;

echo "\n";
$table = [['id', 'worker', 'action', 'status', 'attempts', 'took', 'message']];
foreach ($tasks as $task) {
    $t = $task->fresh();
    $table[] = [$t->id, $t->identifier, $t->action, $t->status_text, "{$t->attempts}/{$t->max_attempts}",
        $t->duration !== null ? sprintf('%.2f s', $t->duration) : '—', (string) $t->message];
}
print_table($table);
echo "\nLog of the stock sync (task {$tasks[3]->id}):\n";
foreach (sTask::logs($tasks[3]) as $entry) {
    printf("  %s  %-7s  %s\n", substr($entry['time'], 11, 12), $entry['level'], $entry['message']);
}
$warnings = sTask::logs($tasks[0], 'warning');
printf("\nThe import logged %d warnings, e.g.: %s\n", count($warnings), $warnings[0]['message'] ?? '—');
printf("Products in the site's table: %d\n", $site->app->make('db')->connection()->table('demo_products')->count());
printf("All done in %.1f s.\n", $elapsed);

if (!$serve) {
    exit(0);
}
// The manager pages, with a worker running so that tasks started there run too. The server
// (inheriting this environment) takes a random CSRF token so other sites cannot post to it.
putenv('STASK_CSRF_TOKEN=' . bin2hex(random_bytes(16)));
putenv('PHP_CLI_SERVER_WORKERS=4');
// Links are built from this address, not from the Host header (examples/server.php).
putenv("STASK_DEMO_ORIGIN=http://127.0.0.1:$port");
$children['worker'] = proc_open(array_merge(php_command(), [$site->core . '/artisan', 'stask:work', '--sleep=0.3']),
    [0 => ['file', '/dev/null', 'r'], 1 => ['file', DEMO_ROOT . '/worker.log', 'a'], 2 => ['file', DEMO_ROOT . '/worker.log', 'a']], $pipes);
$children['server'] = $server = proc_open(array_merge(php_command(), ['-S', "127.0.0.1:$port", __DIR__ . '/server.php']),
    [0 => ['file', '/dev/null', 'r'], 1 => ['file', DEMO_ROOT . '/server.log', 'w'], 2 => ['file', DEMO_ROOT . '/server.log', 'a']], $pipes);
printf("\nManager pages: http://127.0.0.1:%d/manager/stask  (a worker is running; Ctrl-C stops both)\n", $port);
while (proc_get_status($server)['running']) {
    sleep(1);
}

/**
 * Stops a process started with proc_open() and every process below it: SIGTERM to each, then
 * SIGKILL to what is left after 5 s. `php -S` with PHP_CLI_SERVER_WORKERS forks its workers, and
 * they keep serving when only the server is sent SIGTERM.
 *
 * @param resource $process
 */
function stop_process_tree($process): void
{
    $status = @proc_get_status($process);
    if (!is_array($status) || !$status['running']) {
        return;
    }
    $pids = array_merge([$status['pid']], descendants($status['pid']));
    foreach ($pids as $pid) {
        @posix_kill($pid, SIGTERM);
    }
    $deadline = microtime(true) + 5;
    do {
        $alive = array_filter($pids, static fn (int $pid) => is_dir("/proc/$pid") && !is_zombie($pid));
        if ($alive === []) {
            break;
        }
        usleep(50_000);
    } while (microtime(true) < $deadline);
    foreach ($alive as $pid) {
        @posix_kill($pid, SIGKILL);
    }
    proc_close($process);
}

/** @return list<int> the processes below $pid (Linux: read from /proc) */
function descendants(int $pid): array
{
    $children = [];
    foreach (glob('/proc/[0-9]*/stat') ?: [] as $file) {
        $stat = @file_get_contents($file);
        // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ")".
        if ($stat !== false && preg_match('/\)\s+\S+\s+(\d+)/', substr($stat, (int) strrpos($stat, ')')), $m) === 1 && (int) $m[1] === $pid) {
            $child = (int) basename(dirname($file));
            $children = array_merge($children, [$child], descendants($child));
        }
    }
    return $children;
}

function is_zombie(int $pid): bool
{
    $stat = (string) @file_get_contents("/proc/$pid/stat");
    return preg_match('/\)\s+Z/', substr($stat, (int) strrpos($stat, ')'))) === 1;
}

function render_bar($task, array $p): string
{
    $width = 30;
    $filled = (int) round($p['progress'] / 100 * $width);
    $bar = str_repeat('█', $filled) . str_repeat('░', $width - $filled);
    $counts = $p['total'] ? sprintf('%6d/%-6d', $p['processed'], $p['total']) : str_repeat(' ', 13);
    $label = sprintf('#%d %s:%s', $task->id, $task->identifier, $task->action);
    return sprintf('%-18s %s %3d%% %s %-9s eta %-7s %-44s', $label, $bar, $p['progress'], $counts, $p['status'], $p['eta'],
        mb_strimwidth((string) $p['message'], 0, 44, '…'));
}

function print_table(array $rows): void
{
    $widths = [];
    foreach ($rows as $row) {
        foreach (array_values($row) as $i => $cell) {
            $widths[$i] = max($widths[$i] ?? 0, mb_strlen((string) $cell));
        }
    }
    $line = '+' . implode('+', array_map(fn ($w) => str_repeat('-', $w + 2), $widths)) . '+';
    echo $line, "\n";
    foreach ($rows as $n => $row) {
        $cells = [];
        foreach (array_values($row) as $i => $cell) {
            $cells[] = ' ' . $cell . str_repeat(' ', $widths[$i] - mb_strlen((string) $cell)) . ' ';
        }
        echo '|', implode('|', $cells), "|\n";
        if ($n === 0) {
            echo $line, "\n";
        }
    }
    echo $line, "\n";
}
