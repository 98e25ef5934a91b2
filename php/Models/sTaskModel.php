<?php

declare(strict_types=1);

namespace Seiger\sTask\Models;

use Illuminate\Database\Eloquent\Builder;
use Illuminate\Database\Eloquent\Model;
use Illuminate\Database\Eloquent\Relations\BelongsTo;
use Seiger\sTask\Facades\sTask;

/**
 * A task row (table `{prefix}s_tasks`). Read it with Eloquent; change it through the engine
 * (sTask::cancel(), retry(), the worker's markFinished() …) so that claims and fencing hold.
 *
 * @property int $id
 * @property string $identifier
 * @property string $action
 * @property int $status
 * @property string|null $message
 * @property int|null $started_by
 * @property array $meta
 * @property mixed $result
 * @property string $priority
 * @property int $progress
 * @property int $attempts
 * @property int $max_attempts
 * @property-read string $status_text
 * @property-read float|null $duration
 */
class sTaskModel extends Model
{
    use UtcTimestamps;

    public const TASK_STATUS_QUEUED = 10;
    public const TASK_STATUS_PREPARING = 30;
    public const TASK_STATUS_RUNNING = 50;
    public const TASK_STATUS_FINISHED = 80;
    public const TASK_STATUS_CANCELLED = 90;
    public const TASK_STATUS_FAILED = 100;

    /** Same codes under their current names. */
    public const STATUS_PENDING = 10;
    public const STATUS_PREPARING = 30;
    public const STATUS_RUNNING = 50;
    public const STATUS_COMPLETED = 80;
    public const STATUS_CANCELLED = 90;
    public const STATUS_FAILED = 100;

    /** Statuses of a task that is not finished yet (upstream 2.1). */
    public const TASK_ACTIVE_STATUSES = [self::STATUS_PENDING, self::STATUS_PREPARING, self::STATUS_RUNNING];

    /** Columns whose writes are lifecycle transitions: they go through the engine. */
    private const LIFECYCLE_COLUMNS = ['status', 'message', 'result', 'progress', 'start_at', 'finished_at'];

    private const STATUS_TEXT = [10 => 'pending', 30 => 'preparing', 50 => 'running', 80 => 'completed', 90 => 'cancelled', 100 => 'failed'];

    protected $table = 's_tasks';

    protected $fillable = [
        'identifier', 'action', 'status', 'message', 'started_by', 'meta', 'result', 'start_at',
        'finished_at', 'attempts', 'max_attempts', 'priority', 'progress',
    ];

    protected $casts = [
        'id' => 'integer',
        'status' => 'integer',
        'started_by' => 'integer',
        'progress' => 'integer',
        'attempts' => 'integer',
        'max_attempts' => 'integer',
        'meta' => 'array',
        'result' => 'array',
        'start_at' => 'datetime',
        'finished_at' => 'datetime',
        'created_at' => 'datetime',
        'updated_at' => 'datetime',
        'cancel_requested' => 'boolean',
        'available_at' => 'integer',
    ];

    protected $appends = ['status_text'];

    public function getConnectionName()
    {
        return $this->connection ?? sTask::connectionName();
    }

    /**
     * A model for a task the engine handed over, built without a query. Workers get one per
     * task, so it is a copy of a blank model rather than a constructed one (Eloquent's
     * constructor costs more than the rest of the task's overhead); events and the
     * connection are as for a model read by a query.
     */
    public static function fromTask(\STask\Task $task): static
    {
        static $blank = [];
        $model = clone ($blank[static::class] ??= (new static())->newInstance([], true));
        $time = static fn (?int $t): ?string => $t === null ? null : gmdate('Y-m-d H:i:s', $t) . '.000';
        $model->setRawAttributes([
            'id' => $task->id,
            'identifier' => $task->identifier,
            'action' => $task->action,
            'status' => $task->status,
            'message' => $task->message,
            'started_by' => $task->userId,
            'meta' => json_encode($task->data, JSON_PRESERVE_ZERO_FRACTION),
            'result' => $task->result === null ? null : json_encode($task->result, JSON_PRESERVE_ZERO_FRACTION),
            'start_at' => $time($task->startedAt),
            'finished_at' => $time($task->finishedAt),
            'attempts' => $task->attempts,
            'max_attempts' => $task->maxAttempts,
            'priority' => $task->priority,
            'progress' => $task->progress,
            'created_at' => $time($task->createdAt),
            'updated_at' => $time($task->updatedAt),
            'available_at' => $task->availableAt === null ? null : $task->availableAt * 1000,
            'cancel_requested' => $task->cancelRequested,
            'last_error' => $task->lastError,
            'unique_key' => $task->uniqueKey,
        ], true);
        $model->setConnection(sTask::connectionName());
        $model->fireModelEvent('retrieved', false);
        return $model;
    }

