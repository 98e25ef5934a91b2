//! `STask\Engine`: the native API. Each method is a thin, guarded call into the engine crate.
// PHP sees parameter names as written here, and PHP's are camelCase (named arguments).
#![allow(non_snake_case)]

use ext_php_rs::boxed::ZBox;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendCallable, ZendHashTable, Zval};
use stask_engine::{Engine, Level, ProcessOptions, Status};

use crate::convert::{self, assoc, zv};
use crate::dispatch;
use crate::exceptions::{invalid, to_php};
use crate::guard::guarded;
use crate::options;
use crate::task::PhpTask;

/// The sTask engine over one database and one storage directory.
///
/// ```php
/// $engine = new STask\Engine('sqlite:/var/www/core/storage/stask.sqlite', ['prefix' => 'evo_']);
/// $engine->migrate();
/// $task = $engine->create('product', 'import', ['file' => 'products.csv'], 'high');
/// $engine->processPendingTasks(fn (STask\Task $t) => (new ProductWorker)->run($t));
/// ```
#[php_class]
#[php(name = "STask\\Engine")]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
pub struct PhpEngine {
    engine: Engine,
}

fn id_arg(id: i64) -> PhpResult<i64> {
    if id <= 0 {
        return Err(invalid(format!("task id must be a positive integer, got {id}")));
    }
    Ok(id)
}

#[php_impl]
impl PhpEngine {
    /// Deepest nesting of arrays (and objects) accepted in a task's data, a result or a log
    /// context: `[]` is one level, `[[1]]` two. Deeper values are refused with
    /// InvalidArgumentException and nothing is written.
    pub const MAX_DEPTH: i64 = stask_engine::task::MAX_DEPTH as i64;

    /// Opens an engine.
    ///
    /// @param string $url "sqlite:/path/to/stask.sqlite", "sqlite::memory:",
    ///   "postgres://user:pass@host:5432/db" or "mysql://user:pass@host:3306/db" (MySQL 8,
    ///   MariaDB 10.5+; also "mariadb://")
    /// @param array|null $options prefix (table prefix, e.g. "evo_"), storage (directory for
    ///   progress and log files; default: "stask" next to the database), files ("local": files
    ///   in storage; "database": in the database, for workers on several servers), leaseSeconds (60),
    ///   maxAttempts (3), backoff (seconds, or [base, factor, max, jitter]),
    ///   progressIntervalMs (250), busyTimeoutMs (10000), worker (name shown on claims),
    ///   lifecycleLog (true: log each attempt's start and end)
    /// @throws \STask\Exception\ConfigurationException for a bad URL or option
    /// @throws \STask\Exception\StorageException when the storage directory is not writable
    pub fn __construct(url: String, options: Option<&ZendHashTable>) -> PhpResult<Self> {
        guarded(|| {
            let config = options::engine_config(&url, options)?;
            Ok(PhpEngine { engine: Engine::open(config).map_err(to_php)? })
        })
    }

    /// Creates the tables, or upgrades them (also a database made by upstream sTask, keeping
    /// its rows). Idempotent.
    pub fn migrate(&self) -> PhpResult<()> {
        guarded(|| self.engine.migrate().map(|_| ()).map_err(to_php))
    }

