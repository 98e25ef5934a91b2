<?php

declare(strict_types=1);

namespace Seiger\sTask\Models;

use Seiger\sTask\Facades\sTask;

/**
 * One save of a task model whose lifecycle columns changed (status, message, progress, result,
 * start_at, finished_at), applied through the engine:
 *
 * - a status change is an engine transition (`Engine::setStatus()`): with the claim's fencing
 *   token for the worker running the task, else only where no worker holds it;
 * - for the worker running the task, message and progress are a progress report (the engine
 *   writes them to the row, fenced) and start_at/finished_at are the engine's own;
 * - for anyone else, start_at on a pending task is when it may run (`Engine::reschedule()`),
 *   and the other columns are written as usual.
 *
 * Afterwards the model holds what the row holds for the columns the engine wrote.
 */
final class TaskWrite
{
    /** @param array<string, mixed> $dirty the changed lifecycle columns (raw attributes) */
    public function __construct(private sTaskModel $task, private array $dirty)
    {
    }

    public function apply(): void
    {
        $engine = sTask::engine();
        $id = $this->task->taskId();
        $owned = $engine->owns($id);
        $handled = [];
        if ($this->changed('status')) {
            $status = (int) $this->dirty['status'];
            $result = $status === sTaskModel::STATUS_COMPLETED && $this->changed('result') ? $this->task->result : null;
            $engine->setStatus($id, $status, $this->message(), $result);
            $handled = ['status', 'message', 'finished_at', 'start_at'];
            if ($status === sTaskModel::STATUS_COMPLETED) {
                $handled[] = 'result';
                $handled[] = 'progress';
            } elseif ($owned && $this->changed('progress') && in_array($status, [sTaskModel::STATUS_PREPARING, sTaskModel::STATUS_RUNNING], true)) {
                $engine->pushProgress($id, ['progress' => $this->percent()]);
                $handled[] = 'progress';
            }
        } elseif ($owned && in_array((int) $this->task->getOriginal('status'), [sTaskModel::STATUS_COMPLETED, sTaskModel::STATUS_CANCELLED, sTaskModel::STATUS_FAILED], true)) {
            // The worker already finished it: a new message (or result) amends that outcome,
            // as upstream's last write did.
            $status = (int) $this->task->getOriginal('status');
            $result = $status === sTaskModel::STATUS_COMPLETED && $this->changed('result') ? $this->task->result : null;
            $engine->setStatus($id, $status, $this->message(), $result);
            $handled = ['message', 'progress', 'start_at', 'finished_at', 'result'];
        } elseif ($owned) {
            $report = array_filter(['message' => $this->message(), 'progress' => $this->changed('progress') ? $this->percent() : null],
                static fn ($v) => $v !== null);
            if ($report !== []) {
                $engine->pushProgress($id, $report);
            }
            $handled = ['message', 'progress', 'start_at', 'finished_at'];
        } elseif ($this->changed('start_at') && $this->task->getOriginal('status') == sTaskModel::STATUS_PENDING) {
            $at = $this->task->start_at;
            if ($engine->reschedule($id, $at === null ? microtime(true) : $at->getTimestamp() + $at->format('u') / 1e6)) {
                // The row keeps upstream's meaning too: start_at says when it runs.
                return;
            }
        }
        $this->sync(array_values(array_intersect($handled, array_keys($this->dirty))), $owned && !$this->changed('status'));
    }

    private function changed(string $column): bool
    {
        return array_key_exists($column, $this->dirty);
    }

    private function message(): ?string
    {
        if (!$this->changed('message') || $this->dirty['message'] === null) {
            return null;
        }
        return (string) $this->dirty['message'];
    }

    private function percent(): int
    {
        return max(0, min(100, (int) $this->dirty['progress']));
    }

    /**
     * Marks the columns the engine wrote as saved, with the row's values (a progress report
     * reaches the row shortly; the model keeps what the worker wrote).
     *
     * @param list<string> $columns
     */
    private function sync(array $columns, bool $reported): void
    {
        if ($columns === []) {
            return;
        }
        if ($reported) {
            $this->task->syncLifecycle(array_intersect_key($this->task->getAttributes(), array_flip($columns)));
            return;
        }
        $row = sTask::engine()->find($this->task->taskId());
        $values = $row === null ? [] : array_intersect_key(sTaskModel::fromTask($row)->getAttributes(), array_flip($columns));
        $this->task->syncLifecycle($values + array_intersect_key($this->task->getAttributes(), array_flip($columns)));
    }
}
