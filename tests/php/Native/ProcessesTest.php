<?php
declare(strict_types=1);

namespace STask\Tests\Native;

/** Real PHP processes sharing one queue: concurrent workers, a SIGKILL mid-task, and fork. */
final class ProcessesTest extends EngineTestCase
{
    public function testTwoProcessesProcessOneQueueEachTaskOnce(): void
    {
        $total = 2000;
        $this->engine->createMany(array_fill(0, $total, ['identifier' => 'w', 'action' => 'a']));
        $out = $this->dir . '/runs';
        mkdir($out);
        $procs = [];
        foreach ([1, 2] as $n) {
            $procs[] = self::spawn('record_worker.php', [$this->db, $this->storage, "$out/worker$n.txt", 0]);
        }
        foreach ($procs as [$proc, $pipes]) {
            $err = stream_get_contents($pipes[2]);
            fclose($pipes[1]);
            fclose($pipes[2]);
            self::assertSame(0, proc_close($proc), $err);
        }
        $per = [];
        $all = [];
        foreach ([1, 2] as $n) {
            $ids = array_filter(explode("\n", (string) file_get_contents("$out/worker$n.txt")));
            $per[$n] = count($ids);
            array_push($all, ...$ids);
        }
        self::assertCount($total, $all);
        self::assertCount($total, array_unique($all), 'no task ran twice');
        self::assertSame($total, $this->countRows('status = 80'));
        self::assertGreaterThan(0, min($per), 'both processes did some of the work: ' . json_encode($per));
    }

    public function testAWorkerKilledMidTaskHasItsTaskRescuedAfterTheLease(): void
    {
        $t = $this->engine->create('w', 'slow', [], 'normal', ['maxAttempts' => 3]);
        [$proc, $pipes] = self::spawn('record_worker.php', [$this->db, $this->storage, $this->dir . '/killed.txt', 30]);
        // Wait until it has claimed the task and runs its (30 s) handler.
        $deadline = microtime(true) + 20;
        while ($this->row($t->id)['status'] != 50 && microtime(true) < $deadline) {
            usleep(20_000);
        }
        self::assertSame(50, (int) $this->row($t->id)['status'], 'the worker claimed the task');
        $pid = proc_get_status($proc)['pid'];
        posix_kill($pid, SIGKILL);
        fclose($pipes[1]);
        fclose($pipes[2]);
        proc_close($proc);

        // Its lease (2 s in the fixture) is no longer renewed: a new worker rescues the task.
        $rescuer = $this->newEngine(['leaseSeconds' => 2]);
        $deadline = microtime(true) + 15;
        $rescued = 0;
        while ($rescued === 0 && microtime(true) < $deadline) {
            usleep(250_000);
            $rescued = $rescuer->process(fn () => null, 0)['rescued'];
        }
        self::assertSame(1, $rescued, 'the expired lease was rescued');
        $row = $rescuer->find($t->id);
        self::assertSame('pending', $row->statusText);
        self::assertSame(1, $row->attempts, 'the killed attempt counts');
        $this->makeDue($t->id);
        self::assertSame(1, $rescuer->processPendingTasks(fn () => null));
        self::assertSame(2, $rescuer->find($t->id)->attempts);
        self::assertTrue($rescuer->find($t->id)->isCompleted());
    }

    public function testAnEngineCreatedBeforeForkWorksInTheChildren(): void
    {
        if (!function_exists('pcntl_fork')) {
            self::markTestSkipped('pcntl is not available');
        }
        $this->engine->createMany(array_fill(0, 30, ['identifier' => 'w', 'action' => 'a']));
        $this->engine->find(1); // the connection exists before the fork
        [$code, $out, $err] = self::runScript('fork_worker.php', [$this->db, $this->storage]);
        self::assertSame(0, $code, $out . $err);
        self::assertStringContainsString('children: 3 ok', $out);
        self::assertSame(30, $this->countRows('status = 80'));
    }
}
