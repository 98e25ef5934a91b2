//! MySQL 8 and MariaDB 10.5+ through sqlx. A claim locks its rows with
//! `SELECT … FOR UPDATE SKIP LOCKED` (MySQL ≥ 8.0.1, MariaDB ≥ 10.6) and moves them to running
//! in the same transaction; older servers lock with a plain `FOR UPDATE`, which is just as
//! correct but makes workers queue on the same rows. Sessions use READ COMMITTED, so claims lock
//! only the rows they take (no gap locks that would block inserts). There is no
//! `UPDATE … RETURNING`: batch writes first lock their rows and check their fencing tokens.

use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Row};

use crate::config::{Backend, ClaimLocking, Config};
use crate::error::{Error, Result};
use crate::files::{Level, LogEntry};
use crate::retry::RetryPolicy;
use crate::store::server::{
    Fail, Link, Mode, context_text, is_unique_violation, log_from_row, task_from_row, timing_from_row,
};
use crate::store::{
    CancelOutcome, ClaimRequest, Finish, Lease, MigrationReport, Renewal, Rescued, Stats, Store, Timing, Transition,
    claimed, mysql_schema, renewal_from_rows, rescue_plan, sort_claimed, unique_key_taken, unique_keys,
};
use crate::task::{NewTask, Status, Task, encode_json};
use crate::time::Millis;

/// Session settings of every connection: claims lock only the rows they read.
const SESSION: &[&str] = &["SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"];
/// Rows per multi-row statement (a power of two), and the bytes of task data after which a
/// statement is sent.
const ROWS_PER_STATEMENT: usize = 256;
const BYTES_PER_STATEMENT: usize = 2 * 1024 * 1024;

/// A timestamp column's value from Unix milliseconds in a `?` parameter (sessions use UTC).
const TS: &str = "FROM_UNIXTIME(? / 1000)";

fn ms(column: &str) -> String {
    format!("CAST(ROUND(UNIX_TIMESTAMP({column}) * 1000) AS SIGNED)")
}

/// The task columns in [`task_from_row`]'s order, every integer signed 64-bit.
fn task_columns() -> String {
    let int = |c: &str| format!("CAST({c} AS SIGNED)");
    format!(
        "{}, identifier, action, {}, priority, meta, {}, {}, {}, message, result, last_error, {}, {}, {}, {}, {}, {}, \
         {}, {}, locked_by, {}, unique_key",
        int("id"),
        int("status"),
        int("progress"),
        int("attempts"),
        int("max_attempts"),
        int("started_by"),
        int("available_at"),
        ms("start_at"),
        ms("finished_at"),
        ms("created_at"),
        ms("updated_at"),
        int("cancel_requested"),
        int("fence"),
        int("lease_expires_at"),
    )
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// `sql` with these ids bound to its `?` marks, in order.
fn with_ids<'q>(
    sql: String,
    ids: impl IntoIterator<Item = &'q i64>,
) -> sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    ids.into_iter().fold(sqlx::query(AssertSqlSafe(sql)), |query, id| query.bind(id))
}

/// `items` padded to a power of two by repeating the last one, so that `IN (…)` lists come in
/// few shapes. Every statement stays prepared on its connection: a statement prepared for one
/// use is closed right after, and that reply-less close stalls the next statement on Nagle's
/// algorithm and delayed ACKs (about 40 ms here; sqlx sets no TCP_NODELAY).
fn padded<T: Clone>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    if let Some(last) = items.last() {
        out.resize(items.len().next_power_of_two(), last.clone());
    }
    out
}

/// Splits `n` rows into power-of-two chunks of at most `max` (a power of two), largest first.
fn chunk_sizes(mut n: usize, max: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let size = if n >= max { max } else { 1 << (usize::BITS - 1 - n.leading_zeros()) };
        sizes.push(size);
        n -= size;
    }
    sizes
}

/// What the server can do, learned once per store.
#[derive(Debug, Clone, Copy)]
struct Server {
    skip_locked: bool,
    /// Multi-row inserts get consecutive ids (`innodb_autoinc_lock_mode` 0 or 1), spaced by
    /// `increment`; otherwise rows are inserted one statement each.
    consecutive_ids: bool,
    increment: i64,
}

/// A MySQL or MariaDB database holding the tasks.
pub struct MySqlStore {
    link: Link<MySqlConnection>,
    config: Config,
    server: Server,
    t: String,
    cols: String,
    progress: String,
    logs: String,
}

/// Parses `VERSION()`: "8.0.36", "10.11.19-MariaDB-0+deb12u1".
fn supports_skip_locked(version: &str) -> bool {
    let mut parts = version.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty());
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    let (major, minor, patch) = (next(), next(), next());
    if version.to_ascii_lowercase().contains("mariadb") {
        (major, minor) >= (10, 6)
    } else {
        (major, minor, patch) >= (8, 0, 1)
    }
}

