<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use Seiger\sTask\Http\Input;
use Seiger\sTask\Http\InvalidInput;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Contracts\SupervisorWorkerInterface;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Services\Uploads;
use Seiger\sTask\Services\WorkerDiscovery;
use Seiger\sTask\Support\ActionMethod;
use Seiger\sTask\Support\Schedule;
use Seiger\sTask\Support\WorkerHooks;
use Seiger\sTask\Support\WorkerPermission;
use Seiger\sTask\Workers\BaseWorker;

/** Workers: discovery, activation, settings (incl. schedule), running an action, stats. */
final class WorkersController extends Controller
{
    /** Fields of the run endpoint that are its own, not the task's options. */
    private const RUN_FIELDS = ['_token', '_method', 'options', 'upload', 'priority'];

    public function index(): Response
    {
        $engine = $this->stask->engine();
        return $this->page('workers.index', 'workers', [
            'workers' => sWorker::query()->ordered()->get(),
            'stats' => $engine->stats(),
            'metrics' => $engine->metrics(60),
        ]);
    }

    public function show(Request $request, string $identifier): Response
    {
        $worker = sWorker::query()->where('identifier', $identifier)->first();
        if ($worker === null) {
            return new Response(e(trans('sTask::global.worker_not_found', ['identifier' => $identifier])), 404);
        }
        $settings = $worker->getDefaultSettings();
        $instance = $worker->getInstance();
        $schedule = $instance instanceof BaseWorker ? $instance->getSchedule() : Schedule::normalize($settings['schedule'] ?? []);
        unset($settings['schedule']);
        return $this->page('workers.show', 'workers', [
            'worker' => $worker,
            'widget' => $this->widget($worker),
            // The worker's own hooks (a throw is logged and leaves its part out).
            'settingsHtml' => WorkerHooks::settingsHtml($instance),
            'generatedFiles' => WorkerHooks::generatedFiles($instance),
            'schedule' => $schedule,
            'supervised' => $instance instanceof SupervisorWorkerInterface,
            'supervisors' => $worker->supervisorStates()->orderByDesc('last_seen_at')->get(),
            'otherSettings' => (object) $settings,
            'recent' => sTaskModel::query()->byIdentifier($identifier)->orderByDesc('id')->limit(20)->get(),
            'metrics' => $this->stask->engine()->metrics(60)['workers'][$identifier] ?? null,
            'saved' => Input::oneOf($request, 'saved', ['', '0', '1'], '') === '1',
            'error' => null,
        ]);
    }

    /** POST mode=discover|rescan|clean: the discovery report. */
    public function discover(Request $request, WorkerDiscovery $discovery): JsonResponse
    {
        $mode = Input::oneOf($request, 'mode', ['discover', 'rescan', 'clean'], 'discover');
        $report = match ($mode) {
            'discover' => $discovery->discover(),
            'rescan' => $discovery->rescan(),
            'clean' => $discovery->cleanOrphaned(),
            default => null,
        };
        if ($report === null) {
            return $this->error('mode must be discover, rescan or clean', 422);
        }
        return $this->json(['success' => true, 'mode' => $mode] + $report->toArray());
    }

    public function activate(Request $request): JsonResponse
    {
        return $this->toggle(Input::text($request, 'identifier'), true);
    }

    public function deactivate(Request $request): JsonResponse
    {
        return $this->toggle(Input::text($request, 'identifier'), false);
    }

    /**
     * Saves the schedule fields and the other settings (a JSON object). Upstream dropped the
     * weekly days and hourly minutes; every schedule key is kept here.
     */
    public function saveSettings(Request $request, string $identifier): Response|JsonResponse
    {
        $worker = sWorker::query()->where('identifier', $identifier)->first();
        if ($worker === null) {
            return $this->error(trans('sTask::global.worker_not_found', ['identifier' => $identifier]), 404);
        }
        // Its schedule creates its tasks: the worker's own permission is needed here too.
        if (($denied = $this->denied($worker->getInstance())) !== null) {
            return $denied;
        }
        if ($request->input('worker_form') !== null) {
            return $this->saveWorkerForm($request, $worker);
        }
        try {
            $other = Input::object($request, 'settings_json');
        } catch (InvalidInput) {
            return $this->error((string) __('sTask::global.invalid_json'), 422);
        }
        // The schedule's fields are normalized by Schedule::fromForm(); the schedule itself must
        // be an object of them.
        $input = Input::object($request, 'schedule');
        // Upstream 2.x's shape plus `days` (weekly) and `day` (monthly); 1.x's `interval` folded in.
        $previous = is_array($worker->settings['schedule'] ?? null) ? $worker->settings['schedule'] : [];
        $schedule = Schedule::fromForm($input, $previous);
        if (($schedule['type'] ?? '') === 'supervisor' && !$worker->getInstance() instanceof SupervisorWorkerInterface) {
            return $this->error((string) __('sTask::global.supervisor_schedule_unsupported'), 422);
        }
        unset($other['schedule']);
        $worker->settings = $other + ['schedule' => $schedule];
        $worker->save();
        $this->stask->clearWorkerCache($identifier);
        app(\Seiger\sTask\Services\Scheduler::class)->scheduleSaved($identifier, $schedule);
        if ($request->expectsJson()) {
            return $this->json(['success' => true, 'settings' => $worker->settings]);
        }
        return new Response('', 303, ['Location' => route('sTask.worker.show', ['identifier' => $identifier, 'saved' => 1])]);
    }

