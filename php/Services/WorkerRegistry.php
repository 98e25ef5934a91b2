<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Illuminate\Contracts\Container\Container;
use Seiger\sTask\Contracts\TaskInterface;
use Seiger\sTask\Exceptions\WorkerClassNotFoundException;
use Seiger\sTask\Exceptions\WorkerInvalidInterfaceException;
use Seiger\sTask\Exceptions\WorkerNotFoundException;
use Seiger\sTask\Models\sWorker;

/**
 * Finds the worker object for an identifier: the class of its active registry row, built
 * through the container. The list of active workers is re-read at most every few seconds, so
 * deactivating a worker stops a long-running `stask:work` from using it within that time;
 * worker objects are built once per class and process (never serialised into a cache).
 *
 * The one implementation of worker resolution and its cache; `WorkerService` is upstream's
 * public name for it and delegates here.
 */
final class WorkerRegistry
{
    private const REFRESH_SECONDS = 3.0;
    private const MISS_RELOAD_SECONDS = 0.25;

    /** @var array<string, string> identifier → class of the active workers */
    private array $active = [];
    private float $loadedAt = 0.0;
    /** @var array<string, TaskInterface> class → instance */
    private array $instances = [];
    private int $hits = 0;
    private int $misses = 0;
    private int $evictions = 0;

    public function __construct(private Container $app)
    {
    }

    /**
     * @param bool $refresh re-read the active workers now and build a new object for this one
     * @throws WorkerNotFoundException when no active worker has this identifier
     * @throws WorkerClassNotFoundException|WorkerInvalidInterfaceException for a broken class
     */
    public function resolve(string $identifier, bool $refresh = false): TaskInterface
    {
        if ($refresh || microtime(true) - $this->loadedAt > self::REFRESH_SECONDS) {
            $this->reload();
        }
        $class = $this->active[$identifier] ?? null;
        if ($class === null && microtime(true) - $this->loadedAt > self::MISS_RELOAD_SECONDS) {
            // A worker activated since the last read (a long-running stask:work must not fail
            // its first tasks); re-read at most this often for identifiers that stay unknown.
            $this->reload();
            $class = $this->active[$identifier] ?? null;
        }
        if ($class === null) {
            throw new WorkerNotFoundException($identifier);
        }
        if ($refresh) {
            $this->evict($class);
        }
        if (isset($this->instances[$class])) {
            $this->hits++;
            return $this->instances[$class];
        }
        $this->misses++;
        return $this->instances[$class] = $this->instantiate($class);
    }

    /** Builds and checks a worker object (also used by discovery). */
    public function instantiate(string $class): TaskInterface
    {
        if ($class === '' || !class_exists($class)) {
            throw new WorkerClassNotFoundException($class);
        }
        $reflection = new \ReflectionClass($class);
        if (!$reflection->isInstantiable()) {
            throw new WorkerInvalidInterfaceException($class, 'it cannot be instantiated');
        }
        if (!$reflection->implementsInterface(TaskInterface::class)) {
            throw new WorkerInvalidInterfaceException($class);
        }
        $worker = $this->app->make($class);
        if (!$worker instanceof TaskInterface) {
            throw new WorkerInvalidInterfaceException($class, 'the container built a ' . get_debug_type($worker));
        }
        return $worker;
    }

    /** Forgets cached workers (one identifier, or all), e.g. after settings changed. */
    public function forget(?string $identifier = null): void
    {
        if ($identifier === null) {
            $this->evictions += count($this->instances);
            $this->instances = [];
        } elseif (isset($this->active[$identifier])) {
            $this->evict($this->active[$identifier]);
        }
        // The next lookup re-reads the active list, which also drops objects of workers that
        // were deactivated meanwhile.
        $this->loadedAt = 0.0;
    }

    /**
     * This process's cache: lookups served from it (hits) or that built a worker (misses), the
     * hit rate in percent, worker objects dropped (evictions: cleared, refreshed, or their
     * worker deactivated), objects held now, and the process's memory in bytes.
     *
     * @return array{hits: int, misses: int, evictions: int, hit_rate: float, cache_size: int, memory_usage: int}
     */
    public function stats(): array
    {
        $total = $this->hits + $this->misses;
        return [
            'hits' => $this->hits,
            'misses' => $this->misses,
            'evictions' => $this->evictions,
            'hit_rate' => $total > 0 ? round($this->hits / $total * 100, 2) : 0.0,
            'cache_size' => count($this->instances),
            'memory_usage' => memory_get_usage(),
        ];
    }

    /** Drops every cached worker object and the active list; frees what they held. */
    public function cleanup(): void
    {
        $this->forget();
        $this->active = [];
        gc_collect_cycles();
    }

    private function reload(): void
    {
        $this->active = sWorker::query()->where('active', true)->pluck('class', 'identifier')->all();
        $this->loadedAt = microtime(true);
        // Objects of workers deactivated (or re-pointed to another class) since the last read.
        foreach (array_diff(array_keys($this->instances), $this->active) as $class) {
            $this->evict($class);
        }
    }

    private function evict(string $class): void
    {
        if (isset($this->instances[$class])) {
            unset($this->instances[$class]);
            $this->evictions++;
        }
    }
}
