//! Status writes asked for by a task's model: upstream workers move their own task through
//! Eloquent (`$task->update(['status' => 30|50|80|100])`). For the process that runs the task
//! such a write is a state transition made with its claim's fencing token; for anyone else it
//! is allowed only where no worker holds the task (pending), so a stranger or a stale owner can
//! never overwrite a running or finished task.

use serde_json::Value;

use crate::claims::Phase;
use crate::engine::{Engine, check_message};
use crate::error::{Error, Result};
use crate::files::{Level, LogEntry};
use crate::store::{Lease, Transition};
use crate::task::Status;
use crate::time::{Millis, now_ms, to_rfc3339};

/// Where a task stands for this process when someone writes its status.
enum Holder {
    /// This process runs it under this lease.
    Owner { lease: Lease, attempt: i64, max_attempts: i64 },
    /// This process ran it and its worker already finished it with this status.
    FinishedHere(Status),
    /// This process held it and lost it to lease expiry.
    Lost,
    /// Another process, or nobody.
    Stranger,
}

impl Engine {
    /// Sets a task's status as upstream's model writes did, with an optional message (and a
    /// result, for completed).
    ///
    /// The worker running the task may move it between preparing and running, complete it,
    /// fail it (kept failed, unless the task has attempts left and the worker then throws, which
    /// retries it as any throw does), or cancel it. Anyone may complete, fail or cancel a
    /// pending task. Everything else fails with [`Error::InvalidState`] (or
    /// [`Error::LeaseLost`] for a worker whose lease expired) and changes nothing. Writing the
    /// status a task already has is a no-op.
    pub fn set_status(&self, id: i64, status: Status, message: Option<&str>, result: Option<Value>) -> Result<()> {
        if let Some(m) = message {
            check_message(m)?;
        }
        let clipped = message.map(crate::engine::column_message);
        let message = clipped.as_deref();
        if matches!(status, Status::Other(_)) {
            return Err(Error::invalid(format!(
                "status must be one of 10, 30, 50, 80, 90, 100, got {}",
                status.code()
            )));
        }
        match self.holder(id)? {
            Holder::Lost => Err(Error::LeaseLost(id)),
            Holder::FinishedHere(done) if done == status && message.is_none() && result.is_none() => Ok(()),
            Holder::FinishedHere(done) if status.is_finished() => {
                let _ = done;
                self.amend_own_outcome(id, status, message, result)
            }
            Holder::FinishedHere(done) => Err(Error::InvalidState {
                id,
                status: done,
                operation: "be marked running again (its worker already finished it; retry() queues it again)",
            }),
            Holder::Owner { lease, attempt, max_attempts } => {
                self.owner_writes(id, lease, attempt < max_attempts, status, message, result)
            }
            Holder::Stranger => self.stranger_writes(id, status, message, result),
        }
    }

    /// Whether this process's worker is running the task (its handler has not returned), even
    /// if it already finished it or lost its lease: writes to it are then the owner's.
    pub fn owns(&self, id: i64) -> Result<bool> {
        let shared = self.shared()?;
        let registry = shared.registry.lock();
        Ok(registry.claims.get(&id).is_some_and(|c| c.phase == Phase::Running))
    }

    /// Sets when a pending task may run (upstream's `start_at`). `false` when it is not pending.
    pub fn reschedule(&self, id: i64, available_at: Millis) -> Result<bool> {
        if !(0..=253_402_300_799_000).contains(&available_at) {
            return Err(Error::invalid("availableAt must be a time between 1970 and 9999"));
        }
        self.flush_if_buffered()?;
        let done = self.runtime()?.store.reschedule_pending(id, available_at, now_ms())?;
        if !done && self.find(id)?.is_none() {
            return Err(Error::NotFound(id));
        }
        Ok(done)
    }

