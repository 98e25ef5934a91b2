<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Seiger\sTask\Exceptions\ActionNotFoundException;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Support\ActionMethod;
use Seiger\sTask\Workers\BaseWorker;
use STask\Task;

/**
 * What the engine calls for each claimed task: finds the worker and runs its task{Action}
 * method with the task as an sTaskModel and its data as options. Anything thrown propagates
 * to the engine, which records the failure and schedules the retry.
 */
final class TaskRunner
{
    public function __construct(private WorkerRegistry $workers)
    {
    }

    public function __invoke(Task $task): void
    {
        $worker = $this->workers->resolve($task->identifier);
        $model = sTaskModel::fromTask($task);
        $options = $task->data;
        if ($worker instanceof BaseWorker) {
            $worker->invokeAction($task->action, $model, $options);
            return;
        }
        // A worker that implements TaskInterface without BaseWorker runs too (upstream's failed).
        $method = ActionMethod::find($worker, $task->action)
            ?? throw ActionNotFoundException::for($worker::class, $task->action, ActionMethod::for($task->action));
        $method->invoke($worker, $model, $options);
    }
}
