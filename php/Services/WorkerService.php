<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Seiger\sTask\Contracts\TaskInterface;
use Seiger\sTask\Exceptions\WorkerClassNotFoundException;
use Seiger\sTask\Exceptions\WorkerException;
use Seiger\sTask\Exceptions\WorkerInvalidInterfaceException;
use Seiger\sTask\Exceptions\WorkerNotFoundException;

/**
 * Upstream sTask's worker service, for packages that resolve workers themselves
 * (`app(WorkerService::class)->resolveWorker('product')`). A container singleton over
 * {@see WorkerRegistry}, the one cache the task runner, the scheduler and discovery use too:
 * what a package resolves here is the object its tasks run on.
 *
 * Unlike upstream, worker objects are never serialised into Laravel's cache (settings went
 * stale, and a worker holding a closure could not be resolved at all); they live in this
 * process, and deactivating a worker takes effect within seconds even on a cache hit.
 */
final class WorkerService
{
    public function __construct(private WorkerRegistry $registry)
    {
    }

    /**
     * The worker object of an active worker.
     *
     * @param bool $forceRefresh re-read the registry and build a new object
     * @throws WorkerNotFoundException when no active worker has this identifier
     * @throws WorkerClassNotFoundException when its class does not exist
     * @throws WorkerInvalidInterfaceException when its class is not a worker
     */
    public function resolveWorker(string $identifier, bool $forceRefresh = false): TaskInterface
    {
        return $this->registry->resolve($identifier, $forceRefresh);
    }

    /**
     * Several workers at once, keyed by identifier; unknown, inactive and broken ones are left
     * out. The active workers are read in one query, however many are asked for.
     *
     * @param list<string> $identifiers
     * @return array<string, TaskInterface>
     */
    public function resolveWorkers(array $identifiers): array
    {
        $workers = [];
        foreach ($identifiers as $identifier) {
            try {
                $workers[(string) $identifier] = $this->registry->resolve((string) $identifier);
            } catch (WorkerException) {
                // Upstream skips what it cannot resolve.
            }
        }
        return $workers;
    }

    /** Forgets one worker's object, or all of them; the next lookup re-reads the registry. */
    public function clearCache(?string $identifier = null): void
    {
        $this->registry->forget($identifier);
    }

    /**
     * This process's cache: hits, misses, evictions, hit_rate (%), cache_size (worker objects
     * held) and memory_usage (the process's memory, bytes). Web requests start empty, so their
     * numbers stay small; a long-running `stask:work` shows the real hit rate.
     *
     * @return array{hits: int, misses: int, evictions: int, hit_rate: float, cache_size: int, memory_usage: int}
     */
    public function getCacheStats(): array
    {
        return $this->registry->stats();
    }

    /** Empties the cache and collects garbage (e.g. between batches of a long job). */
    public function cleanup(): void
    {
        $this->registry->cleanup();
    }
}