    /// The delay before the next attempt, should the attempt this process runs fail (a worker's
    /// own backoff instead of the engine's).
    pub fn retry_after(&self, id: i64, delay_ms: i64) -> Result<()> {
        if !(0..=366 * 86_400_000).contains(&delay_ms) {
            return Err(Error::invalid(format!("a retry delay must be between 0 and 366 days, got {delay_ms} ms")));
        }
        let shared = self.shared()?;
        let mut registry = shared.registry.lock();
        match registry.get_mut(id).filter(|c| c.phase == Phase::Running && !c.lost) {
            Some(claim) => {
                claim.retry_delay_ms = Some(delay_ms);
                Ok(())
            }
            None => Err(Error::InvalidState {
                id,
                status: Status::Other(0),
                operation: "set its retry delay (only the worker running a task may)",
            }),
        }
    }

    fn holder(&self, id: i64) -> Result<Holder> {
        let shared = self.shared()?;
        let registry = shared.registry.lock();
        Ok(match registry.claims.get(&id) {
            Some(c) if c.finished_by_handler => Holder::FinishedHere(c.handler_status.unwrap_or(Status::Completed)),
            Some(c) if c.lost => Holder::Lost,
            Some(c) if c.phase == Phase::Running => {
                Holder::Owner { lease: c.lease, attempt: c.attempt, max_attempts: c.max_attempts }
            }
            _ => Holder::Stranger,
        })
    }

    fn owner_writes(
        &self,
        id: i64,
        lease: Lease,
        attempts_left: bool,
        status: Status,
        message: Option<&str>,
        result: Option<Value>,
    ) -> Result<()> {
        match status {
            Status::Preparing | Status::Running => self.mark_running(id, lease, status, message),
            Status::Completed => self.complete(id, result, message),
            Status::Failed if attempts_left => {
                // Decided when the handler ends: a throw retries, a return fails for good.
                let message = message.unwrap_or("Failed");
                let shared = self.shared()?;
                let current = {
                    let mut registry = shared.registry.lock();
                    let Some(claim) = registry.get_mut(id) else { return Err(Error::LeaseLost(id)) };
                    claim.failed_by_owner = Some(message.to_owned());
                    claim.progress.message = Some(message.to_owned());
                    claim.status
                };
                self.mark_running(id, lease, current, Some(message))
            }
            Status::Failed => {
                let message = message.unwrap_or("Failed");
                let transition = Transition::Fail { error: message.to_owned(), message: message.to_owned() };
                self.finish_owned(id, transition, Status::Failed, Level::Error, format!("Failed: {message}"))
                    .map(|_| ())
            }
            Status::Cancelled => {
                let message = message.unwrap_or("Cancelled by its worker");
                let transition = Transition::Cancel { message: message.to_owned() };
                self.finish_owned(id, transition, Status::Cancelled, Level::Warning, format!("Cancelled: {message}"))
                    .map(|_| ())
            }
            _ => Err(Error::InvalidState {
                id,
                status: Status::Running,
                operation: "be queued again by its own worker (throw to have the attempt retried)",
            }),
        }
    }

