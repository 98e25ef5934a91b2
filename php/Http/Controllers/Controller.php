<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Response;
use Seiger\sTask\Exceptions\UploadException;
use Seiger\sTask\Http\Input;
use Seiger\sTask\Http\InvalidInput;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Services\Uploads;
use Seiger\sTask\sTask;
use Seiger\sTask\Support\ActionMethod;
use Seiger\sTask\Support\WorkerPermission;
use Seiger\sTask\Workers\BaseWorker;

/** What the sTask pages share: the layout's data and JSON answers. */
abstract class Controller
{
    /** Strings the page scripts show, in the manager's language. */
    private const I18N = [
        'pending', 'preparing', 'running', 'completed', 'cancelled', 'failed', 'nothing_running', 'no_failures',
        'no_data', 'no_log', 'loading', 'confirm_delete', 'done_bulk', 'error', 'task_created', 'saved', 'invalid_json',
        'per_minute', 'in_last_hour', 'active', 'inactive', 'eta', 'done', 'uploading', 'file_too_large',
    ];

    public function __construct(protected sTask $stask)
    {
    }

    /** @param array<string, mixed> $data */
    protected function page(string $view, string $section, array $data = []): Response
    {
        $i18n = [];
        foreach (self::I18N as $key) {
            $i18n[$key] = (string) __('sTask::global.' . $key);
        }
        $html = view('sTask::' . $view, $data + [
            'section' => $section,
            'i18n' => $i18n,
            'assetVersion' => sTask::VERSION . '-' . (int) @filemtime(dirname(__DIR__, 3) . '/assets/dist/stask.css'),
        ])->render();
        return new Response($html, 200, [
            'Content-Type' => 'text/html; charset=utf-8',
            'X-Frame-Options' => 'SAMEORIGIN',
            'X-Content-Type-Options' => 'nosniff',
            'Referrer-Policy' => 'same-origin',
        ]);
    }

    /**
     * Floats stay floats (a task done within the millisecond has a duration of 0.0, not 0), so
     * that clients can rely on each field's type.
     *
     * @param array<string, mixed> $data
     */
    protected function json(array $data, int $status = 200): JsonResponse
    {
        return new JsonResponse($data, $status, ['Cache-Control' => 'no-store'], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION);
    }

    /**
     * Creates a task for an active worker's existing action; the JSON answer of the run routes.
     * Every task the manager creates passes here: the client's options lose the upload keys
     * (`uploaded_file`, …), which are set again only for a file the Uploads service stored — named
     * by `$uploadToken`, or by a `filename` option equal to such a token.
     */
    protected function createTask(string $identifier, string $action, array $options, string $priority, bool $withTask = false, string $uploadToken = ''): JsonResponse
    {
        try {
            $options = app(Uploads::class)->taskOptions($options, $uploadToken);
        } catch (UploadException $e) {
            return $this->error($e->getMessage(), $e->getCode());
        }
        $worker = sWorker::query()->where('identifier', $identifier)->first();
        $instance = $worker?->getInstance();
        if ($worker === null || !$worker->active || $instance === null) {
            return $this->error(trans('sTask::global.worker_not_found', ['identifier' => $identifier]), 404);
        }
        if (($denied = $this->denied($instance)) !== null) {
            return $denied;
        }
        if (ActionMethod::find($instance, $action) === null) {
            return $this->error(trans('sTask::global.action_not_found', ['action' => $action]), 422);
        }
        try {
            // A worker that overrides createTask() (upstream's hook for its own checks) gets the
            // call, as upstream's run route made it; the priority is then the worker's choice.
            $task = $instance instanceof BaseWorker && (new \ReflectionMethod($instance, 'createTask'))->class !== BaseWorker::class
                ? $instance->createTask($action, $options)
                : $this->stask->create($identifier, $action, $options, $priority === '' ? 'normal' : $priority, $this->stask->currentUserId());
        } catch (\STask\Exception\InvalidArgumentException $e) {
            return $this->error($e->getMessage(), 422);
        } catch (\RuntimeException $e) {
            return $this->error($e->getMessage(), 403);
        }
        return $this->json([
            'success' => true,
            'id' => (int) $task->id,
            'message' => (string) __('sTask::global.task_created'),
            'url' => route('sTask.task.show', ['id' => $task->id]),
        ] + ($withTask ? ['task' => $task->toArray()] : []));
    }

    /**
     * A 403 when the worker's tasks need a permission (WorkerPermission) the manager lacks, else
     * null. Checked by every endpoint that creates, re-runs or feeds a worker's tasks, whatever
     * is_cli() says.
     */
    protected function denied(?object $instance): ?JsonResponse
    {
        $missing = WorkerPermission::missing($instance);
        return $missing === null ? null : $this->error(WorkerPermission::message($instance, $missing), 403);
    }

    /** denied() for the worker registered as $identifier (none registered: nothing to check). */
    protected function deniedFor(string $identifier): ?JsonResponse
    {
        return $this->denied(sWorker::query()->where('identifier', $identifier)->first()?->getInstance());
    }

    protected function error(string $message, int $status): JsonResponse
    {
        return $this->json(['success' => false, 'message' => $message], $status);
    }

    /**
     * Every action passes here (Laravel's controller dispatcher calls callAction() when a
     * controller has it): a route's task id that no task can have (0, or beyond PHP_INT_MAX,
     * which PHP cannot even hold as an int) is a 404, and a parameter that Input refuses is a
     * 422 — each with its message, as JSON or as a page like the action's own answers, and
     * before anything is written.
     *
     * @param array<array-key, mixed> $parameters
     */
    public function callAction($method, $parameters)
    {
        if (array_key_exists('id', $parameters)) {
            $id = Input::id($parameters['id']);
            if ($id === null) {
                $shown = mb_strimwidth(is_scalar($parameters['id']) ? (string) $parameters['id'] : '', 0, 40, '…');
                return $this->failure($method, trans('sTask::global.task_not_found', ['id' => $shown]), 404);
            }
            $parameters['id'] = $id;
        }
        try {
            return $this->{$method}(...array_values($parameters));
        } catch (InvalidInput $e) {
            return $this->failure($method, $e->getMessage(), 422);
        }
    }

    /** A refusal in the form the action answers in: JSON for the endpoints, text for the pages. */
    private function failure(string $method, string $message, int $status): Response|JsonResponse
    {
        $type = (new \ReflectionMethod($this, $method))->getReturnType();
        $request = request();
        if (($type instanceof \ReflectionNamedType && $type->getName() === JsonResponse::class)
            || $request->expectsJson() || !$request->isMethodSafe()) {
            return $this->error($message, $status);
        }
        return new Response(e($message), $status, [
            'Content-Type' => 'text/html; charset=utf-8',
            'X-Content-Type-Options' => 'nosniff',
            'Cache-Control' => 'no-store',
        ]);
    }
}
