<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Seiger\sTask\Models\sWorker;
use Seiger\sTask\sTask;
use Seiger\sTask\Support\ActionMethod;
use Seiger\sTask\Support\Schedule;
use Seiger\sTask\Workers\BaseWorker;

/**
 * Queues the next run of every scheduled worker: workers with a public taskMake() and an
 * enabled `settings.schedule` get one pending "make" task, not before their next run time.
 * The task carries the unique key "schedule:{identifier}", so however many cron ticks or
 * servers run this at once, a worker never has two scheduled runs waiting (upstream could
 * create duplicates, and ran them early).
 */
final class Scheduler
{
    public function __construct(private sTask $stask, private WorkerRegistry $workers)
    {
    }

    /**
     * @return list<array{identifier: string, task: int, at: string}> the runs queued (or
     *         already queued) by this call
     */
    public function queueDueRuns(?\DateTimeInterface $now = null): array
    {
        $now ??= now();
        $queued = [];
        foreach (sWorker::query()->where('active', true)->orderBy('position')->get() as $row) {
            try {
                $worker = $this->workers->resolve((string) $row->identifier);
            } catch (\Throwable) {
                continue;
            }
            // BaseWorker subclasses may supply a default schedule (see CleanupWorker).
            $schedule = $worker instanceof BaseWorker
                ? $worker->getSchedule()
                : Schedule::normalize($row->settings['schedule'] ?? []);
            if (!$schedule['enabled'] || $schedule['type'] === 'manual') {
                continue;
            }
            if ($schedule['type'] === 'supervisor') {
                app(SupervisorService::class)->superviseScheduled($row, $worker);
                continue;
            }
            if (ActionMethod::find($worker, 'make') === null) {
                continue;
            }
            $at = Schedule::nextRun($schedule, $now);
            if ($at === null) {
                continue;
            }
            $task = $this->stask->create((string) $row->identifier, 'make', ['manual' => false, 'scheduled_for' => $at->toIso8601String()], 'normal', 0, [
                'availableAt' => $at->getTimestamp(),
                'unique' => 'schedule:' . $row->identifier,
            ]);
            $queued[] = ['identifier' => (string) $row->identifier, 'task' => (int) $task->id, 'at' => $at->toDateTimeString()];
        }
        return $queued;
    }
}
