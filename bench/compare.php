<?php

declare(strict_types=1);

/*
 * The same workloads through three systems, on every backend, in one run:
 *   - sTask: the extension + the Composer package (sTask::create, a BaseWorker, stask:work);
 *   - Laravel's database queue (Debian's Illuminate 8: Queue::push, queue:work);
 *   - a plain-PHP baseline written the way upstream sTask works (Eloquent rows, a progress
 *     line appended to a file per update, its one-pass stask:worker).
 * Each measurement runs in a fresh process; a cell is the median of --reps runs. Prints one
 * table per backend with speed-ups (how many times faster sTask is) and the targets, and
 * writes the tables with the machine's description to bench/results/. Nothing is asserted.
 *
 *   make bench                          (all of bench/, this first)
 *   php -d extension=target/release/libstask.so bench/compare.php [--quick] [--reps=3]
 *       [--backends=sqlite,pgsql,mysql] [--only=create,e2e,…] [--no-save]
 *
 * STASK_BENCH_MEMORY_TASKS sets the tasks of the memory workload (default 1,000,000).
 */

require __DIR__ . '/lib/common.php';

if (!extension_loaded('stask')) {
    fwrite(STDERR, "Load the extension: make bench (or php -d extension=target/release/libstask.so bench/compare.php)\n");
    exit(1);
}

$options = getopt('', ['quick', 'reps:', 'backends:', 'only:', 'no-save']);
$quick = isset($options['quick']);
$reps = max(1, (int) ($options['reps'] ?? ($quick ? 1 : 3)));
$extension = getenv('STASK_EXTENSION') ?: realpath(BENCH_REPO . '/target/release/libstask.so');
putenv("STASK_EXTENSION=$extension");
$memoryTasks = (int) (getenv('STASK_BENCH_MEMORY_TASKS') ?: 1_000_000);

/*
 * Workloads: sizes per system (the slow alternatives run fewer operations; every figure is per
 * operation or per second, so sizes do not change what is compared), whether lower is better,
 * and the targets of issue #6 (on SQLite WAL, one PHP process, unless a backend is named).
 */
$workloads = [
    'create' => ['label' => 'create one task', 'unit' => 'µs', 'lower' => true,
        'n' => ['stask' => 2000, 'laravel' => 2000, 'upstream' => 2000], 'target' => ['≤ 50 µs', fn ($v) => $v <= 50]],
    'createMany' => ['label' => 'create 10,000 in a batch (per task)', 'unit' => 'µs', 'lower' => true,
        'n' => ['stask' => 10_000, 'laravel' => 10_000, 'upstream' => 10_000]],
    'progress' => ['label' => 'progress update, tight loop', 'unit' => 'µs', 'lower' => true,
        'n' => ['stask' => 200_000, 'laravel' => 20_000, 'upstream' => 20_000], 'target' => ['≤ 5 µs', fn ($v) => $v <= 5]],
    'log' => ['label' => 'log line', 'unit' => 'µs', 'lower' => true,
        'n' => ['stask' => 100_000, 'laravel' => 20_000, 'upstream' => 20_000], 'target' => ['≤ 5 µs', fn ($v) => $v <= 5]],
    'e2e' => ['label' => 'empty task: claim → run → complete', 'unit' => 'tasks/s', 'lower' => false,
        'n' => ['stask' => 20_000, 'laravel' => 5000, 'upstream' => 5000], 'server_n' => ['laravel' => 2000, 'upstream' => 2000],
        'target' => ['≥ 20,000/s and ≥ 30× Laravel', null]],
    'parallel' => ['label' => 'empty tasks, 2 worker processes', 'unit' => 'tasks/s', 'lower' => false,
        'n' => ['stask' => 40_000, 'laravel' => 5000, 'upstream' => 2000], 'server_n' => ['stask' => 20_000, 'laravel' => 2000],
        'target' => ['PostgreSQL ≥ 10,000/s', fn ($v) => $v >= 10_000, 'pgsql']],
    'import' => ['label' => '10,000-row CSV import with progress', 'unit' => 's', 'lower' => true,
        'n' => ['stask' => 10_000, 'laravel' => 10_000, 'upstream' => 10_000], 'target' => ['≤ 1 s', fn ($v) => $v <= 1]],
    'memory' => ['label' => 'worker memory growth', 'unit' => 'MB', 'lower' => true, 'sqlite_only' => true, 'reps' => 1,
        'n' => ['stask' => $memoryTasks, 'laravel' => 20_000, 'upstream' => 20_000], 'target' => ['< 10 MB', fn ($v) => $v < 10]],
    'discovery' => ['label' => 'worker discovery, 100 packages', 'unit' => 'ms', 'lower' => true, 'sqlite_only' => true,
        'target' => ['≤ 10 ms', fn ($v) => $v <= 10]],
];
if ($quick) {
    foreach ($workloads as &$w) {
        foreach ($w['n'] ?? [] as $system => $n) {
            $w['n'][$system] = max(50, intdiv($n, $system === 'stask' && $n > 100_000 ? 500 : 40));
        }
        unset($w['server_n']);
    }
    unset($w);
}
if (isset($options['only'])) {
    $workloads = array_intersect_key($workloads, array_flip(explode(',', $options['only'])));
}
$systems = ['stask' => 'sTask', 'laravel' => 'Laravel DB queue', 'upstream' => 'upstream-style PHP'];

