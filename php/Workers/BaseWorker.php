<?php

declare(strict_types=1);

namespace Seiger\sTask\Workers;

use Seiger\sTask\Contracts\TaskInterface;
use Seiger\sTask\Exceptions\ActionNotFoundException;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Services\Uploads;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Support\ActionMethod;
use Seiger\sTask\Support\Schedule;

/**
 * Base class for workers. Write `public function task{Action}(sTaskModel $task, array $options)`
 * methods; report with pushProgress(), log(), and finish with markFinished()/markFailed() — or
 * just return (completed) or throw (the attempt fails and is retried with backoff).
 *
 * ```php
 * class ProductWorker extends BaseWorker
 * {
 *     public function identifier(): string { return 'product'; }
 *     public function scope(): string { return 'shop'; }
 *     public function taskImport(sTaskModel $task, array $options = []): void { … }
 * }
 * ```
 */
abstract class BaseWorker implements TaskInterface
{
    /** The registry row, loaded on first use (not in the constructor: no query per instance). */
    protected ?sWorker $worker = null;

    public function icon(): string
    {
        return '<i class="fa fa-cogs"></i>';
    }

    public function title(): string
    {
        return ucwords(str_replace(['_', '-'], ' ', $this->identifier()));
    }

    public function description(): string
    {
        return '';
    }

    /** The worker's page in the manager: the default task-runner widget. */
    public function renderWidget(): string
    {
        if (function_exists('view') && app()->bound('view') && view()->exists('sTask::widgets.task-runner')) {
            return view('sTask::widgets.task-runner', [
                'worker' => $this,
                'actions' => ActionMethod::actionsOf($this),
                'extensions' => app(Uploads::class)->allowed($this->uploadExtensions()),
            ])->render();
        }
        return '';
    }

    /**
     * File types a manager may upload with this worker's tasks (e.g. `['csv']`); the task then
     * gets `uploaded_file` (its path), `original_filename` and `file_size` in its options.
     * Default: the `allowed_extensions` setting, else none. The site-wide list
     * (`stask.uploads.extensions`) always has the last word.
     *
     * @return list<string>
     */
    public function uploadExtensions(): array
    {
        $setting = $this->getConfig('allowed_extensions');
        return is_array($setting) ? array_values(array_map('strval', $setting)) : [];
    }

    /** The worker's stored settings (`s_workers.settings`). Override to add defaults. */
    public function settings(): array
    {
        $settings = $this->workerRecord()->settings;
        return is_array($settings) ? $settings : [];
    }

    /** A setting by dot-notation key; a stored null is returned as null, not the default. */
    public function getConfig(string $key, mixed $default = null): mixed
    {
        $value = $this->settings();
        foreach (explode('.', $key) as $segment) {
            if (!is_array($value) || !array_key_exists($segment, $value)) {
                return $default;
            }
            $value = $value[$segment];
        }
        return $value;
    }

    /** Stores a setting by dot-notation key; registers the worker first if it is not yet. */
    public function setConfig(string $key, mixed $value): void
    {
        $settings = $this->settings();
        $ref = &$settings;
        foreach (explode('.', $key) as $segment) {
            if (!isset($ref[$segment]) || !is_array($ref[$segment])) {
                $ref[$segment] = [];
            }
            $ref = &$ref[$segment];
        }
        $ref = $value;
        unset($ref);
        $this->saveSettings($settings);
    }

    /** Merges top-level keys into the stored settings. */
    public function updateConfig(array $config): void
    {
        $this->saveSettings(array_merge($this->settings(), $config));
    }

    /** @return array<string, mixed> the schedule stored under settings.schedule, with defaults */
    public function getSchedule(): array
    {
        return Schedule::normalize($this->getConfig('schedule', []));
    }

    /** Whether the schedule says to run now (the same rule stask:worker uses to queue runs). */
    public function shouldRunNow(?\DateTimeInterface $now = null): bool
    {
        return Schedule::isDue($this->getSchedule(), $now ?? now());
    }

    /** Queues a task for this worker. */
    public function createTask(string $action, ?array $options = null, string $priority = 'normal'): sTaskModel
    {
        if ($options === null && function_exists('request') && app()->bound('request')) {
            $options = (array) request()->input('options', []);
            if (request()->has('filename')) {
                $options['filename'] = request()->input('filename');
            }
        }
        return sTask::create($this->identifier(), $action, $options ?? [], $priority, sTask::currentUserId());
    }

    /** Runs the task{Action} method for the action (public methods only). */
    public function invokeAction(string $action, sTaskModel $task, array $options = []): void
    {
        $method = ActionMethod::find($this, $action);
        if ($method === null) {
            throw ActionNotFoundException::for(static::class, $action, ActionMethod::for($action));
        }
        // Worker objects live as long as `stask:work`; re-read settings edited in the manager
        // since the last task (lazily: only a worker that reads them pays the query).
        $this->worker = null;
        $method->invoke($this, $task, $options);
    }

    protected function resolveActionMethod(string $action): string
    {
        return ActionMethod::for($action);
    }

    /**
     * Reports progress: ['progress' => 0–100, 'processed' => n, 'total' => n, 'message' => …,
     * 'eta' => seconds]. Keys you leave out keep their value. Costs microseconds; call it as
     * often as you like. Throws TaskCancelledException when the task was cancelled.
     */
    protected function pushProgress(sTaskModel $task, array $delta = []): void
    {
        $report = [];
        if (isset($delta['progress'])) {
            $report['progress'] = max(0, min(100, $delta['progress'] + 0));
        }
        if (isset($delta['processed'])) {
            $report['processed'] = $delta['processed'] + 0;
        }
        if (isset($delta['total'])) {
            $report['total'] = $delta['total'] + 0;
        }
        if (isset($delta['message'])) {
            $report['message'] = (string) $delta['message'];
        }
        if (isset($delta['eta']) && is_numeric($delta['eta'])) {
            $report['eta'] = max(0, (int) $delta['eta']);
        }
        sTask::engine()->pushProgress($task->taskId(), $report);
    }

    /** Completes the task with an optional result (stored as JSON) and message. */
    protected function markFinished(sTaskModel $task, mixed $result = null, ?string $message = null): void
    {
        sTask::engine()->complete($task->taskId(), $result, $message);
    }

    /** Fails the task for good (no retry). To have it retried, throw instead. */
    protected function markFailed(sTaskModel $task, string $message): void
    {
        sTask::engine()->fail($task->taskId(), $message);
    }

    /** Writes to the task's log: level "info", "warning" or "error". */
    public function log(sTaskModel $task, string $level, string $message, array $context = []): void
    {
        sTask::engine()->log($task->taskId(), $level, $message, $context);
    }

    /** Whether someone asked to cancel the task; stop and return when it is true. */
    public function isCancelled(sTaskModel $task): bool
    {
        return sTask::engine()->isCancelled($task->taskId());
    }

    /** The worker's registry row (unsaved when the worker is not registered yet). */
    public function workerRecord(): sWorker
    {
        if ($this->worker === null) {
            $this->worker = sWorker::query()->where('identifier', $this->identifier())->first()
                ?? new sWorker(['identifier' => $this->identifier(), 'scope' => $this->scope(), 'class' => static::class, 'settings' => []]);
        }
        return $this->worker;
    }

    private function saveSettings(array $settings): void
    {
        $record = $this->workerRecord();
        $record->settings = $settings;
        // Upstream silently lost settings of unregistered workers; register it instead.
        if (!$record->exists) {
            $record->active = false;
            $record->position = (int) sWorker::query()->max('position') + 1;
        }
        $record->save();
    }
}
