<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use PHPUnit\Framework\Attributes\DataProvider;

/**
 * Real worker processes against every backend, with the faults multi-server setups meet:
 * workers killed mid-run, the database dropping every connection, a stale owner waking up
 * after its task was taken over.
 */
final class FaultsTest extends BackendTestCase
{
    private const TASKS = 10_000;
    private const WORKERS = 4;

    /** @return list<array> spawned workers */
    private function startWorkers(array $target, int $count, int $sleepUs): array
    {
        $procs = [];
        for ($n = 1; $n <= $count; $n++) {
            $procs[$n] = self::spawn('fault_worker.php', [
                $target['url'], $target['prefix'], $this->storage, "{$this->dir}/worker$n.txt", $sleepUs,
            ]);
        }
        return $procs;
    }

    private function waitForCompleted(array $target, int $count, float $timeout = 60.0): void
    {
        $deadline = microtime(true) + $timeout;
        while ((self::statuses($target)[80] ?? 0) < $count && microtime(true) < $deadline) {
            usleep(50_000);
        }
    }

    /** @return list<string> */
    private function recordFiles(int $count): array
    {
        return array_map(fn ($n) => "{$this->dir}/worker$n.txt", range(1, $count));
    }

    /**
     * 4 workers × 10,000 tasks; two are SIGKILLed mid-run. Every task ends completed exactly
     * once in the database, none is lost or stuck. A killed worker may have run a task whose
     * outcome it never saved: only such tasks run again (at-least-once), after its lease.
     *
     * @dataProvider backends
     */
    #[DataProvider('backends')]
    public function testWorkersKilledMidRunLoseNothing(string $backend): void
    {
        $target = $this->target($backend);
        $engine = $this->engineOn($target);
        foreach (array_chunk(range(1, self::TASKS), 2500) as $chunk) {
            $engine->createMany(array_map(fn ($i) => ['identifier' => 'w', 'action' => 'a', 'data' => ['n' => $i]], $chunk));
        }
        $procs = $this->startWorkers($target, self::WORKERS, 500);
        $this->waitForCompleted($target, (int) (self::TASKS * 0.2));
        $killed = [1, 2];
        foreach ($killed as $n) {
            posix_kill(proc_get_status($procs[$n][0])['pid'], SIGKILL);
        }
        $done = (self::statuses($target)[80] ?? 0);
        self::assertLessThan(self::TASKS, $done, 'the workers were killed mid-run');
        foreach ($procs as $n => $proc) {
            $code = self::finish($proc);
            if (!in_array($n, $killed, true)) {
                self::assertSame(0, $code, "surviving worker $n finished the queue");
            }
        }

        self::assertSame([80 => self::TASKS], self::statuses($target), 'every task completed, none stuck');
        $all = self::runs($this->recordFiles(self::WORKERS));
        $survivors = self::runs(["{$this->dir}/worker3.txt", "{$this->dir}/worker4.txt"]);
        $byKilled = self::runs(["{$this->dir}/worker1.txt", "{$this->dir}/worker2.txt"]);
        self::assertCount(self::TASKS, $all, 'every task ran');
        self::assertSame([], array_filter($survivors, fn ($n) => $n > 1), 'no surviving worker ran a task twice');
        $again = array_keys(array_filter($all, fn ($n) => $n > 1));
        foreach ($again as $id) {
            self::assertArrayHasKey($id, $byKilled, "task $id ran twice, and not because a killed worker had it");
        }
        // What a killed worker had in hand: at most one claim batch (128) plus unsaved outcomes.
        self::assertLessThanOrEqual(2 * 256, count($again), 'tasks run again after the kills');
        $rescued = (int) $target['pdo']->query("SELECT COUNT(*) FROM {$target['prefix']}s_tasks WHERE attempts > 1")->fetchColumn();
        fwrite(STDERR, sprintf("\n[%s] killed 2 of 4 workers after %d tasks; %d tasks rescued, %d ran again\n",
            $backend, $done, $rescued, count($again)));
    }

