<?php
declare(strict_types=1);

/*
 * Native engine vs plain PHP PDO on the same SQLite settings (WAL, synchronous=NORMAL,
 * busy_timeout), same table, same machine, same run. Prints microseconds per operation, the
 * ratio (PDO ÷ ours: how many times faster we are), and the targets of issue #2.
 * Medians of 3 runs. Not a test: nothing here asserts.
 *
 *   make bench            (or: php -d extension=target/release/libstask.so bench/native.php)
 */

require __DIR__ . '/lib/common.php';

if (!extension_loaded('stask')) {
    fwrite(STDERR, "Load the extension: make bench\n");
    exit(1);
}

const REPS = 3;
$N = [
    'create' => 5_000,
    'createMany' => 10_000,
    'progress' => 200_000,
    'log' => 100_000,
    'read' => 50_000,
    'tasks' => 20_000,
];

$root = sys_get_temp_dir() . '/stask-bench-' . getmypid();
@mkdir($root, 0777, true);
register_shutdown_function(fn () => exec('rm -rf ' . escapeshellarg($root)));

/** A fresh database with the sTask schema (made by the engine, used by both sides). */
function fresh(string $root, string $name): array
{
    $dir = "$root/$name-" . bin2hex(random_bytes(3));
    mkdir($dir);
    $engine = new STask\Engine("sqlite:$dir/db.sqlite", ['storage' => "$dir/files"]); // default settings
    $engine->migrate();
    $pdo = new PDO("sqlite:$dir/db.sqlite");
    $pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
    $pdo->exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;');
    @mkdir("$dir/pdo-files");
    return [$engine, $pdo, $dir];
}

/** µs per op of $fn, which performs $n operations, median of REPS fresh runs. */
function measure(callable $setup, callable $fn, int $n): float
{
    $runs = [];
    for ($r = 0; $r < REPS; $r++) {
        $ctx = $setup();
        $t = hrtime(true);
        $fn($ctx, $n);
        $runs[] = (hrtime(true) - $t) / 1000 / $n;
    }
    return bench_median($runs);
}

$data = ['file' => 'products.csv', 'rows' => 10000, 'options' => ['delimiter' => ';', 'update' => true]];
$insertSql = "INSERT INTO s_tasks (identifier, action, status, message, meta, attempts, max_attempts, priority, priority_rank, progress, available_at, created_at, updated_at)
              VALUES (?, ?, 10, 'Queued', ?, 0, 3, ?, 2, 0, ?, ?, ?)";
$rows = [];

// --- create: one task per call, each its own transaction -------------------------------------
$ours = measure(fn () => fresh($root, 'c'), function ($ctx, $n) use ($data) {
    [$engine] = $ctx;
    for ($i = 0; $i < $n; $i++) {
        $engine->create('product', 'import', $data, 'normal');
    }
}, $N['create']);
$pdo = measure(fn () => fresh($root, 'cp'), function ($ctx, $n) use ($data, $insertSql) {
    [, $pdo] = $ctx;
    $stmt = $pdo->prepare($insertSql);
    for ($i = 0; $i < $n; $i++) {
        $now = gmdate('Y-m-d H:i:s');
        $pdo->exec('BEGIN IMMEDIATE');
        $stmt->execute(['product', 'import', json_encode($data), 'normal', (int) (microtime(true) * 1000), $now, $now]);
        $pdo->exec('COMMIT');
    }
}, $N['create']);
$rows[] = ['create (one transaction each)', $ours, $pdo, 'PDO INSERT', '≤ 50 µs', $ours <= 50];

// --- createMany: 10,000 in one transaction ---------------------------------------------------
$batch = array_fill(0, $N['createMany'], ['identifier' => 'mail', 'action' => 'send', 'data' => $data]);
$ours = measure(fn () => fresh($root, 'm'), function ($ctx, $n) use ($batch) {
    $ctx[0]->createMany($batch);
}, $N['createMany']);
$pdo = measure(fn () => fresh($root, 'mp'), function ($ctx, $n) use ($data, $insertSql) {
    [, $pdo] = $ctx;
    $stmt = $pdo->prepare($insertSql);
    $pdo->exec('BEGIN IMMEDIATE');
    for ($i = 0; $i < $n; $i++) {
        $now = gmdate('Y-m-d H:i:s');
        $stmt->execute(['mail', 'send', json_encode($data), 'normal', (int) (microtime(true) * 1000), $now, $now]);
    }
    $pdo->exec('COMMIT');
}, $N['createMany']);
$rows[] = ['createMany (10,000, one transaction)', $ours, $pdo, 'PDO INSERT loop', '', null];