    /// The worker changes the outcome it already wrote, while its handler still runs: upstream
    /// kept a worker's last write (`update(['status' => 80])`, then `markFinished($task, $file,
    /// $msg)`). Guarded by the claim's fence, so a task retried or taken over meanwhile is not
    /// touched.
    pub(crate) fn amend_own_outcome(
        &self,
        id: i64,
        status: Status,
        message: Option<&str>,
        result: Option<Value>,
    ) -> Result<()> {
        let shared = self.shared()?;
        let Some(lease) = shared.registry.lock().claims.get(&id).filter(|c| c.finished_by_handler).map(|c| c.lease)
        else {
            return Err(Error::LeaseLost(id));
        };
        let result = result.map(|v| crate::task::encode_json("result", &v)).transpose()?;
        let now = now_ms();
        let applied = self.runtime()?.store.amend_finished(lease, status, message, result.as_deref(), now)?;
        if !applied {
            let current = self.find(id)?.map_or(Status::Other(0), |t| t.status);
            return Err(Error::InvalidState {
                id,
                status: current,
                operation: "change its outcome (it was queued again or taken over meanwhile)",
            });
        }
        let (level, line) = match status {
            Status::Completed => (Level::Info, format!("Completed: {}", message.unwrap_or("Completed"))),
            Status::Cancelled => (Level::Warning, format!("Cancelled: {}", message.unwrap_or("Cancelled"))),
            _ => (Level::Error, format!("Failed: {}", message.unwrap_or("Failed"))),
        };
        {
            let mut registry = shared.registry.lock();
            if let Some(claim) = registry.get_mut(id) {
                claim.handler_status = Some(status);
                if let Some(m) = message {
                    claim.progress.message = Some(m.to_owned());
                }
                if status == Status::Completed {
                    claim.progress.percent = 100;
                }
                if claim.progress.has_file || self.journal.has_snapshot(id) {
                    self.journal.write_snapshot(&claim.snapshot(status.name(), now, Some(now)))?;
                }
            }
        }
        self.append_log(&shared, id, &LogEntry { time: to_rfc3339(now), level, message: line, context: None })
    }

    /// Preparing ⇄ running, with the claim's fencing token.
    fn mark_running(&self, id: i64, lease: Lease, status: Status, message: Option<&str>) -> Result<()> {
        let shared = self.shared()?;
        let applied = self.runtime()?.store.mark_running(lease, status, message, now_ms())?;
        let mut registry = shared.registry.lock();
        let Some(claim) = registry.get_mut(id) else { return Err(Error::LeaseLost(id)) };
        if !applied {
            claim.lost = true;
            return Err(Error::LeaseLost(id));
        }
        claim.status = status;
        if let Some(m) = message {
            claim.progress.message = Some(m.to_owned());
        }
        if self.journal.is_local() {
            let now = now_ms();
            self.journal.write_snapshot(&claim.snapshot(status.name(), now, None))?;
            claim.progress.file_dirty = false;
            claim.progress.has_file = true;
            claim.progress.last_file_write = Some(std::time::Instant::now());
        } else {
            claim.progress.file_dirty = true;
        }
        Ok(())
    }

    fn stranger_writes(&self, id: i64, status: Status, message: Option<&str>, result: Option<Value>) -> Result<()> {
        let task = self.get(id)?;
        if task.status == status {
            return Ok(());
        }
        match (task.status, status) {
            (Status::Pending, Status::Completed) => self.complete(id, result, message),
            (Status::Pending, Status::Failed) => {
                let message = message.unwrap_or("Failed");
                let done = self.runtime()?.store.fail_pending(id, message, now_ms())?;
                self.after_unowned_change(id, done, "fail", Level::Error, format!("Failed without running: {message}"))
            }
            (Status::Pending, Status::Cancelled) => {
                if !self.cancel(id)? {
                    return Err(Error::InvalidState { id, status: self.get(id)?.status, operation: "cancel" });
                }
                if let Some(m) = message {
                    self.append_log(
                        &*self.shared()?,
                        id,
                        &LogEntry {
                            time: to_rfc3339(now_ms()),
                            level: Level::Warning,
                            message: m.to_owned(),
                            context: None,
                        },
                    )?;
                }
                Ok(())
            }
            (Status::Pending, _) => Err(Error::InvalidState {
                id,
                status: task.status,
                operation: "be marked preparing or running by a process that does not run it (sTask::execute() runs it now)",
            }),
            (s, _) if s.is_active() => Err(Error::InvalidState {
                id,
                status: s,
                operation: "change the status of a task another worker runs (cancel() asks it to stop)",
            }),
            (s, _) => Err(Error::InvalidState {
                id,
                status: s,
                operation: "change the status of a finished task (retry() queues it again)",
            }),
        }
    }
}
