//! Processing: claim due tasks, hand each to a handler on the calling thread, and record what
//! became of it — completed, retried later with backoff, failed, cancelled, or lost.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::claims::{Claim, Phase};
use crate::engine::{Engine, Settled};
use crate::error::Result;
use crate::files::{Level, LogEntry};
use crate::store::{ClaimRequest, Finish, Transition};
use crate::task::{Status, Task};
use crate::time::{now_ms, to_rfc3339};

/// Largest number of tasks claimed in one transaction, reached only while tasks are quick.
pub const MAX_BATCH: usize = 128;
/// A batch whose tasks take longer than this hands its unstarted tasks back for others.
const SLOW_BATCH: Duration = Duration::from_millis(500);
/// Outcomes wait at most this long before they are written.
const FLUSH_AFTER: Duration = Duration::from_millis(20);
/// Expired leases are looked for at most this often by one engine.
const RESCUE_EVERY: Duration = Duration::from_secs(1);
/// Longest part of a handler's exception message that is kept, in bytes (60 KiB). A longer one
/// is cut on a character boundary and ends with a marker that says how long it was. The class
/// name and the file are kept up to [`MAX_ERROR_NAME_BYTES`] each, so the task's message, its
/// last error and the log entry of a failed attempt each stay under 64 KiB (the size of a
/// MySQL `TEXT` column, such as `message` and `last_error`).
pub const MAX_ERROR_MESSAGE_BYTES: usize = 60 * 1024;
/// Longest exception class name or file path kept from a handler failure, in bytes.
pub const MAX_ERROR_NAME_BYTES: usize = 1024;

/// What to process.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions {
    /// Most tasks to run.
    pub limit: usize,
    /// Only tasks of these identifiers (empty: all).
    pub identifiers: Vec<String>,
    /// Only these tasks, run now even if not due yet (empty: any due task).
    pub ids: Vec<i64>,
}

/// How a handler call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It returned normally.
    Returned,
    /// It threw this.
    Threw(HandlerError),
    /// It stopped because it learned of a cancel (the engine's cancel exception).
    Cancelled,
    /// It stopped because the engine told it its lease was lost.
    LeaseLost,
    /// The script is ending (`exit()`): stop at once, leave the task to its lease.
    Exit,
}

/// A failure thrown by a handler.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HandlerError {
    pub class: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<i64>,
}

impl HandlerError {
    /// The same failure with its message, class and file cut to the stored sizes
    /// ([`MAX_ERROR_MESSAGE_BYTES`], [`MAX_ERROR_NAME_BYTES`]).
    pub fn bounded(self) -> HandlerError {
        HandlerError {
            class: clip(self.class, MAX_ERROR_NAME_BYTES),
            message: clip(self.message, MAX_ERROR_MESSAGE_BYTES),
            file: self.file.map(|f| clip(f, MAX_ERROR_NAME_BYTES)),
            line: self.line,
        }
    }

