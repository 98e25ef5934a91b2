<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Acme\Daemon\ListenerWorker;
use Seiger\sTask\Enums\SupervisorState;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sSupervisorState;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Support\SupervisorStatus;
use STask\Tests\Evo\Site;

/**
 * Supervised processes for real: the fixture worker acme/daemon "listener" launches
 * bin/listener.php as a detached PHP process that writes a heartbeat every 200 ms; real
 * `php artisan stask:worker` / `stask:work` processes start it, watch it and restart it.
 * On the embedded SQLite site here; on MariaDB and PostgreSQL in the subclasses.
 */
class SupervisorTest extends PackageTestCase
{
    protected array $packages = ['acme/mail', 'acme/daemon'];
    /** "mysql" or "pgsql": the site's database is a server (ServerDatabase); null: SQLite. */
    protected ?string $server = null;
    private ?ServerDatabase $db = null;

    protected function setUp(): void
    {
        if ($this->server === null) {
            parent::setUp();
        } else {
            $this->db = ServerDatabase::create($this, $this->server);
            $this->site = new Site($this->packages, $this->staskConfig, null, 'evo_', null, null, null, $this->db->connection);
            $this->artisan('migrate', ['--force' => true]);
        }
        $this->artisan('stask:discover', ['--activate' => ['listener', 'newsletter']]);
        $this->configure('listener', ['key' => 'main', 'grace' => 2]);
    }

    protected function tearDown(): void
    {
        // Every listener any test launched: by the pids its launches and beats recorded.
        foreach (glob($this->site->core . '/storage/acme-listener/*/{launch,state}.json', GLOB_BRACE) ?: [] as $file) {
            $pid = (int) (json_decode((string) file_get_contents($file), true)['pid'] ?? 0);
            if (ListenerWorker::alive($pid)) {
                posix_kill($pid, SIGKILL);
            }
        }
        foreach (glob($this->site->core . '/storage/acme-listener/*/launches.log') ?: [] as $log) {
            foreach (file($log, FILE_IGNORE_NEW_LINES) as $line) {
                $pid = (int) explode(' ', $line)[2];
                if (ListenerWorker::alive($pid)) {
                    posix_kill($pid, SIGKILL);
                }
            }
        }
        if (isset($this->site)) {
            parent::tearDown();
        }
        $this->db?->drop();
        $this->db = null;
    }

    // --- start, watch, restart ------------------------------------------------------------

    public function testAPassStartsTheProcessALaterOneSeesItHealthyAndAKilledOneIsRestarted(): void
    {
        $this->pass();
        self::assertSame(['started'], $this->events());
        $row = $this->state();
        self::assertSame('starting', $row->state);
        self::assertNotNull($row->launch_requested_at);
        $started = $this->eventTasks()->first();
        self::assertSame(80, $started->status, 'a start is a completed event');
        self::assertSame(['manual' => false, 'supervisor_event' => 'started', 'supervisor_key' => 'main', 'supervisor_state' => 'starting', 'fingerprint' => $row->fingerprint], $started->meta);
        self::assertStringContainsString('main', (string) $started->message);
        self::assertSame(1, $started->max_attempts);

        $pid = $this->waitForBeat();
        $this->pass();
        $row = $this->state();
        self::assertSame('healthy', $row->state);
        self::assertSame($pid, $row->pid);
        self::assertNotNull($row->heartbeat_at);
        self::assertNotNull($row->supervisor_started_at);
        self::assertNull($row->launch_requested_at, 'healthy: no launch pending');
        self::assertSame(['started', 'recovered'], $this->events(), 'starting → healthy is recorded once');
        self::assertSame(0, $row->repeat_count);

        // Unchanged and healthy: no event row, the repeat counter goes up.
        $this->pass();
        $this->pass();
        $row = $this->state();
        self::assertSame('healthy', $row->state);
        self::assertSame(2, $row->repeat_count);
        self::assertSame(['started', 'recovered'], $this->events());
        self::assertCount(1, $this->launches());

        // The process dies: the next pass sees it stopped and restarts it.
        posix_kill($pid, SIGKILL);
        $this->waitFor(fn () => !ListenerWorker::alive($pid));
        $this->pass();
        self::assertSame(['started', 'recovered', 'restarted'], $this->events());
        self::assertSame('starting', $this->state()->state);
        self::assertCount(2, $this->launches());
        $newPid = $this->waitForBeat();
        self::assertNotSame($pid, $newPid);
        self::assertTrue(ListenerWorker::alive($newPid));
        $this->pass();
        self::assertSame('healthy', $this->state()->state);
        self::assertSame($newPid, $this->state()->pid);
        self::assertSame(['started', 'recovered', 'restarted', 'recovered'], $this->events());
        self::assertSame([80, 80, 80, 80], $this->eventTasks()->pluck('status')->all());
    }