// --- pushProgress in a tight loop ------------------------------------------------------------
$progressSetup = function () use ($root) {
    [$engine, $pdo, $dir] = fresh($root, 'p');
    $engine->create('import', 'csv');
    return [$engine, $pdo, $dir];
};
$ours = measure($progressSetup, function ($ctx, $n) {
    [$engine] = $ctx;
    $engine->processPendingTasks(function (STask\Task $t) use ($engine, $n) {
        for ($i = 1; $i <= $n; $i++) {
            $engine->pushProgress($t->id, ['processed' => $i, 'total' => $n]);
        }
    }, 1);
}, $N['progress']);
$fileSnap = measure($progressSetup, function ($ctx, $n) {
    [, , $dir] = $ctx;
    $path = "$dir/pdo-files/1.json";
    for ($i = 1; $i <= $n; $i++) {
        $snap = json_encode(['id' => 1, 'status' => 'running', 'progress' => intdiv($i * 100, $n), 'processed' => $i, 'total' => $n]);
        file_put_contents("$path.tmp", $snap, LOCK_EX);
        rename("$path.tmp", $path);
    }
}, $N['progress'] / 20);
$pdoUpdate = measure($progressSetup, function ($ctx, $n) {
    [, $pdo] = $ctx;
    $stmt = $pdo->prepare('UPDATE s_tasks SET progress = ?, updated_at = ? WHERE id = 1');
    for ($i = 1; $i <= $n; $i++) {
        $stmt->execute([intdiv($i * 100, $n), gmdate('Y-m-d H:i:s')]);
    }
}, $N['progress'] / 20);
$rows[] = ['pushProgress (tight loop)', $ours, $fileSnap, 'atomic JSON file per call', '≤ 5 µs', $ours <= 5];
$rows[] = ['pushProgress (tight loop)', $ours, $pdoUpdate, 'PDO UPDATE per call', '', null];

