//! The tasks this process holds: their leases, what their handler reported, and their
//! progress, shared between the PHP thread and the heartbeat thread.

use std::collections::HashMap;
use std::time::Instant;

use crate::files::Snapshot;
use crate::files::snapshot::estimate_eta;
use crate::store::Lease;
use crate::task::Task;
use crate::time::Millis;

/// Where a claimed task is in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Claimed in a batch, its handler not called yet.
    Waiting,
    /// Its handler is running.
    Running,
    /// The handler returned; the outcome waits to be written.
    Finishing,
}

/// A task's progress as last reported.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub percent: i64,
    pub processed: Option<i64>,
    pub total: Option<i64>,
    pub message: Option<String>,
    pub eta_override: Option<i64>,
    /// The snapshot file is behind the reported progress.
    pub file_dirty: bool,
    /// The database column is behind the reported progress.
    pub db_dirty: bool,
    pub last_file_write: Option<Instant>,
    pub last_db_write: Option<Instant>,
    /// A snapshot file exists for this task (so its end must be written too).
    pub has_file: bool,
}

/// One claimed task.
#[derive(Debug, Clone)]
pub struct Claim {
    pub lease: Lease,
    pub identifier: String,
    pub action: String,
    pub attempt: i64,
    pub max_attempts: i64,
    pub phase: Phase,
    pub claimed_at: Millis,
    pub started_at: Millis,
    pub started: Instant,
    pub lease_until: Millis,
    /// Another worker rescued or finished the task; every further write is refused.
    pub lost: bool,
    pub cancel_requested: bool,
    /// The handler was told about the cancel (an exception or `isCancelled()`).
    pub cancel_observed: bool,
    /// The handler completed or failed the task itself.
    pub finished_by_handler: bool,
    /// What the handler made of it, when it finished the task itself.
    pub handler_status: Option<crate::task::Status>,
    /// Preparing or running, as the owner last set it (upstream workers write both).
    pub status: crate::task::Status,
    /// The owner marked the task failed while attempts remain: a throw that follows retries
    /// it, a normal return fails it for good with this message.
    pub failed_by_owner: Option<String>,
    /// The owner's backoff for the next attempt, should this one fail.
    pub retry_delay_ms: Option<i64>,
    /// "Attempt n started", written only once the attempt logs something (so quick silent
    /// tasks cost no log file).
    pub pending_start: Option<crate::files::LogEntry>,
    pub progress: Progress,
}

impl Claim {
    pub fn new(task: &Task, now: Millis, lease_until: Millis) -> Claim {
        Claim {
            lease: Lease { id: task.id, fence: task.fence },
            identifier: task.identifier.clone(),
            action: task.action.clone(),
            attempt: task.attempts,
            max_attempts: task.max_attempts,
            phase: Phase::Waiting,
            claimed_at: now,
            started_at: now,
            started: Instant::now(),
            lease_until,
            lost: false,
            cancel_requested: task.cancel_requested,
            cancel_observed: false,
            finished_by_handler: false,
            handler_status: None,
            status: crate::task::Status::Running,
            failed_by_owner: None,
            retry_delay_ms: None,
            pending_start: None,
            progress: Progress { percent: task.progress, ..Progress::default() },
        }
    }

    /// The snapshot as of now, with the given status.
    pub fn snapshot(&self, status: &'static str, now: Millis, finished_at: Option<Millis>) -> Snapshot {
        let p = &self.progress;
        let fraction = match (p.processed, p.total) {
            _ if p.percent > 0 => p.percent as f64 / 100.0,
            (Some(done), Some(total)) if total > 0 => done as f64 / total as f64,
            _ => 0.0,
        };
        let eta_seconds = if finished_at.is_some() {
            None
        } else {
            p.eta_override.or_else(|| estimate_eta(now - self.started_at, fraction))
        };
        Snapshot {
            id: self.lease.id,
            identifier: self.identifier.clone(),
            action: self.action.clone(),
            status,
            progress: p.percent,
            processed: p.processed,
            total: p.total,
            message: p.message.clone(),
            eta_seconds,
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            started_at: Some(self.started_at),
            updated_at: now,
            finished_at,
        }
    }
}

/// All claims of one engine, keyed by task id.
#[derive(Debug, Default)]
pub struct Registry {
    pub claims: HashMap<i64, Claim>,
}

impl Registry {
    pub fn get_mut(&mut self, id: i64) -> Option<&mut Claim> {
        self.claims.get_mut(&id)
    }

    /// Leases the heartbeat should keep alive: every claim not known to be lost.
    pub fn live_leases(&self) -> Vec<Lease> {
        self.claims.values().filter(|c| !c.lost).map(|c| c.lease).collect()
    }
}