$backends = bench_backends();
if (isset($options['backends'])) {
    $backends = array_intersect_key($backends, array_flip(explode(',', $options['backends'])));
}
$names = ['sqlite' => 'SQLite (WAL)', 'pgsql' => 'PostgreSQL', 'mysql' => 'MariaDB/MySQL'];
$tty = function_exists('posix_isatty') && posix_isatty(STDERR);

/** What is running now, on one line of a terminal (nothing when the output is a file). */
function status(string $line): void
{
    global $tty;
    if ($tty) {
        fwrite(STDERR, "\r\033[K" . $line);
    }
}

/** Runs one case in a fresh process; its JSON result, or ['error' => …]. */
function run_case(string $system, string $workload, array $backend, int $n, string $extension): array
{
    $command = [PHP_BINARY, '-d', "extension=$extension", __DIR__ . '/case.php', $system, $workload, json_encode($backend), (string) $n];
    // stderr to a file: a child that writes much to both pipes must not block on the unread one.
    $errFile = tempnam(sys_get_temp_dir(), 'stask-case-');
    $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['file', $errFile, 'w']], $pipes);
    $out = stream_get_contents($pipes[1]);
    $code = proc_close($process);
    $err = (string) file_get_contents($errFile);
    unlink($errFile);
    $lines = array_filter(explode("\n", trim($out)));
    $result = json_decode((string) end($lines), true);
    if ($code !== 0 || !is_array($result) || !isset($result['value'])) {
        $message = trim($err . "\n" . $out);
        return ['error' => preg_match('/(?:Uncaught |Fatal error: )(.{0,300})/s', $message, $m) ? trim($m[1]) : substr($message, 0, 300)];
    }
    return $result;
}

function discovery_case(string $extension): array
{
    $out = shell_exec(escapeshellarg(PHP_BINARY) . ' -d ' . escapeshellarg("extension=$extension") . ' ' . escapeshellarg(__DIR__ . '/discovery.php') . ' --json');
    $r = json_decode(trim((string) $out), true);
    return is_array($r) ? $r : ['error' => 'discovery benchmark failed'];
}

function fmt(float $v, string $unit): string
{
    return match ($unit) {
        'tasks/s' => number_format($v) . '/s',
        's' => sprintf('%.2f s', $v),
        'MB' => sprintf('%.1f MB', $v),
        default => ($v >= 100 ? number_format($v) : ($v >= 10 ? sprintf('%.1f', $v) : sprintf('%.2f', $v))) . " $unit",
    };
}

$machine = bench_machine();
$started = gmdate('Y-m-d H:i');
$report = [];
$report[] = '# sTask vs Laravel\'s database queue vs upstream-style PHP';
$report[] = '';
$report[] = "Run $started UTC with `php bench/compare.php" . ($quick ? ' --quick' : '') . "`, median of $reps run(s) per cell, each in a fresh process.";
$report[] = '';
foreach ($machine as $k => $v) {
    $report[] = "- $k: $v";
}
foreach ($backends as $key => $backend) {
    if ($key !== 'sqlite' && $backend['skipped'] === null) {
        $version = bench_pdo($backend)->query('SELECT version()')->fetchColumn();
        $report[] = "- {$names[$key]}: " . strtok((string) $version, ',') . ' (same machine, server defaults: durable commits)';
    }
}
foreach ($backends as $key => $backend) {
    if ($backend['skipped'] !== null) {
        $report[] = '';
        $report[] = "**{$names[$key]}: SKIPPED — {$backend['skipped']}**";
        fwrite(STDERR, "\n*** {$names[$key]} SKIPPED: {$backend['skipped']} ***\n");
    }
}
echo implode("\n", $report), "\n";