    public function testTheWorkerPageOffersTheScheduleAndShowsTheState(): void
    {
        $this->pass();
        $pid = $this->waitForBeat();
        $this->pass();
        $id = $this->state()->identifier;
        $html = (string) $this->get("stask/worker/$id")->getContent();
        self::assertStringContainsString('<option value="supervisor"', $html, 'a supervisor worker is offered the type');
        self::assertStringContainsString('data-supervisor-state="healthy"', $html);
        self::assertStringContainsString('<td>' . $pid . '</td>', $html);
        $other = (string) $this->get('stask/worker/newsletter')->getContent();
        self::assertStringNotContainsString('<option value="supervisor"', $other);
        $d = $this->json($this->post('stask/worker/newsletter/settings', ['schedule' => ['enabled' => '1', 'type' => 'supervisor']]), 422);
        self::assertFalse($d['success']);
        self::assertNotSame('supervisor', \Seiger\sTask\Facades\sTask::getWorker('newsletter')->settings['schedule']['type'] ?? null, 'nothing saved');
    }

    public function testAStalledProcessIsDegradedAndReplaced(): void
    {
        $this->pass();
        $pid = $this->waitForBeat();
        $this->pass();
        self::assertSame('healthy', $this->state()->state);

        posix_kill($pid, SIGSTOP); // alive, but its heartbeat stops
        usleep(1_800_000);
        $this->pass();
        self::assertSame(['started', 'recovered', 'restarted'], $this->events());
        self::assertFalse(ListenerWorker::alive($pid), 'the stalled process was killed before the new launch');
        $newPid = $this->waitForBeat();
        self::assertNotSame($pid, $newPid);
        self::assertCount(2, $this->launches());
    }

    public function testNoSecondLaunchWithinTheStartupGrace(): void
    {
        // The process exits at once: within the grace the supervisor waits, after it launches again.
        $this->configure('listener', ['key' => 'main', 'grace' => 3, 'lifetime' => 0]);
        $this->pass();
        $launch = json_decode((string) file_get_contents($this->dir() . '/launch.json'), true);
        $this->waitFor(fn () => !ListenerWorker::alive((int) $launch['pid']));
        $this->pass();
        self::assertCount(1, $this->launches(), 'no launch within the grace');
        self::assertSame('stopped', $this->state()->state);
        self::assertSame(['started', 'stopped'], $this->events());
        self::assertSame(100, $this->eventTasks()->last()->status, 'a stop is a failed event');

        $this->state()->forceFill(['launch_requested_at' => now()->subSeconds(4)])->save();
        $this->pass();
        self::assertCount(2, $this->launches(), 'launched again after the grace');
        self::assertSame(['started', 'stopped', 'started'], $this->events(), 'from stopped it is a start, not a restart');
    }

    // --- one pass per key ---------------------------------------------------------------------

    public function testTwoConcurrentPassesLaunchOnce(): void
    {
        // A slow launch: the second pass arrives while the first still holds the key.
        $this->configure('listener', ['key' => 'main', 'grace' => 2, 'start_delay' => 3]);
        $a = $this->spawn(['stask:worker']);
        $b = $this->spawn(['stask:worker']);
        foreach ([$a, $b] as $spawned) {
            [$code, $out] = $this->finish($spawned);
            self::assertSame(0, $code, $out);
        }
        self::assertCount(1, $this->launches(), 'launched once');
        self::assertCount(1, $this->lines('inspections.log'), 'the other pass found the key taken and left it');
        self::assertSame(['started'], $this->events());
        self::assertSame(1, sSupervisorState::query()->count());
        $row = $this->state();
        self::assertNull($row->locked_until, 'the lock is released after the pass');
        self::assertNull($row->lock_owner);
    }

