<?php

// Stubs for stask

namespace STask {
    /**
     * The sTask engine over one database and one storage directory.
     *
     * ```php
     * $engine = new STask\Engine('sqlite:/var/www/core/storage/stask.sqlite', ['prefix' => 'evo_']);
     * $engine->migrate();
     * $task = $engine->create('product', 'import', ['file' => 'products.csv'], 'high');
     * $engine->processPendingTasks(fn (STask\Task $t) => (new ProductWorker)->run($t));
     * ```
     */
    class Engine {
        /**
         * Deepest nesting of arrays (and objects) accepted in a task's data, a result or a log
         * context: `[]` is one level, `[[1]]` two. Deeper values are refused with
         * InvalidArgumentException and nothing is written.
         */
        public const MAX_DEPTH = 100;

        /**
         * Opens an engine.
         *
         * @param string $url "sqlite:/path/to/stask.sqlite", "sqlite::memory:",
         *   "postgres://user:pass@host:5432/db" or "mysql://user:pass@host:3306/db" (MySQL 8,
         *   MariaDB 10.5+; also "mariadb://")
         * @param array|null $options prefix (table prefix, e.g. "evo_"), storage (directory for
         *   progress and log files; default: "stask" next to the database), files ("local": files
         *   in storage; "database": in the database, for workers on several servers), leaseSeconds (60),
         *   maxAttempts (3), backoff (seconds, or [base, factor, max, jitter]),
         *   progressIntervalMs (250), busyTimeoutMs (10000), worker (name shown on claims),
         *   lifecycleLog (true: log each attempt's start and end)
         * @throws \STask\Exception\ConfigurationException for a bad URL or option
         * @throws \STask\Exception\StorageException when the storage directory is not writable
         *
         * @param string $url
         * @param array|null $options
         */
        public function __construct(string $url, ?array $options = null) {}

        /**
         * Cancels: a pending task at once; a running one at its next progress report or
         * isCancelled() check. False when it had already finished.
         *
         * @param int $id
         * @return bool
         */
        public function cancel(int $id): bool {}

        /**
         * Completes the task. Inside its handler this is the worker's own result; outside, only a
         * pending task may be completed.
         *
         * @param mixed $result stored as JSON
         *
         * @param int $id
         * @param mixed $result
         * @param string|null $message
         * @return void
         */
        public function complete(int $id, mixed $result = null, ?string $message = null): void {}

        /**
         * Creates a task.
         *
         * @param array|null $data the task's input, stored as JSON
         * @param string $priority "low", "normal" or "high"
         * @param array|null $options maxAttempts, availableAt (Unix time or DateTimeInterface),
         *   delay (seconds), userId, unique (a key: while a task with it is unfinished, creating
         *   another returns that task instead)
         * @throws \STask\Exception\InvalidArgumentException for bad input; nothing is written
         *
         * @param string $identifier
         * @param string $action
         * @param array|null $data
         * @param string $priority
         * @param array|null $options
         * @return \STask\Task
         */
        public function create(string $identifier, string $action, ?array $data = null, string $priority = 'normal', ?array $options = null): \STask\Task {}

        /**
         * Creates many tasks in one transaction: all of them, or none when one is invalid.
         *
         * @param array $tasks each ['identifier' => …, 'action' => …, 'data' => […],
         *   'priority' => …, and any create() option]
         * @return \STask\Task[]
         *
         * @param array $tasks
         * @return array
         */
        public function createMany(array $tasks): array {}

        /**
         * Deletes tasks and their files. Running tasks are skipped (cancel them first). Returns
         * the ids deleted.
         *
         * @param int[] $ids
         * @return int[]
         *
         * @param array $ids
         * @return array
         */
        public function delete(array $ids): array {}

        /**
         * Finds worker classes without loading any PHP: reads the project's composer.json (and
         * Evolution CMS's custom/composer.json) and vendor/composer/installed.json, lists the
         * PHP files their autoload rules cover, and returns the concrete classes that extend or
         * implement one of $roots. Returns ['candidates' => [['class', 'file', 'package'], …],
         * 'packages' => n, 'files' => n, 'parsed' => n, 'elapsedMs' => ms, 'warnings' => […]].
         *
         * @param string $projectDir the directory holding composer.json and vendor/
         * @param array $roots fully qualified base classes or interfaces of workers
         * @param array|null $exclude namespace prefixes whose classes are never candidates
         * @param string|null $cacheFile remembers what each file declared, so that the next scan
         *   reads only files that changed ('parsed' in the result says how many were read)
         *
         * @param string $projectDir
         * @param array $roots
         * @param array|null $exclude
         * @param string|null $cacheFile
         * @return array
         */
        public static function discoverWorkers(string $projectDir, array $roots, ?array $exclude = null, ?string $cacheFile = null): array {}

