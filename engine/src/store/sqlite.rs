//! SQLite through rusqlite, on the calling thread (no thread hop per statement). WAL,
//! `synchronous=NORMAL`, a busy timeout, and `BEGIN IMMEDIATE` for every writing transaction,
//! so concurrent writers queue on the lock instead of failing on a stale snapshot.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};
use serde_json::Value;

use crate::config::{Backend, Config};
use crate::error::{Error, Result};
use crate::files::{Level, LogEntry};
use crate::retry::RetryPolicy;
use crate::store::{
    CancelOutcome, ClaimRequest, Finish, Lease, MigrationReport, Renewal, Rescued, Stats, Store, Timing, Transition,
    decode_json, sort_claimed, sqlite_schema, unique_key_taken,
};
use crate::task::{NewTask, Priority, Status, Task, encode_json};
use crate::time::{Millis, parse_sql_text, to_sql_text_ms};

/// The columns of a task row, in the order [`read_task`] expects.
const TASK_COLUMNS: &str = "id, identifier, action, status, priority, meta, progress, attempts, max_attempts, \
     message, result, last_error, started_by, available_at, start_at, finished_at, created_at, updated_at, \
     cancel_requested, fence, locked_by, lease_expires_at, unique_key";

/// SQL text with the table prefix applied, built once per connection.
struct Sql {
    tasks: String,
    insert: String,
    find: String,
    find_unique: String,
    claim: String,
    claim_for: String,
    claim_ids: String,
    expired: String,
    rescue_to_pending: String,
    rescue_to_failed: String,
    rescue_to_cancelled: String,
    renew: String,
    inspect: String,
    save_progress: String,
    mark_running: String,
    amend_finished: String,
    reschedule_pending: String,
    complete_claimed: String,
    retry_claimed: String,
    fail_claimed: String,
    cancel_claimed: String,
    release_claimed: String,
    complete_pending: String,
    fail_pending: String,
    cancel_pending: String,
    request_cancel: String,
    retry_finished: String,
    next_due: String,
    next_due_for: String,
    put_snapshot: String,
    get_snapshot: String,
    put_log: String,
    get_logs: String,
    get_logs_level: String,
    has_logs: String,
    get_logs_after: String,
    progress: String,
    logs: String,
}

