<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Carbon\Carbon;
use Illuminate\Database\QueryException;
use Seiger\sTask\Contracts\SupervisorWorkerInterface;
use Seiger\sTask\Enums\SupervisorState;
use Seiger\sTask\Models\sSupervisorState;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\sTask;
use Seiger\sTask\Support\SupervisorStatus;
use Seiger\sTask\Workers\BaseWorker;

/**
 * Keeps the processes of supervisor workers (schedule type `supervisor`) alive. A pass over
 * one worker inspects its process and, when it is stopped, degraded or failed and no launch is
 * pending within the worker's startup grace, starts it (first time) or restarts it. What it
 * saw is kept in `{prefix}s_supervisor_states`; changes are recorded as finished `supervisor`
 * tasks of the worker ("event rows": completed for healthy/starting, failed for stopped,
 * degraded and failed), so the task list shows a supervisor's history.
 *
 * One pass per key at a time, across processes and servers: the state row is taken with an
 * atomic compare-and-set on its lock columns (`locked_until`, `lock_owner`); a pass that finds
 * it taken does nothing. Every write of the pass is guarded by its lock token, so a pass whose
 * lock ran out can no longer overwrite a newer one.
 *
 * Called by `stask:worker` (each scheduler pass) and by `stask:work` (every half minute).
 *
 * @since 2.2.0
 */
class SupervisorService
{
    /** How long a pass may hold a key; a crashed pass blocks the key at most this long. */
    public const LOCK_SECONDS = 60;

    /** Key recorded when the worker's hooks throw outside a pass, or it lacks the interface. */
    public const CONTRACT_KEY = 'supervisor-contract';
    public const EMPTY_KEY = 'empty-supervisor-key';

    /** Event rows created and errors met since the last takeReport(). */
    private int $events = 0;
    /** @var list<string> */
    private array $errors = [];

    /**
     * One supervisor pass for a worker implementing the interface.
     *
     * @return int the number of event rows created (0 when another pass holds the key)
     */
    public function supervise(sWorker $workerRecord, SupervisorWorkerInterface $worker): int
    {
        try {
            $key = trim($worker->supervisorKey());
        } catch (\Throwable $e) {
            return $this->recordContractFailure($workerRecord, self::CONTRACT_KEY, $this->describe($e));
        }
        if ($key === '') {
            return $this->recordContractFailure($workerRecord, self::EMPTY_KEY, $this->text('supervisor_empty_key', 'The supervisor key is empty.'));
        }
        $row = $this->stateRow($workerRecord, $key);
        $token = $this->acquire($row);
        if ($token === null) {
            return 0;
        }
        try {
            $created = $this->superviseLocked($workerRecord, $worker, $row, $key, $token);
            $this->forgetContractFailures($workerRecord, $key);
            return $created;
        } catch (\Throwable $e) {
            // A hook misbehaved past what superviseLocked handles, or the database failed:
            // recorded under this key while the pass still holds it.
            return $this->failLocked($workerRecord, $row, $key, $this->describe($e), $token);
        } finally {
            $this->release($row, $token);
        }
    }

    /**
     * Records that a worker breaks the supervisor contract (an empty key, hooks that throw, a
     * class without SupervisorWorkerInterface on a `supervisor` schedule): state `failed`, and
     * a failed event row when the row is new or the message changed.
     */
    public function recordContractFailure(sWorker $workerRecord, string $supervisorKey, string $message): int
    {
        $row = $this->stateRow($workerRecord, $supervisorKey);
        $token = $this->acquire($row);
        if ($token === null) {
            return 0;
        }
        try {
            return $this->failLocked($workerRecord, $row, $supervisorKey, $message, $token);
        } finally {
            $this->release($row, $token);
        }
    }

    /**
     * The scheduler's entry for a worker whose schedule type is `supervisor`: supervises it,
     * or records a contract failure when its class does not implement the interface. Never
     * throws (one broken worker must not stop the pass over the others): errors are kept for
     * takeReport().
     */
    public function superviseScheduled(sWorker $workerRecord, object $worker): int
    {
        try {
            $created = $worker instanceof SupervisorWorkerInterface
                ? $this->supervise($workerRecord, $worker)
                : $this->recordContractFailure($workerRecord, self::CONTRACT_KEY, $this->text(
                    'supervisor_contract_required',
                    'The worker must implement Seiger\sTask\Contracts\SupervisorWorkerInterface to use the supervisor schedule.'
                ));
        } catch (\Throwable $e) {
            $this->errors[] = sprintf('%s: %s', $workerRecord->identifier, $this->describe($e));
            return 0;
        }
        $this->events += $created;
        return $created;
    }

