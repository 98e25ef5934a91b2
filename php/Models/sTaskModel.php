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

    /** Completes the task (its worker, or anyone while it is pending). */
    public function markAsFinished(?string $message = null, mixed $result = null): void
    {
        sTask::engine()->complete((int) $this->id, $result, $message);
        $this->refreshQuietly();
    }

    public function markAsFailed(string $message): void
    {
        sTask::engine()->fail((int) $this->id, $message);
        $this->refreshQuietly();
    }

    /** Reports progress (0–100) and an optional message. */
    public function updateProgress(int $progress, ?string $message = null): void
    {
        sTask::engine()->pushProgress((int) $this->id, array_filter(
            ['progress' => max(0, min(100, $progress)), 'message' => $message],
            static fn ($v) => $v !== null
        ));
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
