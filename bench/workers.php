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

$backends = ['SQLite (WAL)' => null];
foreach (['PostgreSQL' => 'STASK_TEST_PG_URL', 'MariaDB/MySQL' => 'STASK_TEST_MYSQL_URL'] as $name => $var) {
    $url = getenv($var) ?: ($var === 'STASK_TEST_PG_URL'
        ? 'postgres://postgres@127.0.0.1:5432/test' : 'mysql://root@127.0.0.1:3306/test');
    try {
        (new STask\Engine($url, ['prefix' => 'bench_probe_', 'storage' => "$root/probe"]))->stats();
        $backends[$name] = $url;
    } catch (STask\Exception\DatabaseException $e) {
        // The tables do not exist: the server answered.
        $backends[$name] = $url;
    } catch (Throwable $e) {
        fwrite(STDERR, "$name left out: " . $e->getMessage() . "\n");
    }
}

/** One run: fresh tables with $tasks pending tasks, $workers processes; tasks per second. */
function run(string $root, ?string $url, int $workers, int $tasks): float
{
    $tag = 'b' . bin2hex(random_bytes(4));
    $dir = "$root/$tag";
    mkdir($dir);
    $url ??= "sqlite:$dir/db.sqlite";
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
    drop($engine, $url, $prefix);
    return $tasks / $seconds;
}

/** Removes a run's tables from a server. */
function drop(STask\Engine $engine, string $url, string $prefix): void
{
    if (str_starts_with($url, 'sqlite:')) {
        return;
    }
    $u = parse_url($url);
    $pg = str_starts_with($url, 'postgres');
    $dsn = $pg
        ? sprintf('pgsql:host=%s;port=%d;dbname=%s', $u['host'], $u['port'] ?? 5432, ltrim($u['path'], '/'))
        : sprintf('mysql:host=%s;port=%d;dbname=%s', $u['host'], $u['port'] ?? 3306, ltrim($u['path'], '/'));
    $pdo = new PDO($dsn, $u['user'] ?? null, $u['pass'] ?? ($pg ? null : ''));
    foreach (['s_tasks', 's_workers', 's_task_schema', 's_task_progress', 's_task_logs'] as $t) {
        $pdo->exec($pg ? "DROP TABLE IF EXISTS \"$prefix$t\"" : "DROP TABLE IF EXISTS `$prefix$t`");
    }
}

// The extension, for the workers.
$ext = getenv('STASK_EXTENSION') ?: dirname(__DIR__) . '/target/release/libstask.so';

$cpu = trim((string) shell_exec("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")) ?: 'unknown CPU';
printf("\nEmpty tasks per second, %s tasks per run, median of %d runs (%d cores: %s)\n\n",
    number_format($tasks), REPS, (int) shell_exec('nproc'), $cpu);
printf("%-16s %12s %12s %12s\n", 'backend', '1 worker', '2 workers', '4 workers');
printf("%s\n", str_repeat('-', 55));
foreach ($backends as $name => $url) {
    $row = [];
    foreach ([1, 2, 4] as $workers) {
        $rates = [];
        for ($r = 0; $r < REPS; $r++) {
            $rates[] = run($root, $url, $workers, $tasks);
        }
        sort($rates);
        $row[] = $rates[intdiv(REPS, 2)];
    }
    printf("%-16s %12s %12s %12s\n", $name, ...array_map(fn ($r) => number_format($r, 0), $row));
}
echo "\n";