    public function testAKeyHeldByAnotherPassIsLeftAloneUntilItsLockRunsOut(): void
    {
        $this->pass();
        $held = ['locked_until' => (int) (microtime(true) * 1000) + 60_000, 'lock_owner' => 'another-server'];
        sSupervisorState::query()->whereKey($this->state()->id)->toBase()->update($held);
        $before = count($this->lines('inspections.log'));
        $this->pass();
        self::assertCount($before, $this->lines('inspections.log'), 'not inspected while held');

        // The holder crashed: once its lock has run out, passes go on.
        sSupervisorState::query()->whereKey($this->state()->id)->toBase()->update(['locked_until' => (int) (microtime(true) * 1000) - 1]);
        $this->pass();
        self::assertCount($before + 1, $this->lines('inspections.log'));
        self::assertNull($this->state()->lock_owner);
    }

    // --- contract failures ------------------------------------------------------------------

    public function testAWorkerWithoutTheInterfaceOnASupervisorScheduleIsAFailedEvent(): void
    {
        $this->configure('newsletter', []);
        $this->pass();
        $row = sSupervisorState::query()->where('identifier', 'newsletter')->first();
        self::assertNotNull($row);
        self::assertSame('supervisor-contract', $row->supervisor_key);
        self::assertSame('failed', $row->state);
        $events = $this->eventTasks('newsletter');
        self::assertCount(1, $events);
        self::assertSame(100, $events[0]->status);
        self::assertSame('failed', $events[0]->meta['supervisor_event']);
        self::assertStringContainsString('SupervisorWorkerInterface', (string) $events[0]->message);

        $this->pass();
        self::assertCount(1, $this->eventTasks('newsletter'), 'the same failure again is not a new event');
        self::assertSame(1, sSupervisorState::query()->where('identifier', 'newsletter')->first()->repeat_count);
    }

    public function testAnEmptyKeyAndAFailingLaunchAreFailedEvents(): void
    {
        $this->configure('listener', ['key' => '  ']);
        $this->pass();
        $row = $this->state('empty-supervisor-key');
        self::assertSame('failed', $row->state);
        self::assertSame(['failed'], $this->events());
        self::assertSame(100, $this->eventTasks()->first()->status);
        self::assertSame([], $this->launches());

        $this->configure('listener', ['key' => 'main', 'fail_start' => 'port 8080 is in use']);
        $this->pass();
        self::assertNull(sSupervisorState::query()->where('supervisor_key', 'empty-supervisor-key')->first(), 'a valid key clears the old contract failure');
        $row = $this->state();
        self::assertSame('failed', $row->state);
        self::assertSame('port 8080 is in use', $row->message);
        self::assertSame(['failed', 'failed'], $this->events());
        self::assertStringContainsString('port 8080 is in use', (string) $this->eventTasks()->last()->message);
    }

    public function testTheStatusFingerprintIgnoresThePid(): void
    {
        $a = new SupervisorStatus(SupervisorState::Healthy, 10, message: ' listening ');
        $b = new SupervisorStatus(SupervisorState::Healthy, 20, message: 'listening');
        self::assertSame($a->diagnosticFingerprint(), $b->diagnosticFingerprint());
        self::assertSame(hash('sha256', "healthy\nlistening"), $a->diagnosticFingerprint());
        self::assertNotSame($a->diagnosticFingerprint(), (new SupervisorStatus(SupervisorState::Degraded, 10, message: 'listening'))->diagnosticFingerprint());
        self::assertSame(hash('sha256', 'E42'), (new SupervisorStatus(SupervisorState::Failed, message: 'x', fingerprint: ' E42 '))->diagnosticFingerprint());
        self::assertTrue(SupervisorState::Degraded->requiresLaunch());
        self::assertFalse(SupervisorState::Starting->requiresLaunch());
    }

    public function testTheWorkerHasItsStatesAndRollbackDropsTheTable(): void
    {
        $this->pass();
        $worker = sWorker::query()->with('supervisorStates')->where('identifier', 'listener')->first();
        self::assertCount(1, $worker->supervisorStates);
        self::assertSame('listener', $worker->supervisorStates[0]->worker->identifier);
        $schema = app('db')->connection(sTask::connectionName())->getSchemaBuilder();
        self::assertTrue($schema->hasTable('s_supervisor_states'));
        $this->artisan('migrate:rollback', ['--force' => true]);
        self::assertFalse($schema->hasTable('s_supervisor_states'));
    }

