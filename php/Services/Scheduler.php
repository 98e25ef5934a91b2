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
            try {
                $schedule = Schedule::normalize($worker instanceof BaseWorker
                    ? $worker->getSchedule()
                    : ($row->settings['schedule'] ?? []));
            } catch (\Throwable) {
                continue; // a worker's own getSchedule() failed: the other workers still run
            }
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
            if ($at !== null && $at->getTimestamp() <= $now->getTimestamp() && $this->slotRan((string) $row->identifier, $at)) {
                $at = Schedule::nextRun($schedule, $at->copy()->addMinute()); // this minute's run is done
            }
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

    /**
     * After the manager saved a worker's schedule: a run queued for later that the schedule no
     * longer has (switched off, moved) is dropped, and the next pass queues the new one.
     * Returns how many were dropped.
     */
    public function scheduleSaved(string $identifier, array $schedule): int
    {
        $nowMs = (int) (microtime(true) * 1000);
        $next = Schedule::nextRun($schedule, now());
        $ids = \Seiger\sTask\Models\sTaskModel::query()
            ->where('unique_key', 'schedule:' . $identifier)
            ->where('status', \Seiger\sTask\Models\sTaskModel::STATUS_PENDING)
            ->where('available_at', '>', $nowMs)
            ->pluck('available_at', 'id')
            ->filter(static fn ($at) => $next === null || (int) $at !== $next->getTimestamp() * 1000)
            ->keys()->map(static fn ($id) => (int) $id)->all();
        return $ids === [] ? 0 : count($this->stask->engine()->delete($ids));
    }

    /**
     * Whether the scheduled run of $at (a minute that has begun) already finished, so that a
     * second pass within that minute (another cron runner, another server) does not run it
     * again. Reads only tasks finished since $at, through the finished_at index.
     */
    private function slotRan(string $identifier, \DateTimeInterface $at): bool
    {
        return \Seiger\sTask\Models\sTaskModel::query()
            ->where('finished_at', '>=', gmdate('Y-m-d H:i:s', $at->getTimestamp()))
            ->where('unique_key', 'schedule:' . $identifier)
            ->where('available_at', '>=', $at->getTimestamp() * 1000)
            ->exists();
    }
}
