//! Persistence. The rest of the engine sees one [`Store`] interface; each backend implements
//! it in its own module, and only those modules contain SQL. Every state change is its own
//! function and a guarded `UPDATE … WHERE status = …` that reports when no row matched.
//!
//! - [`sqlite`]: rusqlite on the calling thread.
//! - [`pg`]: PostgreSQL through sqlx; [`mysql`]: MySQL 8 / MariaDB 10.5+ through sqlx.
//! - [`server`]: what the two server backends share (runtime, connections, retries).

mod mysql;
mod mysql_schema;
mod pg;
mod pg_schema;
pub mod server;
mod sqlite;
mod sqlite_schema;

pub use mysql::MySqlStore;
pub use pg::PgStore;
pub use sqlite::SqliteStore;

use std::time::Duration;

use serde_json::Value;

use crate::config::{Backend, Config};
use crate::error::Result;
use crate::files::{Level, LogEntry};
use crate::retry::RetryPolicy;
use crate::task::{NewTask, Status, Task};
use crate::time::Millis;

/// The schema version every backend migrates to. 1: upstream's tables plus claims, leases,
/// fencing, retries and cancels. 2: progress snapshots and logs kept in the database.
/// 3: unique keys (at most one unfinished task per key).
pub const LATEST_VERSION: i64 = 3;

/// Proof of ownership of a claimed task: its id and the fencing token of the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: i64,
    pub fence: i64,
}

/// What to claim, for whom, until when.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub owner: &'a str,
    pub limit: usize,
    pub now: Millis,
    pub lease_until: Millis,
    /// Only tasks of these identifiers (empty: any).
    pub identifiers: &'a [String],
    /// Only these tasks, due or not (empty: any due task; when given, `identifiers` is not
    /// applied). Used to run one task on demand.
    pub ids: &'a [i64],
}

/// How a claimed task leaves the running state.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Done. `result` is JSON text.
    Complete { result: Option<String>, message: String },
    /// The attempt failed and attempts remain: pending again, not before `available_at`.
    Retry { error: String, message: String, available_at: Millis },
    /// The last attempt failed, or the worker failed it on purpose.
    Fail { error: String, message: String },
    /// The worker stopped because a cancel was requested.
    Cancel { message: String },
    /// Claimed but never started: back to pending, the attempt not counted.
    Release,
}

/// A transition for one claimed task, guarded by its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub lease: Lease,
    pub transition: Transition,
}

/// What a heartbeat learned.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Renewal {
    /// Leases that no longer match: another worker rescued or finished the task.
    pub lost: Vec<i64>,
    /// Tasks whose cancel was requested while they run.
    pub cancel_requested: Vec<i64>,
}

/// A running task whose lease expired, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescued {
    pub id: i64,
    pub status: Status,
    pub attempts: i64,
    pub max_attempts: i64,
    pub previous_owner: Option<String>,
    pub available_at: Option<Millis>,
}

/// The result of asking to cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was pending and is now cancelled.
    Cancelled,
    /// It is running: the flag is set and the worker will stop at its next check.
    Requested,
    /// It had already finished (completed, cancelled or failed).
    AlreadyFinished(Status),
}

/// Counts per status, overall and per identifier.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stats {
    pub by_status: Vec<(Status, i64)>,
    pub by_identifier: Vec<(String, Status, i64)>,
}

/// Timing of one task that started or finished recently (for metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub identifier: String,
    pub status: Status,
    pub available_at: Option<Millis>,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
}

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub from_version: i64,
    pub to_version: i64,
    /// Tables written by upstream sTask's Laravel migration were found and upgraded in place.
    pub upgraded_upstream: bool,
}