    public function testAnUpstreamTableIsKeptAndGetsTheLockColumns(): void
    {
        $schema = app('db')->connection(sTask::connectionName())->getSchemaBuilder();
        $schema->drop('s_supervisor_states');
        // Upstream 2.2's table (its own migration name), with a row.
        $schema->create('s_supervisor_states', function (\Illuminate\Database\Schema\Blueprint $t) {
            $t->bigIncrements('id');
            $t->unsignedBigInteger('worker_id')->index();
            $t->string('identifier')->index();
            $t->string('supervisor_key');
            $t->char('key_hash', 64)->unique();
            $t->string('state', 24)->default('stopped')->index();
            $t->unsignedBigInteger('pid')->nullable();
            $t->timestamp('heartbeat_at')->nullable();
            $t->timestamp('supervisor_started_at')->nullable();
            $t->unsignedBigInteger('uptime_seconds')->nullable();
            $t->text('message')->nullable();
            $t->char('fingerprint', 64)->nullable();
            $t->timestamp('last_transition_at')->nullable();
            $t->timestamp('last_seen_at')->nullable()->index();
            $t->unsignedInteger('repeat_count')->default(0);
            $t->timestamp('launch_requested_at')->nullable();
            $t->timestamps();
        });
        $worker = sWorker::query()->where('identifier', 'listener')->firstOrFail();
        app('db')->connection(sTask::connectionName())->table('s_supervisor_states')->insert([
            'worker_id' => $worker->id, 'identifier' => 'listener', 'supervisor_key' => 'main',
            'key_hash' => hash('sha256', $worker->id . ':main'), 'state' => 'healthy', 'repeat_count' => 7,
            'last_seen_at' => gmdate('Y-m-d H:i:s', time() - 60),
        ]);
        $migration = require Site::REPO . '/database/migrations/2026_11_27_000002_create_supervisor_states_table.php';
        $migration->up();
        self::assertTrue($schema->hasColumn('s_supervisor_states', 'locked_until'));
        self::assertTrue($schema->hasColumn('s_supervisor_states', 'lock_owner'));
        self::assertSame(7, $this->state()->repeat_count, 'the row is kept');

        // The kept row goes on: the supervisor sees the process gone and restarts it.
        $this->pass();
        self::assertSame(['restarted'], $this->events());
        self::assertSame('starting', $this->state()->state);
        $this->waitForBeat();
    }

    // --- stask:work ---------------------------------------------------------------------------

    public function testStaskWorkSupervisesAndKeepsTheHeartbeatFresh(): void
    {
        $heartbeat = $this->site->core . '/storage/logs/sTask.heartbeat';
        self::assertFileDoesNotExist($heartbeat);
        $work = $this->spawn(['stask:work', '--supervise=1', '--sleep=0.2', '--max-time=6']);
        try {
            $this->waitFor(fn () => in_array('recovered', $this->events(), true), 10);
            self::assertFileExists($heartbeat);
            unlink($heartbeat);
            $this->waitFor(fn () => is_file($heartbeat), 3); // touched again, not only at start
            // Settings changed in the manager reach the running worker.
            $this->configure('listener', ['key' => 'second', 'grace' => 2]);
            $this->waitFor(fn () => $this->state('second') !== null, 5);
        } finally {
            [$code, $out] = $this->finish($work);
        }
        self::assertSame(0, $code, $out);
        self::assertSame(['started', 'recovered', 'started'], array_slice($this->events(), 0, 3));
        self::assertSame('healthy', $this->state()->state);
        self::assertSame('main', $this->eventTasks()->first()->meta['supervisor_key']);
        self::assertSame('second', $this->eventTasks()[2]->meta['supervisor_key']);
        self::assertTrue(sTask::heartbeat(10));
    }

    // --- heartbeat ----------------------------------------------------------------------------

    public function testHeartbeatStates(): void
    {
        $path = $this->site->core . '/storage/logs/sTask.heartbeat';
        self::assertDirectoryDoesNotExist(dirname($path));
        self::assertSame(['available' => false, 'state' => 'missing', 'last_seen_at' => null, 'age_seconds' => null], sTask::heartbeatStatus());
        self::assertFalse(sTask::heartbeat());

        $this->artisan('stask:worker'); // creates storage/logs when missing
        $status = sTask::heartbeatStatus();
        self::assertSame('available', $status['state']);
        self::assertTrue($status['available']);
        self::assertLessThanOrEqual(2, $status['age_seconds']);
        self::assertEqualsWithDelta(time(), $status['last_seen_at'], 2);
        self::assertTrue(sTask::heartbeat());

        touch($path, time() - 4000);
        $status = sTask::heartbeatStatus();
        self::assertSame('expired', $status['state']);
        self::assertFalse($status['available']);
        self::assertGreaterThanOrEqual(4000, $status['age_seconds']);
        self::assertTrue(sTask::heartbeat(5000));
        self::assertSame('available', sTask::heartbeatStatus(4000 + 5)['state'], 'age ≤ ttl is available');

        self::assertSame(['available' => false, 'state' => 'error', 'last_seen_at' => null, 'age_seconds' => null], sTask::heartbeatStatus(-1));

        $future = time() + 600;
        touch($path, $future);
        $status = sTask::heartbeatStatus();
        self::assertSame('error', $status['state']);
        self::assertFalse($status['available']);
        self::assertSame($future, $status['last_seen_at']);

        // Reads no service state: works on an instance built without its constructor.
        $bare = (new \ReflectionClass(\Seiger\sTask\sTask::class))->newInstanceWithoutConstructor();
        self::assertSame('error', $bare->heartbeatStatus()['state']);
        clearstatcache();
        self::assertSame($future, filemtime($path), 'reading never touches the marker');
    }

