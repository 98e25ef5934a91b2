<?php

declare(strict_types=1);

namespace Seiger\sTask\Workers;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;

/**
 * Deletes finished tasks older than `stask.cleanup.days` (30) with their progress and log
 * files. Scheduled daily at 03:30 once activated; change that in its settings.
 */
class CleanupWorker extends BaseWorker
{
    public function identifier(): string
    {
        return 'cleanup';
    }

    public function scope(): string
    {
        return 'sTask';
    }

    public function icon(): string
    {
        return '<i class="fa fa-broom"></i>';
    }

    public function title(): string
    {
        return 'Cleanup';
    }

    public function description(): string
    {
        return 'Deletes old finished tasks with their progress and log files.';
    }

    public function getSchedule(): array
    {
        $stored = $this->getConfig('schedule');
        return \Seiger\sTask\Support\Schedule::normalize(is_array($stored) ? $stored
            : ['type' => 'periodic', 'enabled' => true, 'frequency' => 'daily', 'time' => '03:30']);
    }

    /** The scheduled run: prune with the configured age. */
    public function taskMake(sTaskModel $task, array $options = []): void
    {
        $this->taskPrune($task, ['days' => $options['days'] ?? config('stask.cleanup.days', 30)]);
    }

    /** Options: `days` (finished more than this many days ago). */
    public function taskPrune(sTaskModel $task, array $options = []): void
    {
        $days = (int) ($options['days'] ?? config('stask.cleanup.days', 30));
        $this->pushProgress($task, ['progress' => 10, 'message' => "Pruning tasks finished more than $days day(s) ago"]);
        $tasks = sTask::cleanOldTasks($days);
        $this->pushProgress($task, ['progress' => 60, 'message' => "Deleted $tasks task(s); cleaning files"]);
        $files = sTask::cleanOldLogs($days);
        $this->log($task, 'info', "Deleted $tasks task(s) and the files of $files more", ['days' => $days]);
        $this->markFinished($task, ['tasks' => $tasks, 'files' => $files, 'days' => $days], "Deleted $tasks old task(s)");
    }
}