    /**
     * Upstream's run endpoint: creates a task for one of the worker's actions and answers
     * {success, id, message, url} — with a 4xx status when it fails. The task's options are the
     * posted `options` (an object, or its JSON text); without an `options` key they are the
     * posted fields themselves (upstream's widgets post e.g. `{filename: <upload token>}`), less
     * the fields this endpoint reads itself. A file uploaded for the task is named by its token,
     * in `upload` or as `filename`; the upload keys (`uploaded_file`, …) are set from that token
     * only, never taken from the request.
     */
    public function run(Request $request, string $identifier, string $action): JsonResponse
    {
        if ($request->has('options')) {
            $options = $request->input('options') ?? [];
            if (is_string($options)) {
                $options = json_decode($options === '' ? '{}' : $options, true);
            }
            if (!is_array($options) || ($options !== [] && array_is_list($options))) {
                return $this->error((string) __('sTask::global.invalid_json'), 422);
            }
            // Upstream dropped a top-level filename when options were sent too; it is kept here.
            $filename = $request->input('filename');
            if ($filename !== null && !array_key_exists('filename', $options)) {
                $options['filename'] = $filename;
            }
        } else {
            $options = $request->input();
            foreach (self::RUN_FIELDS as $field) {
                unset($options[$field]);
            }
        }
        $token = $request->input('upload', '');
        if (!is_string($token)) {
            return $this->error((string) __('sTask::global.upload_missing'), 422);
        }
        $priority = Input::oneOf($request, 'priority', ['low', 'normal', 'high', ''], 'normal');
        return $this->createTask($identifier, $action, $options, $priority, false, $token);
    }

    /**
     * The worker's own settings form (renderSettings()): what it posts, through the worker's
     * normalizeSettingsForSave() when it has one, replaces those top-level settings; the
     * schedule and every other setting stay.
     */
    private function saveWorkerForm(Request $request, sWorker $worker): Response|JsonResponse
    {
        $instance = $worker->getInstance();
        if ($instance === null || !method_exists($instance, 'renderSettings')) {
            return $this->error((string) __('sTask::global.no_settings_form'), 422);
        }
        try {
            $posted = WorkerHooks::settingsToSave($instance, $request->input());
        } catch (\UnexpectedValueException $e) {
            return $this->error(trans('sTask::global.settings_not_saved', ['error' => $e->getMessage()]), 422);
        }
        $settings = is_array($worker->settings) ? $worker->settings : [];
        $worker->settings = array_merge($settings, $posted);
        $worker->save();
        $this->stask->clearWorkerCache($worker->identifier);
        if ($request->expectsJson()) {
            return $this->json(['success' => true, 'settings' => $worker->settings]);
        }
        return new Response('', 303, ['Location' => route('sTask.worker.show', ['identifier' => $worker->identifier, 'saved' => 1])]);
    }

    /** Upstream's /worker/clean-orphaned: removes workers whose class is gone. */
    public function cleanOrphaned(WorkerDiscovery $discovery): JsonResponse
    {
        $report = $discovery->cleanOrphaned();
        return $this->json(['success' => true, 'message' => (string) __('sTask::global.done'), 'deleted' => count($report->removed)] + $report->toArray());
    }

    private function toggle(string $identifier, bool $active): JsonResponse
    {
        $ok = $active ? $this->stask->activateWorker($identifier) : $this->stask->deactivateWorker($identifier);
        return $ok
            ? $this->json(['success' => true, 'identifier' => $identifier, 'active' => $active])
            : $this->error(trans('sTask::global.worker_not_found', ['identifier' => $identifier]), 404);
    }

    /** The worker's own widget (trusted HTML from its code), or the default run form. */
    private function widget(sWorker $worker): string
    {
        $instance = $worker->getInstance();
        if ($instance === null) {
            return '<p class="text-sm st-muted">' . e(trans('sTask::global.worker_class_missing', ['class' => $worker->class])) . '</p>';
        }
        // No run form for a manager who may not run this worker's tasks.
        if (($missing = WorkerPermission::missing($instance)) !== null) {
            return '<p class="text-sm st-muted" data-permission-needed>' . e(WorkerPermission::message($instance, $missing)) . '</p>';
        }
        $html = trim($instance->renderWidget());
        return $html !== '' ? $html : view('sTask::widgets.task-runner', ['worker' => $instance, 'actions' => ActionMethod::actionsOf($instance)])->render();
    }
}