    /**
     * A pass over every active worker with an enabled `supervisor` schedule (stask:work runs
     * this periodically; stask:worker reaches the same workers through the Scheduler). The
     * schedule is read from the database each time, so a change in the manager counts at once.
     *
     * @return int event rows created
     */
    public function superviseAll(): int
    {
        $created = 0;
        $registry = app(WorkerRegistry::class);
        foreach (sWorker::query()->where('active', true)->orderBy('position')->get() as $row) {
            $settings = is_array($row->settings) ? $row->settings : [];
            if (array_key_exists('schedule', $settings)) {
                $schedule = is_array($settings['schedule']) ? $settings['schedule'] : [];
            } else {
                $schedule = null;
            }
            if ($schedule !== null && !$this->isSupervisorSchedule($schedule)) {
                continue;
            }
            try {
                // A fresh object: a long-running stask:work must see settings (key, grace)
                // changed in the manager since the worker was first built.
                $registry->forget((string) $row->identifier);
                $worker = $registry->resolve((string) $row->identifier);
            } catch (\Throwable) {
                continue;
            }
            // No stored schedule: a BaseWorker may supply a default one.
            if ($schedule === null && !($worker instanceof BaseWorker && $this->isSupervisorSchedule($worker->getSchedule()))) {
                continue;
            }
            $created += $this->superviseScheduled($row, $worker);
        }
        return $created;
    }

    /** @param array<string, mixed> $schedule */
    public function isSupervisorSchedule(array $schedule): bool
    {
        return ($schedule['type'] ?? null) === 'supervisor'
            && filter_var($schedule['enabled'] ?? false, FILTER_VALIDATE_BOOLEAN);
    }

    /**
     * Event rows created and errors met by superviseScheduled() since the last call; resets.
     *
     * @return array{events: int, errors: list<string>}
     */
    public function takeReport(): array
    {
        $report = ['events' => $this->events, 'errors' => $this->errors];
        $this->events = 0;
        $this->errors = [];
        return $report;
    }

    // --- the pass ----------------------------------------------------------------------------

    protected function superviseLocked(
        sWorker $workerRecord,
        SupervisorWorkerInterface $worker,
        sSupervisorState $row,
        string $supervisorKey,
        string $token,
    ): int {
        $seen = $row->last_seen_at !== null;
        $previous = $seen ? SupervisorState::tryFrom((string) $row->state) : null;

        try {
            $status = $worker->inspectSupervisor();
        } catch (\Throwable $e) {
            $status = new SupervisorStatus(SupervisorState::Failed, message: $this->describe($e));
        }

        $event = null;
        $launched = false;
        if ($status->state->requiresLaunch() && !$this->withinStartupGrace($row, $worker)) {
            $launched = true;
            $first = !$seen || $previous === SupervisorState::Stopped;
            try {
                $status = $first ? $worker->startSupervisor() : $worker->restartSupervisor();
                $event = $first ? 'started' : 'restarted';
            } catch (\Throwable $e) {
                $status = new SupervisorStatus(SupervisorState::Failed, message: $this->describe($e));
                $event = 'failed';
            }
            if ($status->state === SupervisorState::Stopped) {
                $event = 'stopped';
            } elseif ($status->state === SupervisorState::Failed) {
                $event = 'failed';
            }
        } elseif ($seen) {
            if ($status->state->isHealthy() && $previous !== SupervisorState::Healthy) {
                $event = 'recovered';
            } elseif ($status->state !== $previous) {
                $event = $status->state->value;
            } elseif ($status->diagnosticFingerprint() !== $row->fingerprint) {
                $event = 'diagnostic_changed';
            }
        }

        return $this->persistAndRecord($workerRecord, $row, $supervisorKey, $status, $event, $launched, $token);
    }

