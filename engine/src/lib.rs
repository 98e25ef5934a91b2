//! The sTask engine: background tasks for Evolution CMS, stored in SQL, claimed atomically,
//! leased and fenced, retried with backoff, with progress snapshots and logs on disk.
//!
//! This crate is plain Rust with no PHP in it; the extension at the workspace root wraps it.
//!
//! - [`config`]: where tasks live and how the engine behaves, from an engine URL.
//! - [`task`]: tasks, their status codes and priorities, validated input.
//! - [`store`]: the database interface and one module per backend (all SQL lives there).
//! - [`engine`]: the lifecycle — create, find, progress, logs, complete, fail, cancel, retry.
//! - [`process`]: claiming due tasks and running them through a handler.
//! - [`claims`], [`heartbeat`]: the leases this process holds and the thread that renews them.
//! - [`journal`]: progress snapshots and logs, in files ([`files`]) or in the database.
//! - [`files`]: `{id}.json` progress snapshots and `{id}.log` logs.
//! - [`wait`]: blocking until work may be there (PostgreSQL `LISTEN`, polling elsewhere).
//! - [`discovery`]: finding worker classes in Composer packages without running PHP.
//! - [`status_write`]: status writes from a task's model (upstream workers' Eloquent updates).
//! - [`retry`]: exponential backoff with jitter.
//! - [`metrics`]: throughput and timings for dashboards.
//! - [`error`]: the one error type, mapped to PHP exceptions by the extension.

pub mod claims;
pub mod config;
pub mod discovery;
pub mod engine;
pub mod error;
pub mod files;
pub mod heartbeat;
pub mod journal;
pub mod metrics;
pub mod process;
pub mod retry;
pub mod status_write;
pub mod store;
pub mod task;
pub mod time;
pub mod wait;

pub use config::{Backend, ClaimLocking, Config, JournalMode};
pub use engine::{Engine, ProgressUpdate};
pub use error::{Error, Result};
pub use files::{Level, LogEntry};
pub use process::{HandlerError, Outcome, ProcessOptions, ProcessReport};
pub use store::{MigrationReport, Stats};
pub use task::{NewTask, Priority, Status, Task};