    fn describe(&self) -> String {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => {
                format!("{}: {} in {file}:{line}", self.class, self.message)
            }
            _ => format!("{}: {}", self.class, self.message),
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary, ending with a marker that says
/// how long it was; unchanged when it fits.
pub fn clip(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let marker = format!("… [cut: {} bytes in all]", text.len());
    let mut end = max.saturating_sub(marker.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + marker.len());
    out.push_str(&text[..end]);
    out.push_str(&marker);
    out
}

/// What one `process_pending` call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessReport {
    pub claimed: usize,
    pub completed: usize,
    pub retried: usize,
    pub failed: usize,
    pub cancelled: usize,
    /// Outcomes refused because another worker had taken the task over.
    pub lost: usize,
    /// Claimed tasks handed back unstarted.
    pub released: usize,
    pub rescued: usize,
    /// The handler ended the script (`exit()`).
    pub exited: bool,
    /// Processing stopped early because [`Engine::request_stop`] was called.
    pub stopped: bool,
}

impl ProcessReport {
    pub fn handled(&self) -> usize {
        self.completed + self.retried + self.failed + self.cancelled + self.lost
    }
}

impl Engine {
    /// Runs up to `options.limit` due tasks through `dispatch`, highest priority first, then
    /// oldest. `dispatch` runs on this thread with no engine lock held, so it may call the
    /// engine (progress, logs, even nested processing).
    pub fn process_pending<F>(&self, options: &ProcessOptions, mut dispatch: F) -> Result<ProcessReport>
    where
        F: FnMut(&Task) -> Outcome,
    {
        let mut report = ProcessReport::default();
        // Rescue even when asked to run nothing: `limit = 0` is "just recover lost tasks".
        report.rescued += self.rescue_due()?;
        let mut batch_size = self.claim_size.load(Ordering::Relaxed).clamp(1, MAX_BATCH);
        while report.handled() + report.released < options.limit || (report.claimed == 0 && options.limit > 0) {
            let remaining = options.limit.saturating_sub(report.handled());
            if remaining == 0 {
                break;
            }
            report.rescued += self.rescue_due()?;
            if self.take_stop_request() {
                report.stopped = true;
                break;
            }
            let tasks = self.claim_filtered(batch_size.min(remaining), &options.identifiers, &options.ids)?;
            if tasks.is_empty() {
                break;
            }
            report.claimed += tasks.len();
            let started = Instant::now();
            let mut ran = 0;
            for (i, task) in tasks.iter().enumerate() {
                let slow = i > 0 && started.elapsed() > SLOW_BATCH;
                if slow {
                    report.released += self.release(&tasks[i..])?;
                    break;
                }
                ran += 1;
                let outcome = if self.begin(task)? { dispatch(task) } else { Outcome::Cancelled };
                if outcome == Outcome::Exit {
                    report.exited = true;
                    self.abandon(task.id)?;
                    report.released += self.release(&tasks[i + 1..])?;
                    self.flush()?;
                    return Ok(report);
                }
                self.settle(task, outcome, &mut report)?;
                if self.stop_requested() {
                    // Stop after the current task: hand the rest of the batch back.
                    report.released += self.release(&tasks[i + 1..])?;
                    break;
                }
                if self.oldest_buffered().is_some_and(|at| at.elapsed() >= FLUSH_AFTER) {
                    self.flush()?;
                }
            }
            self.flush()?;
            // Quick tasks earn bigger claims; slow ones go one at a time so that other workers
            // can share the queue.
            let per_task = started.elapsed() / ran.max(1) as u32;
            batch_size = if per_task < Duration::from_millis(2) && ran == tasks.len() {
                (batch_size * 2).min(MAX_BATCH)
            } else {
                1
            };
            self.claim_size.store(batch_size, Ordering::Relaxed);
        }
        Ok(report)
    }

    /// Looks for expired leases at most once a second.
    fn rescue_due(&self) -> Result<usize> {
        let mut rt = self.runtime()?;
        self.inline_upkeep(&mut rt);
        if rt.last_rescue.is_some_and(|t| t.elapsed() < RESCUE_EVERY) {
            return Ok(0);
        }
        rt.last_rescue = Some(Instant::now());
        let rescued = rt.store.rescue_expired(now_ms(), &self.config.retry)?;
        drop(rt);
        for r in &rescued {
            let message = match r.status {
                Status::Pending => format!(
                    "Attempt {}/{} lost: its worker ({}) stopped responding and its lease expired; queued again",
                    r.attempts,
                    r.max_attempts,
                    r.previous_owner.as_deref().unwrap_or("unknown")
                ),
                Status::Cancelled => "Cancelled: its worker stopped responding before it could stop".into(),
                _ => format!(
                    "Failed: its worker ({}) stopped responding on the last attempt ({}/{})",
                    r.previous_owner.as_deref().unwrap_or("unknown"),
                    r.attempts,
                    r.max_attempts
                ),
            };
            let _ = self.journal.append_log(
                r.id,
                &LogEntry {
                    time: to_rfc3339(now_ms()),
                    level: if r.status == Status::Pending { Level::Warning } else { Level::Error },
                    message,
                    context: None,
                },
            );
            if self.journal.has_snapshot(r.id) {
                if let Ok(Some(task)) = self.runtime()?.store.find(r.id) {
                    let _ = self.journal.write_snapshot(&crate::engine::snapshot_of(&task, now_ms()));
                }
            }
        }
        Ok(rescued.len())
    }

