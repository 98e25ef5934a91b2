<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\UploadedFile;
use Seiger\sTask\Exceptions\UploadException;
use Seiger\sTask\Http\Input;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Services\Uploads;
use Seiger\sTask\sTask;
use Seiger\sTask\Workers\BaseWorker;

/**
 * Files for a worker's next task: whole, or in chunks when larger than one request may carry.
 * The answer names the file by a token for the run endpoint, never by its server path.
 */
final class UploadController extends Controller
{
    public function __construct(sTask $stask, private Uploads $uploads)
    {
        parent::__construct($stask);
    }

    /** Upstream's /server-limits: how big a file may be and how to cut it. */
    public function limits(): JsonResponse
    {
        return $this->json(['success' => true] + $this->uploads->limits());
    }

    /** POST file [, chunk_index, total_chunks, session_id, original_filename]. */
    public function store(Request $request, string $identifier): JsonResponse
    {
        $worker = sWorker::query()->where('identifier', $identifier)->first();
        $instance = $worker?->getInstance();
        if ($worker === null || !$worker->active || $instance === null) {
            return $this->error(trans('sTask::global.worker_not_found', ['identifier' => $identifier]), 404);
        }
        if (($denied = $this->denied($instance)) !== null) {
            return $denied;
        }
        $file = $request->file('file');
        if (!$file instanceof UploadedFile) {
            return $this->error((string) __('sTask::global.upload_missing'), 422);
        }
        $extensions = $this->extensionsFor($worker, $instance);
        try {
            if ($request->has('total_chunks')) {
                $index = Input::int($request, 'chunk_index', -1, 0, PHP_INT_MAX);
                $result = $this->uploads->storeChunk(
                    Input::text($request, 'session_id', '', 64),
                    $index,
                    Input::int($request, 'total_chunks', 0, 1, PHP_INT_MAX),
                    Input::text($request, 'original_filename', $file->getClientOriginalName(), 255),
                    $file,
                    $extensions,
                );
                if (!$result['complete']) {
                    return $this->json(['success' => true, 'code' => 200, 'complete' => false,
                        'chunk_index' => $index, 'total_chunks' => $result['total'], 'received' => $result['received']]);
                }
            } else {
                $result = $this->uploads->store($file, $extensions);
            }
        } catch (UploadException $e) {
            return $this->error($e->getMessage(), $e->getCode());
        }
        return $this->json([
            'success' => true,
            'code' => 200,
            'complete' => true,
            'message' => (string) __('sTask::global.uploaded'),
            // Upstream answered with `result` (whole files) and `filename` (chunked): both here.
            'result' => $result['token'],
            'filename' => $result['token'],
            'original_filename' => $result['original_filename'],
            'file_size' => $result['file_size'],
        ]);
    }

    /**
     * Upstream's `task.upload`: a whole file for a task that has not started (pending, or
     * preparing). The task's data gets the file's keys (`uploaded_file`, `original_filename`,
     * `file_size`, `uploaded_at`) and its token as `filename`; the answer names the token.
     */
    public function attach(Request $request, int $id): JsonResponse
    {
        $task = sTaskModel::query()->find($id);
        if ($task === null) {
            return $this->error(trans('sTask::global.task_not_found', ['id' => $id]), 404);
        }
        if (!in_array((int) $task->status, [sTaskModel::STATUS_PENDING, sTaskModel::STATUS_PREPARING], true)) {
            return $this->error((string) __('sTask::global.upload_task_started'), 409);
        }
        $worker = sWorker::query()->where('identifier', $task->identifier)->first();
        $instance = $worker?->getInstance();
        if ($worker === null || $instance === null) {
            return $this->error(trans('sTask::global.worker_not_found', ['identifier' => $task->identifier]), 404);
        }
        if (($denied = $this->denied($instance)) !== null) {
            return $denied;
        }
        $file = $request->file('file');
        if (!$file instanceof UploadedFile) {
            return $this->error((string) __('sTask::global.upload_missing'), 422);
        }
        try {
            $result = $this->uploads->store($file, $this->extensionsFor($worker, $instance));
        } catch (UploadException $e) {
            return $this->error($e->getMessage(), $e->getCode());
        }
        $meta = is_array($task->meta) ? $task->meta : [];
        $task->meta = $this->uploads->taskOptions(['filename' => $result['token']] + $meta, $result['token']);
        $task->save();
        return $this->json([
            'success' => true,
            'code' => 200,
            'message' => (string) __('sTask::global.uploaded'),
            'result' => $result['token'],
            'original_filename' => $result['original_filename'],
            'file_size' => $result['file_size'],
        ]);
    }

    /** @return list<string> the file types this worker takes, within the site's list */
    private function extensionsFor(sWorker $worker, object $instance): array
    {
        $settings = is_array($worker->settings) ? $worker->settings : [];
        return $this->uploads->allowed($instance instanceof BaseWorker
            ? $instance->uploadExtensions() : (array) ($settings['allowed_extensions'] ?? []));
    }
}
