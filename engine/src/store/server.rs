//! What the PostgreSQL and MySQL stores share: this process's tokio runtime, connections kept
//! between requests, and running statements with the retries that are safe.
//!
//! Everything is created lazily inside the process that uses it and keyed by process id: a
//! forked child (php-fpm, `pcntl_fork`) leaks what it inherited — the parent's sockets and
//! runtime — and starts its own. Each store call is one `block_on` on the calling thread; the
//! runtime is never entered while PHP runs.

use std::any::Any;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;
use sqlx::{ColumnIndex, ConnectOptions, Connection, Decode, Executor, Row, Type};
use tokio::runtime::Runtime;

use crate::error::{Error, Result};
use crate::files::{Level, LogEntry};
use crate::store::{Timing, decode_json};
use crate::task::{Priority, Status, Task};

/// Idle connections kept between requests (php-fpm reuses them): per URL, and in all.
const IDLE_PER_URL: usize = 4;
const IDLE_TOTAL: usize = 8;
/// How long a call keeps retrying while the server is unreachable (e.g. restarting).
const RECONNECT_WINDOW: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

struct Process {
    pid: u32,
    runtime: &'static Runtime,
    /// Oldest first.
    idle: Vec<(String, Box<dyn Any + Send>)>,
}

static PROCESS: Mutex<Option<Process>> = Mutex::new(None);

fn current(slot: &mut Option<Process>) -> Result<&mut Process> {
    let pid = std::process::id();
    if slot.as_ref().is_some_and(|p| p.pid != pid) {
        // Inherited through fork: the runtime's threads and the sockets belong to the parent.
        std::mem::forget(slot.take());
    }
    if slot.is_none() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::Connection(format!("cannot start the database I/O runtime: {e}")))?;
        *slot = Some(Process { pid, runtime: Box::leak(Box::new(runtime)), idle: Vec::new() });
    }
    Ok(slot.as_mut().expect("set above"))
}

/// This process's runtime.
pub fn runtime() -> Result<&'static Runtime> {
    Ok(current(&mut PROCESS.lock())?.runtime)
}

fn take_idle<C: Send + 'static>(key: &str) -> Option<C> {
    let mut slot = PROCESS.lock();
    let process = current(&mut slot).ok()?;
    let pos = process.idle.iter().rposition(|(k, c)| k == key && c.is::<C>())?;
    process.idle.remove(pos).1.downcast::<C>().ok().map(|c| *c)
}

/// Keeps a healthy connection for the next store of this process.
fn put_idle<C: Send + 'static>(key: &str, pid: u32, conn: C, rt: &'static Runtime) {
    if pid != std::process::id() {
        std::mem::forget(conn);
        return;
    }
    let mut slot = PROCESS.lock();
    let mut evicted = Vec::new();
    if let Some(process) = slot.as_mut().filter(|p| p.pid == pid) {
        if process.idle.iter().filter(|(k, _)| k == key).count() < IDLE_PER_URL {
            if process.idle.len() >= IDLE_TOTAL {
                evicted.push(process.idle.remove(0).1);
            }
            process.idle.push((key.to_owned(), Box::new(conn)));
        } else {
            evicted.push(Box::new(conn));
        }
    }
    drop(slot);
    // Closed inside the runtime that owns their sockets.
    let _inside = rt.enter();
    drop(evicted);
}

/// How a call may be retried after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads, and writes that may be applied twice (renewing a lease, saving progress):
    /// retried after a lost connection or a deadlock.
    Repeatable,
    /// `BEGIN … COMMIT` around the body: retried when it failed before `COMMIT`, or when the
    /// server itself answered `COMMIT` with an error, since it then certainly rolled back. A
    /// connection lost during `COMMIT` leaves the outcome unknown, and is reported.
    Transaction,
    /// Like `Transaction`, for bodies whose every write is guarded by the row's current state
    /// (status, fencing token): running them again after an unknown `COMMIT` outcome changes
    /// nothing that the first run changed, so that case is retried too.
    Guarded,
}

/// Why a store call's body stopped.
#[derive(Debug)]
pub enum Fail {
    Sql(sqlx::Error),
    Engine(Error),
}

impl From<sqlx::Error> for Fail {
    fn from(err: sqlx::Error) -> Self {
        Fail::Sql(err)
    }
}

impl From<Error> for Fail {
    fn from(err: Error) -> Self {
        Fail::Engine(err)
    }
}

/// What a failure means for the connection and for retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The connection is gone (server restarted, connection killed, network).
    Lost,
    /// The server rolled the statement or transaction back to break a lock cycle.
    Conflict,
    Other,
}