    /** Whether a launch was requested less than the worker's grace seconds ago. */
    protected function withinStartupGrace(sSupervisorState $row, SupervisorWorkerInterface $worker): bool
    {
        $at = $row->launch_requested_at;
        if ($at === null) {
            return false;
        }
        $grace = max(1, $worker->supervisorStartupGraceSeconds());
        $age = microtime(true) - ($at->getTimestamp() + (int) $at->format('v') / 1000);
        // A time slightly ahead (another server's clock) counts as within the grace.
        return $age < $grace && $age > -$grace;
    }

    /** A failed state under the key, with a failed event when new or changed; the lock is held. */
    private function failLocked(sWorker $workerRecord, sSupervisorState $row, string $supervisorKey, string $message, string $token): int
    {
        $status = new SupervisorStatus(SupervisorState::Failed, message: $message);
        $seen = $row->last_seen_at !== null;
        $event = !$seen || $row->fingerprint !== $status->diagnosticFingerprint() ? 'failed' : null;
        return $this->persistAndRecord($workerRecord, $row, $supervisorKey, $status, $event, false, $token);
    }

    private function persistAndRecord(
        sWorker $workerRecord,
        sSupervisorState $row,
        string $supervisorKey,
        SupervisorStatus $status,
        ?string $event,
        bool $launched,
        string $token,
    ): int {
        $seen = $row->last_seen_at !== null;
        $fingerprint = $status->diagnosticFingerprint();
        $stateChanged = !$seen || $row->state !== $status->state->value;
        $fingerprintChanged = $row->fingerprint !== $fingerprint;
        if (!$this->persist($row, $status, $launched, $token)) {
            return 0; // the lock ran out and another pass took over: its view wins
        }
        if ($event === null || !(!$seen || $stateChanged || $fingerprintChanged)) {
            return 0;
        }
        return $this->createEvent($workerRecord, $supervisorKey, $event, $status);
    }

    /**
     * Writes what the pass saw, guarded by the pass's lock token. False when the lock was lost.
     */
    protected function persist(sSupervisorState $row, SupervisorStatus $status, bool $launchRequested, string $token = ''): bool
    {
        $now = Carbon::now();
        $fingerprint = $status->diagnosticFingerprint();
        $stateChanged = $row->last_seen_at === null || $row->state !== $status->state->value;
        $row->fill([
            'state' => $status->state->value,
            'pid' => $status->pid,
            'heartbeat_at' => $status->heartbeatAt,
            'supervisor_started_at' => $status->startedAt,
            'uptime_seconds' => $status->uptimeSeconds === null ? null : max(0, $status->uptimeSeconds),
            'message' => $status->message === '' ? null : $status->message,
            'fingerprint' => $fingerprint,
            'repeat_count' => $row->fingerprint === $fingerprint ? (int) $row->repeat_count + 1 : 0,
            'last_seen_at' => $now,
        ]);
        if ($stateChanged) {
            $row->last_transition_at = $now;
        }
        if ($status->state->isHealthy()) {
            $row->launch_requested_at = null;
        } elseif ($launchRequested) {
            $row->launch_requested_at = $now;
        }
        $changes = $row->getDirty();
        $query = sSupervisorState::query()->whereKey($row->getKey());
        if ($token !== '') {
            $query->where('lock_owner', $token);
        }
        if ($query->update($changes) !== 1) {
            return false;
        }
        $row->syncOriginal();
        return true;
    }

    /**
     * An event row: a `supervisor` task of the worker, created through the engine and finished
     * at once (completed, or failed for a stopped, degraded or failed state). Not subject to
     * duplicate suppression: every event is its own row.
     */
    protected function createEvent(sWorker $workerRecord, string $supervisorKey, string $event, SupervisorStatus $status): int
    {
        $engine = app(sTask::class)->engine();
        $message = $this->eventMessage($event, $supervisorKey, $status->message);
        $task = $engine->create((string) $workerRecord->identifier, 'supervisor', [
            'manual' => false,
            'supervisor_event' => $event,
            'supervisor_key' => $supervisorKey,
            'supervisor_state' => $status->state->value,
            'fingerprint' => $status->diagnosticFingerprint(),
        ], 'normal', [
            'maxAttempts' => 1,
            'userId' => 0,
            // Never claimable in the instant between create and finish below; should this
            // process die in between, the row fails when a worker finds it an hour later.
            'availableAt' => time() + 3600,
        ]);
        $bad = in_array($status->state, [SupervisorState::Failed, SupervisorState::Degraded, SupervisorState::Stopped], true);
        if ($bad) {
            $engine->fail($task->id, $message);
        } else {
            $engine->complete($task->id, null, $message);
        }
        return 1;
    }

