<?php

declare(strict_types=1);

namespace Seiger\sTask;

use Illuminate\Contracts\Container\Container;
use Illuminate\Support\Collection;
use Seiger\sTask\Exceptions\ExtensionNotLoadedException;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Services\DiscoveryReport;
use Seiger\sTask\Services\TaskRunner;
use Seiger\sTask\Services\WorkerDiscovery;
use Seiger\sTask\Services\WorkerService;
use Seiger\sTask\Support\EngineSettings;
use Seiger\sTask\Support\Retries;
use STask\Engine;

/**
 * The sTask service behind the `sTask` facade: upstream sTask's API, running on the native
 * engine, plus what upstream documented but never built (retry, cancel, log, logs,
 * cleanOldLogs, rescanWorkers).
 */
class sTask
{
    /** A 2.x release: packages that require seiger/stask ^2.0 install and run on it. */
    public const VERSION = '2.3.0';

    /** Kept once resolved: workers reach it per progress report, and a container lookup costs more than the report. */
    private ?Engine $engine = null;

    public function __construct(private Container $app)
    {
    }

    /** The native engine. Throws a clear message when the extension is not loaded. */
    public function engine(): Engine
    {
        if ($this->engine !== null) {
            return $this->engine;
        }
        if (!class_exists(Engine::class, false)) {
            throw ExtensionNotLoadedException::create();
        }
        return $this->engine = $this->app->make(Engine::class);
    }

    public function settings(): EngineSettings
    {
        return $this->app->make(EngineSettings::class);
    }

    /** The Laravel connection the models use (the engine's database). */
    public function connectionName(): string
    {
        return $this->settings()->connectionName;
    }

    // --- tasks -------------------------------------------------------------------------------

    /**
     * Queues a task for the worker `$identifier`. While a task of the same worker and action
     * with the same data (compared after sTaskModel::normalizeMeta(), types included) is
     * pending or running, that task is returned instead of a second one (upstream 2.1's rule;
     * here a unique key in the database makes it hold across processes and servers). Pass
     * `options: ['unique' => false]` to always queue a new task, or your own `unique` key.
     *
     * A task runs once unless the worker declares `tries` (see Support\Retries) or
     * `options['maxAttempts']` says otherwise.
     *
     * @param array<string, mixed> $data the task's input, passed to the worker as $options
     * @param array<string, mixed> $options maxAttempts, delay (seconds), availableAt, unique
     */
    public function create(
        string $identifier,
        string $action,
        array $data = [],
        string $priority = 'normal',
        ?int $userId = null,
        array $options = [],
    ): sTaskModel {
        if ($userId !== null) {
            $options['userId'] = $userId;
        }
        if (!array_key_exists('unique', $options)) {
            $options['unique'] = sTaskModel::duplicateKey($identifier, $action, sTaskModel::normalizeMeta($data));
        } elseif ($options['unique'] === false || $options['unique'] === null) {
            unset($options['unique']);
        }
        $task = $this->engine()->create($identifier, $action, $data, $priority, $this->withTries($identifier, $options));
        return sTaskModel::fromTask($task);
    }

    /**
     * Queues many tasks in one transaction: all of them or, on bad input, none. No duplicate
     * suppression unless a task names its own `unique` key.
     *
     * @param list<array<string, mixed>> $tasks each ['identifier' => …, 'action' => …,
     *        'data' => […], 'priority' => …] plus any create() option (maxAttempts, delay, …)
     * @return Collection<int, sTaskModel>
     */
    public function createMany(array $tasks): Collection
    {
        foreach ($tasks as $i => $task) {
            if (is_array($task) && is_string($task['identifier'] ?? null)) {
                $tasks[$i] = $this->withTries($task['identifier'], $task);
            }
        }
        return new Collection(array_map(sTaskModel::fromTask(...), $this->engine()->createMany($tasks)));
    }

    /**
     * `maxAttempts` from the worker's `tries` when the caller gave none (else the site's
     * default, `stask.max_attempts`, 1 unless changed).
     *
     * @param array<string, mixed> $options
     * @return array<string, mixed>
     */
    private function withTries(string $identifier, array $options): array
    {
        if (array_key_exists('maxAttempts', $options)) {
            return $options;
        }
        try {
            $tries = Retries::tries($this->app->make(WorkerService::class)->resolveWorker($identifier));
        } catch (\Throwable) {
            $tries = null;
        }
        if ($tries !== null) {
            $options['maxAttempts'] = $tries;
        }
        return $options;
    }

