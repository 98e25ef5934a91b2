//! The engine: the whole task lifecycle behind one type that PHP (or Rust) drives.
//!
//! Locks: `runtime` (the database connection) is taken before a claim registry lock, never
//! after; no lock is held while a handler runs, so handlers may call back into the engine.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};
use serde_json::{Value, json};

use crate::claims::{Claim, Phase};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::files::{Level, LogEntry, Snapshot};
use crate::heartbeat::{Heartbeat, Shared};
use crate::journal::Journal;
use crate::store::{self, CancelOutcome, Finish, Lease, MigrationReport, Stats, Store, Transition};
use crate::task::{NewTask, Status, Task, encode_json};
use crate::time::{Millis, now_ms, to_rfc3339};
use crate::wait::MIN_POLL;

/// Longest accepted message (log entry, completion or failure message), in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// The per-process part of an engine: recreated when a fork gives it a new process id.
pub(crate) struct Runtime {
    pub pid: u32,
    pub owner: String,
    pub store: Box<dyn Store>,
    pub shared: Arc<Shared>,
    pub heartbeat: Option<Heartbeat>,
    /// Without a heartbeat connection (in-memory SQLite) leases are renewed on this thread.
    pub inline_upkeep: bool,
    pub last_inline_upkeep: Instant,
    pub last_inline_check: Instant,
    pub last_rescue: Option<Instant>,
}

/// A claimed task's outcome, decided but not yet written.
pub(crate) struct Settled {
    pub finish: Finish,
    pub status_after: Status,
    pub entries: Vec<LogEntry>,
    pub settled_at: Instant,
}

/// A progress report from a worker. Absent fields keep their previous value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgressUpdate {
    /// Percent done, 0 to 100.
    pub progress: Option<f64>,
    pub processed: Option<i64>,
    pub total: Option<i64>,
    pub message: Option<String>,
    /// Explicit seconds remaining; otherwise estimated.
    pub eta_seconds: Option<i64>,
}

impl ProgressUpdate {
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = self.progress {
            if !p.is_finite() || !(0.0..=100.0).contains(&p) {
                return Err(Error::invalid(format!("progress must be between 0 and 100, got {p}")));
            }
        }
        for (name, value) in [("processed", self.processed), ("total", self.total), ("eta", self.eta_seconds)] {
            if let Some(v) = value {
                if v < 0 {
                    return Err(Error::invalid(format!("{name} must not be negative, got {v}")));
                }
            }
        }
        if let (Some(done), Some(total)) = (self.processed, self.total) {
            if total > 0 && done > total {
                return Err(Error::invalid(format!("processed ({done}) must not exceed total ({total})")));
            }
        }
        if let Some(m) = &self.message {
            check_message(m)?;
        }
        Ok(())
    }
}

pub(crate) fn check_message(message: &str) -> Result<()> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(Error::invalid(format!(
            "message is {} bytes long; the limit is {MAX_MESSAGE_BYTES}",
            message.len()
        )));
    }
    Ok(())
}

/// The sTask engine over one database and one storage directory.
pub struct Engine {
    pub(crate) config: Config,
    pub(crate) journal: Arc<Journal>,
    pub(crate) runtime: ManuallyDrop<Mutex<Runtime>>,
    pub(crate) buffered: Mutex<Vec<Settled>>,
    /// How long an idle `wait_for_tasks` sleeps between polls (grows while nothing comes).
    pub(crate) idle_poll: Mutex<std::time::Duration>,
    /// Set by [`Engine::request_stop`] (e.g. from a signal handler) to end processing after
    /// the current task.
    pub(crate) stop: std::sync::atomic::AtomicBool,
    /// The claim size the last `process_pending` call grew to: a worker calling it in a loop
    /// with a small limit (stask:work's --batch) keeps its big claims instead of starting
    /// from one task each call.
    pub(crate) claim_size: std::sync::atomic::AtomicUsize,
}

fn owner_name(config: &Config) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    match &config.worker_name {
        Some(name) => format!("{name}@{host}:{}", std::process::id()),
        None => format!("{host}:{}", std::process::id()),
    }
}