/// The operations the engine needs from a database.
pub trait Store: Send {
    /// Creates or upgrades the tables. Idempotent; safe when several processes race.
    fn migrate(&mut self) -> Result<MigrationReport>;
    /// Inserts tasks in one transaction and returns them as stored.
    fn insert(&mut self, tasks: Vec<NewTask>, now: Millis) -> Result<Vec<Task>>;
    fn find(&mut self, id: i64) -> Result<Option<Task>>;
    /// Atomically moves up to `limit` due pending tasks to running, highest priority first,
    /// then oldest; each gets a new fencing token and a lease.
    fn claim(&mut self, request: &ClaimRequest<'_>) -> Result<Vec<Task>>;
    /// Returns running tasks whose lease expired to pending (or failed, when their attempts
    /// are spent; or cancelled, when that was requested).
    fn rescue_expired(&mut self, now: Millis, retry: &RetryPolicy) -> Result<Vec<Rescued>>;
    /// Extends leases still held; reports lost ones and requested cancels.
    fn renew(&mut self, leases: &[Lease], lease_until: Millis, now: Millis) -> Result<Renewal>;
    /// Reports lost leases and requested cancels without extending anything (read only).
    fn inspect(&mut self, leases: &[Lease]) -> Result<Renewal>;
    /// Records coarse progress on a claimed task. `false` when the lease was lost.
    fn save_progress(&mut self, lease: Lease, progress: i64, message: Option<&str>, now: Millis) -> Result<bool>;
    /// The owner moves its claimed task between preparing and running (`status` is one of
    /// them), optionally with a message. `false` when the lease was lost.
    fn mark_running(&mut self, lease: Lease, status: Status, message: Option<&str>, now: Millis) -> Result<bool>;
    /// The owner changes the outcome it wrote while its handler still runs (upstream kept a
    /// worker's last write): finished status, message and result, guarded by the claim's fence
    /// and a finished status. `None` keeps a value. `false` when the task moved on meanwhile.
    fn amend_finished(
        &mut self,
        lease: Lease,
        status: Status,
        message: Option<&str>,
        result: Option<&str>,
        now: Millis,
    ) -> Result<bool>;
    /// Sets the not-before time of a pending task. `false` when it is not pending.
    fn reschedule_pending(&mut self, id: i64, available_at: Millis, now: Millis) -> Result<bool>;
    /// Applies transitions to claimed tasks in one transaction; `false` for each lost lease.
    fn finish(&mut self, batch: &[Finish], now: Millis) -> Result<Vec<bool>>;
    /// Completes a task nobody has claimed (pending).
    fn complete_pending(&mut self, id: i64, result: Option<&str>, message: &str, now: Millis) -> Result<bool>;
    /// Fails a task nobody has claimed (pending).
    fn fail_pending(&mut self, id: i64, message: &str, now: Millis) -> Result<bool>;
    fn cancel(&mut self, id: i64, now: Millis) -> Result<Option<CancelOutcome>>;
    /// Failed or cancelled → pending with fresh attempts. `false` when the status did not allow it.
    fn retry(&mut self, id: i64, now: Millis) -> Result<bool>;
    fn stats(&mut self) -> Result<Stats>;
    /// Ids of finished tasks that finished before `before` (their files may be cleaned).
    fn finished_before(&mut self, before: Millis) -> Result<Vec<i64>>;
    /// Deletes finished tasks that finished before `before`; returns their ids.
    fn prune(&mut self, before: Millis) -> Result<Vec<i64>>;
    /// Deletes tasks that are not running (pending, or finished); returns the ids deleted.
    fn delete(&mut self, ids: &[i64]) -> Result<Vec<i64>>;
    /// Tasks that finished since `since` (at most `limit`, newest first), for metrics.
    fn finished_since(&mut self, since: Millis, limit: usize) -> Result<Vec<Timing>>;
    /// A second connection to the same database, for the heartbeat thread. `None` when the
    /// database cannot be shared (in-memory SQLite).
    fn sibling(&self) -> Result<Option<Box<dyn Store>>>;

    /// When a task may next be claimable: the earliest not-before time of a pending task (of
    /// these identifiers, when given), or the earliest lease expiry of a running one.
    fn next_due(&mut self, identifiers: &[String]) -> Result<Option<Millis>>;
    /// Starts listening for "a task became due" announcements. `false` when the backend has
    /// none (the caller polls instead).
    fn subscribe(&mut self) -> Result<bool> {
        Ok(false)
    }
    /// Waits up to `timeout` for an announcement; `true` when one came (or may have been missed).
    fn wait_announcement(&mut self, timeout: Duration) -> Result<bool> {
        std::thread::sleep(timeout);
        Ok(false)
    }

    /// Stores a task's progress snapshot (JSON), unless a newer one is already stored.
    fn put_snapshot(&mut self, id: i64, snapshot: &str, updated_at: Millis) -> Result<()>;
    fn get_snapshot(&mut self, id: i64) -> Result<Option<String>>;
    /// Which of these tasks have a stored snapshot.
    fn with_snapshots(&mut self, ids: &[i64]) -> Result<Vec<i64>>;
    /// Appends log entries, in order.
    fn put_logs(&mut self, entries: &[(i64, &LogEntry)]) -> Result<()>;
    /// The last `limit` entries of a task, oldest first.
    fn get_logs(&mut self, id: i64, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>>;
    fn has_logs(&mut self, id: i64) -> Result<bool>;
    /// Up to `limit` entries of a task stored after the entry `after` (0: from the first),
    /// oldest first, each with its position for the next call.
    fn get_logs_after(&mut self, id: i64, after: i64, limit: usize) -> Result<Vec<(i64, LogEntry)>>;
    /// Deletes the snapshots and logs of these tasks; returns the ids that had any.
    fn delete_journal(&mut self, ids: &[i64]) -> Result<Vec<i64>>;
}

/// Opens the store a configuration names.
pub fn open(config: &Config) -> Result<Box<dyn Store>> {
    match &config.backend {
        Backend::SqliteFile(_) | Backend::SqliteMemory => Ok(Box::new(SqliteStore::open(config)?)),
        Backend::Postgres(_) => Ok(Box::new(PgStore::open(config)?)),
        Backend::MySql(_) => Ok(Box::new(MySqlStore::open(config)?)),
    }
}

/// Stored JSON that does not parse (written by other code) is returned as the raw string.
pub(crate) fn decode_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Claim order: highest priority first, then oldest not-before time, then lowest id.
pub(crate) fn sort_claimed(tasks: &mut [Task]) {
    tasks.sort_by(|a, b| {
        b.priority.rank().cmp(&a.priority.rank()).then(a.available_at.cmp(&b.available_at)).then(a.id.cmp(&b.id))
    });
}

/// What becomes of a running task whose lease expired, with the message that says why.
pub(crate) fn rescue_plan(
    attempts: i64,
    max_attempts: i64,
    cancel_requested: bool,
    owner: Option<&str>,
    now: Millis,
    retry: &RetryPolicy,
) -> (Status, Option<Millis>, String) {
    let who = owner.unwrap_or("an unknown worker");
    if cancel_requested {
        let msg = format!("Cancelled: the worker ({who}) stopped responding before it could stop the task");
        (Status::Cancelled, None, msg)
    } else if attempts >= max_attempts {
        let msg = format!(
            "Failed: the worker ({who}) stopped responding (lease expired) on the last attempt ({attempts}/{max_attempts})"
        );
        (Status::Failed, None, msg)
    } else {
        let msg =
            format!("Attempt {attempts}/{max_attempts} lost: the worker ({who}) stopped responding (lease expired)");
        (Status::Pending, Some(now + retry.delay_ms(attempts)), msg)
    }
}

/// Why a finished task cannot be queued again: an unfinished task holds its unique key.
pub(crate) fn unique_key_taken(id: i64, status: Status) -> crate::error::Error {
    crate::error::Error::InvalidState { id, status, operation: "retry: another unfinished task holds its unique key" }
}

/// Unique keys in a batch of new tasks: `insert` lists the tasks to write (every task without a
/// key, and each key's first task), `answer` gives for every task the position in `insert` of
/// the task it becomes (a later task with the same key becomes the first one).
pub(crate) struct UniqueKeys {
    pub insert: Vec<usize>,
    pub answer: Vec<usize>,
}

pub(crate) fn unique_keys(tasks: &[NewTask]) -> UniqueKeys {
    let mut insert = Vec::with_capacity(tasks.len());
    let mut answer = Vec::with_capacity(tasks.len());
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        if let Some(key) = task.unique_key.as_deref() {
            if let Some(&at) = first.get(key) {
                answer.push(at);
                continue;
            }
            first.insert(key, insert.len());
        }
        answer.push(insert.len());
        insert.push(i);
    }
    UniqueKeys { insert, answer }
}

/// A task's row after a claim changed it, computed from the row before (backends without
/// `UPDATE … RETURNING`).
pub(crate) fn claimed(mut task: Task, req: &ClaimRequest<'_>) -> Task {
    task.status = Status::Running;
    task.attempts += 1;
    task.fence += 1;
    task.locked_by = Some(req.owner.to_owned());
    task.lease_expires_at = Some(req.lease_until);
    task.started_at = Some(req.now);
    task.updated_at = Some(req.now);
    task.finished_at = None;
    task
}

/// What `inspect` learns from rows of (id, fence, status, cancel_requested).
pub(crate) fn renewal_from_rows(leases: &[Lease], rows: &[(i64, i64, i64, i64)]) -> Renewal {
    let mut renewal = Renewal::default();
    for lease in leases {
        match rows.iter().find(|r| r.0 == lease.id) {
            Some(&(_, fence, status, cancel)) if fence == lease.fence && Status::from_code(status).is_active() => {
                if cancel != 0 {
                    renewal.cancel_requested.push(lease.id);
                }
            }
            _ => renewal.lost.push(lease.id),
        }
    }
    renewal
}
