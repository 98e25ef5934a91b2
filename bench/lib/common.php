<?php

declare(strict_types=1);

/*
 * What every part of the comparison harness (bench/compare.php) shares: the backends, one fresh
 * database (SQLite file) or table prefix (servers) per measurement, the Laravel connection
 * settings all three systems use for the user's own queries, the CSV of the import workload,
 * process memory, medians and the machine's description.
 */

const BENCH_REPO = __DIR__ . '/../..';

/**
 * The backends to measure: SQLite always; PostgreSQL and MariaDB/MySQL when their server
 * answers (URLs from STASK_TEST_PG_URL / STASK_TEST_MYSQL_URL, the Makefile's defaults).
 *
 * @return array<string, array{driver: string, url: ?string, skipped: ?string}>
 */
function bench_backends(): array
{
    $backends = ['sqlite' => ['driver' => 'sqlite', 'url' => null, 'skipped' => null]];
    foreach (['pgsql' => ['STASK_TEST_PG_URL', 'postgres://postgres@127.0.0.1:5432/test'],
              'mysql' => ['STASK_TEST_MYSQL_URL', 'mysql://root@127.0.0.1:3306/test']] as $driver => [$var, $default]) {
        $url = getenv($var);
        $url = $url === false ? $default : $url;
        $backends[$driver] = ['driver' => $driver, 'url' => $url ?: null, 'skipped' => null];
        if (!$url) {
            $backends[$driver]['skipped'] = "$var is empty";
            continue;
        }
        try {
            bench_pdo(['driver' => $driver, 'url' => $url]);
        } catch (Throwable $e) {
            $backends[$driver]['skipped'] = 'server not reachable: ' . $e->getMessage();
        }
    }
    return $backends;
}

/** Laravel's connection settings for a backend; $dir holds the SQLite file. */
function bench_connection(array $backend, string $dir, string $prefix): array
{
    if ($backend['driver'] === 'sqlite') {
        if (!is_file("$dir/db.sqlite")) {
            touch("$dir/db.sqlite"); // Laravel's SQLite connector wants the file to exist
        }
        return ['driver' => 'sqlite', 'database' => "$dir/db.sqlite", 'prefix' => '', 'foreign_key_constraints' => false];
    }
    $u = parse_url($backend['url']);
    $common = [
        'host' => $u['host'] ?? '127.0.0.1',
        'database' => ltrim($u['path'] ?? '/test', '/'),
        'username' => isset($u['user']) ? urldecode($u['user']) : 'root',
        'password' => isset($u['pass']) ? urldecode($u['pass']) : '',
        'prefix' => $prefix,
    ];
    return $backend['driver'] === 'pgsql'
        ? $common + ['driver' => 'pgsql', 'port' => $u['port'] ?? 5432, 'charset' => 'utf8', 'schema' => 'public', 'sslmode' => 'disable']
        : $common + ['driver' => 'mysql', 'port' => $u['port'] ?? 3306, 'charset' => 'utf8mb4', 'collation' => 'utf8mb4_unicode_ci'];
}

/** The engine's URL for a backend. */
function bench_engine_url(array $backend, string $dir): string
{
    return $backend['driver'] === 'sqlite' ? "sqlite:$dir/db.sqlite" : $backend['url'];
}

/**
 * Plain PDO to a backend. SQLite gets the settings the engine uses (WAL, synchronous=NORMAL, a
 * busy timeout) so that every system runs on the same storage; Laravel's default rollback
 * journal would be 5–10× slower for Laravel (see docs/benchmarks.md).
 */
function bench_pdo(array $backend, ?string $dir = null): PDO
{
    if ($backend['driver'] === 'sqlite') {
        $pdo = new PDO("sqlite:$dir/db.sqlite");
    } else {
        $c = bench_connection($backend, '', '');
        $dsn = $backend['driver'] === 'pgsql'
            ? "pgsql:host={$c['host']};port={$c['port']};dbname={$c['database']}"
            : "mysql:host={$c['host']};port={$c['port']};dbname={$c['database']}";
        $pdo = new PDO($dsn, $c['username'], $c['password'], [PDO::ATTR_TIMEOUT => 3]);
    }
    $pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
    bench_tune($pdo);
    return $pdo;
}

/** Per-connection settings: SQLite in WAL, as the engine runs it. */
function bench_tune(PDO $pdo): void
{
    if ($pdo->getAttribute(PDO::ATTR_DRIVER_NAME) === 'sqlite') {
        $pdo->exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;');
    }
}

/** Drops every table a measurement made on a server (its tables share the prefix). */
function bench_drop_prefix(array $backend, string $prefix): void
{
    if ($backend['driver'] === 'sqlite') {
        return;
    }
    $pdo = bench_pdo($backend);
    $like = str_replace('_', '\\_', $prefix) . '%';
    $tables = $backend['driver'] === 'pgsql'
        ? $pdo->query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE " . $pdo->quote($like))->fetchAll(PDO::FETCH_COLUMN)
        : $pdo->query('SHOW TABLES LIKE ' . $pdo->quote($like))->fetchAll(PDO::FETCH_COLUMN);
    foreach ($tables as $table) {
        $pdo->exec($backend['driver'] === 'pgsql' ? "DROP TABLE IF EXISTS \"$table\" CASCADE" : "DROP TABLE IF EXISTS `$table`");
    }
}

