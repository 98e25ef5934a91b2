<?php
declare(strict_types=1);

/*
 * sTask demo, on the embedded SQLite default:
 *   - a worker imports a generated CSV of 10,000 products,
 *   - another sends a newsletter in batches,
 *   - a stock sync fails on its first attempt and is retried after a backoff,
 * all run by a separate worker process while this one watches their progress live, the way
 * the admin page does, and ends with a summary table.
 */

if (!extension_loaded('stask')) {
    fwrite(STDERR, "Load the extension: php -d extension=target/release/libstask.so examples/demo.php (or: make demo)\n");
    exit(1);
}

$root = dirname(__DIR__);
$dir = "$root/var/demo";
if (is_dir($dir)) {
    exec('rm -rf ' . escapeshellarg($dir));
}
mkdir($dir, 0777, true);
$db = "$dir/stask.sqlite";
$storage = "$dir/stask";
$shopDb = "$dir/shop.sqlite";
$outbox = "$dir/outbox.txt";
$tty = function_exists('posix_isatty') && posix_isatty(STDOUT);

// The shop's own database and the CSV to import.
$shop = new PDO("sqlite:$shopDb");
$shop->exec('CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, price REAL, stock INTEGER)');
$csvFile = "$dir/products.csv";
$csv = fopen($csvFile, 'w');
fputcsv($csv, ['sku', 'name', 'price', 'stock']);
for ($i = 1; $i <= 10_000; $i++) {
    $price = $i % 2500 === 0 ? 'n/a' : number_format(1 + ($i * 7919 % 10_000) / 100, 2, '.', '');
    fputcsv($csv, [sprintf('SKU-%05d', $i), "Product $i", $price, $i % 50]);
}
fclose($csv);

$engine = new STask\Engine("sqlite:$db", ['storage' => $storage]);
$engine->migrate();

$subscribers = array_map(fn ($i) => "subscriber$i@example.com", range(1, 600));
$tasks = [
    $engine->create('product', 'import', ['file' => $csvFile], 'high'),
    $engine->create('mail', 'send', ['subject' => 'November news', 'recipients' => array_slice($subscribers, 0, 300)]),
    $engine->create('mail', 'send', ['subject' => 'November news', 'recipients' => array_slice($subscribers, 300)]),
    $engine->create('sync', 'stock', ['supplier' => 'acme'], 'low'),
];
printf("Created %d tasks in %s\n\n", count($tasks), $db);

// The worker runs in its own process, as `php artisan stask:work` would.
$cmd = array_merge([PHP_BINARY], php_extension_args(), [__DIR__ . '/worker.php', $db, $storage, $shopDb, $outbox]);
$worker = proc_open($cmd, [1 => STDOUT, 2 => STDERR], $pipes);
$started = microtime(true);

$lines = 0;
$lastPlain = 0.0;
do {
    $running = proc_get_status($worker)['running'];
    $rows = [];
    foreach ($tasks as $task) {
        $p = $engine->progress($task->id);
        $rows[] = render_bar($task, $p);
    }
    if ($tty) {
        if ($lines) {
            echo "\033[{$lines}A";
        }
        echo implode("\n", $rows), "\n";
        $lines = count($rows);
    } elseif (microtime(true) - $lastPlain >= 1 || !$running) {
        echo implode("\n", $rows), "\n\n";
        $lastPlain = microtime(true);
    }
    usleep(100_000);
} while ($running);
proc_close($worker);
$elapsed = microtime(true) - $started;

// Summary.
echo "\n";
$table = [['id', 'worker', 'action', 'status', 'attempts', 'took', 'message']];
foreach ($tasks as $task) {
    $t = $engine->find($task->id);
    $p = $engine->progress($task->id);
    $took = isset($p['started_at'], $p['finished_at'])
        ? sprintf('%.2f s', strtotime($p['finished_at']) - strtotime($p['started_at']) + (substr($p['finished_at'], 20, 3) - substr($p['started_at'], 20, 3)) / 1000)
        : ($t->finishedAt - $t->startedAt) . ' s';
    $table[] = [$t->id, $t->identifier, $t->action, $t->statusText, "{$t->attempts}/{$t->maxAttempts}", $took, (string) $t->message];
}
print_table($table);

$syncLog = $engine->logs($tasks[3]->id);
echo "\nLog of the stock sync (task {$tasks[3]->id}):\n";
foreach ($syncLog as $entry) {
    printf("  %s  %-7s  %s\n", substr($entry['time'], 11, 12), $entry['level'], $entry['message']);
}
$warnings = $engine->logs($tasks[0]->id, 'warning');
printf("\nThe import logged %d warnings, e.g.: %s\n", count($warnings), $warnings[0]['message'] ?? '—');
printf("Products in the shop database: %d\n", $shop->query('SELECT COUNT(*) FROM products')->fetchColumn());
printf("All done in %.1f s. Files: %s\n", $elapsed, $storage);

/** The `-d extension=…stask…` this script was started with, to start the worker the same way. */
function php_extension_args(): array
{
    $cmdline = @file_get_contents('/proc/self/cmdline');
    $args = $cmdline === false ? [] : explode("\0", $cmdline);
    foreach ($args as $i => $arg) {
        $value = str_starts_with($arg, '-dextension=') ? substr($arg, 2) : ($arg === '-d' ? ($args[$i + 1] ?? '') : '');
        if (str_starts_with($value, 'extension=') && str_contains($value, 'stask')) {
            return ['-d', $value];
        }
    }
    $ext = getenv('STASK_EXTENSION');
    return $ext ? ['-d', "extension=$ext"] : []; // else: installed through php.ini
}

function render_bar(STask\Task $task, array $p): string
{
    $width = 30;
    $filled = (int) round($p['progress'] / 100 * $width);
    $bar = str_repeat('█', $filled) . str_repeat('░', $width - $filled);
    $counts = $p['total'] ? sprintf('%6d/%-6d', $p['processed'], $p['total']) : str_repeat(' ', 13);
    $label = sprintf('#%d %s:%s', $task->id, $task->identifier, $task->action);
    $message = mb_strimwidth((string) $p['message'], 0, 44, '…');
    return sprintf("%-18s %s %3d%% %s %-9s eta %-7s %-44s", $label, $bar, $p['progress'], $counts, $p['status'], $p['eta'], $message);
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
