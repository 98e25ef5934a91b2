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
use Seiger\sTask\Support\WorkerPermission;

/**
 * Base class for workers. Write `public function task{Action}(sTaskModel $task, array $options)`
 * methods; report with pushProgress(), appendTaskLog(), and finish with markFinished()/markFailed()
 * — or just return (completed) or throw (the task fails; it is retried only if the worker opts
 * in with `public $tries` / `tries()` and optionally `$backoff` / `backoff()`, as Laravel jobs do).
 *
 * The public and protected members keep upstream sTask 2.x's names and signatures, so a worker
 * written for upstream (its own constructor calling parent::__construct(), `protected sWorker
 * $worker`, `getConfig()` without a return type, its own `log()` helper …) loads unchanged.
 * What this class adds has names a worker is unlikely to use for its own helpers.
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
    /**
     * The registry row (upstream's type). Loaded on first use rather than in the constructor,
     * so that building a worker costs no query: the constructor unsets it and __get() loads it.
     */
    protected sWorker $worker;

    public function __construct()
    {
        unset($this->worker);
    }

    /**
     * `$this->log($task, $level, $message, $context)` and `$this->isCancelled($task)` as
     * shorthands for appendTaskLog() and cancelRequested(). They are not declared methods, so a
     * worker may declare its own log() or isCancelled() with any signature (upstream's workers
     * do), and then its own is called.
     */
    public function __call(string $name, array $arguments): mixed
    {
        return match ($name) {
            'log' => $this->appendTaskLog(...$arguments),
            'isCancelled' => $this->cancelRequested(...$arguments),
            default => throw new \Error('Call to undefined method ' . static::class . '::' . $name . '()'),
        };
    }

    /** Loads the registry row the first time `$this->worker` is read. */
    public function __get(string $name): mixed
    {
        if ($name === 'worker') {
            return $this->workerRecord();
        }
        trigger_error('Undefined property: ' . static::class . '::$' . $name, E_USER_WARNING);
        return null;
    }

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
     * File types a manager may upload with this worker's tasks (e.g. `['csv', 'xlsx']`); the task
     * then gets `uploaded_file` (its path), `original_filename` and `file_size` in its options.
     * Default: the `allowed_extensions` setting, else `['csv']` as upstream sTask had. The
     * site-wide list (`stask.uploads.extensions`) always has the last word; return `[]` to
     * accept no files.
     *
     * @return list<string>
     */
    public function uploadExtensions(): array
    {
        $setting = $this->getConfig('allowed_extensions');
        if (is_string($setting)) {
            $setting = preg_split('/[\s,]+/', $setting, -1, PREG_SPLIT_NO_EMPTY);
        }
        return is_array($setting) ? array_values(array_map('strval', $setting)) : ['csv'];
    }

    /**
     * The manager permission this worker's tasks need besides "stask", or null (the default).
     * A worker that can change the site (run commands, update code) names its own, e.g.
     * "stask_artisan"; the manager's endpoints then refuse its tasks, its retries, uploads and
     * settings to a manager without it, and createTask() does in a web request. The permission
     * must exist in Evolution CMS (the package's migration creates the built-in ones).
     */
    public function managerPermission(): ?string
    {
        return null;
    }

    /** The worker's stored settings (`s_workers.settings`). Override to add defaults. */
    public function settings(): array
    {
        $settings = $this->workerRecord()->settings;
        return is_array($settings) ? $settings : [];
    }

    /** A setting by dot-notation key; a stored null is returned as null, not the default. */
    public function getConfig(string $key, $default = null)
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
    public function shouldRunNow(): bool
    {
        return Schedule::isDue($this->getSchedule(), now());
    }

    /**
     * Queues a task for this worker (an unfinished one with the same action and options is
     * handed back instead, as sTask::create() does). Without $options, in a manager request,
     * the request's `options` (plus a top-level `filename`) or, when it sends none, its
     * top-level fields are used — stripped of what only the server may set.
     */
    public function createTask(string $action, ?array $options = null): sTaskModel
    {
        // In a web request (the manager, or a site's own page) the worker's own permission is
        // needed; the CLI and the scheduler are not asked.
        $missing = function_exists('is_cli') && !is_cli() ? WorkerPermission::missing($this) : null;
        if ($missing !== null) {
            throw new \RuntimeException(WorkerPermission::message($this, $missing));
        }
        if ($options === null && function_exists('request') && app()->bound('request')) {
            $input = request()->all();
            if (is_array($input['options'] ?? null)) {
                $options = $input['options'];
                if (isset($input['filename']) && !isset($options['filename'])) {
                    $options['filename'] = $input['filename'];
                }
            } else {
                $options = array_diff_key($input, array_flip(['_token', '_method', 'options']));
            }
            // Only a server-issued upload token becomes a file path (Uploads::taskOptions()).
            $options = app(Uploads::class)->taskOptions($options);
        }
        return sTask::create($this->identifier(), $action, $options ?? [], 'normal', sTask::currentUserId());
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
        unset($this->worker);
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

    /**
     * Completes the task with an optional result (upstream's string, e.g. a file to download)
     * and message. Writing status 80 through the task's model does the same.
     */
    protected function markFinished(sTaskModel $task, ?string $result = null, ?string $message = null): void
    {
        sTask::engine()->setStatus($task->taskId(), sTaskModel::STATUS_COMPLETED, $message ?? self::doneMessage(), $result);
        $task->syncLifecycle(['status' => sTaskModel::STATUS_COMPLETED]);
    }

    /**
     * Completes the task with a result of any JSON-encodable type (markFinished() keeps
     * upstream's string-only signature so that workers overriding it still load).
     */
    protected function markFinishedWith(sTaskModel $task, mixed $result, ?string $message = null): void
    {
        sTask::engine()->setStatus($task->taskId(), sTaskModel::STATUS_COMPLETED, $message ?? self::doneMessage(), $result);
        $task->syncLifecycle(['status' => sTaskModel::STATUS_COMPLETED]);
    }

    /**
     * Fails the task with this message. It stays failed — unless the worker opted into retries,
     * attempts remain and the method then throws: a throw retries as always.
     */
    protected function markFailed(sTaskModel $task, string $message): void
    {
        sTask::engine()->setStatus($task->taskId(), sTaskModel::STATUS_FAILED, $message);
        $task->syncLifecycle(['status' => sTaskModel::STATUS_FAILED]);
    }

    /** Writes to the task's log: level "info", "warning" or "error". */
    public function appendTaskLog(sTaskModel $task, string $level, string $message, array $context = []): void
    {
        sTask::engine()->log($task->taskId(), $level, $message, $context);
    }

    /** Whether someone asked to cancel the task; stop and return when it is true. */
    public function cancelRequested(sTaskModel $task): bool
    {
        return sTask::engine()->isCancelled($task->taskId());
    }

    private static function doneMessage(): string
    {
        $text = function_exists('__') && app()->bound('translator') ? __('sTask::global.done') : 'Done';
        return is_string($text) && $text !== 'sTask::global.done' ? $text : 'Done';
    }

    /** The worker's registry row (unsaved when the worker is not registered yet). */
    public function workerRecord(): sWorker
    {
        if (!isset($this->worker)) {
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
