//! Waiting for work: a worker with nothing to do blocks in [`Engine::wait_for_tasks`] until a
//! task may be claimable. PostgreSQL announces new due tasks with `NOTIFY`, so a waiting worker
//! wakes within milliseconds; the other backends are polled, quickly right after work was
//! found and then less and less often while the queue stays idle. Either way the worker also
//! wakes when a delayed task becomes due or a lease expires.

use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::time::now_ms;

/// The first poll interval after work was found, and the longest one while idle.
pub const MIN_POLL: Duration = Duration::from_millis(20);
pub const MAX_POLL: Duration = Duration::from_millis(1000);
/// The longest wait one call accepts.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

impl Engine {
    /// Blocks for at most `timeout` until a task may be claimable: a pending task (of these
    /// identifiers, when given) is due, or a lease expired. `true` as soon as that is so,
    /// `false` when the time ran out. Runs on the calling thread; PHP is not called.
    pub fn wait_for_tasks(&self, timeout: Duration, identifiers: &[String]) -> Result<bool> {
        if timeout > MAX_WAIT {
            return Err(Error::invalid(format!("cannot wait longer than {} s", MAX_WAIT.as_secs())));
        }
        self.flush_if_buffered()?;
        let deadline = Instant::now() + timeout;
        loop {
            let mut rt = self.runtime()?;
            // Listen before looking, so an announcement between the two is not lost.
            let listening = rt.store.subscribe().unwrap_or(false);
            let next = rt.store.next_due(identifiers)?;
            let now = now_ms();
            if next.is_some_and(|at| at <= now) {
                // An expired lease is due too: let the next processing call rescue it at once.
                rt.last_rescue = None;
                *self.idle_poll.lock() = MIN_POLL;
                return Ok(true);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(false);
            }
            // Wake when the next delayed task becomes due, if that is sooner.
            let until_due = next.map(|at| Duration::from_millis((at - now).max(0) as u64 + 1));
            let wait = until_due.map_or(remaining, |d| d.min(remaining));
            if listening {
                rt.store.wait_announcement(wait)?;
            } else {
                drop(rt);
                let mut poll = self.idle_poll.lock();
                let nap = wait.min(*poll);
                *poll = (*poll * 2).min(MAX_POLL);
                drop(poll);
                std::thread::sleep(nap);
            }
        }
    }
}