impl Sql {
    fn new(config: &Config) -> Sql {
        let t = config.tasks_table();
        let t = format!("\"{t}\"");
        let progress = format!("\"{}\"", config.progress_table());
        let logs = format!("\"{}\"", config.logs_table());
        // Owners may move their own task between preparing and running (upstream workers do).
        let claimed = "WHERE id = ?1 AND fence = ?2 AND status IN (30, 50)";
        let release_lease = "locked_by = NULL, lease_expires_at = NULL";
        let claim_set = format!(
            "UPDATE {t} SET status = 50, attempts = attempts + 1, fence = fence + 1, locked_by = ?1, \
             lease_expires_at = ?2, heartbeat_at = ?3, start_at = ?4, updated_at = ?4, finished_at = NULL"
        );
        Sql {
            insert: format!(
                "INSERT INTO {t} (identifier, action, status, message, started_by, meta, attempts, max_attempts, \
                 priority, priority_rank, progress, available_at, created_at, updated_at, unique_key) \
                 VALUES (?1, ?2, 10, ?3, ?4, ?5, 0, ?6, ?7, ?8, 0, ?9, ?10, ?10, ?11)"
            ),
            find: format!("SELECT {TASK_COLUMNS} FROM {t} WHERE id = ?1"),
            find_unique: format!(
                "SELECT {TASK_COLUMNS} FROM {t} WHERE unique_key = ?1 AND status IN (10, 30, 50) ORDER BY id LIMIT 1"
            ),
            claim: format!(
                "{claim_set} WHERE id IN (SELECT id FROM {t} WHERE status = 10 AND available_at <= ?3 \
                 ORDER BY priority_rank DESC, available_at, id LIMIT ?5) AND status = 10 RETURNING {TASK_COLUMNS}"
            ),
            // The identifier list is appended as a JSON array, so one statement serves any length.
            claim_for: format!(
                "{claim_set} WHERE id IN (SELECT id FROM {t} WHERE status = 10 AND available_at <= ?3 \
                 AND identifier IN (SELECT value FROM json_each(?6)) \
                 ORDER BY priority_rank DESC, available_at, id LIMIT ?5) AND status = 10 RETURNING {TASK_COLUMNS}"
            ),
            // Explicitly requested tasks run now, whatever their not-before time.
            claim_ids: format!(
                "{claim_set} WHERE id IN (SELECT id FROM {t} WHERE status = 10 \
                 AND id IN (SELECT value FROM json_each(?6)) \
                 ORDER BY priority_rank DESC, available_at, id LIMIT ?5) AND status = 10 RETURNING {TASK_COLUMNS}"
            ),
            expired: format!(
                "SELECT id, fence, attempts, max_attempts, cancel_requested, locked_by FROM {t} \
                 WHERE status IN (30, 50) AND lease_expires_at IS NOT NULL AND lease_expires_at < ?1 LIMIT 500"
            ),
            rescue_to_pending: format!(
                "UPDATE {t} SET status = 10, available_at = ?3, {release_lease}, updated_at = ?4, \
                 message = ?5, last_error = ?5 WHERE id = ?1 AND fence = ?2 AND status IN (30, 50) AND lease_expires_at < ?6"
            ),
            rescue_to_failed: format!(
                "UPDATE {t} SET status = 100, finished_at = ?3, {release_lease}, updated_at = ?3, \
                 message = ?4, last_error = ?4 WHERE id = ?1 AND fence = ?2 AND status IN (30, 50) AND lease_expires_at < ?5"
            ),
            rescue_to_cancelled: format!(
                "UPDATE {t} SET status = 90, finished_at = ?3, {release_lease}, updated_at = ?3, \
                 message = ?4 WHERE id = ?1 AND fence = ?2 AND status IN (30, 50) AND lease_expires_at < ?5"
            ),
            renew: format!(
                "UPDATE {t} SET lease_expires_at = ?3, heartbeat_at = ?4 {claimed} RETURNING cancel_requested"
            ),
            inspect: format!(
                "SELECT id, fence, status, cancel_requested FROM {t} WHERE id IN (SELECT value FROM json_each(?1))"
            ),
            save_progress: format!(
                "UPDATE {t} SET progress = ?3, message = COALESCE(?4, message), updated_at = ?5 {claimed}"
            ),
            mark_running: format!(
                "UPDATE {t} SET status = ?3, message = COALESCE(?4, message), updated_at = ?5 {claimed}"
            ),
            amend_finished: format!(
                "UPDATE {t} SET status = ?3, message = COALESCE(?4, message), result = COALESCE(?5, result), \
                 last_error = CASE WHEN ?3 = 100 THEN COALESCE(?4, last_error) ELSE last_error END, \
                 progress = CASE WHEN ?3 = 80 THEN 100 ELSE progress END, finished_at = ?6, updated_at = ?6 \
                 WHERE id = ?1 AND fence = ?2 AND status IN (80, 90, 100)"
            ),
            reschedule_pending: format!(
                "UPDATE {t} SET available_at = ?2, updated_at = ?3 WHERE id = ?1 AND status = 10"
            ),
            complete_claimed: format!(
                "UPDATE {t} SET status = 80, progress = 100, result = ?3, message = ?4, finished_at = ?5, \
                 updated_at = ?5, {release_lease} {claimed}"
            ),
            retry_claimed: format!(
                "UPDATE {t} SET status = 10, available_at = ?3, last_error = ?4, message = ?5, updated_at = ?6, \
                 {release_lease} {claimed}"
            ),
            fail_claimed: format!(
                "UPDATE {t} SET status = 100, last_error = ?3, message = ?4, finished_at = ?5, updated_at = ?5, \
                 {release_lease} {claimed}"
            ),
            cancel_claimed: format!(
                "UPDATE {t} SET status = 90, message = ?3, finished_at = ?4, updated_at = ?4, {release_lease} {claimed}"
            ),
            release_claimed: format!(
                "UPDATE {t} SET status = 10, attempts = MAX(attempts - 1, 0), start_at = NULL, updated_at = ?3, \
                 {release_lease} {claimed}"
            ),
            complete_pending: format!(
                "UPDATE {t} SET status = 80, progress = 100, result = ?2, message = ?3, finished_at = ?4, \
                 updated_at = ?4 WHERE id = ?1 AND status = 10"
            ),
            fail_pending: format!(
                "UPDATE {t} SET status = 100, message = ?2, last_error = ?2, finished_at = ?3, updated_at = ?3 \
                 WHERE id = ?1 AND status = 10"
            ),
            cancel_pending: format!(
                "UPDATE {t} SET status = 90, message = 'Cancelled', finished_at = ?2, updated_at = ?2 \
                 WHERE id = ?1 AND status = 10"
            ),
            request_cancel: format!(
                "UPDATE {t} SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1 AND status IN (30, 50)"
            ),
            retry_finished: format!(
                "UPDATE {t} SET status = 10, attempts = 0, progress = 0, available_at = ?2, finished_at = NULL, \
                 start_at = NULL, cancel_requested = 0, message = 'Queued again by retry', updated_at = ?3, \
                 {release_lease} WHERE id = ?1 AND status IN (90, 100)"
            ),
            next_due: format!(
                "SELECT (SELECT MIN(available_at) FROM {t} WHERE status = 10), \
                 (SELECT MIN(lease_expires_at) FROM {t} WHERE status IN (30, 50))"
            ),
            next_due_for: format!(
                "SELECT (SELECT MIN(available_at) FROM {t} WHERE status = 10 \
                 AND identifier IN (SELECT value FROM json_each(?1))), \
                 (SELECT MIN(lease_expires_at) FROM {t} WHERE status IN (30, 50))"
            ),
            put_snapshot: format!(
                "INSERT INTO {progress} (task_id, snapshot, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (task_id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at \
                 WHERE excluded.updated_at >= {progress}.updated_at"
            ),
            get_snapshot: format!("SELECT snapshot FROM {progress} WHERE task_id = ?1"),
            put_log: format!(
                "INSERT INTO {logs} (task_id, logged_at, level, message, context) VALUES (?1, ?2, ?3, ?4, ?5)"
            ),
            get_logs: format!(
                "SELECT logged_at, level, message, context FROM {logs} WHERE task_id = ?1 ORDER BY id DESC LIMIT ?2"
            ),
            get_logs_level: format!(
                "SELECT logged_at, level, message, context FROM {logs} WHERE task_id = ?1 AND level = ?3 \
                 ORDER BY id DESC LIMIT ?2"
            ),
            has_logs: format!("SELECT 1 FROM {logs} WHERE task_id = ?1 LIMIT 1"),
            get_logs_after: format!(
                "SELECT logged_at, level, message, context, id FROM {logs} WHERE task_id = ?1 AND id > ?2 \
                 ORDER BY id LIMIT ?3"
            ),
            progress,
            logs,
            tasks: t,
        }
    }
}

