<?php

declare(strict_types=1);

/*
 * One measurement of bench/compare.php, in a fresh process (so that no system inherits
 * another's loaded classes, caches or connections):
 *
 *   php bench/case.php <system> <workload> <backend as JSON> <n> [<dir> <prefix>]
 *
 * Prints one JSON object: value, unit, how. Tables of servers are dropped afterwards.
 */

require __DIR__ . '/lib/common.php';

[$_, $system, $workload, $backendJson, $n] = $argv + [null, null, null, null, null];
if (!in_array($system, ['stask', 'laravel', 'upstream'], true) || $workload === null || $backendJson === null) {
    fwrite(STDERR, "usage: php bench/case.php stask|laravel|upstream <workload> <backend JSON> <n>\n");
    exit(2);
}
$backend = json_decode($backendJson, true, flags: JSON_THROW_ON_ERROR);
$n = (int) $n;
require __DIR__ . "/systems/$system.php";

// Worker processes of the memory and parallel workloads: on the database their parent filled.
if ($workload === 'memoryWorker' || $workload === 'parallelWorker') {
    [, , , , , $dir, $prefix] = $argv;
    echo json_encode(("{$system}_{$workload}")($backend, $dir, $prefix, $n)), "\n";
    exit(0);
}

$dir = bench_scratch("$system-$workload");
$prefix = $backend['driver'] === 'sqlite' ? 'evo_' : 'bench' . bin2hex(random_bytes(3)) . '_';
try {
    $result = match ($workload) {
        'memory' => bench_memory($system, $backend, $dir, $prefix, $n),
        'parallel' => bench_parallel($system, $backend, $dir, $prefix, $n, 2),
        default => ("{$system}_{$workload}")($backend, $dir, $prefix, $n),
    };
    echo json_encode($result + ['n' => $n], JSON_UNESCAPED_UNICODE), "\n";
} finally {
    bench_drop_prefix($backend, $prefix);
}

/**
 * Fills the queue with $n tasks, starts the system's worker process and samples its resident
 * memory (from /proc) until it has run them all. Growth: the highest sample minus the sample
 * taken a tenth of the way through the run (boot and first allocations are not growth).
 */
function bench_memory(string $system, array $backend, string $dir, string $prefix, int $n): array
{
    ("{$system}_queue")($backend, $dir, $prefix, $n);
    $command = function_exists("{$system}_memoryCommand")
        ? ("{$system}_memoryCommand")($backend, $dir, $prefix, $n)
        : worker_command($system, 'memoryWorker', $backend, $dir, $prefix, $n);
    $process = proc_open($command, [1 => ['file', "$dir/worker.out", 'w'], 2 => ['file', "$dir/worker.err", 'w']], $pipes);
    $pid = proc_get_status($process)['pid'];
    $start = microtime(true);
    $samples = [];
    while (($status = proc_get_status($process))['running']) {
        $rss = bench_rss_mb($pid);
        if ($rss !== null) {
            $samples[] = [microtime(true) - $start, $rss];
        }
        usleep(20_000);
    }
    $seconds = microtime(true) - $start;
    $code = $status['exitcode']; // proc_close() cannot tell once proc_get_status() has seen the exit
    proc_close($process);
    $out = (string) file_get_contents("$dir/worker.out");
    $ran = preg_match('/after (\d+) task/', $out, $m) ? (int) $m[1] : (int) (json_decode(trim($out), true)['value'] ?? 0);
    if ($code !== 0 || $ran !== $n || !$samples) {
        throw new RuntimeException("$system worker ran $ran of $n (exit $code): " . $out . file_get_contents("$dir/worker.err"));
    }
    $after = array_values(array_filter($samples, fn ($s) => $s[0] >= $seconds / 10)) ?: [end($samples)];
    $baseline = $after[0][1];
    $peak = max(array_column($after, 1));
    return [
        'value' => $peak - $baseline, 'unit' => 'MB',
        'how' => sprintf('RSS %.0f → %.0f MB, %s tasks/s', $baseline, $peak, number_format($n / $seconds)),
    ];
}

/**
 * $workers worker processes drain a queue of $n empty tasks; the clock starts when all of them
 * have booted and connected, and stops when the last one exits. Tasks per second, counting
 * each task once; a task run twice is reported.
 */
function bench_parallel(string $system, array $backend, string $dir, string $prefix, int $n, int $workers): array
{
    ("{$system}_queue")($backend, $dir, $prefix, $n);
    $procs = [];
    for ($i = 0; $i < $workers; $i++) {
        $process = proc_open(worker_command($system, 'parallelWorker', $backend, $dir, $prefix, $n), [1 => ['pipe', 'w'], 2 => ['file', "$dir/worker$i.err", 'w']], $pipes);
        $procs[] = [$process, $pipes[1], $i];
    }
    foreach ($procs as [, $out, $i]) {
        if (trim((string) fgets($out)) !== 'ready') {
            throw new RuntimeException("$system worker $i did not start: " . file_get_contents("$dir/worker$i.err"));
        }
    }
    $t = hrtime(true);
    touch("$dir/go");
    $ran = $restarts = 0;
    foreach ($procs as [$process, $out, $i]) {
        $result = json_decode(trim((string) stream_get_contents($out)), true);
        if (proc_close($process) !== 0 || !is_array($result)) {
            throw new RuntimeException("$system worker $i failed: " . file_get_contents("$dir/worker$i.err"));
        }
        $ran += $result['value'];
        $restarts += $result['restarts'] ?? 0;
    }
    $seconds = (hrtime(true) - $t) / 1e9;
    $notes = [];
    if ($ran > $n) {
        $notes[] = number_format($ran - $n) . ' tasks ran twice';
    } elseif ($ran < $n) {
        $notes[] = number_format($n - $ran) . ' left reserved';
    }
    if ($restarts > 0) {
        $notes[] = $restarts . ($restarts === 1 ? ' restart' : ' restarts') . ' after a failed pop';
    }
    if ($system === 'stask' && $ran !== $n) {
        throw new RuntimeException("the workers ran $ran of $n tasks");
    }
    return ['value' => min($ran, $n) / $seconds, 'unit' => 'tasks/s', 'how' => "$workers processes", 'note' => implode(', ', $notes)];
}

/** This script as one of a workload's worker processes, on the database its parent filled. */
function worker_command(string $system, string $workload, array $backend, string $dir, string $prefix, int $n): array
{
    // The extension, when the harness runs with one (sTask's workers need it).
    $ini = ($ext = getenv('STASK_EXTENSION')) ? ['-d', "extension=$ext"] : [];
    return array_merge([PHP_BINARY], $ini, [__FILE__, $system, $workload, json_encode($backend), (string) $n, $dir, $prefix]);
}