    /**
     * The database drops every connection twice while 4 workers run: they reconnect and
     * finish, each task completed once, nothing lost.
     *
     * @dataProvider serverBackends
     */
    #[DataProvider('serverBackends')]
    public function testWorkersSurviveTheDatabaseDroppingConnections(string $backend): void
    {
        $target = $this->target($backend);
        $engine = $this->engineOn($target);
        $total = 4000;
        $engine->createMany(array_fill(0, $total, ['identifier' => 'w', 'action' => 'a']));
        unset($engine); // its idle connection would be dropped too; nothing to prove with it
        $procs = $this->startWorkers($target, self::WORKERS, 1000);
        $dropped = 0;
        foreach ([0.25, 0.6] as $share) {
            $this->waitForCompleted($target, (int) ($total * $share));
            $dropped += self::dropConnections($backend, $target);
        }
        self::assertGreaterThan(0, $dropped, 'connections were dropped');
        foreach ($procs as $n => $proc) {
            self::assertSame(0, self::finish($proc), "worker $n reconnected and finished");
        }
        self::assertSame([80 => $total], self::statuses($target), 'every task completed');
        $runs = self::runs($this->recordFiles(self::WORKERS));
        self::assertCount($total, $runs, 'every task ran');
        self::assertSame([], array_filter($runs, fn ($n) => $n > 1), 'no task ran twice');
        fwrite(STDERR, sprintf("\n[%s] dropped %d connections; all %d tasks completed once\n", $backend, $dropped, $total));
    }

    /**
     * A worker paused (SIGSTOP) past its lease: another worker rescues the task and completes
     * it. Resumed (SIGCONT), the stale owner is refused every write and cannot overwrite the
     * new owner's result.
     *
     * @dataProvider backends
     */
    #[DataProvider('backends')]
    public function testAStaleOwnerCannotOverwriteTheRescuedTask(string $backend): void
    {
        $target = $this->target($backend);
        $engine = $this->engineOn($target);
        $task = $engine->create('w', 'slow', [], 'normal', ['maxAttempts' => 3]);
        $record = "{$this->dir}/stale.txt";
        $proc = self::spawn('stale_owner.php', [$target['url'], $target['prefix'], $this->storage, $record]);
        $deadline = microtime(true) + 20;
        while (!str_contains((string) @file_get_contents($record), 'started') && microtime(true) < $deadline) {
            usleep(20_000);
        }
        self::assertStringContainsString("started {$task->id}", (string) file_get_contents($record));
        $pid = proc_get_status($proc[0])['pid'];
        posix_kill($pid, SIGSTOP);

        // Its heartbeat is paused too: once the lease (2 s) expires, the task is rescued.
        $rescued = 0;
        $deadline = microtime(true) + 20;
        while ($rescued === 0 && microtime(true) < $deadline) {
            usleep(200_000);
            $rescued = $engine->process(fn () => null, 0)['rescued'];
        }
        self::assertSame(1, $rescued, 'the expired lease was rescued');
        $target['pdo']->exec("UPDATE {$target['prefix']}s_tasks SET available_at = 0 WHERE id = {$task->id}");
        $report = $engine->process(function (\STask\Task $t) use ($engine) {
            $engine->complete($t->id, ['by' => 'new owner'], 'done by the new owner');
        }, 1);
        self::assertSame(1, $report['completed']);

        posix_kill($pid, SIGCONT);
        touch("$record.resumed");
        self::assertSame(0, self::finish($proc));
        $lines = explode("\n", trim((string) file_get_contents($record)));
        self::assertSame(["started {$task->id}", 'progress refused', 'complete refused', 'lost 1 completed 0'], $lines);
        $row = $engine->find($task->id);
        self::assertTrue($row->isCompleted());
        self::assertSame(['by' => 'new owner'], $row->result, 'the stale owner did not overwrite the result');
        self::assertSame('done by the new owner', $row->message);
        self::assertSame(2, $row->attempts);
    }
}