fn read_log(row: &Row<'_>) -> rusqlite::Result<LogEntry> {
    let level: String = row.get(1)?;
    let context: Option<String> = row.get(3)?;
    Ok(LogEntry {
        time: row.get(0)?,
        level: Level::parse(&level).unwrap_or(Level::Info),
        message: row.get(2)?,
        context: context.and_then(|c| serde_json::from_str(&c).ok()),
    })
}

/// A SQLite database holding the tasks.
pub struct SqliteStore {
    conn: Connection,
    config: Config,
    sql: Sql,
}

impl SqliteStore {
    pub fn open(config: &Config) -> Result<SqliteStore> {
        let conn = match &config.backend {
            Backend::SqliteFile(path) => {
                let flags =
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                Connection::open_with_flags(path, flags)
                    .map_err(|e| Error::Config(format!("cannot open SQLite database {}: {e}", path.display())))?
            }
            Backend::SqliteMemory => Connection::open_in_memory()?,
            other => return Err(Error::Config(format!("not a SQLite URL: {}", other.name()))),
        };
        conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms as u64))?;
        if let Backend::SqliteFile(path) = &config.backend {
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(|e| Error::Config(format!("cannot use SQLite database {}: {e}", path.display())))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Config(format!(
                    "SQLite database {} cannot use WAL mode (got {mode}); is it on a network file system?",
                    path.display()
                )));
            }
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteStore { conn, sql: Sql::new(config), config: config.clone() })
    }
}

