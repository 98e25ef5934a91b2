<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Illuminate\Database\DatabaseManager;
use Seiger\sTask\Exceptions\ActionNotFoundException;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Support\ActionMethod;
use Seiger\sTask\Support\Retries;
use Seiger\sTask\Workers\BaseWorker;
use STask\Task;

/**
 * What the engine calls for each claimed task: finds the worker and runs its task{Action}
 * method with the task as an sTaskModel and its data as options. Anything thrown propagates
 * to the engine, which records the failure and schedules the retry.
 *
 * A task that leaves a database transaction open (it threw between begin and commit) would
 * otherwise poison every later task of a long-running `stask:work`: their writes would nest
 * inside it and never commit, and on SQLite its locks would stay held. Such transactions are
 * rolled back after the task, and the task's log says so.
 */
final class TaskRunner
{
    public function __construct(private WorkerRegistry $workers, private DatabaseManager $db)
    {
    }

    public function __invoke(Task $task): void
    {
        $levels = $this->transactionLevels();
        try {
            $this->run($task);
        } finally {
            $this->rollBackLeftovers($task, $levels);
        }
    }

    private function run(Task $task): void
    {
        $worker = $this->workers->resolve($task->identifier);
        $model = sTaskModel::fromTask($task);
        $options = $task->data;
        try {
            if ($worker instanceof BaseWorker) {
                $worker->invokeAction($task->action, $model, $options);
                return;
            }
            $this->invoke($worker, $task, $model, $options);
        } catch (\Throwable $e) {
            // A worker's own backoff (Laravel-style `$backoff`) for the retry, if one follows.
            if ($task->attempts < $task->maxAttempts && ($delay = Retries::backoff($worker, $task->attempts)) !== null) {
                try {
                    sTask::engine()->retryAfter($task->id, $delay);
                } catch (\Throwable) {
                    // The lease was lost meanwhile: the retry is no longer this worker's.
                }
            }
            throw $e;
        }
    }

    private function invoke(object $worker, Task $task, sTaskModel $model, array $options): void
    {
        // A worker that implements TaskInterface without BaseWorker runs too (upstream's failed).
        $method = ActionMethod::find($worker, $task->action)
            ?? throw ActionNotFoundException::for($worker::class, $task->action, ActionMethod::for($task->action));
        $method->invoke($worker, $model, $options);
    }

    /** @return array<string, int> connection name → open transaction level */
    private function transactionLevels(): array
    {
        $levels = [];
        foreach ($this->db->getConnections() as $name => $connection) {
            $levels[$name] = $connection->transactionLevel();
        }
        return $levels;
    }

    /** @param array<string, int> $before */
    private function rollBackLeftovers(Task $task, array $before): void
    {
        foreach ($this->db->getConnections() as $name => $connection) {
            $level = $connection->transactionLevel();
            $expected = $before[$name] ?? 0;
            if ($level <= $expected) {
                continue;
            }
            try {
                $connection->rollBack($expected);
                $outcome = 'rolled back';
            } catch (\Throwable $e) {
                $outcome = 'could not be rolled back: ' . $e->getMessage();
            }
            sTask::log($task->id, 'warning', "The task left a database transaction open on connection \"$name\"; it $outcome",
                ['connection' => $name, 'level' => $level]);
        }
    }
}
