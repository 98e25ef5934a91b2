<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use STask\Exception\ConfigurationException;
use STask\Exception\StorageException;
use STask\Task;

/**
 * Storage paths, task files and log lines an attacker or a careless configuration can make:
 * each gets a typed exception that says why, and nothing is read or written through a link.
 */
final class TaskFilesTest extends EngineTestCase
{
    public function testANulByteInTheStoragePathIsAConfigurationError(): void
    {
        try {
            $this->newEngine(['storage' => $this->dir . "/files\0evil"]);
            self::fail('expected a ConfigurationException');
        } catch (ConfigurationException $e) {
            self::assertStringContainsString('contains a NUL byte', $e->getMessage());
            self::assertStringNotContainsString("\0", $e->getMessage());
        }
    }

    public function testAnAbsurdBackoffBaseIsAConfigurationError(): void
    {
        $this->expectException(ConfigurationException::class);
        $this->expectExceptionMessage('backoff base must be at most 31622400 seconds (366 days)');
        $this->newEngine(['backoff' => ['base' => 1e300]]);
    }

    /** A huge `max` means "no more than the longest delay": retry times stay ahead of now. */
    public function testAnAbsurdBackoffMaxKeepsRetryTimesInTheFuture(): void
    {
        foreach ([1e300, (float) PHP_INT_MAX, PHP_INT_MAX] as $max) {
            $engine = $this->newEngine([
                'maxAttempts' => 50,
                'backoff' => ['base' => 10, 'factor' => 10, 'max' => $max, 'jitter' => 0.5],
            ]);
            $id = $engine->create('w', 'a', ['max' => (string) $max])->id;
            for ($attempt = 1; $attempt <= 25; $attempt++) {
                $before = time();
                $engine->processPendingTasks(
                    static function (Task $t): void {
                        throw new \RuntimeException('again');
                    },
                    1,
                    ['ids' => [$id]],
                );
                $at = $engine->find($id)->availableAt;
                self::assertGreaterThanOrEqual($before, $at, "attempt $attempt with max $max");
                self::assertLessThanOrEqual($before + 366 * 86400 + 1, $at, "attempt $attempt with max $max");
            }
            unset($engine);
        }
    }

    public function testALogLinkIsRefusedWithAStorageException(): void
    {
        $id = $this->engine->create('w', 'a')->id;
        $this->engine->log($id, 'info', 'first');
        $secret = $this->dir . '/secret.txt';
        file_put_contents($secret, "2026-01-01T00:00:00.000Z\tinfo\troot:x:0:0\t\n");
        unlink($this->storage . "/$id.log");
        symlink($secret, $this->storage . "/$id.log");
        // A fresh engine: no handle to the old file is cached.
        $engine = $this->newEngine();

        foreach ([
            'logs' => fn () => $engine->logs($id),
            'logChunk' => fn () => $engine->logChunk($id),
            'log' => fn () => $engine->log($id, 'info', 'through the link'),
        ] as $name => $call) {
            try {
                $call();
                self::fail("$name: expected a StorageException");
            } catch (StorageException $e) {
                self::assertStringContainsString('is a symbolic link', $e->getMessage(), $name);
            }
        }
        self::assertSame("2026-01-01T00:00:00.000Z\tinfo\troot:x:0:0\t\n", file_get_contents($secret));

        $engine->delete([$id]);
        self::assertFalse(is_link($this->storage . "/$id.log"), 'pruning removes the link');
        self::assertFileExists($secret, 'and not its target');
    }

    public function testASnapshotLinkIsRefusedWithAStorageException(): void
    {
        $id = $this->engine->create('w', 'a')->id;
        file_put_contents($this->dir . '/other.json', '{"progress": 99}');
        symlink($this->dir . '/other.json', $this->storage . "/$id.json");
        $this->expectException(StorageException::class);
        $this->expectExceptionMessage('is a symbolic link');
        $this->engine->progress($id);
    }

    public function testALongLogLineIsCutWhenWritten(): void
    {
        $id = $this->engine->create('w', 'a')->id;
        $this->engine->log($id, 'warning', str_repeat('é', 500_000), ['rows' => array_fill(0, 50_000, 'a;b;c')]);
        $entry = $this->engine->logs($id)[0];
        self::assertLessThanOrEqual(65536, strlen($entry['message']), 'the message is cut');
        self::assertStringEndsWith(' more bytes]', $entry['message']);
        self::assertStringContainsString('… [truncated, ', $entry['message']);
        self::assertTrue(mb_check_encoding($entry['message'], 'UTF-8'), 'cut on a character boundary');
        self::assertArrayHasKey('truncated', $entry['context']);
        $stored = strlen($entry['message']) + strlen(json_encode($entry['context'], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES));
        self::assertLessThanOrEqual(65536, $stored);
        self::assertLessThan(70_000, filesize($this->storage . "/$id.log"));
    }
}