    /** @return list<int> the statuses of unfinished tasks: pending, preparing, running */
    public static function activeStatuses(): array
    {
        return self::TASK_ACTIVE_STATUSES;
    }

    /**
     * Task data in a canonical form: keys of maps sorted (recursively), lists kept in order, so
     * that two equal payloads compare equal (`===`) whatever order their keys were built in.
     */
    public static function normalizeMeta(array $meta): array
    {
        if (!array_is_list($meta)) {
            ksort($meta);
        }
        foreach ($meta as $key => $value) {
            if (is_array($value)) {
                $meta[$key] = self::normalizeMeta($value);
            }
        }
        return $meta;
    }

    /**
     * The oldest unfinished task of this worker and action with the same data (compared after
     * normalizeMeta(), types included), or null. sTask::create() uses the same rule, atomically.
     */
    public static function findActiveDuplicate(string $identifier, string $action, array $meta = []): ?self
    {
        $normalized = self::normalizeMeta($meta);
        $keyed = static::query()->where('unique_key', self::duplicateKey($identifier, $action, $normalized))
            ->whereIn('status', self::TASK_ACTIVE_STATUSES)->orderBy('id')->first();
        if ($keyed !== null) {
            return $keyed;
        }
        // Tasks queued before duplicate keys existed (e.g. by upstream sTask) carry no key.
        return static::query()->where('identifier', $identifier)->where('action', $action)
            ->whereIn('status', self::TASK_ACTIVE_STATUSES)->whereNull('unique_key')->orderBy('id')->get()
            ->first(static fn (self $task): bool => self::normalizeMeta((array) $task->meta) === $normalized);
    }

