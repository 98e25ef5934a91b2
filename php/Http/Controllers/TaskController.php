<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use Seiger\sTask\Http\Input;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Services\TaskProgress;
use Seiger\sTask\Services\Uploads;
use Symfony\Component\HttpFoundation\BinaryFileResponse;
use Symfony\Component\HttpFoundation\ResponseHeaderBag;
use Symfony\Component\HttpFoundation\StreamedResponse;

/** One task: its page, live progress and log, downloads, retry and cancel. */
final class TaskController extends Controller
{
    /** Bytes of log read per step of a download. */
    private const LOG_CHUNK_BYTES = 262144;

    public function show(Uploads $uploads, int $id): Response
    {
        $task = sTaskModel::query()->find($id);
        if ($task === null) {
            return new Response(e(trans('sTask::global.task_not_found', ['id' => $id])), 404);
        }
        return $this->page('tasks.show', 'tasks', [
            'task' => $task,
            'data' => self::shortenUploadPaths($task->meta, $uploads->dir()),
            'progress' => $this->stask->engine()->progress($id),
            'resultFile' => $this->resultFile($task) !== null,
        ]);
    }

    /**
     * Upstream's progress endpoint, with the snapshot's fields: success, code, id, status,
     * progress, processed, total, eta, message, log_lines (the last 50 messages), and more.
     * The snapshot and the lines are TaskProgress's, as upstream's endpoint read them;
     * `?include_log=0` leaves the lines out (an empty list).
     */
    public function progress(Request $request, int $id): JsonResponse
    {
        $task = sTaskModel::query()->find($id);
        $snapshot = $task === null ? null : TaskProgress::readProgress($id);
        if ($snapshot === null) {
            return $this->json(['success' => false, 'code' => 404, 'status' => 'not_found', 'message' => trans('sTask::global.task_not_found', ['id' => $id])], 404);
        }
        return $this->json(['success' => true, 'code' => 200] + $snapshot + [
            'attempts' => $task->attempts,
            'max_attempts' => $task->max_attempts,
            'can_retry' => $task->canRetry(),
            'can_cancel' => !$task->isFinished(),
            'duration' => $task->duration,
            'last_error' => $task->last_error,
            // Upstream 2.1's ?include_log=0 (its live table rows): the snapshot without the log.
            'log_lines' => in_array(Input::oneOf($request, 'include_log', ['1', '0', 'true', 'false'], '1'), ['0', 'false'], true) ? [] : TaskProgress::readLog($id, 50),
        ]);
    }

    /** The last entries of the log (?level=info|warning|error, ?limit=1–1000). */
    public function logs(Request $request, int $id): JsonResponse
    {
        $level = Input::oneOf($request, 'level', ['', 'info', 'warning', 'error'], '');
        $limit = Input::int($request, 'limit', 200, 1, 1000, true);
        try {
            $entries = $this->stask->engine()->logs($id, $level ?: null, $limit);
        } catch (\STask\Exception\NotFoundException $e) {
            return $this->error($e->getMessage(), 404);
        }
        return $this->json(['success' => true, 'id' => $id, 'level' => $level ?: null, 'entries' => $entries]);
    }

    /**
     * The whole log as a text file, streamed a piece at a time from wherever the engine keeps it
     * (the {id}.log file, or the database with `files => 'database'`): memory stays bounded
     * however long the log is. Only the id comes from the request.
     */
    public function downloadLog(int $id): StreamedResponse|Response
    {
        $engine = $this->stask->engine();
        $task = $engine->find($id);
        if ($task === null) {
            return new Response(e(trans('sTask::global.task_not_found', ['id' => $id])), 404);
        }
        $first = $engine->logChunk($id, 0, self::LOG_CHUNK_BYTES);
        $name = sprintf('task-%d-%s-%s.log', $id, preg_replace('/[^A-Za-z0-9_.-]/', '_', $task->identifier), date('Ymd-His'));
        return new StreamedResponse(static function () use ($engine, $id, $first): void {
            $chunk = $first;
            while (true) {
                echo $chunk['data'];
                if ($chunk['next'] === null) {
                    return;
                }
                flush();
                $chunk = $engine->logChunk($id, $chunk['next'], self::LOG_CHUNK_BYTES);
            }
        }, 200, [
            'Content-Type' => 'text/plain; charset=utf-8',
            'Content-Disposition' => (new ResponseHeaderBag())->makeDisposition(ResponseHeaderBag::DISPOSITION_ATTACHMENT, $name),
            'X-Content-Type-Options' => 'nosniff',
            'Cache-Control' => 'private, no-store',
        ]);
    }

    /** A completed task's result file — only a file inside sTask's storage directory. */
    public function downloadResult(int $id): BinaryFileResponse|Response
    {
        $task = sTaskModel::query()->find($id);
        $file = $task ? $this->resultFile($task) : null;
        if ($file === null) {
            return new Response(e((string) __('sTask::global.no_result_file')), 404);
        }
        // A task's result is the manager's business: no shared cache may keep a copy.
        $response = new BinaryFileResponse($file, 200, ['X-Content-Type-Options' => 'nosniff'], false);
        $response->headers->set('Cache-Control', 'private, no-store');
        return $response->setContentDisposition(ResponseHeaderBag::DISPOSITION_ATTACHMENT, basename($file));
    }

    public function retry(int $id): JsonResponse
    {
        $task = $this->stask->engine()->find($id);
        if ($task !== null && ($denied = $this->deniedFor($task->identifier)) !== null) {
            return $denied;
        }
        return $this->change($id, fn () => $this->stask->engine()->retry($id), 'retried');
    }

    public function cancel(int $id): JsonResponse
    {
        return $this->change($id, fn () => $this->stask->engine()->cancel($id), 'cancelled');
    }

    private function change(int $id, callable $operation, string $done): JsonResponse
    {
        try {
            $changed = (bool) $operation();
        } catch (\STask\Exception\NotFoundException $e) {
            return $this->error($e->getMessage(), 404);
        } catch (\STask\Exception\StaskException $e) {
            return $this->error($e->getMessage(), 409);
        }
        $task = $this->stask->engine()->find($id);
        return $this->json(['success' => $changed, $done => $changed, 'status' => $task?->statusText], $changed ? 200 : 409);
    }

    /**
     * Upstream served any path in `result` (a path traversal); here the result must name an
     * existing file under the storage directory (e.g. storage/stask/uploads).
     */
    private function resultFile(sTaskModel $task): ?string
    {
        if (!$task->isCompleted()) {
            return null;
        }
        $result = $task->result;
        $candidate = is_string($result) ? $result : (is_array($result) ? ($result['file'] ?? $result['path'] ?? null) : null);
        // A NUL byte cannot be in a path (realpath() would throw on it).
        if (!is_string($candidate) || $candidate === '' || str_contains($candidate, "\0")) {
            return null;
        }
        $storage = realpath(storage_path());
        $real = realpath($candidate);
        if ($storage === false || $real === false || !is_file($real) || !str_starts_with($real, $storage . DIRECTORY_SEPARATOR)) {
            return null;
        }
        return $real;
    }

    /** Uploaded files by name, not by absolute server path. */
    private static function shortenUploadPaths(mixed $value, string $dir): mixed
    {
        if (is_array($value)) {
            return array_map(static fn ($v) => self::shortenUploadPaths($v, $dir), $value);
        }
        return is_string($value) && str_starts_with($value, $dir . '/') ? 'uploads/' . substr($value, strlen($dir) + 1) : $value;
    }
}
