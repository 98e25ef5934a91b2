//! The heartbeat: a Rust thread that keeps the leases of this process's claims alive while PHP
//! runs their handlers, notices cancels and lost leases, and writes coalesced progress. It owns
//! its own database connection and never calls PHP.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::claims::Registry;
use crate::journal::Journal;
use crate::store::{Renewal, Store};
use crate::time::now_ms;

/// How often the database is asked about cancels and lost leases.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often a running task's progress column is updated (the file is written far more often).
pub const DB_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// State shared by an engine and its heartbeat thread.
pub struct Shared {
    pub registry: Mutex<Registry>,
    pub journal: Arc<Journal>,
    pub lease_ms: i64,
    pub progress_interval: Duration,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    pub fn new(journal: Arc<Journal>, lease_ms: i64, progress_interval_ms: i64) -> Shared {
        Shared {
            registry: Mutex::new(Registry::default()),
            journal,
            lease_ms,
            progress_interval: Duration::from_millis(progress_interval_ms.max(0) as u64),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    /// Writes every snapshot that is behind and whose last write is older than the interval.
    /// Files are written under the registry lock, so writes of one task never race each
    /// other. Database writes happen after the lock is released (a slow or unreachable server
    /// must not stall the worker's `pushProgress`); the store keeps the newest snapshot.
    pub fn flush_snapshots(&self, force: bool) {
        let now = now_ms();
        let local = self.journal.is_local();
        let mut pending = Vec::new();
        {
            let mut registry = self.registry.lock();
            for claim in registry.claims.values_mut() {
                let p = &claim.progress;
                let due = p.last_file_write.is_none_or(|t| t.elapsed() >= self.progress_interval);
                if p.file_dirty && !claim.lost && (force || due) {
                    let snapshot = claim.snapshot(claim.status.name(), now, None);
                    claim.progress.last_file_write = Some(Instant::now());
                    if !local {
                        claim.progress.file_dirty = false;
                        claim.progress.has_file = true;
                        pending.push(snapshot);
                    } else if self.journal.write_snapshot(&snapshot).is_ok() {
                        claim.progress.file_dirty = false;
                        claim.progress.has_file = true;
                    }
                }
            }
        }
        for snapshot in pending {
            if self.journal.write_snapshot(&snapshot).is_err() {
                // Try again next round.
                if let Some(claim) = self.registry.lock().get_mut(snapshot.id) {
                    claim.progress.file_dirty = true;
                }
            }
        }
    }

    /// Applies what the database said about our leases.
    pub fn apply_renewal(&self, renewal: &Renewal, lease_until: Option<i64>) {
        let mut registry = self.registry.lock();
        if let Some(until) = lease_until {
            for claim in registry.claims.values_mut() {
                claim.lease_until = until;
            }
        }
        for id in &renewal.lost {
            if let Some(c) = registry.get_mut(*id) {
                c.lost = true;
            }
        }
        for id in &renewal.cancel_requested {
            if let Some(c) = registry.get_mut(*id) {
                c.cancel_requested = true;
            }
        }
    }

    /// One round of database upkeep: renew leases when due, else look for cancels and lost
    /// leases, then save coarse progress. Errors are left for the next round.
    pub fn maintain(&self, store: &mut dyn Store, last_check: &mut Instant) {
        let now = now_ms();
        let (leases, renew_due, progress) = {
            let registry = self.registry.lock();
            let leases = registry.live_leases();
            let renew_due = registry.claims.values().any(|c| !c.lost && c.lease_until - now < self.lease_ms * 2 / 3);
            let progress: Vec<_> = registry
                .claims
                .values()
                .filter(|c| {
                    !c.lost
                        && c.progress.db_dirty
                        && c.progress.last_db_write.is_none_or(|t| t.elapsed() >= DB_PROGRESS_EVERY)
                })
                .map(|c| (c.lease, c.progress.percent, c.progress.message.clone()))
                .collect();
            (leases, renew_due, progress)
        };
        if leases.is_empty() {
            return;
        }
        if renew_due {
            let until = now + self.lease_ms;
            if let Ok(renewal) = store.renew(&leases, until, now) {
                self.apply_renewal(&renewal, Some(until));
                *last_check = Instant::now();
            }
        } else if last_check.elapsed() >= CHECK_EVERY {
            if let Ok(renewal) = store.inspect(&leases) {
                self.apply_renewal(&renewal, None);
                *last_check = Instant::now();
            }
        }
        for (lease, percent, message) in progress {
            match store.save_progress(lease, percent, message.as_deref(), now) {
                Ok(saved) => {
                    let mut registry = self.registry.lock();
                    if let Some(c) = registry.get_mut(lease.id) {
                        c.progress.last_db_write = Some(Instant::now());
                        if saved {
                            c.progress.db_dirty = false;
                        } else {
                            c.lost = true;
                        }
                    }
                }
                Err(_) => break,
            }
        }
    }
}

/// A running heartbeat thread; stopping it joins the thread.
pub struct Heartbeat {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// Starts the thread. Without a store (in-memory SQLite) it only writes snapshots and the
    /// engine renews leases on the PHP thread instead.
    pub fn start(shared: Arc<Shared>, mut store: Option<Box<dyn Store>>) -> Heartbeat {
        *shared.stop.lock() = false;
        let tick = shared.progress_interval.clamp(Duration::from_millis(50), Duration::from_millis(1000));
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("stask-heartbeat".into())
            .spawn(move || {
                let shared = thread_shared;
                let mut last_check = Instant::now();
                loop {
                    {
                        let mut stop = shared.stop.lock();
                        if !*stop {
                            shared.wake.wait_for(&mut stop, tick);
                        }
                        if *stop {
                            break;
                        }
                    }
                    shared.flush_snapshots(false);
                    if let Some(store) = store.as_deref_mut() {
                        shared.maintain(store, &mut last_check);
                    }
                }
            })
            .ok();
        Heartbeat { shared, thread }
    }

    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }

    pub fn stop(&mut self) {
        *self.shared.stop.lock() = true;
        self.shared.wake.notify_all();
        if let Some(handle) = self.thread.take() {
            let _ = handle.join();
        }
    }

    /// After a fork the thread does not exist in this process: forget it without joining.
    pub fn abandon(mut self) {
        self.thread.take().map(std::mem::forget);
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop();
    }
}