        /**
         * Fails the task for good (no retry; to retry, throw from the handler).
         *
         * @param int $id
         * @param string $message
         * @return void
         */
        public function fail(int $id, string $message): void {}

        /**
         * The task, or null when there is none with this id.
         *
         * @param int $id
         * @return \STask\Task|null
         */
        public function find(int $id): ?\STask\Task {}

        /**
         * Whether a cancel was requested for the task (or it is cancelled).
         *
         * @param int $id
         * @return bool
         */
        public function isCancelled(int $id): bool {}

        /**
         * Appends to the task's log.
         *
         * @param string $level "info", "warning" or "error"
         * @param array|null $context structured details, stored as JSON
         *
         * @param int $id
         * @param string $level
         * @param string $message
         * @param array|null $context
         * @return void
         */
        public function log(int $id, string $level, string $message, ?array $context = null): void {}

        /**
         * A piece of the task's whole log, wherever it is kept (file or database), in the log
         * file's format: one entry per line, tab-separated time, level, message (tabs and newlines
         * escaped) and context JSON. Returns ['data' => whole lines, about $maxBytes of them,
         * 'next' => the cursor to pass next, or null after the last piece]. Streams a log of any
         * size in bounded memory:
         *
         * ```php
         * $cursor = 0;
         * do {
         *     ['data' => $data, 'next' => $cursor] = $engine->logChunk($id, $cursor);
         *     echo $data;
         * } while ($cursor !== null);
         * ```
         *
         * @param int $id
         * @param int $cursor
         * @param int $maxBytes
         * @return array
         */
        public function logChunk(int $id, int $cursor = 0, int $maxBytes = 262144): array {}

        /**
         * Path of the task's log file; it may not exist yet. With `files => 'database'` there is
         * no file: read the log with logs() or logChunk().
         *
         * @param int $id
         * @return string
         */
        public function logPath(int $id): string {}

        /**
         * The task's last $limit log entries, oldest first, each ['time', 'level', 'message', 'context'].
         *
         * @param string|null $level only entries of this level
         *
         * @param int $id
         * @param string|null $level
         * @param int $limit
         * @return array
         */
        public function logs(int $id, ?string $level = null, int $limit = 100): array {}

        /**
         * Tasks finished per minute, and per worker: completed, failed, cancelled, average wait
         * (from due to started) and run time, 95th percentile and longest run, over the last
         * $minutes (1–1440): ['per_minute' => […], 'totals' => […], 'workers' => [id => […]]].
         *
         * @param int $minutes
         * @return array
         */
        public function metrics(int $minutes = 60): array {}

        /**
         * Creates the tables, or upgrades them (also a database made by upstream sTask, keeping
         * its rows). Idempotent.
         *
         * @return void
         */
        public function migrate(): void {}

        /**
         * Whether this process's worker is running the task right now (its handler has not
         * returned): status and progress writes to it are then the owner's.
         *
         * @param int $id
         * @return bool
         */
        public function owns(int $id): bool {}

        /**
         * Like processPendingTasks(), but returns what happened: claimed, completed, retried,
         * failed, cancelled, lost, released, rescued, exited, stopped.
         *
         * @param callable $dispatch
         * @param int $limit
         * @param array|null $options
         * @return array
         */
        public function process(callable $dispatch, int $limit = 10, ?array $options = null): array {}

        /**
         * Runs up to $limit due tasks, highest priority first, then oldest: each is passed to
         * $dispatch(STask\Task $task) on this thread. Returning completes the task (unless the
         * handler completed or failed it itself); throwing fails the attempt, which is retried
         * with backoff while attempts remain.
         *
         * @param callable $dispatch function (STask\Task $task): void
         * @param array|null $options identifiers: only tasks of these worker identifiers;
         *   ids: only these tasks, run now even if not due yet
         * @return int the number of tasks completed
         *
         * @param callable $dispatch
         * @param int $limit
         * @param array|null $options
         * @return int
         */
        public function processPendingTasks(callable $dispatch, int $limit = 10, ?array $options = null): int {}

        /**
         * The task's progress snapshot: id, identifier, action, status, progress, processed,
         * total, eta, eta_seconds, message, attempt, max_attempts, started_at, updated_at,
         * finished_at.
         *
         * @param int $id
         * @return array
         */
        public function progress(int $id): array {}