    /** Runs one task now, in this process (even if it is not due yet). True when it completed. */
    public function execute(sTaskModel|int $task): bool
    {
        $id = $this->id($task);
        $report = $this->engine()->process($this->runner(), 1, ['ids' => [$id]]);
        return $report['completed'] === 1;
    }

    /** Due pending tasks in the order workers take them. */
    public function getPendingTasks(int $limit = 10): Collection
    {
        return sTaskModel::query()->due()->inRunOrder()->limit(max(1, $limit))->get();
    }

    /** Runs up to $batchSize due tasks now; returns how many completed. */
    public function processPendingTasks(?int $batchSize = null): int
    {
        return $this->engine()->processPendingTasks($this->runner(), $batchSize ?? 10);
    }

    /**
     * Runs due tasks and reports what happened (claimed, completed, retried, failed, cancelled,
     * lost, released, rescued, exited, stopped).
     *
     * @param list<string> $identifiers only tasks of these workers
     * @return array<string, int|bool>
     */
    public function process(int $limit, array $identifiers = []): array
    {
        return $this->engine()->process($this->runner(), $limit, $identifiers === [] ? null : ['identifiers' => $identifiers]);
    }

    /** The callable the engine runs each task through. */
    public function runner(): TaskRunner
    {
        return $this->app->make(TaskRunner::class);
    }

    public function find(int $id): ?sTaskModel
    {
        return sTaskModel::query()->find($id);
    }

    /** Queues a failed or cancelled task again with fresh attempts. */
    public function retry(sTaskModel|int $task): bool
    {
        return $this->engine()->retry($this->id($task));
    }

    /** Cancels a pending task now; asks a running one to stop at its next progress report. */
    public function cancel(sTaskModel|int $task): bool
    {
        return $this->engine()->cancel($this->id($task));
    }

    /** Writes to a task's log: level "info", "warning" or "error". */
    public function log(sTaskModel|int $task, string $level, string $message, array $context = []): void
    {
        $this->engine()->log($this->id($task), $level, $message, $context);
    }

    /** @return list<array{time: string, level: string, message: string, context: array}> */
    public function logs(sTaskModel|int $task, ?string $level = null, int $limit = 100): array
    {
        return $this->engine()->logs($this->id($task), $level, $limit);
    }

    /** @return array<string, mixed> the task's progress snapshot */
    public function progress(sTaskModel|int $task): array
    {
        return $this->engine()->progress($this->id($task));
    }

    /**
     * Counts: pending, preparing, running, completed, cancelled, failed, total, per identifier,
     * and the number of registered and active workers.
     *
     * @return array<string, mixed>
     */
    public function getStats(): array
    {
        $stats = $this->engine()->stats();
        $stats['total_workers'] = sWorker::query()->count();
        $stats['active_workers'] = sWorker::query()->where('active', true)->count();
        return $stats;
    }

    /** Deletes finished tasks (completed, cancelled, failed) older than $days, with their files. */
    public function cleanOldTasks(int $days = 30): int
    {
        return $this->engine()->prune($days);
    }

    /** Deletes the progress and log files of tasks finished more than $days ago; keeps the rows. */
    public function cleanOldLogs(int $days = 30): int
    {
        return $this->engine()->pruneFiles($days);
    }

    // --- performance (upstream's MetricsService, on the engine's timings) --------------------

    /**
     * The last $hours (1–24): tasks finished and waiting, success and error rates, run and wait
     * times, per worker, common errors. See Services\MetricsService::getSystemSummary().
     *
     * @return array<string, mixed>
     */
    public function getPerformanceMetrics(int $hours = 24): array
    {
        return $this->app->make(Services\MetricsService::class)->getSystemSummary($hours);
    }

    /**
     * Figures per worker identifier over the last $hours (1–24). See
     * Services\MetricsService::getWorkerStats().
     *
     * @return array<string, array<string, mixed>>
     */
    public function getWorkerStats(?string $identifier = null, int $hours = 24): array
    {
        return $this->app->make(Services\MetricsService::class)->getWorkerStats($identifier, $hours);
    }

