<?php
declare(strict_types=1);

/*
 * Throughput of empty tasks with 1, 2 and 4 worker processes, on SQLite, PostgreSQL and
 * MySQL/MariaDB, in one run on one machine. Each worker is a separate PHP process calling
 * processPendingTasks() until the queue is empty; the clock starts when all of them are
 * ready and stops when the last one has finished. Medians of 3 runs, printed as a table.
 * Not a test: nothing here asserts.
 *
 *   make bench   (or: php -d extension=target/release/libstask.so bench/workers.php)
 *
 * Servers: STASK_TEST_PG_URL and STASK_TEST_MYSQL_URL (the Makefile's defaults); a server that
 * cannot be reached is reported and left out. STASK_BENCH_TASKS sets the tasks per run.
 */

require __DIR__ . '/lib/common.php';

if (!extension_loaded('stask')) {
    fwrite(STDERR, "Load the extension: make bench\n");
    exit(1);
}

// Worker mode: wait for the start signal, drain the queue, report how many tasks ran.
if (($argv[1] ?? '') === '--worker') {
    [, , $url, $prefix, $storage, $go] = $argv;
    $engine = new STask\Engine($url, ['prefix' => $prefix, 'storage' => $storage]);
    $engine->stats(); // connected before the clock starts
    echo "ready\n";
    while (!file_exists($go)) {
        usleep(1000);
    }
    $done = 0;
    do {
        $n = $engine->processPendingTasks(static function (STask\Task $t): void {}, 10_000);
        $done += $n;
    } while ($n > 0);
    echo "$done\n";
    exit(0);
}

const REPS = 3;
$tasks = (int) (getenv('STASK_BENCH_TASKS') ?: 20_000);
$root = sys_get_temp_dir() . '/stask-bench-workers-' . getmypid();
@mkdir($root, 0777, true);
register_shutdown_function(fn () => exec('rm -rf ' . escapeshellarg($root)));

$backends = [];
foreach (bench_backends() as $driver => $backend) {
    $name = ['sqlite' => 'SQLite (WAL)', 'pgsql' => 'PostgreSQL', 'mysql' => 'MariaDB/MySQL'][$driver];
    if ($backend['skipped'] !== null) {
        fwrite(STDERR, "*** $name SKIPPED: {$backend['skipped']} ***\n");
    } else {
        $backends[$name] = $backend;
    }
}

/** One run: fresh tables with $tasks pending tasks, $workers processes; tasks per second. */
function run(string $root, array $backend, int $workers, int $tasks): float
{
    $tag = 'b' . bin2hex(random_bytes(4));
    $dir = "$root/$tag";
    mkdir($dir);
    $url = bench_engine_url($backend, $dir);
    $prefix = $tag . '_';
    $engine = new STask\Engine($url, ['prefix' => $prefix, 'storage' => "$dir/files"]);
    $engine->migrate();
    foreach (array_chunk(range(1, $tasks), 5000) as $chunk) {
        $engine->createMany(array_map(fn () => ['identifier' => 'bench', 'action' => 'noop'], $chunk));
    }
    $go = "$dir/go";
    $procs = [];
    for ($i = 0; $i < $workers; $i++) {
        $cmd = [PHP_BINARY, '-d', 'extension=' . $GLOBALS['ext'], __FILE__, '--worker', $url, $prefix, "$dir/files", $go];
        $p = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        $procs[] = [$p, $pipes];
    }
    foreach ($procs as [, $pipes]) {
        fgets($pipes[1]); // "ready"
    }
    $t = hrtime(true);
    touch($go);
    $done = 0;
    foreach ($procs as [$p, $pipes]) {
        $done += (int) stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        if ($err !== '') {
            fwrite(STDERR, $err);
        }
        proc_close($p);
    }
    $seconds = (hrtime(true) - $t) / 1e9;
    if ($done !== $tasks) {
        fwrite(STDERR, "warning: $done of $tasks tasks ran\n");
    }
    bench_drop_prefix($backend, $prefix);
    return $tasks / $seconds;
}

// The extension, for the workers.
$ext = getenv('STASK_EXTENSION') ?: dirname(__DIR__) . '/target/release/libstask.so';

$cpu = trim((string) shell_exec("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")) ?: 'unknown CPU';
printf("\nEmpty tasks per second, %s tasks per run, median of %d runs (%d cores: %s)\n\n",
    number_format($tasks), REPS, (int) shell_exec('nproc'), $cpu);
printf("%-16s %12s %12s %12s\n", 'backend', '1 worker', '2 workers', '4 workers');
printf("%s\n", str_repeat('-', 55));
foreach ($backends as $name => $backend) {
    $row = [];
    foreach ([1, 2, 4] as $workers) {
        $rates = [];
        for ($r = 0; $r < REPS; $r++) {
            $rates[] = run($root, $backend, $workers, $tasks);
        }
        sort($rates);
        $row[] = $rates[intdiv(REPS, 2)];
    }
    printf("%-16s %12s %12s %12s\n", $name, ...array_map(fn ($r) => number_format($r, 0), $row));
}
echo "\n";
