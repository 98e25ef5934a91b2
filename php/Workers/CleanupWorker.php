<?php

declare(strict_types=1);

namespace Seiger\sTask\Workers;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Services\Uploads;

/**
 * Deletes finished tasks older than `stask.cleanup.days` (30) with their progress and log
 * files, and uploads as old. Scheduled daily at 03:30 once activated; change that in its settings.
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
        $uploads = app(Uploads::class)->prune($days);
        $this->appendTaskLog($task, 'info', "Deleted $tasks task(s), the files of $files more, and $uploads old upload(s)", ['days' => $days]);
        $this->markFinishedWith($task, ['tasks' => $tasks, 'files' => $files, 'uploads' => $uploads, 'days' => $days], "Deleted $tasks old task(s)");
    }
}
