<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Seiger\sTask\Facades\sTask;
use STask\Exception\NotFoundException;
use STask\Exception\StateException;

/**
 * Upstream sTask's progress API, for workers and pages that call it directly
 * (`TaskProgress::write(['id' => $task->id, 'progress' => 40, 'message' => '…'])`).
 *
 * Upstream appended `status|progress|processed|total|eta|message` lines to storage/stask/{id}.log
 * and re-read the whole file on every poll. Here progress and logs belong to the engine, so
 * these calls map onto it:
 * - write()/init() report progress like BaseWorker::pushProgress (the worker running the task,
 *   or anyone while it is pending) and put the message into the task's log, so that readLog()
 *   returns one message per call, as upstream's did;
 * - readProgress() is the engine's snapshot with upstream's keys and types;
 * - readLog() is the last messages of the task's log, whoever wrote them.
 */
final class TaskProgress
{
    /** The engine's limit on a message. */
    private const MAX_MESSAGE_BYTES = 1024 * 1024;

    /** The storage directory: progress snapshots ({id}.json), logs ({id}.log), uploads/. */
    public static function dir(): string
    {
        $dir = (string) sTask::settings()->options['storage'];
        if (!is_dir($dir)) {
            @mkdir($dir, 0775, true);
        }
        return $dir;
    }

    /**
     * The task's log file (it may not exist yet; with `files => 'database'` the log is kept in
     * the database and read through readLog()). Only numeric ids: upstream built the path from
     * any string.
     */
    public static function file(int|string $taskId): string
    {
        return sTask::engine()->logPath(self::id($taskId));
    }

    /**
     * The task's progress: id, status, progress, processed, total, eta, message (upstream's
     * keys, as int/int/int/string/string) and the engine's identifier, action, eta_seconds,
     * attempt, max_attempts, started_at, updated_at, finished_at. Null when there is no such
     * task. Live for tasks this process runs; otherwise the last snapshot, at most a fraction
     * of a second old.
     *
     * @return array<string, mixed>|null
     */
    public static function readProgress(int|string $taskId): ?array
    {
        try {
            $snapshot = sTask::engine()->progress(self::id($taskId));
        } catch (NotFoundException) {
            return null;
        }
        $snapshot['progress'] = (int) ($snapshot['progress'] ?? 0);
        $snapshot['processed'] = (int) ($snapshot['processed'] ?? 0);
        $snapshot['total'] = (int) ($snapshot['total'] ?? 0);
        $snapshot['eta'] = (string) ($snapshot['eta'] ?? '—');
        $snapshot['message'] = (string) ($snapshot['message'] ?? '');
        return $snapshot;
    }

    /**
     * The last $lines messages of the task's log, oldest first ([] for an unknown task). Every
     * entry counts: write() messages, the worker's log() calls, and the engine's own lines.
     *
     * @return list<string>
     */
    public static function readLog(int|string $taskId, int $lines = 50): array
    {
        if ($lines < 1) {
            return [];
        }
        try {
            return array_column(sTask::engine()->logs(self::id($taskId), null, $lines), 'message');
        } catch (NotFoundException) {
            return [];
        }
    }

    /**
     * The first report of a task (upstream called it when a task was queued or started). The
     * same as write().
     *
     * @param array<string, mixed> $payload
     */
    public static function init(array $payload): void
    {
        self::write($payload);
    }

    /**
     * Reports progress: `id` (required), `progress` (0–100), `processed`, `total`, `eta`
     * (seconds; upstream's text such as "—" is ignored: the engine estimates), `message`, and
     * `status`/`status_text` ("failed" or "error" logs the message as an error). Other keys
     * (identifier, action, result, code) are ignored, as upstream did.
     *
     * - The worker running the task: the snapshot is updated (microseconds; written to disk at
     *   most every progressInterval). Like pushProgress, this throws TaskCancelledException once
     *   a cancel was requested, and LeaseLostException when another worker took the task over:
     *   stop working on it.
     * - Anyone else: a pending task's snapshot is updated; a task running elsewhere or finished
     *   keeps the engine's snapshot (its owner's is the truth) and only the message is logged.
     * - A non-empty message is appended to the task's log: one line per call, as upstream's
     *   file had (reporting numbers only, without a message, logs nothing).
     * - An unknown id is ignored (upstream wrote a file for any id).
     *
     * The task's status never changes here: finish with markFinished()/markFailed() or by
     * returning/throwing from the action.
     *
     * @param array<string, mixed> $payload
     */
    public static function write(array $payload): void
    {
        if (!isset($payload['id']) || $payload['id'] === '') {
            throw new \InvalidArgumentException('TaskProgress::write() needs the task "id"');
        }
        $id = self::id($payload['id']);
        $engine = sTask::engine();
        $report = self::report($payload);
        try {
            if ($report !== []) {
                $engine->pushProgress($id, $report);
            }
        } catch (StateException) {
            // Running in another process, or finished: the snapshot is not ours to change.
        } catch (NotFoundException) {
            return;
        }
        $message = isset($report['message']) ? trim($report['message']) : '';
        if ($message === '') {
            return;
        }
        $status = strtolower((string) ($payload['status'] ?? $payload['status_text'] ?? ''));
        try {
            $engine->log($id, in_array($status, ['failed', 'error'], true) ? 'error' : 'info', $message);
        } catch (NotFoundException) {
            // Deleted meanwhile.
        }
    }

    /**
     * Upstream's payload as the engine's progress report. Values are made valid rather than
     * refused, since upstream's write() accepted anything: progress clamped to 0–100,
     * negative counts to 0, a processed count above the total raises the total.
     *
     * @param array<string, mixed> $payload
     * @return array<string, int|float|string>
     */
    private static function report(array $payload): array
    {
        $report = [];
        if (isset($payload['progress']) && is_numeric($payload['progress'])) {
            $report['progress'] = max(0, min(100, $payload['progress'] + 0));
        }
        foreach (['processed', 'total'] as $key) {
            if (isset($payload[$key]) && is_numeric($payload[$key])) {
                $report[$key] = max(0, (int) $payload[$key]);
            }
        }
        if (isset($report['processed'], $report['total']) && $report['total'] > 0 && $report['processed'] > $report['total']) {
            $report['total'] = $report['processed'];
        }
        if (isset($payload['eta']) && is_numeric($payload['eta'])) {
            $report['eta'] = max(0, (int) $payload['eta']);
        }
        if (isset($payload['message']) && (is_scalar($payload['message']) || $payload['message'] instanceof \Stringable)) {
            $report['message'] = mb_strcut((string) $payload['message'], 0, self::MAX_MESSAGE_BYTES);
        }
        return $report;
    }

    private static function id(int|string $taskId): int
    {
        if (is_int($taskId) ? $taskId < 1 : !ctype_digit($taskId) || (int) $taskId < 1) {
            throw new \InvalidArgumentException(sprintf('A task id is a positive integer, got "%s"', $taskId));
        }
        return (int) $taskId;
    }
}