    /// Claims up to `limit` due tasks for this process and registers their leases.
    pub fn claim(&self, limit: usize, identifiers: &[String]) -> Result<Vec<Task>> {
        self.claim_filtered(limit, identifiers, &[])
    }

    fn claim_filtered(&self, limit: usize, identifiers: &[String], ids: &[i64]) -> Result<Vec<Task>> {
        let mut rt = self.runtime()?;
        let now = now_ms();
        let lease_until = now + self.config.lease_ms;
        let owner = rt.owner.clone();
        let tasks = rt.store.claim(&ClaimRequest { owner: &owner, limit, now, lease_until, identifiers, ids })?;
        if tasks.is_empty() {
            return Ok(tasks);
        }
        self.ensure_heartbeat(&mut rt)?;
        let mut registry = rt.shared.registry.lock();
        for task in &tasks {
            registry.claims.insert(task.id, Claim::new(task, now, lease_until));
        }
        Ok(tasks)
    }

    /// Marks a claimed task as started. `false` when a cancel arrived before it could start.
    fn begin(&self, task: &Task) -> Result<bool> {
        let shared = self.shared()?;
        let now = now_ms();
        let start = self.config.lifecycle_log.then(|| -> Result<LogEntry> {
            Ok(LogEntry {
                time: to_rfc3339(now),
                level: Level::Info,
                message: format!("Attempt {}/{} started", task.attempts, task.max_attempts),
                context: Some(json!({ "worker": self.runtime()?.owner })),
            })
        });
        let start = start.transpose()?;
        let mut registry = shared.registry.lock();
        let Some(claim) = registry.get_mut(task.id) else { return Ok(true) };
        claim.phase = Phase::Running;
        claim.started_at = now;
        claim.started = Instant::now();
        claim.pending_start = start;
        Ok(!claim.cancel_requested)
    }

    /// Decides the outcome of a handler call; it is written by the next flush.
    fn settle(&self, task: &Task, outcome: Outcome, report: &mut ProcessReport) -> Result<()> {
        let outcome = match outcome {
            Outcome::Threw(err) => Outcome::Threw(err.bounded()),
            other => other,
        };
        let shared = self.shared()?;
        let now = now_ms();
        let mut registry = shared.registry.lock();
        let Some(claim) = registry.get_mut(task.id) else {
            return Ok(());
        };
        let elapsed = claim.started.elapsed();
        if claim.finished_by_handler {
            match claim.handler_status {
                Some(Status::Completed) => report.completed += 1,
                _ => report.failed += 1,
            }
            registry.claims.remove(&task.id);
            self.journal.close_log(task.id);
            return Ok(());
        }
        if claim.lost || outcome == Outcome::LeaseLost {
            report.lost += 1;
            registry.claims.remove(&task.id);
            drop(registry);
            self.journal.append_log(task.id, &LogEntry {
                time: to_rfc3339(now),
                level: Level::Warning,
                message: "This worker lost the task (its lease expired and another worker took it over); its outcome was discarded".into(),
                context: None,
            })?;
            return Ok(());
        }
        let cancelled = outcome == Outcome::Cancelled
            || (claim.cancel_requested && (claim.cancel_observed || !matches!(outcome, Outcome::Returned)));
        // The worker marked the task failed while attempts remained: a throw retries as usual,
        // anything else (or a throw on the last attempt) fails it with the worker's message.
        let owner_failure = claim.failed_by_owner.clone();
        let (transition, status_after, entry) = if cancelled {
            report.cancelled += 1;
            let message = "Cancelled while running".to_string();
            (Transition::Cancel { message: message.clone() }, Status::Cancelled, Some((Level::Warning, message, None)))
        } else {
            match &outcome {
                Outcome::Threw(err) if claim.attempt < claim.max_attempts => {
                    report.retried += 1;
                    let delay = claim.retry_delay_ms.unwrap_or_else(|| self.config.retry.delay_ms(claim.attempt));
                    let message = format!(
                        "Attempt {}/{} failed: {}; next attempt in {}",
                        claim.attempt,
                        claim.max_attempts,
                        err.message,
                        crate::files::snapshot::human_eta(Some((delay + 999) / 1000))
                    );
                    let context =
                        json!({ "exception": err.class, "file": err.file, "line": err.line, "retry_in_ms": delay });
                    (
                        Transition::Retry {
                            error: err.describe(),
                            message: message.clone(),
                            available_at: now + delay,
                        },
                        Status::Pending,
                        Some((Level::Error, message, Some(context))),
                    )
                }
                Outcome::Threw(err) => {
                    report.failed += 1;
                    let message = owner_failure
                        .clone()
                        .unwrap_or_else(|| format!("Failed after {} attempt(s): {}", claim.attempt, err.message));
                    let context = json!({ "exception": err.class, "file": err.file, "line": err.line });
                    (
                        Transition::Fail { error: err.describe(), message: message.clone() },
                        Status::Failed,
                        Some((Level::Error, message, Some(context))),
                    )
                }
                _ if owner_failure.is_some() => {
                    report.failed += 1;
                    let message = owner_failure.clone().unwrap_or_default();
                    (
                        Transition::Fail { error: message.clone(), message: message.clone() },
                        Status::Failed,
                        Some((Level::Error, format!("Failed: {message}"), None)),
                    )
                }
                _ => {
                    report.completed += 1;
                    // A silent attempt of a task with no log gets no lines at all.
                    let logged = claim.pending_start.is_none() || self.journal.likely_has_log(task.id, claim.attempt);
                    let line = (self.config.lifecycle_log && logged)
                        .then(|| (Level::Info, format!("Completed in {}", human_duration(elapsed)), None));
                    (Transition::Complete { result: None, message: "Completed".into() }, Status::Completed, line)
                }
            }
        };
        claim.phase = Phase::Finishing;
        let lease = claim.lease;
        let mut entries = Vec::new();
        if let Some((level, message, context)) = entry {
            entries.extend(claim.pending_start.take());
            entries.push(LogEntry { time: to_rfc3339(now), level, message, context });
        }
        drop(registry);
        self.buffered.lock().push(Settled {
            finish: Finish { lease, transition },
            status_after,
            entries,
            settled_at: Instant::now(),
        });
        Ok(())
    }