    /**
     * Problems in the last hour (low success rate, long runs, long waits), each {type,
     * severity, message, value, threshold}.
     *
     * @return list<array<string, mixed>>
     */
    public function getPerformanceAlerts(): array
    {
        return $this->app->make(Services\MetricsService::class)->getPerformanceAlerts();
    }

    // --- workers -----------------------------------------------------------------------------

    /** Finds workers in installed packages and registers new ones. @return list<sWorker> */
    public function discoverWorkers(): array
    {
        $report = $this->discovery()->discover();
        $identifiers = array_column($report->registered, 'identifier');
        return $identifiers === [] ? [] : sWorker::query()->whereIn('identifier', $identifiers)->get()->all();
    }

    /** The full discovery report (found, registered, conflicts, invalid, timings). */
    public function discover(?bool $activate = null): DiscoveryReport
    {
        return $this->discovery()->discover($activate);
    }

    public function rescanWorkers(): DiscoveryReport
    {
        return $this->discovery()->rescan();
    }

    public function registerWorker(string $className): ?sWorker
    {
        return $this->discovery()->register($className);
    }

    /** Removes registered workers whose class is gone; returns how many. Their tasks stay. */
    public function cleanOrphanedWorkers(): int
    {
        return count($this->discovery()->cleanOrphaned()->removed);
    }

    public function getWorkers(bool $activeOnly = false): Collection
    {
        $query = sWorker::query()->ordered();
        return ($activeOnly ? $query->active() : $query)->get();
    }

    public function getWorker(string $identifier): ?sWorker
    {
        return sWorker::query()->where('identifier', $identifier)->first();
    }

    public function activateWorker(string $identifier): bool
    {
        return $this->setActive($identifier, true);
    }

    public function deactivateWorker(string $identifier): bool
    {
        return $this->setActive($identifier, false);
    }

    /**
     * This process's worker cache (WorkerService): hits, misses, evictions, hit_rate,
     * cache_size, memory_usage.
     *
     * @return array{hits: int, misses: int, evictions: int, hit_rate: float, cache_size: int, memory_usage: int}
     */
    public function getCacheStats(): array
    {
        return $this->app->make(WorkerService::class)->getCacheStats();
    }

    public function clearWorkerCache(?string $identifier = null): void
    {
        $this->app->make(WorkerService::class)->clearCache($identifier);
    }

    // --- runner heartbeat --------------------------------------------------------------------

    /**
     * Whether a runner (`stask:worker` from cron, or `stask:work`) was alive within $ttl
     * seconds: the age of storage/logs/sTask.heartbeat, which both keep fresh.
     */
    public function heartbeat(int $ttl = 3610): bool
    {
        return $this->heartbeatStatus($ttl)['available'];
    }

    /**
     * The runner heartbeat in detail; reads the marker, never creates or touches it.
     *
     * @return array{available: bool, state: string, last_seen_at: int|null, age_seconds: int|null}
     *         state "available", "expired", "missing" or "error" (negative ttl, unreadable
     *         marker, or a marker dated in the future)
     */
    public function heartbeatStatus(int $ttl = 3610): array
    {
        return \Seiger\sTask\Support\Heartbeat::status($ttl);
    }

    /**
     * The manager user id of this request, 0 for the system (cron, CLI). Evolution CMS answers
     * getLoginUserID() with 1 in the CLI, so the CLI is asked first.
     */
    public function currentUserId(): int
    {
        if (function_exists('is_cli') && is_cli()) {
            return 0;
        }
        if (function_exists('evo')) {
            try {
                return (int) (evo()->getLoginUserID('mgr') ?: 0);
            } catch (\Throwable) {
                return 0;
            }
        }
        return 0;
    }

    private function discovery(): WorkerDiscovery
    {
        return $this->app->make(WorkerDiscovery::class);
    }

    private function setActive(string $identifier, bool $active): bool
    {
        $worker = $this->getWorker($identifier);
        if ($worker === null) {
            return false;
        }
        $worker->active = $active;
        $worker->save();
        $this->clearWorkerCache($identifier);
        return true;
    }

    private function id(sTaskModel|int $task): int
    {
        return $task instanceof sTaskModel ? (int) $task->getKey() : $task;
    }
}