fn classify(err: &sqlx::Error) -> Kind {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => Kind::Lost,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => Kind::Lost,
        sqlx::Error::Database(db) => {
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return match my.number() {
                    // lock wait timeout, deadlock
                    1205 | 1213 => Kind::Conflict,
                    // server shutdown, connection killed, query interrupted, too many
                    // connections, gone away, lost, idle timeout
                    1053 | 1927 | 1317 | 1040 | 2006 | 2013 | 4031 => Kind::Lost,
                    _ => Kind::Other,
                };
            }
            match db.code().as_deref() {
                Some("40001" | "40P01") => Kind::Conflict,
                Some(code) if code.starts_with("08") || code.starts_with("57P") || code == "53300" => Kind::Lost,
                _ => Kind::Other,
            }
        }
        _ => Kind::Other,
    }
}

/// An engine error for a database failure; `what` names the backend.
pub fn to_error(what: &str, err: &sqlx::Error) -> Error {
    let text = err.to_string();
    if classify(err) == Kind::Lost {
        return Error::Connection(format!("{what}: {text}"));
    }
    // MySQL: "Table 'x' doesn't exist"; PostgreSQL: "relation \"x\" does not exist".
    if text.contains("doesn't exist") || (text.contains("relation") && text.contains("does not exist")) {
        return Error::Database(format!("{what}: {text}: the sTask tables do not exist yet; run migrate() first"));
    }
    Error::Database(format!("{what}: {text}"))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((25u64 << attempt.min(6)).min(1_000))
}

/// One connection to a database server, reopened when lost, kept for reuse when dropped.
pub struct Link<C: Connection + 'static> {
    what: &'static str,
    /// Statements run on every new connection (session settings).
    init: &'static [&'static str],
    key: String,
    options: C::Options,
    rt: &'static Runtime,
    pid: u32,
    conn: Option<C>,
    /// A transaction is open on `conn` (set until COMMIT or ROLLBACK came back): a connection
    /// left like that by a panic is closed, never kept for reuse.
    open_transaction: bool,
}

impl<C> Link<C>
where
    C: Connection + Send + 'static,
    for<'e> &'e mut C: Executor<'e, Database = C::Database>,
{
    /// Opens a link and makes sure the server answers (so a wrong URL fails at once).
    pub fn open(what: &'static str, init: &'static [&'static str], key: &str, options: C::Options) -> Result<Link<C>> {
        let rt = runtime()?;
        let mut link = Link {
            what,
            init,
            key: key.to_owned(),
            options,
            rt,
            pid: std::process::id(),
            conn: take_idle::<C>(key),
            open_transaction: false,
        };
        if link.conn.is_none() {
            let conn = rt
                .block_on(link.connect())
                .map_err(|e| Error::Config(format!("cannot connect to the {what} server: {}", to_error(what, &e))))?;
            link.conn = Some(conn);
        }
        Ok(link)
    }

    /// Another link to the same server, with its own connection.
    pub fn sibling(&self) -> Result<Link<C>> {
        Link::open(self.what, self.init, &self.key, self.options.clone())
    }

    pub fn runtime(&self) -> &'static Runtime {
        self.rt
    }

    async fn connect(&self) -> Result<C, sqlx::Error> {
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, self.options.connect()).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                )));
            }
        };
        for statement in self.init {
            conn.execute(*statement).await?;
        }
        Ok(conn)
    }

    fn forget_connection(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _inside = self.rt.enter();
            drop(conn);
        }
    }

    /// Runs `body` on this link's connection: reconnecting when the connection was lost, and
    /// retrying as `mode` allows until [`RECONNECT_WINDOW`] has passed.
    pub fn run<T>(&mut self, mode: Mode, mut body: impl AsyncFnMut(&mut C) -> Result<T, Fail>) -> Result<T> {
        if self.pid != std::process::id() {
            // A store that crossed a fork: its connection is the parent's.
            std::mem::forget(self.conn.take());
            self.pid = std::process::id();
            self.rt = runtime()?;
        }
        let started = Instant::now();
        let mut attempt = 0u32;
        let rt = self.rt;
        rt.block_on(async {
            loop {
                attempt += 1;
                if self.conn.is_none() {
                    match self.connect().await {
                        Ok(conn) => self.conn = Some(conn),
                        Err(err) if classify(&err) == Kind::Lost && started.elapsed() < RECONNECT_WINDOW => {
                            tokio::time::sleep(backoff(attempt)).await;
                            continue;
                        }
                        Err(err) => return Err(to_error(self.what, &err)),
                    }
                }
                let conn = self.conn.as_mut().expect("connected above");
                let in_transaction = mode != Mode::Repeatable;
                self.open_transaction = in_transaction;
                let outcome = if in_transaction {
                    match conn.execute("BEGIN").await {
                        Ok(_) => body(conn).await,
                        Err(err) => Err(Fail::Sql(err)),
                    }
                } else {
                    body(conn).await
                };
                let err = match outcome {
                    Ok(value) if !in_transaction => return Ok(value),
                    Ok(value) => match conn.execute("COMMIT").await {
                        Ok(_) => {
                            self.open_transaction = false;
                            return Ok(value);
                        }
                        // The server answered COMMIT with an error: it rolled back.
                        Err(err @ sqlx::Error::Database(_)) => err,
                        Err(err) if mode == Mode::Guarded && classify(&err) == Kind::Lost => err,
                        Err(err) => {
                            // The connection broke during COMMIT: the outcome is unknown,
                            // and the connection is not trusted again.
                            self.forget_connection();
                            self.open_transaction = false;
                            let base = to_error(self.what, &err);
                            return Err(Error::Connection(format!(
                                "{base} (while committing: the change may or may not have been saved)"
                            )));
                        }
                    },
                    Err(Fail::Engine(err)) => {
                        if in_transaction && conn.execute("ROLLBACK").await.is_err() {
                            self.forget_connection();
                        }
                        self.open_transaction = false;
                        return Err(err);
                    }
                    Err(Fail::Sql(err)) => err,
                };
                let kind = classify(&err);
                if kind == Kind::Lost {
                    self.forget_connection();
                } else if in_transaction {
                    let conn = self.conn.as_mut().expect("still connected");
                    if conn.execute("ROLLBACK").await.is_err() {
                        self.forget_connection();
                    }
                }
                self.open_transaction = false;
                if kind == Kind::Other || started.elapsed() >= RECONNECT_WINDOW {
                    return Err(to_error(self.what, &err));
                }
                if kind == Kind::Lost && attempt > 1 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        })
    }
}