    fn oldest_buffered(&self) -> Option<Instant> {
        self.buffered.lock().first().map(|s| s.settled_at)
    }

    /// Hands claimed, unstarted tasks back to the queue without counting an attempt.
    fn release(&self, tasks: &[Task]) -> Result<usize> {
        if tasks.is_empty() {
            return Ok(0);
        }
        let shared = self.shared()?;
        let leases: Vec<Finish> = {
            let registry = shared.registry.lock();
            tasks
                .iter()
                .filter_map(|t| registry.claims.get(&t.id))
                .filter(|c| c.phase == Phase::Waiting)
                .map(|c| Finish { lease: c.lease, transition: Transition::Release })
                .collect()
        };
        let applied = self.runtime()?.store.finish(&leases, now_ms())?;
        let mut registry = shared.registry.lock();
        for f in &leases {
            registry.claims.remove(&f.lease.id);
        }
        Ok(applied.into_iter().filter(|ok| *ok).count())
    }

    /// Stops keeping a task's lease alive: the script is ending in its handler, and the task is
    /// left for another worker to rescue once the lease expires.
    fn abandon(&self, id: i64) -> Result<()> {
        self.shared()?.registry.lock().claims.remove(&id);
        Ok(())
    }
}

fn human_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{}m {:02}s", (ms / 60_000.0) as i64, ((ms / 1000.0) as i64) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip("short".into(), 10), "short");
        let long = "ж".repeat(1000); // 2 bytes each
        let cut = clip(long.clone(), 101);
        assert!(cut.len() <= 101, "{}", cut.len());
        assert!(cut.ends_with("… [cut: 2000 bytes in all]"), "{cut}");
        assert!(long.starts_with(cut.trim_end_matches("… [cut: 2000 bytes in all]")));
        let err = HandlerError { class: "E".into(), message: "x".repeat(5 << 20), file: None, line: None }.bounded();
        assert!(err.message.len() <= MAX_ERROR_MESSAGE_BYTES);
    }
}