/// A writing transaction that takes the write lock up front (`BEGIN IMMEDIATE`), so it never
/// fails half-way on a stale snapshot. BEGIN and COMMIT are cached statements: parsing them
/// on every write costs more than a small insert. Rolled back if dropped uncommitted.
struct WriteTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> WriteTx<'c> {
    fn begin(conn: &'c Connection) -> Result<WriteTx<'c>> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(WriteTx { conn, open: true })
    }

    fn commit(mut self) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn read_task(row: &Row<'_>) -> rusqlite::Result<Task> {
    let meta: Option<String> = row.get(5)?;
    let result: Option<String> = row.get(10)?;
    let legacy_time = |i: usize| -> rusqlite::Result<Option<Millis>> {
        Ok(row.get::<_, Option<String>>(i)?.as_deref().and_then(parse_sql_text))
    };
    Ok(Task {
        id: row.get(0)?,
        identifier: row.get(1)?,
        action: row.get(2)?,
        status: Status::from_code(row.get(3)?),
        priority: Priority::from_stored(&row.get::<_, String>(4)?),
        data: meta.map(|m| decode_json(&m)).unwrap_or_else(|| Value::Array(Vec::new())),
        progress: row.get(6)?,
        attempts: row.get(7)?,
        max_attempts: row.get(8)?,
        message: row.get(9)?,
        result: result.map(|r| decode_json(&r)),
        last_error: row.get(11)?,
        started_by: row.get(12)?,
        available_at: row.get(13)?,
        started_at: legacy_time(14)?,
        finished_at: legacy_time(15)?,
        created_at: legacy_time(16)?,
        updated_at: legacy_time(17)?,
        cancel_requested: row.get::<_, i64>(18)? != 0,
        fence: row.get(19)?,
        locked_by: row.get(20)?,
        lease_expires_at: row.get(21)?,
        unique_key: row.get(22)?,
    })
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation)
}

impl Store for SqliteStore {
    fn migrate(&mut self) -> Result<MigrationReport> {
        sqlite_schema::migrate(&mut self.conn, &self.config)
    }