impl<C: Connection + 'static> Drop for Link<C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.open_transaction && self.pid == std::process::id() {
                let _inside = self.rt.enter();
                drop(conn);
            } else {
                put_idle(&self.key, self.pid, conn, self.rt);
            }
        }
    }
}

/// A task from a row whose columns are, in order: id, identifier, action, status, priority,
/// meta, progress, attempts, max_attempts, message, result, last_error, started_by,
/// available_at, started_at, finished_at, created_at, updated_at (the last four as Unix
/// milliseconds), cancel_requested, fence, locked_by, lease_expires_at, unique_key — every
/// integer as a signed 64-bit value.
pub fn task_from_row<'r, R>(row: &'r R) -> Result<Task, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let meta: Option<String> = row.try_get(5)?;
    let result: Option<String> = row.try_get(10)?;
    Ok(Task {
        id: row.try_get(0)?,
        identifier: row.try_get(1)?,
        action: row.try_get(2)?,
        status: Status::from_code(row.try_get(3)?),
        priority: Priority::from_stored(&row.try_get::<String, _>(4)?),
        data: meta.map(|m| decode_json(&m)).unwrap_or_else(|| Value::Array(Vec::new())),
        progress: row.try_get(6)?,
        attempts: row.try_get(7)?,
        max_attempts: row.try_get(8)?,
        message: row.try_get(9)?,
        result: result.map(|r| decode_json(&r)),
        last_error: row.try_get(11)?,
        started_by: row.try_get(12)?,
        available_at: row.try_get(13)?,
        started_at: row.try_get(14)?,
        finished_at: row.try_get(15)?,
        created_at: row.try_get(16)?,
        updated_at: row.try_get(17)?,
        cancel_requested: row.try_get::<i64, _>(18)? != 0,
        fence: row.try_get(19)?,
        locked_by: row.try_get(20)?,
        lease_expires_at: row.try_get(21)?,
        unique_key: row.try_get(22)?,
    })
}

/// A metrics timing from a row of (identifier, status, available_at, started_at, finished_at),
/// the times as Unix milliseconds.
pub fn timing_from_row<'r, R>(row: &'r R) -> Result<Timing, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Timing {
        identifier: row.try_get(0)?,
        status: Status::from_code(row.try_get(1)?),
        available_at: row.try_get(2)?,
        started_at: row.try_get(3)?,
        finished_at: row.try_get(4)?,
    })
}

/// The statement broke a unique index (on these tables: another unfinished task holds the
/// unique key).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A log entry from a row of (logged_at, level, message, context).
pub fn log_from_row<'r, R>(row: &'r R) -> Result<LogEntry, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let context: Option<String> = row.try_get(3)?;
    Ok(LogEntry {
        time: row.try_get(0)?,
        level: Level::parse(&row.try_get::<String, _>(1)?).unwrap_or(Level::Info),
        message: row.try_get(2)?,
        context: context.and_then(|c| serde_json::from_str(&c).ok()),
    })
}

/// A log entry's context as stored (JSON text).
pub fn context_text(entry: &LogEntry) -> Option<String> {
    entry.context.as_ref().map(|c| c.to_string())
}
