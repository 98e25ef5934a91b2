<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use PDO;
use PHPUnit\Framework\TestCase;
use STask\Engine;

/**
 * A fresh SQLite database and storage directory per test, an engine on them, and a PDO
 * connection to look at the rows the way another program would.
 */
abstract class EngineTestCase extends TestCase
{
    protected string $dir;
    protected string $db;
    protected string $storage;
    protected Engine $engine;

    protected function setUp(): void
    {
        $this->dir = sys_get_temp_dir() . '/stask-test-' . getmypid() . '-' . bin2hex(random_bytes(4));
        mkdir($this->dir, 0777, true);
        $this->db = $this->dir . '/stask.sqlite';
        $this->storage = $this->dir . '/files';
        $this->engine = $this->newEngine();
        $this->engine->migrate();
    }

    protected function tearDown(): void
    {
        unset($this->engine);
        gc_collect_cycles();
        self::removeTree($this->dir);
    }

    protected function newEngine(array $options = []): Engine
    {
        return new Engine('sqlite:' . $this->db, $options + [
            'prefix' => 'evo_',
            'storage' => $this->storage,
            'backoff' => ['base' => 1, 'jitter' => 0],
        ]);
    }

    protected function pdo(): PDO
    {
        $pdo = new PDO('sqlite:' . $this->db);
        $pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        $pdo->setAttribute(PDO::ATTR_DEFAULT_FETCH_MODE, PDO::FETCH_ASSOC);
        $pdo->exec('PRAGMA busy_timeout = 10000');
        return $pdo;
    }

    protected function countRows(string $where = '1 = 1'): int
    {
        return (int) $this->pdo()->query("SELECT COUNT(*) FROM evo_s_tasks WHERE $where")->fetchColumn();
    }

    /** @return array<string, mixed> */
    protected function row(int $id): array
    {
        $stmt = $this->pdo()->prepare('SELECT * FROM evo_s_tasks WHERE id = ?');
        $stmt->execute([$id]);
        return $stmt->fetch();
    }

    /** Makes a retried task due now, as if its backoff had passed. */
    protected function makeDue(int $id): void
    {
        $this->pdo()->prepare('UPDATE evo_s_tasks SET available_at = 0 WHERE id = ?')->execute([$id]);
    }

    /** The path of the built extension, for child processes. */
    protected static function extensionPath(): string
    {
        $path = realpath((string) getenv('STASK_EXTENSION')) ?: dirname(__DIR__, 3) . '/target/release/libstask.so';
        if (!is_file($path)) {
            self::fail("extension not found at $path; set STASK_EXTENSION");
        }
        return $path;
    }

    /**
     * Starts `php fixtures/<script> args…` with the extension loaded.
     *
     * @return array{0: resource, 1: array<int, resource>}
     */
    protected static function spawn(string $script, array $args): array
    {
        $cmd = array_merge(
            [PHP_BINARY, '-d', 'extension=' . self::extensionPath(),
             dirname(__DIR__) . '/fixtures/' . $script],
            array_map('strval', $args)
        );
        $pipes = [];
        $proc = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        if (!is_resource($proc)) {
            self::fail('could not start ' . implode(' ', $cmd));
        }
        fclose($pipes[0]);
        return [$proc, $pipes];
    }

    /** Runs a fixture script to the end. @return array{int, string, string} exit code, stdout, stderr */
    protected static function runScript(string $script, array $args): array
    {
        [$proc, $pipes] = self::spawn($script, $args);
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        return [proc_close($proc), $out, $err];
    }

    protected static function removeTree(string $dir): void
    {
        if (!is_dir($dir)) {
            return;
        }
        foreach (new \RecursiveIteratorIterator(
            new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS),
            \RecursiveIteratorIterator::CHILD_FIRST
        ) as $file) {
            $file->isDir() ? rmdir($file->getPathname()) : unlink($file->getPathname());
        }
        rmdir($dir);
    }
}