        /**
         * Deletes tasks that finished more than $days days ago, with their progress and log
         * files. Returns how many.
         *
         * @param int $days
         * @return int
         */
        public function prune(int $days): int {}

        /**
         * Deletes the progress and log files of tasks that finished more than $days days ago,
         * keeping their rows. Returns how many tasks had files.
         *
         * @param int $days
         * @return int
         */
        public function pruneFiles(int $days): int {}

        /**
         * Reports progress: ['progress' => 0–100, 'processed' => n, 'total' => n,
         * 'message' => '…', 'eta' => seconds]. Absent keys keep their value; the percent is
         * derived from processed/total when not given. Costs microseconds in a tight loop.
         *
         * @throws \STask\Exception\TaskCancelledException once a cancel was requested: stop
         * @throws \STask\Exception\LeaseLostException when another worker took the task over
         *
         * @param int $id
         * @param array $progress
         * @return void
         */
        public function pushProgress(int $id, array $progress): void {}

        /**
         * Asks processing to stop after the current task; unstarted claimed tasks are handed back.
         * Safe in a signal handler (pcntl_signal): this is how a worker stops gracefully.
         *
         * @return void
         */
        public function requestStop(): void {}

        /**
         * Sets when a pending task may run: a Unix time in seconds (fractions allowed). False when
         * the task is not pending.
         *
         * @param int $id
         * @param float $available_at
         * @return bool
         */
        public function reschedule(int $id, float $available_at): bool {}

        /**
         * Queues a failed or cancelled task again with fresh attempts. False for other statuses.
         *
         * @param int $id
         * @return bool
         */
        public function retry(int $id): bool {}

        /**
         * The delay in seconds before the next attempt, should the attempt this process runs fail
         * (a worker's own backoff instead of the engine's).
         *
         * @param int $id
         * @param float $seconds
         * @return void
         */
        public function retryAfter(int $id, float $seconds): void {}

        /**
         * Sets a task's status the way upstream's model writes did (10, 30, 50, 80, 90, 100).
         * The worker running the task may mark it preparing or running, complete it, fail it
         * (kept failed unless attempts remain and it then throws) or cancel it; anyone may
         * complete, fail or cancel a pending task. Anything else throws InvalidStateException
         * (LeaseLostException for a worker that lost its lease) and changes nothing.
         *
         * @param mixed $result stored as JSON (completed only)
         *
         * @param int $id
         * @param int $status
         * @param string|null $message
         * @param mixed $result
         * @return void
         */
        public function setStatus(int $id, int $status, ?string $message = null, mixed $result = null): void {}

        /**
         * Counts: total and per status name, and the same per identifier under "identifiers".
         *
         * @return array
         */
        public function stats(): array {}

        /**
         * URL schemes this build of the extension can open, e.g. ["sqlite"].
         *
         * @return array
         */
        public static function supportedBackends(): array {}

        /**
         * Blocks until a task may be ready to claim — one is due, or a worker's lease expired —
         * or $seconds pass. Returns true early in the first case, false when the time ran out.
         * On PostgreSQL a new task wakes the wait within milliseconds (LISTEN/NOTIFY); elsewhere
         * the database is polled, often right after work and less often while idle (up to 1 s).
         * PHP signal handlers run only after it returns: keep $seconds short in workers that
         * handle signals.
         *
         * ```php
         * while (!$stop) {
         *     $engine->processPendingTasks($dispatch, 100);
         *     $engine->waitForTasks(5.0);
         * }
         * ```
         *
         * @param array|null $options identifiers: only tasks of these worker identifiers count
         *
         * @param float $seconds
         * @param array|null $options
         * @return bool
         */
        public function waitForTasks(float $seconds, ?array $options = null): bool {}
    }

    /**
     * A task as stored when it was read. Properties are read-only; call `Engine::find()` for a
     * fresh copy.
     */
    class Task {
        public const CANCELLED = 90;

        public const COMPLETED = 80;

        public const FAILED = 100;

        public const PENDING = 10;

        public const PREPARING = 30;

        public const RUNNING = 50;

        /**
         * The action, e.g. "import" (runs `taskImport`).
         *
         * @var string
         */
        public readonly string $action;

        /**
         * Attempts started so far.
         *
         * @var int
         */
        public readonly int $attempts;

        /**
         * Unix time before which it will not run.
         *
         * @var int|null
         */
        public readonly ?int $availableAt;

        /**
         * A cancel was requested while it runs.
         *
         * @var bool
         */
        public readonly bool $cancelRequested;

        /**
         * Unix time it was created.
         *
         * @var int|null
         */
        public readonly ?int $createdAt;