// --- progress read (what the manager pages poll) -------------------------------------------
$readSetup = function () use ($root) {
    [$engine, $pdo, $dir] = fresh($root, 'r');
    $engine->create('import', 'csv');
    $engine->processPendingTasks(function (STask\Task $t) use ($engine) {
        for ($i = 1; $i <= 1000; $i++) {
            $engine->pushProgress($t->id, ['processed' => $i, 'total' => 1000, 'message' => "row $i"]);
        }
    }, 1);
    // Upstream's format: one pipe-separated line per update, read to its last line.
    $lines = '';
    for ($i = 1; $i <= 1000; $i++) {
        $lines .= sprintf("running|%d|%d|1000|12s|row %d\n", intdiv($i, 10), $i, $i);
    }
    file_put_contents("$dir/pdo-files/1.log", $lines);
    return [$engine, $pdo, $dir];
};
$ours = measure($readSetup, function ($ctx, $n) {
    [$engine] = $ctx;
    for ($i = 0; $i < $n; $i++) {
        $engine->progress(1);
    }
}, $N['read']);
$upstream = measure($readSetup, function ($ctx, $n) {
    [, , $dir] = $ctx;
    for ($i = 0; $i < $n; $i++) {
        $last = null;
        foreach (file("$dir/pdo-files/1.log", FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
            $last = $line;
        }
        $p = explode('|', (string) $last, 6);
    }
}, $N['read'] / 10);
$pdoRead = measure($readSetup, function ($ctx, $n) {
    [, $pdo] = $ctx;
    $stmt = $pdo->prepare('SELECT status, progress, message FROM s_tasks WHERE id = ?');
    for ($i = 0; $i < $n; $i++) {
        $stmt->execute([1]);
        $row = $stmt->fetch(PDO::FETCH_ASSOC);
        $stmt->closeCursor();
    }
}, $N['read']);
$rows[] = ['progress read (snapshot + status)', $ours, $upstream, 'upstream: last line of its log', '', null];
$rows[] = ['progress read (snapshot + status)', $ours, $pdoRead, 'PDO SELECT of the row', '', null];

// --- log ---------------------------------------------------------------------------------------
$logSetup = function () use ($root) {
    [$engine, $pdo, $dir] = fresh($root, 'l');
    $engine->create('import', 'csv');
    return [$engine, $pdo, $dir];
};
$ours = measure($logSetup, function ($ctx, $n) {
    [$engine] = $ctx;
    $engine->processPendingTasks(function (STask\Task $t) use ($engine, $n) {
        for ($i = 0; $i < $n; $i++) {
            $engine->log($t->id, 'info', 'Imported row', ['row' => $i]);
        }
    }, 1);
}, $N['log']);
$php = measure($logSetup, function ($ctx, $n) {
    [, , $dir] = $ctx;
    $path = "$dir/pdo-files/1.log";
    for ($i = 0; $i < $n; $i++) {
        $line = gmdate('Y-m-d\TH:i:s') . "\tinfo\tImported row\t" . json_encode(['row' => $i]) . "\n";
        file_put_contents($path, $line, FILE_APPEND | LOCK_EX);
    }
}, $N['log']);
$rows[] = ['log line', $ours, $php, 'file_put_contents(FILE_APPEND)', '≤ 5 µs', $ours <= 5];

// --- empty task end to end: claim → run → complete ---------------------------------------------
$taskSetup = function () use ($root, $N) {
    [$engine, $pdo, $dir] = fresh($root, 't');
    $engine->createMany(array_fill(0, $N['tasks'], ['identifier' => 'noop', 'action' => 'run']));
    return [$engine, $pdo, $dir];
};
$ours = measure($taskSetup, function ($ctx, $n) {
    [$engine] = $ctx;
    $done = $engine->processPendingTasks(static function (STask\Task $t): void {}, $n);
    if ($done !== $n) {
        throw new RuntimeException("completed $done of $n");
    }
}, $N['tasks']);
$pdo = measure($taskSetup, function ($ctx, $n) {
    [, $pdo] = $ctx;
    $claim = $pdo->prepare("UPDATE s_tasks SET status = 50, attempts = attempts + 1, fence = fence + 1, locked_by = 'bench',
        lease_expires_at = ?, start_at = ? WHERE id = (SELECT id FROM s_tasks WHERE status = 10 AND available_at <= ?
        ORDER BY priority_rank DESC, available_at, id LIMIT 1) RETURNING id, identifier, action, meta, fence");
    $complete = $pdo->prepare("UPDATE s_tasks SET status = 80, progress = 100, finished_at = ?, locked_by = NULL,
        lease_expires_at = NULL WHERE id = ? AND fence = ? AND status = 50");
    $handler = static function (array $task): void {};
    for ($i = 0; $i < $n; $i++) {
        $now = (int) (microtime(true) * 1000);
        $pdo->exec('BEGIN IMMEDIATE');
        $claim->execute([$now + 60000, gmdate('Y-m-d H:i:s'), $now]);
        $task = $claim->fetch(PDO::FETCH_ASSOC);
        $claim->closeCursor();
        $pdo->exec('COMMIT');
        $task['meta'] = json_decode($task['meta'], true);
        $handler($task);
        $pdo->exec('BEGIN IMMEDIATE');
        $complete->execute([gmdate('Y-m-d H:i:s'), $task['id'], $task['fence']]);
        $pdo->exec('COMMIT');
    }
}, $N['tasks']);
$rows[] = ['empty task, claim → run → complete', $ours, $pdo, 'PDO claim + complete', '≥ 20,000/s', 1e6 / $ours >= 20_000];
// The SQL floor: the same two statements as the engine's batches, by hand, with no handler
// call, no outcome bookkeeping and no files: what no PHP queue on this SQLite can beat.
$floor = measure($taskSetup, function ($ctx, $n) {
    [, $pdo] = $ctx;
    $claim = $pdo->prepare("UPDATE s_tasks SET status = 50, attempts = attempts + 1, fence = fence + 1, locked_by = 'bench',
        lease_expires_at = ?, start_at = ? WHERE id IN (SELECT id FROM s_tasks WHERE status = 10 AND available_at <= ?
        ORDER BY priority_rank DESC, available_at, id LIMIT 128) RETURNING id, fence");
    $complete = $pdo->prepare("UPDATE s_tasks SET status = 80, progress = 100, finished_at = ?, locked_by = NULL,
        lease_expires_at = NULL WHERE id = ? AND fence = ? AND status = 50");
    for ($done = 0; $done < $n;) {
        $now = (int) (microtime(true) * 1000);
        $pdo->exec('BEGIN IMMEDIATE');
        $claim->execute([$now + 60000, gmdate('Y-m-d H:i:s'), $now]);
        $batch = $claim->fetchAll(PDO::FETCH_NUM);
        $pdo->exec('COMMIT');
        $pdo->exec('BEGIN IMMEDIATE');
        foreach ($batch as [$id, $fence]) {
            $complete->execute([gmdate('Y-m-d H:i:s'), $id, $fence]);
        }
        $pdo->exec('COMMIT');
        $done += count($batch);
    }
}, $N['tasks']);
$rows[] = ['empty task (SQL floor)', $ours, $floor, 'PDO batches of 128, no handler', '', null];

// --- report --------------------------------------------------------------------------------------
$machine = trim((string) @shell_exec("lscpu | sed -n 's/^Model name: *//p'")) . ', ' . (int) @shell_exec('nproc') . ' cores';
printf("sTask native engine vs plain PHP PDO — SQLite %s (WAL, synchronous=NORMAL), PHP %s, %s\n",
    (new PDO('sqlite::memory:'))->query('select sqlite_version()')->fetchColumn(), PHP_VERSION, $machine);
printf("median of %d runs; ratio = alternative ÷ ours (higher is better for us)\n\n", REPS);
$header = sprintf("%-38s %12s %14s %8s  %-32s %s", 'operation', 'ours µs/op', 'other µs/op', 'ratio', 'alternative', 'target');
echo $header, "\n", str_repeat('-', strlen($header) + 8), "\n";
foreach ($rows as [$name, $ours, $theirs, $alt, $target, $met]) {
    $mark = $met === null ? '' : ($met ? ' ✓' : ' ✗');
    printf("%-38s %12.2f %14.2f %7.1f×  %-32s %s%s\n", $name, $ours, $theirs, $theirs / $ours, $alt, $target, $mark);
}
[, $ourTask, $pdoTask] = $rows[count($rows) - 2];
printf("\nempty tasks end to end: %s tasks/s from one PHP process (PDO equivalent: %s tasks/s; SQL floor: %s tasks/s)\n",
    number_format(1e6 / $ourTask), number_format(1e6 / $pdoTask), number_format(1e6 / $floor));