    fn insert(&mut self, tasks: Vec<NewTask>, now: Millis) -> Result<Vec<Task>> {
        let default_attempts = self.config.max_attempts;
        // Encode everything before touching the database: bad input writes nothing.
        let encoded = tasks.iter().map(|t| encode_json("data", &t.data)).collect::<Result<Vec<_>>>()?;
        let now_text = to_sql_text_ms(now);
        let tx = WriteTx::begin(&self.conn)?;
        let mut out = Vec::with_capacity(tasks.len());
        {
            let mut stmt = tx.prepare_cached(&self.sql.insert)?;
            for (task, meta) in tasks.into_iter().zip(&encoded) {
                let max_attempts = task.max_attempts.unwrap_or(default_attempts);
                let available_at = task.available_at.unwrap_or(now);
                let inserted = stmt.insert(params![
                    task.identifier,
                    task.action,
                    "Queued",
                    task.started_by,
                    meta,
                    max_attempts,
                    task.priority.name(),
                    task.priority.rank(),
                    available_at,
                    now_text,
                    task.unique_key,
                ]);
                let id = match inserted {
                    Ok(id) => id,
                    Err(err) if task.unique_key.is_some() && is_unique_violation(&err) => {
                        // An unfinished task already holds the key: that task is the answer.
                        let existing =
                            tx.prepare_cached(&self.sql.find_unique)?.query_row([&task.unique_key], read_task)?;
                        out.push(existing);
                        continue;
                    }
                    Err(err) => return Err(err.into()),
                };
                out.push(task.stored(id, max_attempts, available_at, now));
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn find(&mut self, id: i64) -> Result<Option<Task>> {
        let mut stmt = self.conn.prepare_cached(&self.sql.find)?;
        Ok(stmt.query_row([id], read_task).optional()?)
    }

    fn claim(&mut self, req: &ClaimRequest<'_>) -> Result<Vec<Task>> {
        let now_text = to_sql_text_ms(req.now);
        let filter = (!req.identifiers.is_empty()).then(|| serde_json::to_string(req.identifiers).unwrap_or_default());
        let ids = (!req.ids.is_empty()).then(|| serde_json::to_string(req.ids).unwrap_or_default());
        let tx = WriteTx::begin(&self.conn)?;
        let mut tasks = {
            let limit = req.limit as i64;
            match (&filter, &ids) {
                (_, Some(ids)) => {
                    let mut stmt = tx.prepare_cached(&self.sql.claim_ids)?;
                    stmt.query_map(params![req.owner, req.lease_until, req.now, now_text, limit, ids], read_task)?
                        .collect::<rusqlite::Result<Vec<_>>>()?
                }
                (None, None) => {
                    let mut stmt = tx.prepare_cached(&self.sql.claim)?;
                    stmt.query_map(params![req.owner, req.lease_until, req.now, now_text, limit], read_task)?
                        .collect::<rusqlite::Result<Vec<_>>>()?
                }
                (Some(list), None) => {
                    let mut stmt = tx.prepare_cached(&self.sql.claim_for)?;
                    stmt.query_map(params![req.owner, req.lease_until, req.now, now_text, limit, list], read_task)?
                        .collect::<rusqlite::Result<Vec<_>>>()?
                }
            }
        };
        tx.commit()?;
        sort_claimed(&mut tasks);
        Ok(tasks)
    }

    fn rescue_expired(&mut self, now: Millis, retry: &RetryPolicy) -> Result<Vec<Rescued>> {
        let now_text = to_sql_text_ms(now);
        let tx = WriteTx::begin(&self.conn)?;
        let expired = {
            let mut stmt = tx.prepare_cached(&self.sql.expired)?;
            stmt.query_map([now], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)? != 0,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut rescued = Vec::with_capacity(expired.len());
        for (id, fence, attempts, max_attempts, cancel_requested, owner) in expired {
            let who = owner.as_deref().unwrap_or("an unknown worker");
            let (status, available_at, changed) = if cancel_requested {
                let msg = format!("Cancelled: the worker ({who}) stopped responding before it could stop the task");
                let n = tx
                    .prepare_cached(&self.sql.rescue_to_cancelled)?
                    .execute(params![id, fence, now_text, msg, now])?;
                (Status::Cancelled, None, n)
            } else if attempts >= max_attempts {
                let msg = format!(
                    "Failed: the worker ({who}) stopped responding (lease expired) on the last attempt ({attempts}/{max_attempts})"
                );
                let n =
                    tx.prepare_cached(&self.sql.rescue_to_failed)?.execute(params![id, fence, now_text, msg, now])?;
                (Status::Failed, None, n)
            } else {
                let at = now + retry.delay_ms(attempts);
                let msg = format!(
                    "Attempt {attempts}/{max_attempts} lost: the worker ({who}) stopped responding (lease expired)"
                );
                let n = tx
                    .prepare_cached(&self.sql.rescue_to_pending)?
                    .execute(params![id, fence, at, now_text, msg, now])?;
                (Status::Pending, Some(at), n)
            };
            if changed == 1 {
                rescued.push(Rescued { id, status, attempts, max_attempts, previous_owner: owner, available_at });
            }
        }
        tx.commit()?;
        Ok(rescued)
    }

    fn renew(&mut self, leases: &[Lease], lease_until: Millis, now: Millis) -> Result<Renewal> {
        let mut renewal = Renewal::default();
        if leases.is_empty() {
            return Ok(renewal);
        }
        let tx = WriteTx::begin(&self.conn)?;
        {
            let mut stmt = tx.prepare_cached(&self.sql.renew)?;
            for lease in leases {
                match stmt
                    .query_row(params![lease.id, lease.fence, lease_until, now], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    None => renewal.lost.push(lease.id),
                    Some(flag) if flag != 0 => renewal.cancel_requested.push(lease.id),
                    Some(_) => {}
                }
            }
        }
        tx.commit()?;
        Ok(renewal)
    }

    fn inspect(&mut self, leases: &[Lease]) -> Result<Renewal> {
        let mut renewal = Renewal::default();
        if leases.is_empty() {
            return Ok(renewal);
        }
        let ids = serde_json::to_string(&leases.iter().map(|l| l.id).collect::<Vec<_>>()).unwrap_or_default();
        let mut stmt = self.conn.prepare_cached(&self.sql.inspect)?;
        let rows = stmt
            .query_map([ids], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
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
        Ok(renewal)
    }

    fn save_progress(&mut self, lease: Lease, progress: i64, message: Option<&str>, now: Millis) -> Result<bool> {
        let tx = WriteTx::begin(&self.conn)?;
        let n = tx.prepare_cached(&self.sql.save_progress)?.execute(params![
            lease.id,
            lease.fence,
            progress,
            message,
            to_sql_text_ms(now)
        ])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn mark_running(&mut self, lease: Lease, status: Status, message: Option<&str>, now: Millis) -> Result<bool> {
        let tx = WriteTx::begin(&self.conn)?;
        let n = tx.prepare_cached(&self.sql.mark_running)?.execute(params![
            lease.id,
            lease.fence,
            status.code(),
            message,
            to_sql_text_ms(now)
        ])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn amend_finished(
        &mut self,
        lease: Lease,
        status: Status,
        message: Option<&str>,
        result: Option<&str>,
        now: Millis,
    ) -> Result<bool> {
        let tx = WriteTx::begin(&self.conn)?;
        let n = tx.prepare_cached(&self.sql.amend_finished)?.execute(params![
            lease.id,
            lease.fence,
            status.code(),
            message,
            result,
            to_sql_text_ms(now)
        ])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn reschedule_pending(&mut self, id: i64, available_at: Millis, now: Millis) -> Result<bool> {
        let tx = WriteTx::begin(&self.conn)?;
        let n =
            tx.prepare_cached(&self.sql.reschedule_pending)?.execute(params![id, available_at, to_sql_text_ms(now)])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn finish(&mut self, batch: &[Finish], now: Millis) -> Result<Vec<bool>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now_text = to_sql_text_ms(now);
        let tx = WriteTx::begin(&self.conn)?;
        let mut applied = Vec::with_capacity(batch.len());
        for Finish { lease, transition } in batch {
            let (id, fence) = (lease.id, lease.fence);
            let n = match transition {
                Transition::Complete { result, message } => tx
                    .prepare_cached(&self.sql.complete_claimed)?
                    .execute(params![id, fence, result, message, now_text])?,
                Transition::Retry { error, message, available_at } => tx
                    .prepare_cached(&self.sql.retry_claimed)?
                    .execute(params![id, fence, available_at, error, message, now_text])?,
                Transition::Fail { error, message } => {
                    tx.prepare_cached(&self.sql.fail_claimed)?.execute(params![id, fence, error, message, now_text])?
                }
                Transition::Cancel { message } => {
                    tx.prepare_cached(&self.sql.cancel_claimed)?.execute(params![id, fence, message, now_text])?
                }
                Transition::Release => {
                    tx.prepare_cached(&self.sql.release_claimed)?.execute(params![id, fence, now_text])?
                }
            };
            applied.push(n == 1);
        }
        tx.commit()?;
        Ok(applied)
    }

    fn complete_pending(&mut self, id: i64, result: Option<&str>, message: &str, now: Millis) -> Result<bool> {
        let tx = WriteTx::begin(&self.conn)?;
        let n = tx.prepare_cached(&self.sql.complete_pending)?.execute(params![
            id,
            result,
            message,
            to_sql_text_ms(now)
        ])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn fail_pending(&mut self, id: i64, message: &str, now: Millis) -> Result<bool> {
        let tx = WriteTx::begin(&self.conn)?;
        let n = tx.prepare_cached(&self.sql.fail_pending)?.execute(params![id, message, to_sql_text_ms(now)])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn cancel(&mut self, id: i64, now: Millis) -> Result<Option<CancelOutcome>> {
        let now_text = to_sql_text_ms(now);
        let tx = WriteTx::begin(&self.conn)?;
        let outcome = if tx.prepare_cached(&self.sql.cancel_pending)?.execute(params![id, now_text])? == 1 {
            Some(CancelOutcome::Cancelled)
        } else if tx.prepare_cached(&self.sql.request_cancel)?.execute(params![id, now_text])? == 1 {
            Some(CancelOutcome::Requested)
        } else {
            tx.prepare_cached(&self.sql.find)?
                .query_row([id], read_task)
                .optional()?
                .map(|t| CancelOutcome::AlreadyFinished(t.status))
        };
        tx.commit()?;
        Ok(outcome)
    }

    fn retry(&mut self, id: i64, now: Millis) -> Result<bool> {
        let tx = WriteTx::begin(&self.conn)?;
        let n = match tx.prepare_cached(&self.sql.retry_finished)?.execute(params![id, now, to_sql_text_ms(now)]) {
            Err(err) if is_unique_violation(&err) => {
                let status = tx.prepare_cached(&self.sql.find)?.query_row([id], read_task)?.status;
                return Err(unique_key_taken(id, status));
            }
            other => other?,
        };
        tx.commit()?;
        Ok(n == 1)
    }

    fn stats(&mut self) -> Result<Stats> {
        let t = &self.sql.tasks;
        let mut stats = Stats::default();
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT status, COUNT(*) FROM {t} GROUP BY status ORDER BY status"))?;
        stats.by_status =
            stmt.query_map([], |r| Ok((Status::from_code(r.get(0)?), r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT identifier, status, COUNT(*) FROM {t} GROUP BY identifier, status ORDER BY identifier, status"
        ))?;
        stats.by_identifier = stmt
            .query_map([], |r| Ok((r.get(0)?, Status::from_code(r.get(1)?), r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(stats)
    }

    fn finished_before(&mut self, before: Millis) -> Result<Vec<i64>> {
        let t = &self.sql.tasks;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id FROM {t} WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL AND finished_at <= ?1"
        ))?;
        let ids = stmt.query_map([to_sql_text_ms(before)], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    fn prune(&mut self, before: Millis) -> Result<Vec<i64>> {
        let t = self.sql.tasks.clone();
        let before_text = to_sql_text_ms(before);
        let tx = WriteTx::begin(&self.conn)?;
        let ids: Vec<i64> = tx
            .prepare_cached(&format!(
                "SELECT id FROM {t} WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL AND finished_at <= ?1"
            ))?
            .query_map([&before_text], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            tx.execute(
                &format!("DELETE FROM {t} WHERE status IN (80, 90, 100) AND id IN ({marks})"),
                params_from_iter(chunk.iter()),
            )?;
        }
        tx.commit()?;
        Ok(ids)
    }

    fn delete(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let t = &self.sql.tasks;
        let list = serde_json::to_string(ids).unwrap_or_default();
        let tx = WriteTx::begin(&self.conn)?;
        let deleted: Vec<i64> = tx
            .prepare_cached(&format!(
                "DELETE FROM {t} WHERE id IN (SELECT value FROM json_each(?1)) AND status NOT IN (30, 50) RETURNING id"
            ))?
            .query_map([list], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        tx.commit()?;
        Ok(deleted)
    }

    fn finished_since(&mut self, since: Millis, limit: usize) -> Result<Vec<Timing>> {
        let t = &self.sql.tasks;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT identifier, status, available_at, start_at, finished_at FROM {t} \
             WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL AND finished_at >= ?1 \
             ORDER BY finished_at DESC LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![to_sql_text_ms(since), limit as i64], |r| {
                Ok(Timing {
                    identifier: r.get(0)?,
                    status: Status::from_code(r.get(1)?),
                    available_at: r.get(2)?,
                    started_at: r.get::<_, Option<String>>(3)?.as_deref().and_then(parse_sql_text),
                    finished_at: r.get::<_, Option<String>>(4)?.as_deref().and_then(parse_sql_text),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn sibling(&self) -> Result<Option<Box<dyn Store>>> {
        match self.config.backend {
            Backend::SqliteMemory => Ok(None),
            _ => Ok(Some(Box::new(SqliteStore::open(&self.config)?))),
        }
    }

    fn next_due(&mut self, identifiers: &[String]) -> Result<Option<Millis>> {
        let both = |r: &Row<'_>| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?));
        let (due, lease) = if identifiers.is_empty() {
            self.conn.prepare_cached(&self.sql.next_due)?.query_row([], both)?
        } else {
            let list = serde_json::to_string(identifiers).unwrap_or_default();
            self.conn.prepare_cached(&self.sql.next_due_for)?.query_row([list], both)?
        };
        Ok(due.into_iter().chain(lease).min())
    }

    fn put_snapshot(&mut self, id: i64, snapshot: &str, updated_at: Millis) -> Result<()> {
        let tx = WriteTx::begin(&self.conn)?;
        tx.prepare_cached(&self.sql.put_snapshot)?.execute(params![id, snapshot, updated_at])?;
        tx.commit()
    }

    fn get_snapshot(&mut self, id: i64) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached(&self.sql.get_snapshot)?;
        Ok(stmt.query_row([id], |r| r.get(0)).optional()?)
    }

    fn with_snapshots(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        let mut found = Vec::new();
        let mut stmt = self.conn.prepare_cached(&self.sql.get_snapshot)?;
        for id in ids {
            if stmt.exists([id])? {
                found.push(*id);
            }
        }
        Ok(found)
    }

    fn put_logs(&mut self, entries: &[(i64, &LogEntry)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let tx = WriteTx::begin(&self.conn)?;
        {
            let mut stmt = tx.prepare_cached(&self.sql.put_log)?;
            for (id, e) in entries {
                let context = e.context.as_ref().map(|c| c.to_string());
                stmt.execute(params![id, e.time, e.level.name(), e.message, context])?;
            }
        }
        tx.commit()
    }

    fn get_logs(&mut self, id: i64, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let mut entries = match level {
            None => {
                let mut stmt = self.conn.prepare_cached(&self.sql.get_logs)?;
                stmt.query_map(params![id, limit], read_log)?.collect::<rusqlite::Result<Vec<_>>>()?
            }
            Some(level) => {
                let mut stmt = self.conn.prepare_cached(&self.sql.get_logs_level)?;
                stmt.query_map(params![id, limit, level.name()], read_log)?.collect::<rusqlite::Result<Vec<_>>>()?
            }
        };
        entries.reverse();
        Ok(entries)
    }

    fn has_logs(&mut self, id: i64) -> Result<bool> {
        Ok(self.conn.prepare_cached(&self.sql.has_logs)?.exists([id])?)
    }

    fn get_logs_after(&mut self, id: i64, after: i64, limit: usize) -> Result<Vec<(i64, LogEntry)>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let mut stmt = self.conn.prepare_cached(&self.sql.get_logs_after)?;
        let rows = stmt
            .query_map(params![id, after, limit], |r| Ok((r.get(4)?, read_log(r)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn delete_journal(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (progress, logs) = (self.sql.progress.clone(), self.sql.logs.clone());
        let tx = WriteTx::begin(&self.conn)?;
        let mut had = Vec::new();
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut stmt = tx.prepare(&format!(
                "SELECT task_id FROM {progress} WHERE task_id IN ({marks}) \
                 UNION SELECT DISTINCT task_id FROM {logs} WHERE task_id IN ({marks})"
            ))?;
            let found = stmt
                .query_map(params_from_iter(chunk.iter().chain(chunk.iter())), |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            had.extend(found);
            tx.execute(&format!("DELETE FROM {progress} WHERE task_id IN ({marks})"), params_from_iter(chunk.iter()))?;
            tx.execute(&format!("DELETE FROM {logs} WHERE task_id IN ({marks})"), params_from_iter(chunk.iter()))?;
        }
        tx.commit()?;
        had.sort_unstable();
        Ok(had)
    }
}
