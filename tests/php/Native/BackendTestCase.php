<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use PDO;
use STask\Engine;

/**
 * Tests that run on every backend: SQLite always, PostgreSQL and MySQL/MariaDB when
 * STASK_TEST_PG_URL / STASK_TEST_MYSQL_URL name a server (`make test` sets both). A backend
 * that is not configured is skipped, and says so on stderr. Each test gets its own tables:
 * a fresh table prefix on PostgreSQL, a fresh database on MySQL.
 */
abstract class BackendTestCase extends EngineTestCase
{
    /** @var list<callable> */
    private array $cleanups = [];

    /** @return array<string, array{string}> */
    public static function backends(): array
    {
        return ['sqlite' => ['sqlite'], 'postgres' => ['postgres'], 'mysql' => ['mysql']];
    }

    /** @return array<string, array{string}> */
    public static function serverBackends(): array
    {
        return ['postgres' => ['postgres'], 'mysql' => ['mysql']];
    }

    protected function tearDown(): void
    {
        foreach (array_reverse($this->cleanups) as $cleanup) {
            try {
                $cleanup();
            } catch (\Throwable $e) {
                fwrite(STDERR, 'cleanup failed: ' . $e->getMessage() . "\n");
            }
        }
        $this->cleanups = [];
        parent::tearDown();
    }

    /**
     * The URL of the test server for "postgres" or "mysql" (STASK_TEST_PG_URL,
     * STASK_TEST_MYSQL_URL); skips $test, and says so on stderr, when it is not configured.
     */
    public static function serverUrl(\PHPUnit\Framework\TestCase $test, string $backend): string
    {
        $var = $backend === 'postgres' ? 'STASK_TEST_PG_URL' : 'STASK_TEST_MYSQL_URL';
        $server = getenv($var);
        if ($server === false || trim($server) === '') {
            fwrite(STDERR, "\nSKIPPED " . \STask\Tests\TestName::of($test, true) . ": set $var to run it on $backend\n");
            self::markTestSkipped("$backend is not configured: set $var");
        }
        return $server;
    }

    /**
     * The engine URL, table prefix and an admin connection for a fresh set of tables on
     * $backend; skips the test when that backend is not configured.
     *
     * @return array{url: string, prefix: string, pdo: PDO, tag: string}
     */
    protected function target(string $backend): array
    {
        $tag = 'stask_f' . bin2hex(random_bytes(4));
        if ($backend === 'sqlite') {
            return ['url' => 'sqlite:' . $this->db, 'prefix' => 'evo_', 'pdo' => $this->pdo(), 'tag' => $tag];
        }
        $server = self::serverUrl($this, $backend);
        $u = parse_url($server);
        $host = $u['host'] ?? '127.0.0.1';
        $db = ltrim($u['path'] ?? '', '/');
        if ($backend === 'postgres') {
            $pdo = new PDO(sprintf('pgsql:host=%s;port=%d;dbname=%s', $host, $u['port'] ?? 5432, $db),
                $u['user'] ?? null, $u['pass'] ?? null);
            $pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
            $prefix = $tag . '_';
            $this->cleanups[] = function () use ($pdo, $prefix) {
                foreach (['s_tasks', 's_workers', 's_task_schema', 's_task_progress', 's_task_logs'] as $t) {
                    $pdo->exec("DROP TABLE IF EXISTS \"{$prefix}{$t}\"");
                }
            };
            // The application name marks this test's connections, so only they are dropped.
            $sep = str_contains($server, '?') ? '&' : '?';
            return ['url' => $server . $sep . 'application_name=' . $tag, 'prefix' => $prefix, 'pdo' => $pdo, 'tag' => $tag];
        }
        $admin = new PDO(sprintf('mysql:host=%s;port=%d', $host, $u['port'] ?? 3306), $u['user'] ?? 'root', $u['pass'] ?? '');
        $admin->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        $admin->exec("CREATE DATABASE `$tag` CHARACTER SET utf8mb4");
        $this->cleanups[] = fn () => $admin->exec("DROP DATABASE IF EXISTS `$tag`");
        $pdo = new PDO(sprintf('mysql:host=%s;port=%d;dbname=%s', $host, $u['port'] ?? 3306, $tag), $u['user'] ?? 'root', $u['pass'] ?? '');
        $pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        $url = preg_replace('#^(mysql|mariadb)://([^/]*)/[^?]*#', '$1://$2/' . $tag, $server);
        return ['url' => $url, 'prefix' => 'evo_', 'pdo' => $pdo, 'tag' => $tag];
    }

    /** An engine on a target, with a short lease. */
    protected function engineOn(array $target, array $options = []): Engine
    {
        $engine = new Engine($target['url'], $options + [
            'prefix' => $target['prefix'],
            'storage' => $this->storage,
            'leaseSeconds' => 2,
            'backoff' => ['base' => 1, 'jitter' => 0],
        ]);
        $engine->migrate();
        return $engine;
    }

    /** @return array<int, int> status code => count */
    protected static function statuses(array $target): array
    {
        $rows = $target['pdo']->query("SELECT status, COUNT(*) AS n FROM {$target['prefix']}s_tasks GROUP BY status")
            ->fetchAll(PDO::FETCH_NUM);
        $out = [];
        foreach ($rows as [$status, $n]) {
            $out[(int) $status] = (int) $n;
        }
        ksort($out);
        return $out;
    }

    /** Drops every server connection of this test's engines, as a restart would. */
    protected static function dropConnections(string $backend, array $target): int
    {
        if ($backend === 'postgres') {
            $stmt = $target['pdo']->prepare(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND pid <> pg_backend_pid()'
            );
            $stmt->execute([$target['tag']]);
            return count($stmt->fetchAll());
        }
        $stmt = $target['pdo']->prepare(
            'SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()'
        );
        $stmt->execute([$target['tag']]);
        $killed = 0;
        foreach ($stmt->fetchAll(PDO::FETCH_COLUMN) as $id) {
            try {
                $target['pdo']->exec('KILL ' . (int) $id);
                $killed++;
            } catch (\PDOException $e) {
                // It ended on its own meanwhile.
            }
        }
        return $killed;
    }

    /**
     * Reads the ids recorded by worker processes.
     *
     * @param list<string> $files
     * @return array<int, int> task id => number of runs
     */
    protected static function runs(array $files): array
    {
        $runs = [];
        foreach ($files as $file) {
            foreach (explode("\n", (string) @file_get_contents($file)) as $line) {
                if ($line !== '') {
                    $runs[(int) $line] = ($runs[(int) $line] ?? 0) + 1;
                }
            }
        }
        return $runs;
    }

    /** Waits for a spawned process to end; returns its exit code. */
    protected static function finish(array $proc, float $timeout = 120.0): int
    {
        [$handle, $pipes] = $proc;
        $deadline = microtime(true) + $timeout;
        // The exit code is reported once, by the first status call after the exit.
        while (($status = proc_get_status($handle))['running'] && microtime(true) < $deadline) {
            usleep(20_000);
        }
        if ($status['running']) {
            proc_terminate($handle, SIGKILL);
        }
        $err = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        proc_close($handle);
        if ($err !== '') {
            fwrite(STDERR, $err);
        }
        return $status['running'] ? -1 : ($status['signaled'] ? 128 + $status['termsig'] : $status['exitcode']);
    }
}