impl Engine {
    /// Validates the configuration, prepares the storage directory and connects.
    pub fn open(config: Config) -> Result<Engine> {
        config.validate()?;
        let journal = Arc::new(Journal::open(&config)?);
        let store = store::open(&config)?;
        let runtime = Engine::new_runtime(&config, &journal, store);
        Ok(Engine {
            config,
            journal,
            runtime: ManuallyDrop::new(Mutex::new(runtime)),
            buffered: Mutex::new(Vec::new()),
            idle_poll: Mutex::new(MIN_POLL),
            stop: std::sync::atomic::AtomicBool::new(false),
            claim_size: std::sync::atomic::AtomicUsize::new(1),
        })
    }

    fn new_runtime(config: &Config, journal: &Arc<Journal>, store: Box<dyn Store>) -> Runtime {
        Runtime {
            pid: std::process::id(),
            owner: owner_name(config),
            store,
            shared: Arc::new(Shared::new(Arc::clone(journal), config.lease_ms, config.progress_interval_ms)),
            heartbeat: None,
            inline_upkeep: false,
            last_inline_upkeep: Instant::now(),
            last_inline_check: Instant::now(),
            last_rescue: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where progress snapshots and logs are kept.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The runtime of this process. After a fork the child gets a fresh connection, registry
    /// and heartbeat; what it inherited belongs to the parent and is left untouched.
    pub(crate) fn runtime(&self) -> Result<MutexGuard<'_, Runtime>> {
        let mut rt = self.runtime.lock();
        if rt.pid != std::process::id() {
            let store = store::open(&self.config)?;
            let fresh = Engine::new_runtime(&self.config, &self.journal, store);
            let inherited = std::mem::replace(&mut *rt, fresh);
            // Dropping would close the parent's connection or join a thread that does not
            // exist here, and the inherited locks may be held forever: leak them instead.
            std::mem::forget(inherited);
            std::mem::forget(std::mem::take(&mut *self.buffered.lock()));
            self.journal.close_all();
        }
        Ok(rt)
    }

    pub(crate) fn shared(&self) -> Result<Arc<Shared>> {
        Ok(Arc::clone(&self.runtime()?.shared))
    }

    /// Starts the heartbeat thread on first need.
    pub(crate) fn ensure_heartbeat(&self, rt: &mut Runtime) -> Result<()> {
        if rt.heartbeat.is_none() {
            let sibling = rt.store.sibling()?;
            rt.inline_upkeep = sibling.is_none();
            rt.heartbeat = Some(Heartbeat::start(Arc::clone(&rt.shared), sibling));
        }
        Ok(())
    }

    /// Lease upkeep on this thread, for stores the heartbeat cannot reach (in-memory SQLite).
    pub(crate) fn inline_upkeep(&self, rt: &mut Runtime) {
        if rt.inline_upkeep && rt.last_inline_upkeep.elapsed() >= std::time::Duration::from_millis(200) {
            let shared = Arc::clone(&rt.shared);
            let mut last_check = rt.last_inline_check;
            shared.maintain(rt.store.as_mut(), &mut last_check);
            rt.last_inline_check = last_check;
            rt.last_inline_upkeep = Instant::now();
        }
    }

    /// Asks a running `process_pending` to stop after its current task (unstarted claims are
    /// handed back). Safe to call from a signal handler; the next processing call clears it.
    pub fn request_stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Reads and clears the stop request.
    pub(crate) fn take_stop_request(&self) -> bool {
        self.stop.swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    /// Deletes the progress snapshots and logs (files, or rows of the database journal) of
    /// tasks that finished more than `days` days ago, keeping the tasks. Returns how many
    /// tasks had any.
    pub fn prune_files(&self, days: i64) -> Result<usize> {
        if !(0..=36_500).contains(&days) {
            return Err(Error::invalid(format!("days must be between 0 and 36500, got {days}")));
        }
        self.flush_if_buffered()?;
        let ids = self.runtime()?.store.finished_before(now_ms() - days * 86_400_000)?;
        self.journal.remove(&ids)
    }

    /// Creates or upgrades the tables (idempotent).
    pub fn migrate(&self) -> Result<MigrationReport> {
        self.runtime()?.store.migrate()
    }

    pub fn create(&self, task: NewTask) -> Result<Task> {
        task.validate()?;
        let mut tasks = self.runtime()?.store.insert(vec![task], now_ms())?;
        tasks.pop().ok_or_else(|| Error::Database("insert returned no row".into()))
    }

    /// Creates all tasks in one transaction, or none of them.
    pub fn create_many(&self, tasks: Vec<NewTask>) -> Result<Vec<Task>> {
        for (i, task) in tasks.iter().enumerate() {
            task.validate().map_err(|e| Error::invalid(format!("task #{i}: {e}")))?;
        }
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        self.runtime()?.store.insert(tasks, now_ms())
    }

    pub fn find(&self, id: i64) -> Result<Option<Task>> {
        self.flush_if_buffered()?;
        self.runtime()?.store.find(id)
    }

    /// Like [`find`](Self::find), but a missing task is an error.
    pub fn get(&self, id: i64) -> Result<Task> {
        self.find(id)?.ok_or(Error::NotFound(id))
    }

    /// The claim this process holds on a task, if its handler has not finished.
    fn owned(&self, shared: &Shared, id: i64) -> Option<Lease> {
        let registry = shared.registry.lock();
        registry.claims.get(&id).filter(|c| c.phase != Phase::Finishing && !c.finished_by_handler).map(|c| c.lease)
    }

    /// Appends to a task's log; for a task this process runs, its pending "attempt started"
    /// line goes first.
    pub(crate) fn append_log(&self, shared: &Shared, id: i64, entry: &LogEntry) -> Result<()> {
        let start = shared.registry.lock().get_mut(id).and_then(|c| c.pending_start.take());
        match start {
            Some(start) => self.journal.append_logs(&[(id, start), (id, entry.clone())]),
            None => self.journal.append_log(id, entry),
        }
    }

    /// Records progress. For a task this process runs, this costs microseconds: the snapshot
    /// file is rewritten at most every `progressInterval` and the database column about once a
    /// second, both by the heartbeat thread when the worker is busy. Fails with
    /// [`Error::Cancelled`] once a cancel was requested, and [`Error::LeaseLost`] for a stale owner.
    pub fn push_progress(&self, id: i64, update: ProgressUpdate) -> Result<()> {
        update.validate()?;
        let shared = self.shared()?;
        {
            let mut registry = shared.registry.lock();
            if let Some(claim) = registry.get_mut(id).filter(|c| c.phase != Phase::Finishing && !c.finished_by_handler)
            {
                if claim.lost {
                    return Err(Error::LeaseLost(id));
                }
                if claim.cancel_requested {
                    claim.cancel_observed = true;
                    return Err(Error::Cancelled(id));
                }
                merge_progress(claim, update);
                // Files are written here when due; the database journal is written by the
                // heartbeat thread, so a tight loop never waits on the network.
                let due = claim.progress.last_file_write.is_none_or(|t| t.elapsed() >= shared.progress_interval);
                if self.journal.is_local() && (due || claim.progress.percent >= 100) {
                    let snapshot = claim.snapshot(claim.status.name(), now_ms(), None);
                    self.journal.write_snapshot(&snapshot)?;
                    claim.progress.file_dirty = false;
                    claim.progress.has_file = true;
                    claim.progress.last_file_write = Some(Instant::now());
                }
                drop(registry);
                let mut rt = self.runtime()?;
                self.inline_upkeep(&mut rt);
                return Ok(());
            }
        }
        if self.after_finish_progress(&shared, id) {
            return Ok(());
        }
        // Not ours: only a task nobody runs may be annotated (e.g. "waiting for upload").
        let task = self.get(id)?;
        if task.status != Status::Pending {
            return Err(Error::InvalidState {
                id,
                status: task.status,
                operation: "report progress (only the worker running a task, or anyone while it is pending, may)",
            });
        }
        let mut snapshot = snapshot_of(&task, now_ms());
        if let Some(p) = update.progress {
            snapshot.progress = p.floor() as i64;
        }
        snapshot.processed = update.processed.or(snapshot.processed);
        snapshot.total = update.total.or(snapshot.total);
        snapshot.message = update.message.or(snapshot.message);
        snapshot.eta_seconds = update.eta_seconds;
        self.journal.write_snapshot(&snapshot)
    }

    /// Progress reported by a worker after it finished its task itself (upstream workers push
    /// a last `['status' => 'finished', …]`): accepted and ignored, so that the final snapshot
    /// keeps saying what the row says.
    fn after_finish_progress(&self, shared: &Shared, id: i64) -> bool {
        shared.registry.lock().claims.get(&id).is_some_and(|c| c.finished_by_handler)
    }

    /// The task's progress: the live state for tasks this process runs, else the snapshot
    /// file, else what the database knows.
    pub fn progress(&self, id: i64) -> Result<Value> {
        let shared = self.shared()?;
        {
            let registry = shared.registry.lock();
            if let Some(claim) =
                registry.claims.get(&id).filter(|c| c.phase != Phase::Finishing && !c.finished_by_handler)
            {
                return Ok(claim.snapshot(claim.status.name(), now_ms(), None).to_value());
            }
        }
        if let Some(value) = self.journal.read_snapshot(id)? {
            return Ok(value);
        }
        Ok(snapshot_of(&self.get(id)?, now_ms()).to_value())
    }

    /// Appends an entry to the task's log.
    pub fn log(&self, id: i64, level: Level, message: &str, context: Option<Value>) -> Result<()> {
        check_message(message)?;
        if let Some(ctx) = &context {
            encode_json("context", ctx)?;
        }
        let shared = self.shared()?;
        if self.owned(&shared, id).is_none() && self.find(id)?.is_none() {
            return Err(Error::NotFound(id));
        }
        self.append_log(
            &shared,
            id,
            &LogEntry { time: to_rfc3339(now_ms()), level, message: message.to_owned(), context },
        )
    }

    /// The last `limit` log entries of a task, oldest first.
    pub fn logs(&self, id: i64, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>> {
        let shared = self.shared()?;
        if self.owned(&shared, id).is_none() && self.find(id)?.is_none() {
            return Err(Error::NotFound(id));
        }
        let mut entries = self.journal.read_log(id, level, limit)?;
        // Appended in the order they were written; a worker's "attempt started" line is written
        // when it first logs, so a line from another process may precede it. Oldest first.
        entries.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(entries)
    }

    /// A piece of the task's whole log, in the log file's line format (time, level, message,
    /// context JSON; tab-separated, one entry per line), wherever the log is kept: from
    /// `cursor` (0: the start) about `max_bytes` of whole entries, and the cursor to pass next
    /// (`None`: that was the end). A download streams any log this way in bounded memory.
    pub fn log_chunk(&self, id: i64, cursor: i64, max_bytes: usize) -> Result<(String, Option<i64>)> {
        if cursor < 0 {
            return Err(Error::invalid(format!("cursor must not be negative, got {cursor}")));
        }
        if cursor == 0 {
            let shared = self.shared()?;
            if self.owned(&shared, id).is_none() && self.find(id)?.is_none() {
                return Err(Error::NotFound(id));
            }
        }
        self.journal.log_chunk(id, cursor, max_bytes.max(1))
    }

    /// Marks a task completed. The worker running it may; anyone may complete a pending task.
    pub fn complete(&self, id: i64, result: Option<Value>, message: Option<&str>) -> Result<()> {
        let message = message.unwrap_or("Completed");
        check_message(message)?;
        let message = &column_message(message);
        if self.finished_here(id)? {
            return self.amend_own_outcome(id, Status::Completed, Some(message), result);
        }
        let result = result.map(|v| encode_json("result", &v)).transpose()?;
        let transition = Transition::Complete { result: result.clone(), message: message.to_owned() };
        if self.finish_owned(id, transition, Status::Completed, Level::Info, format!("Completed: {message}"))? {
            return Ok(());
        }
        let done = self.runtime()?.store.complete_pending(id, result.as_deref(), message, now_ms())?;
        self.after_unowned_change(id, done, "complete", Level::Info, format!("Completed without running: {message}"))
    }

    /// Fails a task for good (no retry). To have it retried, throw from the handler instead.
    pub fn fail(&self, id: i64, message: &str) -> Result<()> {
        check_message(message)?;
        let message = &column_message(message);
        if self.finished_here(id)? {
            return self.amend_own_outcome(id, Status::Failed, Some(&format!("Failed: {message}")), None);
        }
        let transition = Transition::Fail { error: message.to_owned(), message: format!("Failed: {message}") };
        if self.finish_owned(id, transition, Status::Failed, Level::Error, format!("Failed: {message}"))? {
            return Ok(());
        }
        let done = self.runtime()?.store.fail_pending(id, &format!("Failed: {message}"), now_ms())?;
        self.after_unowned_change(id, done, "fail", Level::Error, format!("Failed without running: {message}"))
    }

    /// Whether this process's worker already finished the task while its handler still runs
    /// (a further finish then amends that outcome).
    fn finished_here(&self, id: i64) -> Result<bool> {
        let shared = self.shared()?;
        let registry = shared.registry.lock();
        Ok(registry.claims.get(&id).is_some_and(|c| c.finished_by_handler))
    }

    /// Applies a terminal transition to a task this process runs. `Ok(false)` when it does not
    /// run it (the caller then tries the unowned path).
    pub(crate) fn finish_owned(
        &self,
        id: i64,
        transition: Transition,
        status: Status,
        level: Level,
        line: String,
    ) -> Result<bool> {
        let shared = self.shared()?;
        let Some(lease) = self.owned(&shared, id) else {
            self.flush_if_buffered()?;
            return Ok(false);
        };
        if shared.registry.lock().claims.get(&id).is_some_and(|c| c.lost) {
            return Err(Error::LeaseLost(id));
        }
        let applied = {
            let mut rt = self.runtime()?;
            if matches!(transition, Transition::Fail { .. } | Transition::Cancel { .. }) {
                let percent = shared.registry.lock().claims.get(&id).map_or(0, |c| c.progress.percent);
                rt.store.save_progress(lease, percent, None, now_ms())?;
            }
            rt.store.finish(&[Finish { lease, transition: transition.clone() }], now_ms())?
        };
        let mut registry = shared.registry.lock();
        let Some(claim) = registry.get_mut(id) else {
            return Ok(true);
        };
        if applied.first() != Some(&true) {
            claim.lost = true;
            return Err(Error::LeaseLost(id));
        }
        claim.finished_by_handler = true;
        claim.handler_status = Some(status);
        if let Transition::Complete { message, .. } | Transition::Fail { message, .. } = &transition {
            claim.progress.message = Some(message.clone());
        }
        let now = now_ms();
        // Progress not written yet (the database journal writes it from the heartbeat) counts.
        if claim.progress.has_file || claim.progress.file_dirty || self.journal.has_snapshot(id) {
            if status == Status::Completed {
                claim.progress.percent = 100;
            }
            self.journal.write_snapshot(&claim.snapshot(status.name(), now, Some(now)))?;
        }
        drop(registry);
        self.append_log(&shared, id, &LogEntry { time: to_rfc3339(now), level, message: line, context: None })?;
        Ok(true)
    }

    /// After a change to a task nobody runs: refresh its files, or explain why nothing changed.
    pub(crate) fn after_unowned_change(
        &self,
        id: i64,
        changed: bool,
        operation: &'static str,
        level: Level,
        line: String,
    ) -> Result<()> {
        let task = self.get(id)?;
        if !changed {
            return Err(Error::InvalidState { id, status: task.status, operation });
        }
        self.refresh_files(&task, level, line)
    }

    fn refresh_files(&self, task: &Task, level: Level, line: String) -> Result<()> {
        let now = now_ms();
        if self.journal.has_snapshot(task.id) {
            self.journal.write_snapshot(&snapshot_of(task, now))?;
        }
        self.journal.append_log(task.id, &LogEntry { time: to_rfc3339(now), level, message: line, context: None })
    }

    /// Cancels a task: at once when pending; a running one is asked to stop and does so at its
    /// next progress report or `isCancelled()` check. `false` when it had already finished.
    pub fn cancel(&self, id: i64) -> Result<bool> {
        self.flush_if_buffered()?;
        let outcome = self.runtime()?.store.cancel(id, now_ms())?;
        match outcome {
            None => Err(Error::NotFound(id)),
            Some(CancelOutcome::AlreadyFinished(_)) => Ok(false),
            Some(CancelOutcome::Cancelled) => {
                let task = self.get(id)?;
                self.refresh_files(&task, Level::Warning, "Cancelled before it ran".into())?;
                Ok(true)
            }
            Some(CancelOutcome::Requested) => {
                let shared = self.shared()?;
                if let Some(claim) = shared.registry.lock().get_mut(id) {
                    claim.cancel_requested = true;
                }
                self.append_log(
                    &shared,
                    id,
                    &LogEntry {
                        time: to_rfc3339(now_ms()),
                        level: Level::Warning,
                        message: "Cancel requested; the worker stops at its next progress report".into(),
                        context: None,
                    },
                )?;
                Ok(true)
            }
        }
    }

    /// Queues a failed or cancelled task again with fresh attempts. `false` for other statuses.
    pub fn retry(&self, id: i64) -> Result<bool> {
        self.flush_if_buffered()?;
        let retried = self.runtime()?.store.retry(id, now_ms())?;
        let task = self.get(id)?;
        if retried {
            self.refresh_files(&task, Level::Info, "Queued again by retry".into())?;
        }
        Ok(retried)
    }

    /// Whether a cancel was requested (or the task is cancelled). A worker that sees `true`
    /// should stop; returning afterwards marks the task cancelled.
    pub fn is_cancelled(&self, id: i64) -> Result<bool> {
        let shared = self.shared()?;
        {
            let mut registry = shared.registry.lock();
            if let Some(claim) = registry.get_mut(id).filter(|c| c.phase != Phase::Finishing) {
                if claim.cancel_requested {
                    claim.cancel_observed = true;
                }
                let cancelled = claim.cancel_requested;
                drop(registry);
                let mut rt = self.runtime()?;
                self.inline_upkeep(&mut rt);
                return Ok(cancelled);
            }
        }
        let task = self.get(id)?;
        Ok(task.status == Status::Cancelled || task.cancel_requested)
    }

    /// Tasks finished per minute and wait/run times per worker over the last `minutes`.
    pub fn metrics(&self, minutes: i64) -> Result<Value> {
        if !(1..=1440).contains(&minutes) {
            return Err(Error::invalid(format!("minutes must be between 1 and 1440, got {minutes}")));
        }
        self.flush_if_buffered()?;
        let now = now_ms();
        let timings = self.runtime()?.store.finished_since(now - minutes * 60_000, crate::metrics::MAX_TIMINGS)?;
        Ok(crate::metrics::summarize(&timings, now, minutes))
    }

    /// Deletes tasks with their files; running tasks are skipped (cancel them first).
    /// Returns the ids deleted.
    pub fn delete(&self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.len() > 10_000 {
            return Err(Error::invalid("at most 10000 tasks can be deleted at once"));
        }
        self.flush_if_buffered()?;
        let deleted = self.runtime()?.store.delete(ids)?;
        self.journal.remove(&deleted)?;
        Ok(deleted)
    }

    pub fn stats(&self) -> Result<Stats> {
        self.flush_if_buffered()?;
        self.runtime()?.store.stats()
    }

    /// Deletes finished tasks that finished more than `days` days ago, with their files.
    pub fn prune(&self, days: i64) -> Result<usize> {
        if !(0..=36_500).contains(&days) {
            return Err(Error::invalid(format!("days must be between 0 and 36500, got {days}")));
        }
        self.flush_if_buffered()?;
        let ids = self.runtime()?.store.prune(now_ms() - days * 86_400_000)?;
        self.journal.remove(&ids)?;
        Ok(ids.len())
    }

    pub(crate) fn flush_if_buffered(&self) -> Result<()> {
        if !self.buffered.lock().is_empty() {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the outcomes of handlers that returned, in one transaction, then their final
    /// snapshots and log lines. Returns how many were applied; the rest had lost their lease.
    pub fn flush(&self) -> Result<usize> {
        let batch = std::mem::take(&mut *self.buffered.lock());
        if batch.is_empty() {
            return Ok(0);
        }
        let finishes: Vec<Finish> = batch.iter().map(|s| s.finish.clone()).collect();
        let now = now_ms();
        let (applied, shared) = {
            let mut rt = self.runtime()?;
            // A failed or cancelled task keeps the progress it reached, in its row as in its
            // snapshot (the heartbeat writes progress to the row only about once a second).
            let last_progress: Vec<(Lease, i64)> = {
                let registry = rt.shared.registry.lock();
                batch
                    .iter()
                    .filter(|s| matches!(s.finish.transition, Transition::Fail { .. } | Transition::Cancel { .. }))
                    .filter_map(|s| {
                        registry.claims.get(&s.finish.lease.id).map(|c| (s.finish.lease, c.progress.percent))
                    })
                    .collect()
            };
            for (lease, percent) in last_progress {
                rt.store.save_progress(lease, percent, None, now)?;
            }
            match rt.store.finish(&finishes, now) {
                Ok(applied) => (applied, Arc::clone(&rt.shared)),
                Err(err) => {
                    // Keep the outcomes (their leases stay alive) so a later flush writes them.
                    let mut buffered = self.buffered.lock();
                    let newer = std::mem::replace(&mut *buffered, batch);
                    buffered.extend(newer);
                    return Err(err);
                }
            }
        };
        // Final snapshots go to tasks that have one: known from the claim, else asked once.
        let unknown: Vec<i64> = {
            let registry = shared.registry.lock();
            batch
                .iter()
                .zip(&applied)
                .filter(|(s, ok)| {
                    **ok && registry
                        .claims
                        .get(&s.finish.lease.id)
                        .is_some_and(|c| !c.progress.has_file && !c.progress.file_dirty)
                })
                .map(|(s, _)| s.finish.lease.id)
                .collect()
        };
        let with_snapshot = if unknown.is_empty() { Vec::new() } else { self.journal.with_snapshots(&unknown) };
        let mut count = 0;
        let mut snapshots = Vec::new();
        let mut entries = Vec::new();
        {
            let mut registry = shared.registry.lock();
            for (settled, ok) in batch.into_iter().zip(applied) {
                let id = settled.finish.lease.id;
                let claim = registry.claims.remove(&id);
                if ok {
                    count += 1;
                    if let Some(mut claim) = claim {
                        // Reported progress that no snapshot holds yet counts too.
                        if claim.progress.has_file || claim.progress.file_dirty || with_snapshot.contains(&id) {
                            let finished = settled.status_after.is_finished().then_some(now);
                            if settled.status_after == Status::Completed {
                                claim.progress.percent = 100;
                            }
                            if let Transition::Retry { message, .. }
                            | Transition::Fail { message, .. }
                            | Transition::Cancel { message }
                            | Transition::Complete { message, .. } = &settled.finish.transition
                            {
                                claim.progress.message = Some(message.clone());
                            }
                            snapshots.push(claim.snapshot(settled.status_after.name(), now, finished));
                        }
                    }
                    entries.extend(settled.entries.into_iter().map(|e| (id, e)));
                } else {
                    entries.push((
                        id,
                        LogEntry {
                            time: to_rfc3339(now),
                            level: Level::Warning,
                            message:
                                "This worker's outcome was discarded: it lost the task (lease expired) before finishing"
                                    .into(),
                            context: None,
                        },
                    ));
                }
            }
        }
        // The outcomes are saved; their snapshots and log lines are best effort.
        for snapshot in &snapshots {
            let _ = self.journal.write_snapshot(snapshot);
        }
        let _ = self.journal.append_logs(&entries);
        for (id, _) in &entries {
            self.journal.close_log(*id);
        }
        Ok(count)
    }

    /// Hands back tasks claimed in a batch whose handler never started (the script is ending).
    fn release_waiting(&self) -> Result<usize> {
        let shared = self.shared()?;
        let waiting: Vec<Finish> = shared
            .registry
            .lock()
            .claims
            .values()
            .filter(|c| c.phase == Phase::Waiting)
            .map(|c| Finish { lease: c.lease, transition: Transition::Release })
            .collect();
        if waiting.is_empty() {
            return Ok(0);
        }
        let applied = self.runtime()?.store.finish(&waiting, now_ms())?;
        let mut registry = shared.registry.lock();
        for f in &waiting {
            registry.claims.remove(&f.lease.id);
        }
        Ok(applied.into_iter().filter(|ok| *ok).count())
    }

    /// Stops the heartbeat after writing any pending outcomes and handing back unstarted
    /// claims. Also done on drop (at the latest when PHP frees the engine at request end).
    pub fn shutdown(&self) {
        let mut rt = self.runtime.lock();
        if rt.pid != std::process::id() {
            return;
        }
        drop(rt);
        let _ = self.flush();
        let _ = self.release_waiting();
        rt = self.runtime.lock();
        if let Some(mut hb) = rt.heartbeat.take() {
            hb.stop();
        }
        rt.shared.flush_snapshots(true);
        rt.shared.registry.lock().claims.clear();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // A forked child leaks what it inherited: it belongs to the parent.
        if self.runtime.get_mut().pid == std::process::id() {
            self.shutdown();
            // SAFETY: dropped exactly once, here; the engine is not used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.runtime) }
        }
    }
}

/// A message kept in a task's row (message, last_error): cut to what every backend's column
/// holds (MySQL's TEXT is 64 KiB), on a character boundary with a marker.
pub(crate) fn column_message(message: &str) -> String {
    crate::process::clip(message.to_owned(), crate::process::MAX_ERROR_MESSAGE_BYTES)
}

/// Merges a report into what the claim knew; percent is derived from counts when not given.
fn merge_progress(claim: &mut Claim, update: ProgressUpdate) {
    let p = &mut claim.progress;
    if let Some(total) = update.total {
        p.total = Some(total);
    }
    if let Some(done) = update.processed {
        p.processed = Some(done);
    }
    match update.progress {
        Some(percent) => p.percent = percent.floor() as i64,
        None => {
            if let (Some(done), Some(total)) = (p.processed, p.total) {
                if total > 0 && (update.processed.is_some() || update.total.is_some()) {
                    p.percent = ((done as f64 / total as f64) * 100.0).floor().clamp(0.0, 100.0) as i64;
                }
            }
        }
    }
    if update.message.is_some() {
        p.message = update.message;
    }
    if update.eta_seconds.is_some() {
        p.eta_override = update.eta_seconds;
    }
    p.file_dirty = true;
    p.db_dirty = true;
}

/// A snapshot built from the database row, for tasks no worker of this process holds.
pub(crate) fn snapshot_of(task: &Task, now: Millis) -> Snapshot {
    Snapshot {
        id: task.id,
        identifier: task.identifier.clone(),
        action: task.action.clone(),
        status: task.status.name(),
        progress: task.progress,
        processed: None,
        total: None,
        message: task.message.clone(),
        eta_seconds: None,
        attempt: task.attempts,
        max_attempts: task.max_attempts,
        started_at: task.started_at,
        updated_at: task.updated_at.unwrap_or(now),
        finished_at: task.finished_at,
    }
}

/// JSON of a log entry as handed to PHP.
pub fn log_entry_value(entry: &LogEntry) -> Value {
    json!({
        "time": entry.time,
        "level": entry.level.name(),
        "message": entry.message,
        "context": entry.context.clone().unwrap_or(Value::Object(Default::default())),
    })
}