    /**
     * The unique key that makes sTask::create() hand back an unfinished duplicate instead of
     * queueing a second task: worker, action and the normalized data, hashed.
     */
    public static function duplicateKey(string $identifier, string $action, array $normalizedMeta): string
    {
        $json = json_encode([$identifier, $action, $normalizedMeta], JSON_PRESERVE_ZERO_FRACTION | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
        return 'dup:' . hash('sha256', (string) $json);
    }

    public static function statusText(int|string|null $status): string
    {
        return self::STATUS_TEXT[(int) $status] ?? 'unknown';
    }

    /** The id without Eloquent's attribute machinery: workers pass it to the engine per progress report. */
    public function taskId(): int
    {
        return (int) ($this->attributes['id'] ?? 0);
    }

    public function getStatusTextAttribute(): string
    {
        return self::statusText($this->status);
    }

    /** Seconds between the start of the last attempt and its end (or now, while running). */
    public function getDurationAttribute(): ?float
    {
        if (!$this->start_at) {
            return null;
        }
        $end = $this->finished_at ?? now();
        return abs($end->getTimestamp() + $end->format('u') / 1e6 - ($this->start_at->getTimestamp() + $this->start_at->format('u') / 1e6));
    }

    // --- scopes ------------------------------------------------------------------------------

    public function scopePending(Builder $q): Builder
    {
        return $q->where('status', self::STATUS_PENDING);
    }

    /** Upstream's name for pending. */
    public function scopeQueued(Builder $q): Builder
    {
        return $this->scopePending($q);
    }

    public function scopePreparing(Builder $q): Builder
    {
        return $q->where('status', self::STATUS_PREPARING);
    }

    public function scopeRunning(Builder $q): Builder
    {
        return $q->where('status', self::STATUS_RUNNING);
    }

    public function scopeCompleted(Builder $q): Builder
    {
        return $q->where('status', self::STATUS_COMPLETED);
    }

    /** Upstream's name for completed. */
    public function scopeFinished(Builder $q): Builder
    {
        return $this->scopeCompleted($q);
    }

    public function scopeFailed(Builder $q): Builder
    {
        return $q->where('status', self::STATUS_FAILED);
    }

    public function scopeCancelled(Builder $q): Builder
    {
        return $q->where('status', self::STATUS_CANCELLED);
    }

    /** Not completed, cancelled or failed yet. */
    public function scopeIncomplete(Builder $q): Builder
    {
        return $q->whereNotIn('status', [self::STATUS_COMPLETED, self::STATUS_CANCELLED, self::STATUS_FAILED]);
    }

    /** Pending tasks whose not-before time has come. */
    public function scopeDue(Builder $q): Builder
    {
        return $q->where('status', self::STATUS_PENDING)->where('available_at', '<=', (int) (microtime(true) * 1000));
    }

    /** Highest priority first, then oldest: the order workers take them in. */
    public function scopeInRunOrder(Builder $q): Builder
    {
        return $q->orderByDesc('priority_rank')->orderBy('available_at')->orderBy('id');
    }

    public function scopeHighPriority(Builder $q): Builder
    {
        return $q->where('priority', 'high');
    }

    public function scopeNormalPriority(Builder $q): Builder
    {
        return $q->where('priority', 'normal');
    }

    public function scopeLowPriority(Builder $q): Builder
    {
        return $q->where('priority', 'low');
    }

    public function scopeByIdentifier(Builder $q, string $identifier): Builder
    {
        return $q->where('identifier', $identifier);
    }

    public function scopeByAction(Builder $q, string $action): Builder
    {
        return $q->where('action', $action);
    }

    // --- state ---------------------------------------------------------------------------------

    public function isPending(): bool
    {
        return (int) $this->status === self::STATUS_PENDING;
    }

    public function isRunning(): bool
    {
        return in_array((int) $this->status, [self::STATUS_PREPARING, self::STATUS_RUNNING], true);
    }

    /** Completed, cancelled or failed. */
    public function isFinished(): bool
    {
        return in_array((int) $this->status, [self::STATUS_COMPLETED, self::STATUS_CANCELLED, self::STATUS_FAILED], true);
    }

    public function isCompleted(): bool
    {
        return (int) $this->status === self::STATUS_COMPLETED;
    }

    public function isFailed(): bool
    {
        return (int) $this->status === self::STATUS_FAILED;
    }

    public function isCancelled(): bool
    {
        return (int) $this->status === self::STATUS_CANCELLED;
    }

    /** Whether retry() would queue it again (failed or cancelled). */
    public function canRetry(): bool
    {
        return $this->isFailed() || $this->isCancelled();
    }

    // --- through the engine ----------------------------------------------------------------------

    /**
     * The task's log entries, oldest first: ['time', 'level', 'message', 'context'].
     *
     * @return list<array<string, mixed>>
     */
    public function logs(?string $level = null, int $limit = 100): array
    {
        return sTask::logs($this, $level, $limit);
    }

    /** @return array<string, mixed> the live progress snapshot */
    public function progressSnapshot(): array
    {
        return sTask::progress($this);
    }

    public function retry(): bool
    {
        return sTask::retry($this);
    }

    public function cancel(): bool
    {
        return sTask::cancel($this);
    }

    /**
     * Upstream's start of a run: marks the task running. For the worker running it, this is a
     * status write with its claim (the engine already counted the attempt and set start_at);
     * anyone else gets an exception (sTask::execute() runs a task now).
     */
    public function markAsRunning(): void
    {
        $this->update(['status' => self::STATUS_RUNNING]);
    }

    /** Completes the task (its worker, or anyone while it is pending). */
    public function markAsFinished(?string $message = null, mixed $result = null): void
    {
        sTask::engine()->setStatus($this->taskId(), self::STATUS_COMPLETED, $message ?? 'Task completed successfully', $result);
        $this->refreshQuietly();
    }

    /** Fails the task (its worker, or anyone while it is pending). */
    public function markAsFailed(string $message): void
    {
        sTask::engine()->setStatus($this->taskId(), self::STATUS_FAILED, $message);
        $this->refreshQuietly();
    }

    /** Reports progress (0–100) and an optional message. */
    public function updateProgress(int $progress, ?string $message = null): void
    {
        sTask::engine()->pushProgress($this->taskId(), array_filter(
            ['progress' => max(0, min(100, $progress)), 'message' => $message],
            static fn ($v) => $v !== null
        ));
    }

    // --- writes --------------------------------------------------------------------------------

    /**
     * Saves the model. Upstream's workers and packages write a task's lifecycle through its
     * model (`$task->update(['status' => 50])`, `['start_at' => …]`, `sTaskModel::create()`);
     * those columns are the engine's, so their writes become engine transitions: the worker
     * running the task writes with its claim, anyone else only where no worker holds it.
     * Other columns are saved as usual.
     */
    public function save(array $options = [])
    {
        if (!$this->exists) {
            return $this->insertThroughEngine($options);
        }
        if ($this->isDirty('priority')) {
            $this->rankPriority();
        }
        $dirty = array_intersect_key($this->getDirty(), array_flip(self::LIFECYCLE_COLUMNS));
        if ($dirty === []) {
            return parent::save($options);
        }
        try {
            (new TaskWrite($this, $dirty))->apply();
        } catch (\Throwable $e) {
            // Refused: the model goes back to what the row holds, as if the write never happened.
            foreach (array_keys($dirty) as $column) {
                $this->attributes[$column] = $this->original[$column] ?? null;
            }
            throw $e;
        }
        // The transition is written; the rest (meta, priority, …) goes the usual way.
        return parent::save($options);
    }

    /** Claims order by priority_rank: a changed priority changes it too (the engine's ranks). */
    private function rankPriority(): void
    {
        $priority = strtolower(trim((string) $this->attributes['priority']));
        $rank = ['low' => 1, 'normal' => 2, 'high' => 3][$priority]
            ?? throw new \InvalidArgumentException("priority must be low, normal or high, got \"$priority\"");
        $this->attributes['priority'] = $priority;
        $this->attributes['priority_rank'] = $rank;
    }

    /** Deletes the task with its progress and log (the engine refuses a running task). */
    protected function performDeleteOnModel()
    {
        $id = $this->taskId();
        if (sTask::engine()->delete([$id]) === [] && sTask::engine()->find($id) !== null) {
            throw new \LogicException("Task $id is running: cancel it first (sTask::cancel()), then delete it");
        }
        $this->exists = false;
    }

    /** The row write of save() itself (after the engine's transition) is a plain update. */
    protected function setKeysForSaveQuery($query)
    {
        $query = parent::setKeysForSaveQuery($query);
        return $query instanceof TaskQuery ? $query->plain() : $query;
    }

    public function newEloquentBuilder($query)
    {
        return new TaskQuery($query);
    }

    /** A task created as a model (upstream's insert) is created by the engine. */
    private function insertThroughEngine(array $options): bool
    {
        if ($this->fireModelEvent('saving') === false || $this->fireModelEvent('creating') === false) {
            return false;
        }
        $a = $this->attributes;
        $meta = $this->meta;
        $engineOptions = [];
        foreach (['max_attempts' => 'maxAttempts', 'started_by' => 'userId'] as $column => $option) {
            if (isset($a[$column])) {
                $engineOptions[$option] = (int) $a[$column];
            }
        }
        if (isset($a['start_at'])) {
            $engineOptions['availableAt'] = $this->asDateTime($this->start_at)->getTimestamp();
        }
        $task = sTask::engine()->create((string) ($a['identifier'] ?? ''), (string) ($a['action'] ?? ''),
            is_array($meta) ? $meta : [], (string) ($a['priority'] ?? 'normal'), $engineOptions);
        $status = isset($a['status']) ? (int) $a['status'] : self::STATUS_PENDING;
        if ($status !== self::STATUS_PENDING) {
            sTask::engine()->setStatus($task->id, $status, isset($a['message']) ? (string) $a['message'] : null, $this->result);
        }
        $fresh = static::query()->findOrFail($task->id);
        $this->setRawAttributes($fresh->getAttributes(), true);
        $this->exists = true;
        $this->wasRecentlyCreated = true;
        $this->fireModelEvent('created', false);
        $this->fireModelEvent('saved', false);
        return true;
    }

    /** After the engine wrote them: these columns now hold what the row holds. */
    public function syncLifecycle(array $values): void
    {
        foreach ($values as $key => $value) {
            $this->attributes[$key] = $value;
        }
        $this->syncOriginalAttributes(array_keys($values));
    }

    private function refreshQuietly(): void
    {
        if ($this->exists) {
            $this->refresh();
        }
    }

    // --- relations -------------------------------------------------------------------------------

    public function worker(): BelongsTo
    {
        return $this->belongsTo(sWorker::class, 'identifier', 'identifier');
    }

    /** The Evolution CMS manager user who created the task. */
    public function user(): BelongsTo
    {
        return $this->belongsTo('EvolutionCMS\\Models\\User', 'started_by');
    }
}
