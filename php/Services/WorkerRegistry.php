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
 */
final class WorkerRegistry
{
    private const REFRESH_SECONDS = 3.0;

    /** @var array<string, string> identifier → class of the active workers */
    private array $active = [];
    private float $loadedAt = 0.0;
    /** @var array<string, TaskInterface> class → instance */
    private array $instances = [];
    private int $hits = 0;
    private int $misses = 0;

    public function __construct(private Container $app)
    {
    }

    public function resolve(string $identifier): TaskInterface
    {
        if (microtime(true) - $this->loadedAt > self::REFRESH_SECONDS) {
            $this->reload();
        }
        $class = $this->active[$identifier] ?? null;
        if ($class === null) {
            throw new WorkerNotFoundException($identifier);
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
            $this->instances = [];
        } elseif (isset($this->active[$identifier])) {
            unset($this->instances[$this->active[$identifier]]);
        }
        $this->loadedAt = 0.0;
    }

    /** @return array{hits: int, misses: int, hit_rate: float, cache_size: int} */
    public function stats(): array
    {
        $total = $this->hits + $this->misses;
        return [
            'hits' => $this->hits,
            'misses' => $this->misses,
            'hit_rate' => $total > 0 ? round($this->hits / $total * 100, 2) : 0.0,
            'cache_size' => count($this->instances),
        ];
    }

    private function reload(): void
    {
        $this->active = sWorker::query()->where('active', true)->pluck('class', 'identifier')->all();
        $this->loadedAt = microtime(true);
    }
}