impl MySqlStore {
    pub fn open(config: &Config) -> Result<MySqlStore> {
        let Backend::MySql(url) = &config.backend else {
            return Err(Error::Config("not a MySQL URL".into()));
        };
        let options = MySqlConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("invalid MySQL URL: {e}")))?
            .charset("utf8mb4")
            // Room for every statement shape (see `padded`), so none is closed and re-prepared.
            .statement_cache_capacity(512);
        let mut link = Link::open("MySQL", SESSION, url, options)?;
        let (version, lock_mode, increment) = link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let row = sqlx::query(
                "SELECT VERSION(), CAST(@@innodb_autoinc_lock_mode AS SIGNED), CAST(@@auto_increment_increment AS SIGNED)",
            )
            .fetch_one(&mut *conn)
            .await?;
            Ok((row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?, row.try_get::<i64, _>(2)?))
        })?;
        let server = Server {
            skip_locked: supports_skip_locked(&version) && config.claim_locking == ClaimLocking::Auto,
            consecutive_ids: lock_mode < 2,
            increment: increment.max(1),
        };
        Ok(MySqlStore {
            link,
            server,
            t: format!("`{}`", config.tasks_table()),
            cols: task_columns(),
            progress: format!("`{}`", config.progress_table()),
            logs: format!("`{}`", config.logs_table()),
            config: config.clone(),
        })
    }

    fn lock_clause(&self) -> &'static str {
        if self.server.skip_locked { "FOR UPDATE SKIP LOCKED" } else { "FOR UPDATE" }
    }
}

/// Rows of (id, fence, status, cancel_requested) for these ids, locked when `lock` is set.
async fn current(
    conn: &mut MySqlConnection,
    t: &str,
    ids: &[i64],
    lock: bool,
) -> Result<Vec<(i64, i64, i64, i64)>, Fail> {
    let ids = padded(ids);
    let sql = format!(
        "SELECT CAST(id AS SIGNED), CAST(fence AS SIGNED), CAST(status AS SIGNED), CAST(cancel_requested AS SIGNED) \
         FROM {t} WHERE id IN ({}) ORDER BY id{}",
        marks(ids.len()),
        if lock { " FOR UPDATE" } else { "" }
    );
    let rows = with_ids(sql, &ids).fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

/// `UPDATE {t} SET {set} WHERE id IN (ids) AND {guard}` with `values` bound before the ids.
async fn update_ids(
    conn: &mut MySqlConnection,
    t: &str,
    set: &str,
    values: &[Value<'_>],
    ids: &[i64],
    guard: &str,
) -> Result<u64, Fail> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ids = padded(ids);
    let sql = format!("UPDATE {t} SET {set} WHERE id IN ({}) AND {guard}", marks(ids.len()));
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for v in values {
        query = match v {
            Value::Int(i) => query.bind(*i),
            Value::Text(s) => query.bind(*s),
        };
    }
    for id in &ids {
        query = query.bind(id);
    }
    Ok(query.execute(&mut *conn).await?.rows_affected())
}

/// What inserting one task gave: a new row, or the unfinished task that holds its key.
enum Written {
    New(i64),
    Existing(Task),
}

/// A bound value of a batch update.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Int(i64),
    Text(Option<&'a str>),
}

/// Ids grouped by the values their update sets, so that equal outcomes share one statement.
fn group<'a>(items: impl Iterator<Item = (i64, Vec<Value<'a>>)>) -> Vec<(Vec<Value<'a>>, Vec<i64>)> {
    let mut groups: Vec<(Vec<Value<'a>>, Vec<i64>)> = Vec::new();
    for (id, key) in items {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((key, vec![id])),
        }
    }
    groups
}

