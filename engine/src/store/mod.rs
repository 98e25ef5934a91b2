//! Persistence. The rest of the engine sees one [`Store`] interface; each backend implements
//! it in its own module, and only those modules contain SQL. Every state change is its own
//! function and a guarded `UPDATE … WHERE status = …` that reports when no row matched.

mod sqlite;
mod sqlite_schema;

pub use sqlite::SqliteStore;

use crate::config::{Backend, Config};
use crate::error::Result;
use crate::retry::RetryPolicy;
use crate::task::{NewTask, Status, Task};
use crate::time::Millis;

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
    /// Only these tasks, due or not (empty: any due task). Used to run one task on demand.
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
}

/// Opens the store a configuration names.
pub fn open(config: &Config) -> Result<Box<dyn Store>> {
    match &config.backend {
        Backend::SqliteFile(_) | Backend::SqliteMemory => Ok(Box::new(SqliteStore::open(config)?)),
    }
}