    /// Creates a task.
    ///
    /// @param array|null $data the task's input, stored as JSON
    /// @param string $priority "low", "normal" or "high"
    /// @param array|null $options maxAttempts, availableAt (Unix time or DateTimeInterface),
    ///   delay (seconds), userId, unique (a key: while a task with it is unfinished, creating
    ///   another returns that task instead)
    /// @throws \STask\Exception\InvalidArgumentException for bad input; nothing is written
    #[php(defaults(priority = "\"normal\""))]
    #[php(optional = "data")]
    pub fn create(
        &self,
        identifier: String,
        action: String,
        data: Option<&ZendHashTable>,
        priority: String,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<PhpTask> {
        guarded(|| {
            let task = options::new_task(&identifier, &action, data, &priority, options)?;
            self.engine.create(task).map(PhpTask::from).map_err(to_php)
        })
    }

    /// Creates many tasks in one transaction: all of them, or none when one is invalid.
    ///
    /// @param array $tasks each ['identifier' => …, 'action' => …, 'data' => […],
    ///   'priority' => …, and any create() option]
    /// @return \STask\Task[]
    pub fn create_many(&self, tasks: &ZendHashTable) -> PhpResult<Vec<PhpTask>> {
        guarded(|| {
            let mut list = Vec::with_capacity(tasks.len());
            for (index, value) in tasks.values().enumerate() {
                list.push(options::new_task_from_array(value, index)?);
            }
            Ok(self.engine.create_many(list).map_err(to_php)?.into_iter().map(PhpTask::from).collect())
        })
    }

    /// The task, or null when there is none with this id.
    pub fn find(&self, id: i64) -> PhpResult<Option<PhpTask>> {
        guarded(|| Ok(self.engine.find(id_arg(id)?).map_err(to_php)?.map(PhpTask::from)))
    }

    /// Runs up to $limit due tasks, highest priority first, then oldest: each is passed to
    /// $dispatch(STask\Task $task) on this thread. Returning completes the task (unless the
    /// handler completed or failed it itself); throwing fails the attempt, which is retried
    /// with backoff while attempts remain.
    ///
    /// @param callable $dispatch function (STask\Task $task): void
    /// @param array|null $options identifiers: only tasks of these worker identifiers;
    ///   ids: only these tasks, run now even if not due yet
    /// @return int the number of tasks completed
    #[php(defaults(limit = 10))]
    pub fn process_pending_tasks(
        &self,
        dispatch: ZendCallable,
        limit: i64,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<i64> {
        guarded(|| {
            let report = self.run_processing(&dispatch, limit, options)?;
            Ok(report.completed as i64)
        })
    }

    /// Like processPendingTasks(), but returns what happened: claimed, completed, retried,
    /// failed, cancelled, lost, released, rescued, exited, stopped.
    #[php(defaults(limit = 10))]
    pub fn process(
        &self,
        dispatch: ZendCallable,
        limit: i64,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<ZBox<ZendHashTable>> {
        guarded(|| {
            let r = self.run_processing(&dispatch, limit, options)?;
            Ok(assoc(vec![
                ("claimed", zv(r.claimed as i64)),
                ("completed", zv(r.completed as i64)),
                ("retried", zv(r.retried as i64)),
                ("failed", zv(r.failed as i64)),
                ("cancelled", zv(r.cancelled as i64)),
                ("lost", zv(r.lost as i64)),
                ("released", zv(r.released as i64)),
                ("rescued", zv(r.rescued as i64)),
                ("exited", zv(r.exited)),
                ("stopped", zv(r.stopped)),
            ]))
        })
    }

    /// Reports progress: ['progress' => 0–100, 'processed' => n, 'total' => n,
    /// 'message' => '…', 'eta' => seconds]. Absent keys keep their value; the percent is
    /// derived from processed/total when not given. Costs microseconds in a tight loop.
    ///
    /// @throws \STask\Exception\TaskCancelledException once a cancel was requested: stop
    /// @throws \STask\Exception\LeaseLostException when another worker took the task over
    pub fn push_progress(&self, id: i64, progress: &ZendHashTable) -> PhpResult<()> {
        guarded(|| {
            let update = options::progress_update(progress)?;
            self.engine.push_progress(id_arg(id)?, update).map_err(to_php)
        })
    }

    /// The task's progress snapshot: id, identifier, action, status, progress, processed,
    /// total, eta, eta_seconds, message, attempt, max_attempts, started_at, updated_at,
    /// finished_at.
    pub fn progress(&self, id: i64) -> PhpResult<ZBox<ZendHashTable>> {
        guarded(|| Ok(convert::to_array(&self.engine.progress(id_arg(id)?).map_err(to_php)?)))
    }

    /// Appends to the task's log.
    ///
    /// @param string $level "info", "warning" or "error"
    /// @param array|null $context structured details, stored as JSON
    pub fn log(&self, id: i64, level: String, message: String, context: Option<&ZendHashTable>) -> PhpResult<()> {
        guarded(|| {
            let level = Level::parse(&level).map_err(to_php)?;
            let context = match context {
                Some(ht) if !ht.is_empty() => {
                    Some(convert::array_to_json(ht).map_err(|e| invalid(e.describe("context")))?)
                }
                _ => None,
            };
            self.engine.log(id_arg(id)?, level, &message, context).map_err(to_php)
        })
    }

    /// The task's last $limit log entries, oldest first, each ['time', 'level', 'message', 'context'].
    ///
    /// @param string|null $level only entries of this level
    #[php(defaults(limit = 100))]
    #[php(optional = "level")]
    pub fn logs(&self, id: i64, level: Option<String>, limit: i64) -> PhpResult<ZBox<ZendHashTable>> {
        guarded(|| {
            let level = level.map(|l| Level::parse(&l)).transpose().map_err(to_php)?;
            if !(1..=100_000).contains(&limit) {
                return Err(invalid(format!("limit must be between 1 and 100000, got {limit}")));
            }
            let entries = self.engine.logs(id_arg(id)?, level, limit as usize).map_err(to_php)?;
            let list: Vec<serde_json::Value> = entries.iter().map(stask_engine::engine::log_entry_value).collect();
            Ok(convert::to_array(&serde_json::Value::Array(list)))
        })
    }

    /// A piece of the task's whole log, wherever it is kept (file or database), in the log
    /// file's format: one entry per line, tab-separated time, level, message (tabs and newlines
    /// escaped) and context JSON. Returns ['data' => whole lines, about $maxBytes of them,
    /// 'next' => the cursor to pass next, or null after the last piece]. Streams a log of any
    /// size in bounded memory:
    ///
    /// ```php
    /// $cursor = 0;
    /// do {
    ///     ['data' => $data, 'next' => $cursor] = $engine->logChunk($id, $cursor);
    ///     echo $data;
    /// } while ($cursor !== null);
    /// ```
    #[php(defaults(cursor = 0, maxBytes = 262144))]
    pub fn log_chunk(&self, id: i64, cursor: i64, maxBytes: i64) -> PhpResult<ZBox<ZendHashTable>> {
        guarded(|| {
            if !(1..=64 * 1024 * 1024).contains(&maxBytes) {
                return Err(invalid(format!("maxBytes must be between 1 and 67108864, got {maxBytes}")));
            }
            let (data, next) = self.engine.log_chunk(id_arg(id)?, cursor, maxBytes as usize).map_err(to_php)?;
            Ok(assoc(vec![("data", zv(data)), ("next", zv(next))]))
        })
    }

    /// Path of the task's log file; it may not exist yet. With `files => 'database'` there is
    /// no file: read the log with logs() or logChunk().
    pub fn log_path(&self, id: i64) -> PhpResult<String> {
        guarded(|| Ok(self.engine.journal().log_path(id_arg(id)?).to_string_lossy().into_owned()))
    }

    /// Completes the task. Inside its handler this is the worker's own result; outside, only a
    /// pending task may be completed.
    ///
    /// @param mixed $result stored as JSON
    #[php(optional = "result")]
    pub fn complete(&self, id: i64, result: Option<&Zval>, message: Option<String>) -> PhpResult<()> {
        guarded(|| {
            let result = match result {
                Some(z) if !z.is_null() => Some(convert::to_json(z).map_err(|e| invalid(e.describe("result")))?),
                _ => None,
            };
            self.engine.complete(id_arg(id)?, result, message.as_deref()).map_err(to_php)
        })
    }

    /// Fails the task for good (no retry; to retry, throw from the handler).
    pub fn fail(&self, id: i64, message: String) -> PhpResult<()> {
        guarded(|| self.engine.fail(id_arg(id)?, &message).map_err(to_php))
    }

    /// Sets a task's status the way upstream's model writes did (10, 30, 50, 80, 90, 100).
    /// The worker running the task may mark it preparing or running, complete it, fail it
    /// (kept failed unless attempts remain and it then throws) or cancel it; anyone may
    /// complete, fail or cancel a pending task. Anything else throws InvalidStateException
    /// (LeaseLostException for a worker that lost its lease) and changes nothing.
    ///
    /// @param mixed $result stored as JSON (completed only)
    #[php(optional = "message")]
    pub fn set_status(&self, id: i64, status: i64, message: Option<String>, result: Option<&Zval>) -> PhpResult<()> {
        guarded(|| {
            let result = match result {
                Some(z) if !z.is_null() => Some(convert::to_json(z).map_err(|e| invalid(e.describe("result")))?),
                _ => None,
            };
            let status = Status::from_code(status);
            self.engine.set_status(id_arg(id)?, status, message.as_deref(), result).map_err(to_php)
        })
    }

    /// Whether this process's worker is running the task right now (its handler has not
    /// returned): status and progress writes to it are then the owner's.
    pub fn owns(&self, id: i64) -> PhpResult<bool> {
        guarded(|| self.engine.owns(id_arg(id)?).map_err(to_php))
    }

    /// Sets when a pending task may run: a Unix time in seconds (fractions allowed). False when
    /// the task is not pending.
    pub fn reschedule(&self, id: i64, available_at: f64) -> PhpResult<bool> {
        guarded(|| {
            if !available_at.is_finite() {
                return Err(invalid("availableAt must be a finite Unix time"));
            }
            self.engine.reschedule(id_arg(id)?, (available_at * 1000.0).round() as i64).map_err(to_php)
        })
    }

    /// The delay in seconds before the next attempt, should the attempt this process runs fail
    /// (a worker's own backoff instead of the engine's).
    pub fn retry_after(&self, id: i64, seconds: f64) -> PhpResult<()> {
        guarded(|| {
            if !seconds.is_finite() || seconds < 0.0 {
                return Err(invalid(format!("seconds must be a finite number of seconds, got {seconds}")));
            }
            self.engine.retry_after(id_arg(id)?, (seconds.min(1e12) * 1000.0).round() as i64).map_err(to_php)
        })
    }

    /// Cancels: a pending task at once; a running one at its next progress report or
    /// isCancelled() check. False when it had already finished.
    pub fn cancel(&self, id: i64) -> PhpResult<bool> {
        guarded(|| self.engine.cancel(id_arg(id)?).map_err(to_php))
    }

    /// Queues a failed or cancelled task again with fresh attempts. False for other statuses.
    pub fn retry(&self, id: i64) -> PhpResult<bool> {
        guarded(|| self.engine.retry(id_arg(id)?).map_err(to_php))
    }

    /// Whether a cancel was requested for the task (or it is cancelled).
    pub fn is_cancelled(&self, id: i64) -> PhpResult<bool> {
        guarded(|| self.engine.is_cancelled(id_arg(id)?).map_err(to_php))
    }

    /// Counts: total and per status name, and the same per identifier under "identifiers".
    pub fn stats(&self) -> PhpResult<ZBox<ZendHashTable>> {
        guarded(|| {
            let stats = self.engine.stats().map_err(to_php)?;
            let mut overall = serde_json::Map::new();
            overall.insert("total".into(), 0.into());
            for s in Status::ALL {
                overall.insert(s.name().into(), 0.into());
            }
            let mut total = 0;
            for (status, n) in &stats.by_status {
                total += n;
                let key = status.name();
                let prev = overall.get(key).and_then(serde_json::Value::as_i64).unwrap_or(0);
                overall.insert(key.into(), (prev + n).into());
            }
            overall.insert("total".into(), total.into());
            let mut per = serde_json::Map::new();
            for (identifier, status, n) in &stats.by_identifier {
                let entry = per.entry(identifier.clone()).or_insert_with(|| {
                    let mut m = serde_json::Map::new();
                    m.insert("total".into(), 0.into());
                    for s in Status::ALL {
                        m.insert(s.name().into(), 0.into());
                    }
                    serde_json::Value::Object(m)
                });
                if let serde_json::Value::Object(m) = entry {
                    let t = m.get("total").and_then(serde_json::Value::as_i64).unwrap_or(0);
                    m.insert("total".into(), (t + n).into());
                    let prev = m.get(status.name()).and_then(serde_json::Value::as_i64).unwrap_or(0);
                    m.insert(status.name().into(), (prev + n).into());
                }
            }
            overall.insert("identifiers".into(), serde_json::Value::Object(per));
            Ok(convert::to_array(&serde_json::Value::Object(overall)))
        })
    }

    /// Blocks until a task may be ready to claim — one is due, or a worker's lease expired —
    /// or $seconds pass. Returns true early in the first case, false when the time ran out.
    /// On PostgreSQL a new task wakes the wait within milliseconds (LISTEN/NOTIFY); elsewhere
    /// the database is polled, often right after work and less often while idle (up to 1 s).
    /// PHP signal handlers run only after it returns: keep $seconds short in workers that
    /// handle signals.
    ///
    /// ```php
    /// while (!$stop) {
    ///     $engine->processPendingTasks($dispatch, 100);
    ///     $engine->waitForTasks(5.0);
    /// }
    /// ```
    ///
    /// @param array|null $options identifiers: only tasks of these worker identifiers count
    pub fn wait_for_tasks(&self, seconds: f64, options: Option<&ZendHashTable>) -> PhpResult<bool> {
        guarded(|| {
            if !seconds.is_finite() || !(0.0..=3600.0).contains(&seconds) {
                return Err(invalid(format!("seconds must be between 0 and 3600, got {seconds}")));
            }
            let (identifiers, _) = selection_options(options, "waiting", false)?;
            let timeout = std::time::Duration::from_secs_f64(seconds);
            self.engine.wait_for_tasks(timeout, &identifiers).map_err(to_php)
        })
    }

    /// Tasks finished per minute, and per worker: completed, failed, cancelled, average wait
    /// (from due to started) and run time, 95th percentile and longest run, over the last
    /// $minutes (1–1440): ['per_minute' => […], 'totals' => […], 'workers' => [id => […]]].
    #[php(defaults(minutes = 60))]
    pub fn metrics(&self, minutes: i64) -> PhpResult<ZBox<ZendHashTable>> {
        guarded(|| Ok(convert::to_array(&self.engine.metrics(minutes).map_err(to_php)?)))
    }

    /// Deletes tasks and their files. Running tasks are skipped (cancel them first). Returns
    /// the ids deleted.
    ///
    /// @param int[] $ids
    /// @return int[]
    pub fn delete(&self, ids: &ZendHashTable) -> PhpResult<Vec<i64>> {
        guarded(|| {
            let mut list = Vec::with_capacity(ids.len());
            for v in ids.values() {
                list.push(v.long().filter(|id| *id > 0).ok_or_else(|| invalid("ids must be a list of task ids"))?);
            }
            self.engine.delete(&list).map_err(to_php)
        })
    }

    /// Asks processing to stop after the current task; unstarted claimed tasks are handed back.
    /// Safe in a signal handler (pcntl_signal): this is how a worker stops gracefully.
    pub fn request_stop(&self) -> PhpResult<()> {
        guarded(|| {
            self.engine.request_stop();
            Ok(())
        })
    }

    /// Deletes the progress and log files of tasks that finished more than $days days ago,
    /// keeping their rows. Returns how many tasks had files.
    pub fn prune_files(&self, days: i64) -> PhpResult<i64> {
        guarded(|| Ok(self.engine.prune_files(days).map_err(to_php)? as i64))
    }

    /// URL schemes this build of the extension can open, e.g. ["sqlite"].
    pub fn supported_backends() -> Vec<String> {
        stask_engine::config::SUPPORTED_SCHEMES.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Finds worker classes without loading any PHP: reads the project's composer.json (and
    /// Evolution CMS's custom/composer.json) and vendor/composer/installed.json, lists the
    /// PHP files their autoload rules cover, and returns the concrete classes that extend or
    /// implement one of $roots. Returns ['candidates' => [['class', 'file', 'package'], …],
    /// 'packages' => n, 'files' => n, 'parsed' => n, 'elapsedMs' => ms, 'warnings' => […]].
    ///
    /// @param string $projectDir the directory holding composer.json and vendor/
    /// @param array $roots fully qualified base classes or interfaces of workers
    /// @param array|null $exclude namespace prefixes whose classes are never candidates
    /// @param string|null $cacheFile remembers what each file declared, so that the next scan
    ///   reads only files that changed ('parsed' in the result says how many were read)
    pub fn discover_workers(
        projectDir: String,
        roots: &ZendHashTable,
        exclude: Option<&ZendHashTable>,
        cacheFile: Option<String>,
    ) -> PhpResult<ZBox<ZendHashTable>> {
        guarded(|| {
            let strings = |ht: &ZendHashTable, what: &str| -> PhpResult<Vec<String>> {
                ht.values()
                    .map(|v| {
                        v.str().map(str::to_owned).ok_or_else(|| invalid(format!("{what} must be a list of strings")))
                    })
                    .collect()
            };
            let options = stask_engine::discovery::ScanOptions {
                root: projectDir.into(),
                roots: strings(roots, "roots")?,
                exclude: exclude.map(|e| strings(e, "exclude")).transpose()?.unwrap_or_default(),
                cache: cacheFile.filter(|f| !f.is_empty()).map(Into::into),
            };
            let report = stask_engine::discovery::scan(&options).map_err(to_php)?;
            let candidates: Vec<serde_json::Value> = report
                .candidates
                .iter()
                .map(|c| serde_json::json!({"class": c.class, "file": c.file.to_string_lossy(), "package": c.package}))
                .collect();
            Ok(convert::to_array(&serde_json::json!({
                "candidates": candidates,
                "packages": report.packages,
                "files": report.files,
                "elapsedMs": report.elapsed_ms,
                "parsed": report.parsed,
                "warnings": report.warnings,
            })))
        })
    }

    /// Deletes tasks that finished more than $days days ago, with their progress and log
    /// files. Returns how many.
    pub fn prune(&self, days: i64) -> PhpResult<i64> {
        guarded(|| Ok(self.engine.prune(days).map_err(to_php)? as i64))
    }
}

/// The `identifiers` option of processing and waiting: a list of worker identifiers.
/// The `identifiers` option (and `ids`, where `with_ids`) of processing and waiting calls.
fn selection_options(
    options: Option<&ZendHashTable>,
    what: &str,
    with_ids: bool,
) -> PhpResult<(Vec<String>, Vec<i64>)> {
    let mut identifiers = Vec::new();
    let mut ids = Vec::new();
    if let Some(options) = options {
        let mut iter = options.iter();
        while let Some((key, value)) = iter.next_zval() {
            match key.str() {
                Some("identifiers") => {
                    let list = value.array().ok_or_else(|| invalid("identifiers must be an array of strings"))?;
                    for v in list.values() {
                        let s = v.str().ok_or_else(|| invalid("identifiers must be an array of strings"))?;
                        identifiers.push(s.to_owned());
                    }
                }
                Some("ids") if with_ids => {
                    let list = value.array().ok_or_else(|| invalid("ids must be an array of task ids"))?;
                    for v in list.values() {
                        ids.push(
                            v.long().filter(|id| *id > 0).ok_or_else(|| invalid("ids must be an array of task ids"))?,
                        );
                    }
                }
                _ if with_ids => return Err(invalid(format!("unknown {what} option; use identifiers or ids"))),
                _ => return Err(invalid(format!("unknown {what} option; use identifiers"))),
            }
        }
    }
    Ok((identifiers, ids))
}

impl PhpEngine {
    fn run_processing(
        &self,
        dispatch: &ZendCallable<'_>,
        limit: i64,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<stask_engine::ProcessReport> {
        if !(0..=1_000_000).contains(&limit) {
            return Err(invalid(format!("limit must be between 0 and 1000000, got {limit}")));
        }
        let (identifiers, ids) = selection_options(options, "processing", true)?;
        let opts = ProcessOptions { limit: limit as usize, identifiers, ids };
        self.engine.process_pending(&opts, |task| dispatch::call(dispatch, task)).map_err(to_php)
    }
}