    // --- helpers ------------------------------------------------------------------------------

    /** Gives a worker the supervisor schedule and these settings. */
    private function configure(string $identifier, array $settings): void
    {
        $worker = sWorker::query()->where('identifier', $identifier)->firstOrFail();
        $worker->settings = ['schedule' => ['enabled' => true, 'type' => 'supervisor']] + $settings;
        $worker->save();
        sTask::clearWorkerCache();
    }

    /** One scheduler pass in its own process, as cron runs it. */
    private function pass(): string
    {
        [$code, $out] = $this->finish($this->spawn(['stask:worker']));
        self::assertSame(0, $code, $out);
        return $out;
    }

    private function state(string $key = 'main'): ?sSupervisorState
    {
        return sSupervisorState::query()->where('identifier', 'listener')->where('supervisor_key', $key)->first();
    }

    private function eventTasks(string $identifier = 'listener'): \Illuminate\Support\Collection
    {
        return sTaskModel::query()->where('identifier', $identifier)->where('action', 'supervisor')->orderBy('id')->get();
    }

    /** @return list<string> */
    private function events(string $identifier = 'listener'): array
    {
        return $this->eventTasks($identifier)->map(fn (sTaskModel $t) => $t->meta['supervisor_event'])->all();
    }

    private function dir(): string
    {
        return $this->site->core . '/storage/acme-listener/main';
    }

    /** @return list<string> */
    private function lines(string $file): array
    {
        $path = $this->dir() . '/' . $file;
        return is_file($path) ? file($path, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) : [];
    }

    /** @return list<string> */
    private function launches(): array
    {
        return $this->lines('launches.log');
    }

    /** Waits for a fresh beat of the current listener; returns its pid. */
    private function waitForBeat(): int
    {
        $state = null;
        $this->waitFor(function () use (&$state): bool {
            $state = json_decode((string) @file_get_contents($this->dir() . '/state.json'), true);
            return is_array($state) && microtime(true) - $state['beat'] < 0.5 && ListenerWorker::alive((int) $state['pid']);
        });
        return (int) $state['pid'];
    }

    /** @return array{0: resource, 1: array<int, resource>} */
    private function spawn(array $args): array
    {
        $extension = realpath((string) getenv('STASK_EXTENSION')) ?: \STask\Tests\Evo\Site::REPO . '/target/release/libstask.so';
        $cmd = array_merge([PHP_BINARY, '-d', 'extension=' . $extension, $this->site->core . '/artisan'], $args);
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $this->site->core);
        self::assertIsResource($proc);
        return [$proc, $pipes];
    }

    /**
     * Waits for a spawned command (killing it after $timeout seconds: a hung pass fails the
     * test instead of the suite); returns its exit code and output.
     *
     * @return array{int, string}
     */
    private function finish(array $spawned, float $timeout = 60.0): array
    {
        [$proc, $pipes] = $spawned;
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
        $out = '';
        $deadline = microtime(true) + $timeout;
        while (($status = proc_get_status($proc))['running']) {
            $out .= stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
            if (microtime(true) > $deadline) {
                proc_terminate($proc, SIGKILL);
                proc_close($proc);
                self::fail("the command did not finish within $timeout s:\n$out");
            }
            usleep(10_000);
        }
        $out .= stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        proc_close($proc);
        return [(int) $status['exitcode'], $out];
    }

    private function waitFor(callable $condition, float $seconds = 10.0): void
    {
        $deadline = microtime(true) + $seconds;
        while (!$condition()) {
            if (microtime(true) > $deadline) {
                self::fail('timed out waiting');
            }
            usleep(20_000);
        }
    }
}