impl Store for MySqlStore {
    fn migrate(&mut self) -> Result<MigrationReport> {
        let config = self.config.clone();
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| mysql_schema::migrate(conn, &config).await)
    }

    fn insert(&mut self, tasks: Vec<NewTask>, now: Millis) -> Result<Vec<Task>> {
        let encoded = tasks.iter().map(|t| encode_json("data", &t.data)).collect::<Result<Vec<_>>>()?;
        let default_attempts = self.config.max_attempts;
        let server = self.server;
        let t = &self.t;
        let keys = unique_keys(&tasks);
        let order = &keys.insert;
        let columns = "identifier, action, status, message, started_by, meta, attempts, max_attempts, priority, \
                       priority_rank, progress, available_at, created_at, updated_at, unique_key";
        let row_marks = format!("(?, ?, 10, 'Queued', ?, ?, 0, ?, ?, ?, 0, ?, {TS}, {TS}, ?)");
        let holder = format!("SELECT {} FROM {t} WHERE unfinished_key = ?", self.cols);
        let written: Vec<Written> = self.link.run(Mode::Transaction, async |conn: &mut MySqlConnection| {
            let mut written = Vec::with_capacity(order.len());
            let mut start = 0;
            while start < order.len() {
                // A keyed task goes alone (its key may be taken); the others go in multi-row
                // statements when the server hands out consecutive ids.
                let keyed = tasks[order[start]].unique_key.is_some();
                let mut end = start + 1;
                if server.consecutive_ids && !keyed {
                    let mut bytes = encoded[order[start]].len();
                    while end < order.len()
                        && tasks[order[end]].unique_key.is_none()
                        && end - start < ROWS_PER_STATEMENT
                        && bytes < BYTES_PER_STATEMENT
                    {
                        bytes += encoded[order[end]].len();
                        end += 1;
                    }
                }
                for size in chunk_sizes(end - start, ROWS_PER_STATEMENT) {
                    let rows = &order[start..start + size];
                    let sql =
                        format!("INSERT INTO {t} ({columns}) VALUES {}", vec![row_marks.as_str(); size].join(", "));
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for &i in rows {
                        let task = &tasks[i];
                        query = query
                            .bind(&task.identifier)
                            .bind(&task.action)
                            .bind(task.started_by)
                            .bind(&encoded[i])
                            .bind(task.max_attempts.unwrap_or(default_attempts))
                            .bind(task.priority.name())
                            .bind(task.priority.rank())
                            .bind(task.available_at.unwrap_or(now))
                            .bind(now)
                            .bind(now)
                            .bind(task.unique_key.as_deref());
                    }
                    match (query.execute(&mut *conn).await, &tasks[rows[0]].unique_key) {
                        (Ok(done), _) => {
                            let first = done.last_insert_id() as i64;
                            written.extend((0..size as i64).map(|i| Written::New(first + i * server.increment)));
                        }
                        (Err(err), Some(key)) if is_unique_violation(&err) => {
                            // The failed statement alone was rolled back; the duplicate check
                            // share-locked the holder's index entry, so the holder stays put.
                            let row = sqlx::query(AssertSqlSafe(holder.as_str()))
                                .bind(key.as_bytes())
                                .fetch_optional(&mut *conn)
                                .await?;
                            let Some(row) = row else { return Err(Fail::Sql(err)) };
                            written.push(Written::Existing(task_from_row(&row)?));
                        }
                        (Err(err), _) => return Err(Fail::Sql(err)),
                    }
                    start += size;
                }
            }
            Ok(written)
        })?;
        let mut tasks: Vec<Option<NewTask>> = tasks.into_iter().map(Some).collect();
        let stored: Vec<Task> = order
            .iter()
            .zip(written)
            .map(|(&i, w)| match w {
                Written::New(id) => {
                    let task = tasks[i].take().expect("each task is written once");
                    let max_attempts = task.max_attempts.unwrap_or(default_attempts);
                    let available_at = task.available_at.unwrap_or(now);
                    task.stored(id, max_attempts, available_at, now)
                }
                Written::Existing(task) => task,
            })
            .collect();
        Ok(keys.answer.iter().map(|at| stored[*at].clone()).collect())
    }

    fn find(&mut self, id: i64) -> Result<Option<Task>> {
        let sql = format!("SELECT {} FROM {} WHERE id = ?", self.cols, self.t);
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let row = sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *conn).await?;
            Ok(row.map(|r| task_from_row(&r)).transpose()?)
        })
    }

    fn claim(&mut self, req: &ClaimRequest<'_>) -> Result<Vec<Task>> {
        // Explicitly requested tasks run now, whatever their not-before time.
        let ids = padded(req.ids);
        let identifiers = if ids.is_empty() { padded(req.identifiers) } else { Vec::new() };
        let filter = if !ids.is_empty() {
            format!("AND id IN ({})", marks(ids.len()))
        } else if !identifiers.is_empty() {
            format!("AND available_at <= ? AND identifier IN ({})", marks(identifiers.len()))
        } else {
            "AND available_at <= ?".to_owned()
        };
        let pick = format!(
            "SELECT {} FROM {} WHERE status = 10 {filter} ORDER BY priority_rank DESC, available_at, id LIMIT ? {}",
            self.cols,
            self.t,
            self.lock_clause()
        );
        let set = format!(
            "status = 50, attempts = attempts + 1, fence = fence + 1, locked_by = ?, lease_expires_at = ?, \
             heartbeat_at = ?, start_at = {TS}, updated_at = {TS}, finished_at = NULL"
        );
        let t = &self.t;
        let mut tasks = self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let mut query = sqlx::query(AssertSqlSafe(pick.as_str())).persistent(identifiers.is_empty());
            if ids.is_empty() {
                query = query.bind(req.now);
            }
            for id in &ids {
                query = query.bind(id);
            }
            for identifier in &identifiers {
                query = query.bind(identifier);
            }
            let rows = query.bind(req.limit as i64).fetch_all(&mut *conn).await?;
            let tasks = rows.iter().map(task_from_row).collect::<Result<Vec<_>, _>>()?;
            if tasks.is_empty() {
                return Ok(tasks);
            }
            let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
            let values = [
                Value::Text(Some(req.owner)),
                Value::Int(req.lease_until),
                Value::Int(req.now),
                Value::Int(req.now),
                Value::Int(req.now),
            ];
            let changed = update_ids(conn, t, &set, &values, &ids, "status = 10").await?;
            if changed != ids.len() as u64 {
                // Cannot happen while the rows are locked; never hand out a claim that did not stick.
                return Err(Fail::Engine(Error::Database(format!(
                    "claim changed {changed} of {} locked rows",
                    ids.len()
                ))));
            }
            Ok(tasks.into_iter().map(|t| claimed(t, req)).collect::<Vec<_>>())
        })?;
        sort_claimed(&mut tasks);
        Ok(tasks)
    }

    fn rescue_expired(&mut self, now: Millis, retry: &RetryPolicy) -> Result<Vec<Rescued>> {
        let t = &self.t;
        let select = format!(
            "SELECT CAST(id AS SIGNED), CAST(fence AS SIGNED), CAST(attempts AS SIGNED), CAST(max_attempts AS SIGNED), \
             CAST(cancel_requested AS SIGNED), locked_by FROM {t} WHERE status IN (30, 50) \
             AND lease_expires_at IS NOT NULL AND lease_expires_at < ? ORDER BY id LIMIT 500 {}",
            self.lock_clause()
        );
        let release = "locked_by = NULL, lease_expires_at = NULL";
        let guard = "fence = ? AND status IN (30, 50) AND lease_expires_at < ?";
        self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let rows = sqlx::query(AssertSqlSafe(select.as_str())).bind(now).fetch_all(&mut *conn).await?;
            let mut rescued = Vec::with_capacity(rows.len());
            for row in rows {
                let (id, fence, attempts, max_attempts): (i64, i64, i64, i64) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
                let cancel_requested = row.try_get::<i64, _>(4)? != 0;
                let owner: Option<String> = row.try_get(5)?;
                let (status, available_at, message) =
                    rescue_plan(attempts, max_attempts, cancel_requested, owner.as_deref(), now, retry);
                let set = match status {
                    Status::Pending => format!(
                        "status = 10, available_at = ?, {release}, updated_at = {TS}, message = ?, last_error = ?"
                    ),
                    Status::Failed => format!(
                        "status = 100, finished_at = {TS}, {release}, updated_at = {TS}, message = ?, last_error = ?"
                    ),
                    _ => format!(
                        "status = 90, finished_at = {TS}, {release}, updated_at = {TS}, message = ?, \
                         last_error = COALESCE(?, last_error)"
                    ),
                };
                let mut query = sqlx::query(AssertSqlSafe(format!("UPDATE {t} SET {set} WHERE id = ? AND {guard}")));
                query = query.bind(if status == Status::Pending { available_at.unwrap_or(now) } else { now });
                let error = (status != Status::Cancelled).then_some(message.as_str());
                query = query.bind(now).bind(&message).bind(error).bind(id).bind(fence).bind(now);
                if query.execute(&mut *conn).await?.rows_affected() == 1 {
                    rescued.push(Rescued { id, status, attempts, max_attempts, previous_owner: owner, available_at });
                }
            }
            Ok(rescued)
        })
    }

    fn renew(&mut self, leases: &[Lease], lease_until: Millis, now: Millis) -> Result<Renewal> {
        if leases.is_empty() {
            return Ok(Renewal::default());
        }
        let ids: Vec<i64> = leases.iter().map(|l| l.id).collect();
        let t = &self.t;
        let rows = self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let rows = current(conn, t, &ids, true).await?;
            let held: Vec<i64> = leases
                .iter()
                .filter(|l| rows.iter().any(|r| r.0 == l.id && r.1 == l.fence && matches!(r.2, 30 | 50)))
                .map(|l| l.id)
                .collect();
            let values = [Value::Int(lease_until), Value::Int(now)];
            update_ids(conn, t, "lease_expires_at = ?, heartbeat_at = ?", &values, &held, "status IN (30, 50)").await?;
            Ok(rows)
        })?;
        Ok(renewal_from_rows(leases, &rows))
    }

    fn inspect(&mut self, leases: &[Lease]) -> Result<Renewal> {
        if leases.is_empty() {
            return Ok(Renewal::default());
        }
        let ids: Vec<i64> = leases.iter().map(|l| l.id).collect();
        let t = &self.t;
        let rows =
            self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| current(conn, t, &ids, false).await)?;
        Ok(renewal_from_rows(leases, &rows))
    }

    fn save_progress(&mut self, lease: Lease, progress: i64, message: Option<&str>, now: Millis) -> Result<bool> {
        let sql = format!(
            "UPDATE {} SET progress = ?, message = COALESCE(?, message), updated_at = {TS} \
             WHERE id = ? AND fence = ? AND status IN (30, 50)",
            self.t
        );
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let done = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(progress)
                .bind(message)
                .bind(now)
                .bind(lease.id)
                .bind(lease.fence)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn mark_running(&mut self, lease: Lease, status: Status, message: Option<&str>, now: Millis) -> Result<bool> {
        let sql = format!(
            "UPDATE {} SET status = ?, message = COALESCE(?, message), updated_at = {TS} \
             WHERE id = ? AND fence = ? AND status IN (30, 50)",
            self.t
        );
        let check = format!("SELECT 1 FROM {} WHERE id = ? AND fence = ? AND status IN (30, 50)", self.t);
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let done = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(status.code())
                .bind(message)
                .bind(now)
                .bind(lease.id)
                .bind(lease.fence)
                .execute(&mut *conn)
                .await?;
            // Without CLIENT_FOUND_ROWS MySQL counts changed rows only: a write within the same
            // millisecond that changes nothing is still the owner's.
            if done.rows_affected() == 1 {
                return Ok(true);
            }
            let held: Option<i64> = sqlx::query_scalar(AssertSqlSafe(check.as_str()))
                .bind(lease.id)
                .bind(lease.fence)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(held.is_some())
        })
    }

    fn amend_finished(
        &mut self,
        lease: Lease,
        status: Status,
        message: Option<&str>,
        result: Option<&str>,
        now: Millis,
    ) -> Result<bool> {
        // MySQL evaluates SET left to right: last_error reads the new status, as intended.
        let sql = format!(
            "UPDATE {} SET status = ?, message = COALESCE(?, message), result = COALESCE(?, result), \
             last_error = CASE WHEN status = 100 THEN COALESCE(?, last_error) ELSE last_error END, \
             progress = CASE WHEN status = 80 THEN 100 ELSE progress END, finished_at = {TS}, updated_at = {TS} \
             WHERE id = ? AND fence = ? AND status IN (80, 90, 100)",
            self.t
        );
        let check = format!("SELECT 1 FROM {} WHERE id = ? AND fence = ? AND status = ?", self.t);
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let done = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(status.code())
                .bind(message)
                .bind(result)
                .bind(message)
                .bind(now)
                .bind(now)
                .bind(lease.id)
                .bind(lease.fence)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 1 {
                return Ok(true);
            }
            // Nothing changed within the same millisecond is still a match.
            let held: Option<i64> = sqlx::query_scalar(AssertSqlSafe(check.as_str()))
                .bind(lease.id)
                .bind(lease.fence)
                .bind(status.code())
                .fetch_optional(&mut *conn)
                .await?;
            Ok(held.is_some())
        })
    }

    fn reschedule_pending(&mut self, id: i64, available_at: Millis, now: Millis) -> Result<bool> {
        let sql = format!("UPDATE {} SET available_at = ?, updated_at = {TS} WHERE id = ? AND status = 10", self.t);
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let done = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(available_at)
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn finish(&mut self, batch: &[Finish], now: Millis) -> Result<Vec<bool>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = batch.iter().map(|f| f.lease.id).collect();
        let t = &self.t;
        let release = "locked_by = NULL, lease_expires_at = NULL";
        let held: Vec<bool> = self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            // Lock the rows, then change only those whose fencing token is still ours.
            let rows = current(conn, t, &ids, true).await?;
            let held: Vec<bool> = batch
                .iter()
                .map(|f| rows.iter().any(|r| r.0 == f.lease.id && r.1 == f.lease.fence && matches!(r.2, 30 | 50)))
                .collect();
            let mine = || batch.iter().zip(&held).filter(|(_, h)| **h).map(|(f, _)| f);
            let completes = group(mine().filter_map(|f| match &f.transition {
                Transition::Complete { result, message } => {
                    Some((f.lease.id, vec![Value::Text(result.as_deref()), Value::Text(Some(message))]))
                }
                _ => None,
            }));
            for (values, ids) in completes {
                let set = format!(
                    "status = 80, progress = 100, result = ?, message = ?, finished_at = {TS}, updated_at = {TS}, \
                     {release}"
                );
                let values = [values[0], values[1], Value::Int(now), Value::Int(now)];
                update_ids(conn, t, &set, &values, &ids, "status IN (30, 50)").await?;
            }
            let fails = group(mine().filter_map(|f| match &f.transition {
                Transition::Fail { error, message } => {
                    Some((f.lease.id, vec![Value::Text(Some(error)), Value::Text(Some(message))]))
                }
                _ => None,
            }));
            for (values, ids) in fails {
                let set = format!(
                    "status = 100, last_error = ?, message = ?, finished_at = {TS}, updated_at = {TS}, {release}"
                );
                let values = [values[0], values[1], Value::Int(now), Value::Int(now)];
                update_ids(conn, t, &set, &values, &ids, "status IN (30, 50)").await?;
            }
            let cancels = group(mine().filter_map(|f| match &f.transition {
                Transition::Cancel { message } => Some((f.lease.id, vec![Value::Text(Some(message))])),
                _ => None,
            }));
            for (values, ids) in cancels {
                let set = format!("status = 90, message = ?, finished_at = {TS}, updated_at = {TS}, {release}");
                let values = [values[0], Value::Int(now), Value::Int(now)];
                update_ids(conn, t, &set, &values, &ids, "status IN (30, 50)").await?;
            }
            for f in mine() {
                if let Transition::Retry { error, message, available_at } = &f.transition {
                    let set = format!(
                        "status = 10, available_at = ?, last_error = ?, message = ?, updated_at = {TS}, {release}"
                    );
                    let values = [
                        Value::Int(*available_at),
                        Value::Text(Some(error)),
                        Value::Text(Some(message)),
                        Value::Int(now),
                    ];
                    update_ids(conn, t, &set, &values, &[f.lease.id], "status IN (30, 50)").await?;
                }
            }
            let releases: Vec<i64> =
                mine().filter(|f| f.transition == Transition::Release).map(|f| f.lease.id).collect();
            let set = format!(
                "status = 10, attempts = GREATEST(attempts - 1, 0), start_at = NULL, updated_at = {TS}, {release}"
            );
            update_ids(conn, t, &set, &[Value::Int(now)], &releases, "status IN (30, 50)").await?;
            Ok(held)
        })?;
        Ok(held)
    }

    fn complete_pending(&mut self, id: i64, result: Option<&str>, message: &str, now: Millis) -> Result<bool> {
        let sql = format!(
            "UPDATE {} SET status = 80, progress = 100, result = ?, message = ?, finished_at = {TS}, \
             updated_at = {TS} WHERE id = ? AND status = 10",
            self.t
        );
        self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let done = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(result)
                .bind(message)
                .bind(now)
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn fail_pending(&mut self, id: i64, message: &str, now: Millis) -> Result<bool> {
        let sql = format!(
            "UPDATE {} SET status = 100, message = ?, last_error = ?, finished_at = {TS}, updated_at = {TS} \
             WHERE id = ? AND status = 10",
            self.t
        );
        self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let done = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(message)
                .bind(message)
                .bind(now)
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn cancel(&mut self, id: i64, now: Millis) -> Result<Option<CancelOutcome>> {
        let t = &self.t;
        let cancel = format!(
            "UPDATE {t} SET status = 90, message = 'Cancelled', finished_at = {TS}, updated_at = {TS} \
             WHERE id = ? AND status = 10"
        );
        let request =
            format!("UPDATE {t} SET cancel_requested = 1, updated_at = {TS} WHERE id = ? AND status IN (30, 50)");
        let find = format!("SELECT {} FROM {t} WHERE id = ?", self.cols);
        self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let done =
                sqlx::query(AssertSqlSafe(cancel.as_str())).bind(now).bind(now).bind(id).execute(&mut *conn).await?;
            if done.rows_affected() == 1 {
                return Ok(Some(CancelOutcome::Cancelled));
            }
            let done = sqlx::query(AssertSqlSafe(request.as_str())).bind(now).bind(id).execute(&mut *conn).await?;
            if done.rows_affected() == 1 {
                return Ok(Some(CancelOutcome::Requested));
            }
            let row = sqlx::query(AssertSqlSafe(find.as_str())).bind(id).fetch_optional(&mut *conn).await?;
            Ok(row.map(|r| task_from_row(&r)).transpose()?.map(|t| CancelOutcome::AlreadyFinished(t.status)))
        })
    }

    fn retry(&mut self, id: i64, now: Millis) -> Result<bool> {
        let sql = format!(
            "UPDATE {} SET status = 10, attempts = 0, progress = 0, available_at = ?, finished_at = NULL, \
             start_at = NULL, cancel_requested = 0, message = 'Queued again by retry', updated_at = {TS}, \
             locked_by = NULL, lease_expires_at = NULL WHERE id = ? AND status IN (90, 100)",
            self.t
        );
        let status = format!("SELECT CAST(status AS SIGNED) FROM {} WHERE id = ? FOR UPDATE", self.t);
        self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let Some(row) = sqlx::query(AssertSqlSafe(status.as_str())).bind(id).fetch_optional(&mut *conn).await?
            else {
                return Ok(false);
            };
            let status = Status::from_code(row.try_get(0)?);
            let query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(now).bind(now).bind(id);
            let done = match query.execute(&mut *conn).await {
                Err(err) if is_unique_violation(&err) => return Err(Fail::Engine(unique_key_taken(id, status))),
                other => other?,
            };
            Ok(done.rows_affected() == 1)
        })
    }

    fn stats(&mut self) -> Result<Stats> {
        let t = &self.t;
        let overall = format!("SELECT CAST(status AS SIGNED), COUNT(*) FROM {t} GROUP BY status ORDER BY status");
        let per = format!(
            "SELECT identifier, CAST(status AS SIGNED), COUNT(*) FROM {t} GROUP BY identifier, status \
             ORDER BY identifier, status"
        );
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let mut stats = Stats::default();
            for r in sqlx::query(AssertSqlSafe(overall.as_str())).fetch_all(&mut *conn).await? {
                stats.by_status.push((Status::from_code(r.try_get(0)?), r.try_get(1)?));
            }
            for r in sqlx::query(AssertSqlSafe(per.as_str())).fetch_all(&mut *conn).await? {
                stats.by_identifier.push((r.try_get(0)?, Status::from_code(r.try_get(1)?), r.try_get(2)?));
            }
            Ok(stats)
        })
    }

    fn prune(&mut self, before: Millis) -> Result<Vec<i64>> {
        let t = &self.t;
        let select = format!(
            "SELECT CAST(id AS SIGNED) FROM {t} WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL \
             AND finished_at <= {TS} ORDER BY id FOR UPDATE"
        );
        self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let rows = sqlx::query(AssertSqlSafe(select.as_str())).bind(before).fetch_all(&mut *conn).await?;
            let ids = rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?;
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                let chunk = padded(chunk);
                let sql = format!("DELETE FROM {t} WHERE id IN ({}) AND status IN (80, 90, 100)", marks(chunk.len()));
                with_ids(sql, &chunk).execute(&mut *conn).await?;
            }
            Ok(ids)
        })
    }

    fn finished_before(&mut self, before: Millis) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT CAST(id AS SIGNED) FROM {} WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL \
             AND finished_at <= {TS}",
            self.t
        );
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(before).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?)
        })
    }

    fn delete(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        let t = &self.t;
        let mut deleted = self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let mut deleted = Vec::new();
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                let chunk = padded(chunk);
                let list = marks(chunk.len());
                // Lock what is to go, so the ids returned are the rows deleted.
                let select = format!(
                    "SELECT CAST(id AS SIGNED) FROM {t} WHERE id IN ({list}) AND status NOT IN (30, 50) FOR UPDATE"
                );
                let rows = with_ids(select, &chunk).fetch_all(&mut *conn).await?;
                let found = rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?;
                if found.is_empty() {
                    continue;
                }
                let list = padded(&found);
                let delete = format!("DELETE FROM {t} WHERE id IN ({}) AND status NOT IN (30, 50)", marks(list.len()));
                let gone = with_ids(delete, &list).execute(&mut *conn).await?.rows_affected();
                if gone != found.len() as u64 {
                    // Cannot happen while the rows are locked; never report a delete that did not happen.
                    return Err(Fail::Engine(Error::Database(format!(
                        "delete removed {gone} of {} locked rows",
                        found.len()
                    ))));
                }
                deleted.extend(found);
            }
            Ok(deleted)
        })?;
        deleted.sort_unstable();
        Ok(deleted)
    }

    fn finished_since(&mut self, since: Millis, limit: usize) -> Result<Vec<Timing>> {
        let sql = format!(
            "SELECT identifier, CAST(status AS SIGNED), CAST(available_at AS SIGNED), {}, {} FROM {} \
             WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL AND finished_at >= {TS} \
             ORDER BY finished_at DESC LIMIT ?",
            ms("start_at"),
            ms("finished_at"),
            self.t
        );
        let limit = limit.min(i64::MAX as usize) as i64;
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(since).bind(limit).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(timing_from_row).collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn sibling(&self) -> Result<Option<Box<dyn Store>>> {
        Ok(Some(Box::new(MySqlStore::open(&self.config)?)))
    }

    fn next_due(&mut self, identifiers: &[String]) -> Result<Option<Millis>> {
        let t = &self.t;
        let identifiers = padded(identifiers);
        let filter = if identifiers.is_empty() {
            String::new()
        } else {
            format!("AND identifier IN ({})", marks(identifiers.len()))
        };
        let sql = format!(
            "SELECT (SELECT MIN(available_at) FROM {t} WHERE status = 10 {filter}), \
             (SELECT MIN(lease_expires_at) FROM {t} WHERE status IN (30, 50))"
        );
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
            for identifier in &identifiers {
                query = query.bind(identifier);
            }
            let row = query.fetch_one(&mut *conn).await?;
            let due: Option<i64> = row.try_get(0)?;
            let lease: Option<i64> = row.try_get(1)?;
            Ok(due.into_iter().chain(lease).min())
        })
    }

    fn put_snapshot(&mut self, id: i64, snapshot: &str, updated_at: Millis) -> Result<()> {
        // Assignments run left to right: the snapshot is compared before updated_at changes.
        let sql = format!(
            "INSERT INTO {} (task_id, snapshot, updated_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE \
             snapshot = IF(VALUES(updated_at) >= updated_at, VALUES(snapshot), snapshot), \
             updated_at = GREATEST(updated_at, VALUES(updated_at))",
            self.progress
        );
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(id)
                .bind(snapshot)
                .bind(updated_at)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    fn get_snapshot(&mut self, id: i64) -> Result<Option<String>> {
        let sql = format!("SELECT snapshot FROM {} WHERE task_id = ?", self.progress);
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let row = sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *conn).await?;
            Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
        })
    }

    fn with_snapshots(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = padded(ids);
        let sql = format!("SELECT DISTINCT task_id FROM {} WHERE task_id IN ({})", self.progress, marks(ids.len()));
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
            for id in &ids {
                query = query.bind(id);
            }
            let rows = query.fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?)
        })
    }

    fn put_logs(&mut self, entries: &[(i64, &LogEntry)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let logs = &self.logs;
        self.link.run(Mode::Transaction, async |conn: &mut MySqlConnection| {
            let mut start = 0;
            for size in chunk_sizes(entries.len(), ROWS_PER_STATEMENT) {
                let chunk = &entries[start..start + size];
                start += size;
                let sql = format!(
                    "INSERT INTO {logs} (task_id, logged_at, level, message, context) VALUES {}",
                    vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ")
                );
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for (id, e) in chunk {
                    query = query.bind(id).bind(&e.time).bind(e.level.name()).bind(&e.message).bind(context_text(e));
                }
                query.execute(&mut *conn).await?;
            }
            Ok(())
        })
    }

    fn get_logs(&mut self, id: i64, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>> {
        let filter = if level.is_some() { "AND level = ?" } else { "" };
        let sql = format!(
            "SELECT logged_at, level, message, context FROM {} WHERE task_id = ? {filter} ORDER BY id DESC LIMIT ?",
            self.logs
        );
        let limit = limit.min(i64::MAX as usize) as i64;
        let mut entries = self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(id);
            if let Some(level) = level {
                query = query.bind(level.name());
            }
            let rows = query.bind(limit).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(log_from_row).collect::<Result<Vec<_>, _>>()?)
        })?;
        entries.reverse();
        Ok(entries)
    }

    fn has_logs(&mut self, id: i64) -> Result<bool> {
        let sql = format!("SELECT 1 FROM {} WHERE task_id = ? LIMIT 1", self.logs);
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            Ok(sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *conn).await?.is_some())
        })
    }

    fn get_logs_after(&mut self, id: i64, after: i64, limit: usize) -> Result<Vec<(i64, LogEntry)>> {
        let sql = format!(
            "SELECT logged_at, level, message, context, CAST(id AS SIGNED) FROM {} WHERE task_id = ? AND id > ? \
             ORDER BY id LIMIT ?",
            self.logs
        );
        let limit = limit.min(i64::MAX as usize) as i64;
        self.link.run(Mode::Repeatable, async |conn: &mut MySqlConnection| {
            let rows =
                sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).bind(after).bind(limit).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(|r| Ok((r.try_get(4)?, log_from_row(r)?))).collect::<Result<Vec<_>, sqlx::Error>>()?)
        })
    }

    fn delete_journal(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (progress, logs) = (&self.progress, &self.logs);
        let mut had = self.link.run(Mode::Guarded, async |conn: &mut MySqlConnection| {
            let mut had = Vec::new();
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                let chunk = padded(chunk);
                let list = marks(chunk.len());
                let select = format!(
                    "SELECT task_id FROM {progress} WHERE task_id IN ({list}) \
                     UNION SELECT DISTINCT task_id FROM {logs} WHERE task_id IN ({list})"
                );
                let rows = with_ids(select, chunk.iter().chain(&chunk)).fetch_all(&mut *conn).await?;
                had.extend(rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<Vec<_>, _>>()?);
                for table in [progress, logs] {
                    let sql = format!("DELETE FROM {table} WHERE task_id IN ({list})");
                    with_ids(sql, &chunk).execute(&mut *conn).await?;
                }
            }
            Ok(had)
        })?;
        had.sort_unstable();
        had.dedup();
        Ok(had)
    }
}

#[cfg(test)]
mod tests {
    use super::supports_skip_locked;

    #[test]
    fn skip_locked_by_server_version() {
        assert!(supports_skip_locked("8.0.36"));
        assert!(supports_skip_locked("8.0.1"));
        assert!(!supports_skip_locked("8.0.0"));
        assert!(!supports_skip_locked("5.7.44-log"));
        assert!(supports_skip_locked("10.11.19-MariaDB-0+deb12u1"));
        assert!(supports_skip_locked("10.6.0-MariaDB"));
        assert!(!supports_skip_locked("10.5.23-MariaDB"));
        assert!(supports_skip_locked("11.4.2-MariaDB"));
    }

    #[test]
    fn shapes_are_powers_of_two() {
        assert_eq!(super::padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(super::padded::<i64>(&[]), Vec::<i64>::new());
        assert_eq!(super::chunk_sizes(300, 256), vec![256, 32, 8, 4]);
        assert_eq!(super::chunk_sizes(1, 256), vec![1]);
        assert_eq!(super::chunk_sizes(0, 256), Vec::<usize>::new());
    }
}