/** The import workload's input: $rows products, one of every 2,500 with a bad price. */
function bench_write_csv(string $path, int $rows): void
{
    $f = fopen($path, 'w');
    fputcsv($f, ['sku', 'name', 'price', 'stock'], ',', '"', '\\');
    for ($i = 1; $i <= $rows; $i++) {
        $price = $i % 2500 === 0 ? 'n/a' : number_format(1 + ($i * 7919 % 10_000) / 100, 2, '.', '');
        fputcsv($f, [sprintf('SKU-%06d', $i), "Product $i", $price, $i % 50], ',', '"', '\\');
    }
    fclose($f);
}

/**
 * The user's own code of the import, identical for the three systems: read the CSV, skip bad
 * rows, insert 500 rows per statement through Laravel's query builder, and call $progress after
 * every row. Returns [imported, skipped].
 *
 * @param callable(int $processed, int $total): void $progress
 */
function bench_import_csv(\Illuminate\Database\ConnectionInterface $db, string $path, callable $progress): array
{
    $total = max(0, count(file($path)) - 1);
    $f = fopen($path, 'r');
    fgetcsv($f, null, ',', '"', '\\');
    $batch = [];
    $imported = $skipped = $processed = 0;
    while (($row = fgetcsv($f, null, ',', '"', '\\')) !== false) {
        $processed++;
        [$sku, $name, $price, $stock] = $row;
        if (!is_numeric($price)) {
            $skipped++;
        } else {
            $batch[] = ['sku' => $sku, 'name' => $name, 'price' => (float) $price, 'stock' => (int) $stock];
            if (count($batch) === 500) {
                $db->table('products')->insert($batch);
                $imported += 500;
                $batch = [];
            }
        }
        $progress($processed, $total);
    }
    if ($batch) {
        $db->table('products')->insert($batch);
        $imported += count($batch);
    }
    fclose($f);
    return [$imported, $skipped];
}

/** The products table the import writes, through the connection's schema builder. */
function bench_products_table(\Illuminate\Database\Connection $db): void
{
    $db->getSchemaBuilder()->create('products', function (\Illuminate\Database\Schema\Blueprint $t) {
        $t->string('sku', 32)->primary();
        $t->string('name');
        $t->decimal('price', 10, 2);
        $t->integer('stock');
    });
}

/** Resident memory of a process in MB (Linux /proc), null when it is gone. */
function bench_rss_mb(int $pid): ?float
{
    $status = @file_get_contents("/proc/$pid/status");
    if ($status === false || !preg_match('/^VmRSS:\s+(\d+) kB/m', $status, $m)) {
        return null;
    }
    return (int) $m[1] / 1024;
}

function bench_median(array $xs): float
{
    sort($xs);
    $n = count($xs);
    return $n % 2 ? $xs[intdiv($n, 2)] : ($xs[$n / 2 - 1] + $xs[$n / 2]) / 2;
}

/** One line about the machine, for the results file. */
function bench_machine(): array
{
    $cpu = trim((string) shell_exec("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1")) ?: 'unknown CPU';
    $mem = preg_match('/MemTotal:\s+(\d+)/', (string) @file_get_contents('/proc/meminfo'), $m) ? round($m[1] / 1048576) . ' GiB' : '?';
    $os = preg_match('/PRETTY_NAME="([^"]+)"/', (string) @file_get_contents('/etc/os-release'), $o) ? $o[1] : PHP_OS;
    $sqlite = (new PDO('sqlite::memory:'))->query('select sqlite_version()')->fetchColumn();
    return [
        'os' => $os . ', kernel ' . php_uname('r'),
        'cpu' => $cpu . ', ' . (int) shell_exec('nproc') . ' cores, ' . $mem,
        'php' => PHP_VERSION . ' ' . PHP_SAPI . (ini_get('opcache.enable_cli') ? ', opcache' : ', no opcache') . ', JIT off',
        'laravel' => bench_laravel_version(),
        'sqlite' => $sqlite . ' (WAL, synchronous=NORMAL for every system)',
    ];
}

function bench_laravel_version(): string
{
    $v = trim((string) shell_exec("dpkg-query -W -f='\${Version}' php-illuminate-queue 2>/dev/null"));
    return 'Illuminate ' . ($v ?: 'unknown') . ' (Debian)';
}

/** A worker process is booted and connected: tell the parent, wait for its start signal. */
function bench_ready(string $dir): void
{
    echo "ready\n";
    while (!file_exists("$dir/go")) {
        usleep(1000);
    }
}

/** A scratch directory removed when this process ends. */
function bench_scratch(string $name): string
{
    $dir = sys_get_temp_dir() . "/stask-compare-$name-" . getmypid() . '-' . bin2hex(random_bytes(3));
    mkdir($dir, 0777, true);
    register_shutdown_function(static fn () => exec('rm -rf ' . escapeshellarg($dir)));
    return $dir;
}