    protected function keyHash(sWorker $workerRecord, string $supervisorKey): string
    {
        return hash('sha256', $workerRecord->getKey() . ':' . $supervisorKey);
    }

    // --- state row and its lock --------------------------------------------------------------

    /** The key's state row, created when missing (a concurrent creator's row wins the race). */
    private function stateRow(sWorker $workerRecord, string $supervisorKey): sSupervisorState
    {
        $hash = $this->keyHash($workerRecord, $supervisorKey);
        $existing = sSupervisorState::query()->where('key_hash', $hash)->first();
        if ($existing !== null) {
            return $existing;
        }
        try {
            return sSupervisorState::query()->create([
                'key_hash' => $hash,
                'worker_id' => (int) $workerRecord->getKey(),
                'identifier' => (string) $workerRecord->identifier,
                'supervisor_key' => $supervisorKey,
                'state' => SupervisorState::Stopped->value,
                'repeat_count' => 0,
            ]);
        } catch (QueryException $e) {
            // Another pass inserted it between our read and our insert (unique key_hash).
            return sSupervisorState::query()->where('key_hash', $hash)->first() ?? throw $e;
        }
    }

    /**
     * Takes the row's pass lock: one conditional UPDATE that succeeds only while the lock is
     * free or expired. Returns the token that proves ownership, or null when another pass has
     * it. Reloads the row, so the pass sees what the previous pass stored.
     */
    private function acquire(sSupervisorState $row): ?string
    {
        $token = bin2hex(random_bytes(16));
        $now = (int) floor(microtime(true) * 1000);
        $taken = sSupervisorState::query()->whereKey($row->getKey())
            ->where(fn ($q) => $q->whereNull('locked_until')->orWhere('locked_until', '<=', $now))
            ->toBase()
            ->update(['locked_until' => $now + self::LOCK_SECONDS * 1000, 'lock_owner' => $token]);
        if ($taken !== 1) {
            return null;
        }
        $row->refresh();
        return $token;
    }

    private function release(sSupervisorState $row, string $token): void
    {
        try {
            sSupervisorState::query()->whereKey($row->getKey())->where('lock_owner', $token)
                ->toBase()->update(['locked_until' => null, 'lock_owner' => null]);
        } catch (\Throwable) {
            // The lock runs out by itself.
        }
        $row->locked_until = null;
        $row->lock_owner = null;
        $row->syncOriginalAttributes(['locked_until', 'lock_owner']);
    }

    /** A worker that now has a valid key no longer breaks the contract: drops those rows. */
    private function forgetContractFailures(sWorker $workerRecord, string $supervisorKey): void
    {
        $stale = array_values(array_diff([self::CONTRACT_KEY, self::EMPTY_KEY], [$supervisorKey]));
        sSupervisorState::query()->where('worker_id', $workerRecord->getKey())->whereIn('supervisor_key', $stale)->delete();
    }

    private function eventMessage(string $event, string $supervisorKey, string $detail): string
    {
        $text = $this->text('supervisor_event_' . $event, 'Supervisor :supervisor: ' . str_replace('_', ' ', $event) . '.', ['supervisor' => $supervisorKey]);
        $detail = trim($detail);
        return $detail === '' ? $text : $text . ' ' . $detail;
    }

    /** A translation of sTask::global.$key, or $fallback when the key is missing. */
    private function text(string $key, string $fallback, array $replace = []): string
    {
        $id = 'sTask::global.' . $key;
        try {
            $text = (string) __($id, $replace);
        } catch (\Throwable) {
            $text = $id;
        }
        if ($text === $id) {
            $text = $fallback;
            foreach ($replace as $name => $value) {
                $text = str_replace(':' . $name, (string) $value, $text);
            }
        }
        return $text;
    }

    private function describe(\Throwable $e): string
    {
        $message = trim($e->getMessage());
        return $message === '' ? get_class($e) : $message;
    }
}