        /**
         * The task's input.
         *
         * @var array
         */
        public readonly array $data;

        /**
         * Unix time it finished.
         *
         * @var int|null
         */
        public readonly ?int $finishedAt;

        /**
         * Task id.
         *
         * @var int
         */
        public readonly int $id;

        /**
         * The worker identifier, e.g. "product".
         *
         * @var string
         */
        public readonly string $identifier;

        /**
         * The last failure: exception class, message, file and line.
         *
         * @var string|null
         */
        public readonly ?string $lastError;

        /**
         * Attempts allowed before the task fails for good.
         *
         * @var int
         */
        public readonly int $maxAttempts;

        /**
         * Human-readable state message.
         *
         * @var string|null
         */
        public readonly ?string $message;

        /**
         * "low", "normal" or "high".
         *
         * @var string
         */
        public readonly string $priority;

        /**
         * Percent done, 0–100 (updated about once a second while running).
         *
         * @var int
         */
        public readonly int $progress;

        /**
         * The task's output, as given to `complete()`.
         *
         * @var mixed
         */
        public readonly mixed $result;

        /**
         * Unix time its current or last attempt started.
         *
         * @var int|null
         */
        public readonly ?int $startedAt;

        /**
         * Status code: 10 pending, 30 preparing, 50 running, 80 completed, 90 cancelled, 100 failed.
         *
         * @var int
         */
        public readonly int $status;

        /**
         * Status name: pending, preparing, running, completed, cancelled, failed.
         *
         * @var string
         */
        public readonly string $statusText;

        /**
         * Its unique key: while it is unfinished, creating a task with this key returns it.
         *
         * @var string|null
         */
        public readonly ?string $uniqueKey;

        /**
         * Unix time of its last change.
         *
         * @var int|null
         */
        public readonly ?int $updatedAt;

        /**
         * The user who created it, if any.
         *
         * @var int|null
         */
        public readonly ?int $userId;

        public function __construct() {}

        /**
         * @return bool
         */
        public function isCancelled(): bool {}

        /**
         * @return bool
         */
        public function isCompleted(): bool {}

        /**
         * @return bool
         */
        public function isFailed(): bool {}

        /**
         * Completed, cancelled or failed.
         *
         * @return bool
         */
        public function isFinished(): bool {}

        /**
         * @return bool
         */
        public function isPending(): bool {}

        /**
         * @return bool
         */
        public function isRunning(): bool {}

        /**
         * All properties as an array (for JSON responses and logs).
         *
         * @return array
         */
        public function toArray(): array {}
    }
}

namespace STask\Exception {
    /**
     * A malformed engine URL, an unknown or invalid option, or a database that cannot be opened.
     */
    class ConfigurationException extends \STask\Exception\InvalidArgumentException {
        public function __construct() {}
    }

    /**
     * The database server could not be reached, or a connection broke and could not be
     * re-established in time (the engine reconnects and retries what is safe for about 20 s).
     * When the message says so, a write's outcome is unknown.
     */
    class ConnectionException extends \STask\Exception\DatabaseException {
        public function __construct() {}
    }

    /**
     * The database failed or refused an operation.
     */
    class DatabaseException extends \STask\Exception\StaskException {
        public function __construct() {}
    }

    /**
     * Bad input: an empty or over-long name, an unknown priority or level, data that cannot be
     * stored as JSON, an out-of-range number. Nothing was written.
     */
    class InvalidArgumentException extends \STask\Exception\StaskException {
        public function __construct() {}
    }

    /**
     * This worker no longer owns the task: its lease expired and another worker took over, so
     * the write was refused. Stop working on the task.
     */
    class LeaseLostException extends \STask\Exception\StaskException {
        public function __construct() {}
    }

    /**
     * No task has the given id.
     */
    class NotFoundException extends \STask\Exception\StaskException {
        public function __construct() {}
    }

    /**
     * Base class of every exception the extension throws.
     */
    class StaskException extends \RuntimeException {
        public function __construct() {}
    }

    /**
     * The task's status does not allow the operation (e.g. completing a finished task).
     */
    class StateException extends \STask\Exception\StaskException {
        public function __construct() {}
    }

    /**
     * Progress or log files could not be read or written.
     */
    class StorageException extends \STask\Exception\StaskException {
        public function __construct() {}
    }

    /**
     * A cancel was requested for the running task. Thrown by `pushProgress()`; let it propagate
     * (or return) and the task is marked cancelled.
     */
    class TaskCancelledException extends \STask\Exception\StaskException {
        public function __construct() {}
    }
}