$how = [];
foreach ($backends as $key => $backend) {
    if ($backend['skipped'] !== null) {
        continue;
    }
    $table = [];
    $table[] = '';
    $table[] = "## {$names[$key]}";
    $table[] = '';
    $table[] = '| workload | sTask | Laravel DB queue | upstream-style PHP | vs Laravel | vs upstream | target |';
    $table[] = '|---|---|---|---|---|---|---|';
    echo implode("\n", $table), "\n";
    foreach ($workloads as $w => $spec) {
        if (!empty($spec['sqlite_only']) && $key !== 'sqlite') {
            continue;
        }
        $cells = [];
        if ($w === 'discovery') {
            $runs = discovery_case($extension);
            $cells = isset($runs['error']) ? ['stask' => $runs, 'upstream' => $runs] : [
                'stask' => ['value' => $runs['native'], 'how' => sprintf('native scan of %d files (rescans with its cache: %.1f ms)', $runs['files'], $runs['cached'])],
                'upstream' => ['value' => $runs['upstream'], 'how' => 'autoload + reflect every classmap class'],
            ];
            $cells['laravel'] = null; // Laravel has no worker discovery
        } else {
            foreach ($systems as $system => $_) {
                $n = $key !== 'sqlite' && isset($spec['server_n'][$system]) ? $spec['server_n'][$system] : $spec['n'][$system];
                $values = [];
                $last = null;
                for ($r = 1; $r <= ($spec['reps'] ?? $reps); $r++) {
                    status(sprintf('%s: %s, %s, run %d of %d (%s)…', $names[$key], $spec['label'], $systems[$system], $r, $spec['reps'] ?? $reps, number_format($n)));
                    $last = run_case($system, $w, $backend, $n, $extension);
                    if (isset($last['error'])) {
                        break;
                    }
                    $values[] = $last['value'];
                }
                $cells[$system] = isset($last['error']) ? $last : ['value' => bench_median($values), 'how' => $last['how'] ?? '', 'note' => $last['note'] ?? '', 'n' => $n];
            }
        }
        $show = function (?array $c) use ($spec): string {
            if ($c === null) {
                return '—';
            }
            if (isset($c['error'])) {
                return 'error: ' . str_replace('|', '/', $c['error']);
            }
            return fmt($c['value'], $spec['unit']) . (empty($c['note']) ? '' : " ({$c['note']})");
        };
        $speedup = function (?array $theirs) use ($cells, $spec): string {
            $ours = $cells['stask'];
            if ($theirs === null || isset($theirs['error']) || isset($ours['error']) || $spec['unit'] === 'MB' || $ours['value'] <= 0 || $theirs['value'] <= 0) {
                return '—';
            }
            $x = $spec['lower'] ? $theirs['value'] / $ours['value'] : $ours['value'] / $theirs['value'];
            return sprintf($x >= 10 ? '%.0f×' : '%.1f×', $x);
        };
        $target = '';
        if (isset($spec['target']) && $key === ($spec['target'][2] ?? 'sqlite') && !isset($cells['stask']['error'])) {
            [$text, $check] = $spec['target'];
            if ($w === 'e2e') {
                $vsLaravel = isset($cells['laravel']['error']) ? 0 : $cells['stask']['value'] / $cells['laravel']['value'];
                $met = $cells['stask']['value'] >= 20_000 && $vsLaravel >= 30;
            } else {
                $met = $check($cells['stask']['value']);
            }
            $target = $text . ($met ? ' ✓' : ' ✗');
        }
        $label = $spec['label'];
        if ($w === 'memory') {
            $label .= sprintf(' (sTask over %s tasks, others over %s)', number_format($spec['n']['stask']), number_format($spec['n']['laravel']));
        }
        $table[] = sprintf('| %s | %s | %s | %s | %s | %s | %s |', $label, $show($cells['stask']), $show($cells['laravel']),
            $show($cells['upstream']), $speedup($cells['laravel']), $speedup($cells['upstream']), $target);
        foreach ($cells as $system => $c) {
            if ($c !== null && !empty($c['how'])) {
                $how[$spec['label']][$systems[$system]] = $c['how'];
            }
        }
        status('');
        echo end($table), "\n";
    }
    array_splice($report, count($report), 0, $table);
}

$notes = ['', 'Speed-up: how many times faster sTask is (their time ÷ ours, or our rate ÷ theirs). What each cell ran:', ''];
foreach ($how as $label => $bySystem) {
    $notes[] = "- $label: " . implode('; ', array_map(fn ($s, $h) => "$s — $h", array_keys($bySystem), $bySystem));
}
echo implode("\n", $notes), "\n";
array_push($report, ...$notes);

if (!isset($options['no-save'])) {
    @mkdir(__DIR__ . '/results', 0777, true);
    $file = __DIR__ . '/results/' . gmdate('Y-m-d-His') . ($quick ? '-quick' : '') . '.md';
    file_put_contents($file, implode("\n", $report) . "\n");
    echo "\nSaved to bench/results/" . basename($file) . "\n";
}
