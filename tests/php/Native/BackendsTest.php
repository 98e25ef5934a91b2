<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use PHPUnit\Framework\Attributes\DataProvider;

/** The native API on every backend: forks, connection reuse, waiting, the database journal. */
final class BackendsTest extends BackendTestCase
{
    /** @dataProvider backends */
    #[DataProvider('backends')]
    public function testAnEngineCreatedBeforeForkWorksInTheChildren(string $backend): void
    {
        if (!function_exists('pcntl_fork')) {
            self::markTestSkipped('pcntl is not available');
        }
        $target = $this->target($backend);
        $engine = $this->engineOn($target);
        $engine->createMany(array_fill(0, 30, ['identifier' => 'w', 'action' => 'a']));
        $arg = $backend === 'sqlite' ? $this->db : $target['url'];
        [$code, $out, $err] = self::runScript('fork_worker.php', [$arg, $this->storage, $target['prefix']]);
        self::assertSame(0, $code, $out . $err);
        self::assertStringContainsString('children: 3 ok', $out);
        self::assertSame([80 => 30], self::statuses($target));
    }

    /**
     * Engines opened one after another (as in php-fpm requests) reuse the process's idle
     * connection instead of opening one each.
     *
     * @dataProvider serverBackends
     */
    #[DataProvider('serverBackends')]
    public function testEnginesReuseTheProcessConnections(string $backend): void
    {
        $target = $this->target($backend);
        $this->engineOn($target);
        for ($i = 0; $i < 20; $i++) {
            $engine = $this->engineOn($target);
            $engine->stats();
            unset($engine);
        }
        $count = $backend === 'postgres'
            ? 'SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = ?'
            : 'SELECT COUNT(*) FROM information_schema.processlist WHERE db = ?';
        $stmt = $target['pdo']->prepare($count);
        $stmt->execute([$target['tag']]);
        self::assertLessThanOrEqual(2, (int) $stmt->fetchColumn(), 'connections open after 20 engines');
    }

    /** @dataProvider backends */
    #[DataProvider('backends')]
    public function testWaitForTasksWakesOnDueWork(string $backend): void
    {
        $target = $this->target($backend);
        $engine = $this->engineOn($target);
        self::assertFalse($engine->waitForTasks(0.2));
        $engine->create('w', 'later', [], 'normal', ['delay' => 0.3]);
        self::assertTrue($engine->waitForTasks(30.0), 'woken when the delayed task became due');
        self::assertSame(1, $engine->processPendingTasks(fn () => null));
        $engine->create('other', 'a');
        self::assertFalse($engine->waitForTasks(0.2, ['identifiers' => ['w']]));
        self::assertTrue($engine->waitForTasks(0.2, ['identifiers' => ['other']]));
    }

    public function testWaitForTasksRefusesBadInput(): void
    {
        foreach ([-1.0, 3601.0, NAN, INF] as $bad) {
            try {
                $this->engine->waitForTasks($bad);
                self::fail("accepted $bad");
            } catch (\STask\Exception\InvalidArgumentException $e) {
                self::assertStringContainsString('seconds', $e->getMessage());
            }
        }
        $this->expectException(\STask\Exception\InvalidArgumentException::class);
        $this->engine->waitForTasks(0.1, ['bogus' => 1]);
    }

    /** @dataProvider backends */
    #[DataProvider('backends')]
    public function testProgressAndLogsInTheDatabaseAreSeenByAnotherServer(string $backend): void
    {
        $target = $this->target($backend);
        $worker = $this->engineOn($target, ['files' => 'database', 'storage' => "{$this->dir}/server-a", 'progressIntervalMs' => 50]);
        $admin = $this->engineOn($target, ['files' => 'database', 'storage' => "{$this->dir}/server-b"]);
        $task = $worker->create('import', 'csv');
        $worker->processPendingTasks(function (\STask\Task $t) use ($worker, $admin) {
            $worker->log($t->id, 'info', 'Reading', ['rows' => 2]);
            $worker->pushProgress($t->id, ['processed' => 1, 'total' => 2, 'message' => 'half']);
            $deadline = microtime(true) + 10;
            while ($admin->progress($t->id)['processed'] !== 1 && microtime(true) < $deadline) {
                usleep(20_000);
            }
            self::assertSame('half', $admin->progress($t->id)['message']);
        });
        $logs = $admin->logs($task->id);
        self::assertSame('Reading', $logs[1]['message']);
        self::assertSame(['rows' => 2], $logs[1]['context']);
        self::assertSame('completed', $admin->progress($task->id)['status']);
        self::assertDirectoryDoesNotExist("{$this->dir}/server-b");
    }

    /**
     * logChunk() reads a whole log in pieces, from the file or from the database, with what
     * logs() returns in the same order.
     *
     * @dataProvider backends
     */
    #[DataProvider('backends')]
    public function testAWholeLogIsReadInPiecesWhereverItIsKept(string $backend): void
    {
        $target = $this->target($backend);
        foreach (['local', 'database'] as $files) {
            $engine = $this->engineOn($target, ['files' => $files, 'storage' => "{$this->dir}/$files"]);
            $id = $engine->create('w', 'a')->id;
            self::assertSame(['data' => '', 'next' => null], $engine->logChunk($id));
            for ($i = 0; $i < 120; $i++) {
                $engine->log($id, $i % 10 === 0 ? 'warning' : 'info', "entry $i\twith\na tab, a newline and ✓", $i % 3 ? [] : ['i' => $i]);
            }
            $text = '';
            $cursor = 0;
            $pieces = 0;
            do {
                $chunk = $engine->logChunk($id, $cursor, 500);
                self::assertStringEndsWith("\n", $chunk['data']);
                $text .= $chunk['data'];
                $cursor = $chunk['next'];
                $pieces++;
            } while ($cursor !== null);
            self::assertGreaterThan(5, $pieces, $files);
            $lines = explode("\n", rtrim($text, "\n"));
            self::assertCount(120, $lines, $files);
            $expected = $engine->logs($id, null, 1000);
            foreach ($lines as $n => $line) {
                [$time, $level, $message] = explode("\t", $line);
                self::assertSame($expected[$n]['time'], $time);
                self::assertSame($expected[$n]['level'], $level);
                self::assertSame(str_replace(["\t", "\n"], ['\\t', '\\n'], $expected[$n]['message']), $message);
            }
            self::assertSame($text, $engine->logChunk($id, 0, 10_000_000)['data'], 'one piece when it fits');
        }
        $this->expectException(\STask\Exception\NotFoundException::class);
        $engine->logChunk(999_999);
    }

    public function testTheFilesOptionIsValidated(): void
    {
        $this->expectException(\STask\Exception\ConfigurationException::class);
        $this->expectExceptionMessage('files must be "local" or "database"');
        $this->newEngine(['files' => 'cloud']);
    }

    public function testAnUnreachableServerIsAConfigurationError(): void
    {
        try {
            new \STask\Engine('postgres://nobody@127.0.0.1:1/none');
            self::fail('connected to nothing');
        } catch (\STask\Exception\ConfigurationException $e) {
            self::assertStringContainsString('cannot connect to the PostgreSQL server', $e->getMessage());
        }
        $this->expectException(\STask\Exception\ConfigurationException::class);
        new \STask\Engine('mysql://host-without-database');
    }
}
