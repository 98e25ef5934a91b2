//! PostgreSQL through sqlx. Claims take rows with `FOR UPDATE SKIP LOCKED` in a CTE, so
//! workers on any number of servers never wait on each other's rows and never share one; the
//! batch writes pass their rows as arrays (`unnest`), one statement per kind of change. New due
//! tasks are announced with `NOTIFY`, which `waitForTasks()` listens for.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};

use crate::config::{Backend, Config};
use crate::error::{Error, Result};
use crate::files::{Level, LogEntry};
use crate::retry::RetryPolicy;
use crate::store::server::{self, Fail, Link, Mode, context_text, is_unique_violation, log_from_row, task_from_row};
use crate::store::{
    CancelOutcome, ClaimRequest, Finish, Lease, MigrationReport, Renewal, Rescued, Stats, Store, Timing, Transition,
    pg_schema, rescue_plan, sort_claimed, unique_key_taken, unique_keys,
};
use crate::task::{NewTask, Status, Task, encode_json};
use crate::time::Millis;

/// A timestamp column's value from Unix milliseconds (UTC, like every time the engine writes).
fn ts(param: &str) -> String {
    format!("(to_timestamp({param}::float8 / 1000) AT TIME ZONE 'UTC')")
}

/// Unix milliseconds from a timestamp column.
fn ms(column: &str) -> String {
    format!("(EXTRACT(EPOCH FROM {column}) * 1000)::bigint")
}

/// The task columns in [`task_from_row`]'s order, every integer as `bigint`.
fn task_columns(a: &str) -> String {
    format!(
        "{a}id::bigint, {a}identifier, {a}action, {a}status::bigint, {a}priority, {a}meta, {a}progress::bigint, \
         {a}attempts::bigint, {a}max_attempts::bigint, {a}message, {a}result, {a}last_error, {a}started_by::bigint, \
         {a}available_at::bigint, {}, {}, {}, {}, {a}cancel_requested::bigint, {a}fence::bigint, {a}locked_by, \
         {a}lease_expires_at::bigint, {a}unique_key",
        ms(&format!("{a}start_at")),
        ms(&format!("{a}finished_at")),
        ms(&format!("{a}created_at")),
        ms(&format!("{a}updated_at")),
    )
}

type Text = Arc<str>;

/// SQL text with the table prefix applied, built once per store.
struct Sql {
    tasks: String,
    insert: Text,
    insert_keyed: Text,
    find: Text,
    claim: Text,
    claim_for: Text,
    claim_ids: Text,
    expired: Text,
    rescue_to_pending: Text,
    rescue_to_failed: Text,
    rescue_to_cancelled: Text,
    renew: Text,
    inspect: Text,
    save_progress: Text,
    mark_running: Text,
    amend_finished: Text,
    reschedule_pending: Text,
    complete_claimed: Text,
    retry_claimed: Text,
    fail_claimed: Text,
    cancel_claimed: Text,
    release_claimed: Text,
    complete_pending: Text,
    fail_pending: Text,
    cancel_pending: Text,
    request_cancel: Text,
    status_for_update: Text,
    retry_finished: Text,
    finished_before: Text,
    delete: Text,
    finished_since: Text,
    notify: Text,
    next_due: Text,
    next_due_for: Text,
    put_snapshot: Text,
    get_snapshot: Text,
    with_snapshots: Text,
    put_logs: Text,
    get_logs: Text,
    get_logs_level: Text,
    has_logs: Text,
    get_logs_after: Text,
    delete_journal: Text,
}

impl Sql {
    fn new(config: &Config) -> Sql {
        let t = format!("\"{}\"", config.tasks_table());
        let progress = format!("\"{}\"", config.progress_table());
        let logs = format!("\"{}\"", config.logs_table());
        let cols = task_columns("");
        let tcols = task_columns("t.");
        let release = "locked_by = NULL, lease_expires_at = NULL";
        let claim_set = format!(
            "UPDATE {t} AS t SET status = 50, attempts = t.attempts + 1, fence = t.fence + 1, locked_by = $1, \
             lease_expires_at = $2, heartbeat_at = $3, start_at = {now}, updated_at = {now}, finished_at = NULL",
            now = ts("$3")
        );
        let pick = "SELECT id FROM {t} WHERE status = 10 AND available_at <= $3";
        let pick = pick.replace("{t}", &t);
        let order = "ORDER BY priority_rank DESC, available_at, id LIMIT $4 FOR UPDATE SKIP LOCKED";
        // Each batch statement joins the rows it changes as arrays, guarded per row by the
        // claim's fencing token; RETURNING says which rows it changed.
        let batch = |set: &str, arrays: &str, columns: &str| -> Text {
            format!(
                "UPDATE {t} AS t SET {set} FROM unnest({arrays}) AS v({columns}) \
                 WHERE t.id = v.id AND t.fence = v.fence AND t.status IN (30, 50) RETURNING t.id::bigint"
            )
            .into()
        };
        let rescue_guard = "WHERE id = $1 AND fence = $2 AND status IN (30, 50) AND lease_expires_at < $5";
        // Rows from arrays, in the order given; `u.unique_key` is NULL in the plain insert.
        let rows = |keyed: bool| {
            format!(
                "INSERT INTO {t} AS t (identifier, action, status, message, started_by, meta, attempts, \
                 max_attempts, priority, priority_rank, progress, available_at, created_at, updated_at, unique_key) \
                 SELECT u.identifier, u.action, 10, 'Queued', u.started_by, u.meta, 0, u.max_attempts, u.priority, \
                 u.priority_rank, 0, u.available_at, {now}, {now}, {key} \
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], \
                 $7::bigint[], $8::bigint[]{keys}) WITH ORDINALITY \
                 AS u(identifier, action, started_by, meta, max_attempts, priority, priority_rank, available_at{key_col}, ord) \
                 ORDER BY u.ord",
                now = ts("$9"),
                key = if keyed { "u.unique_key" } else { "NULL" },
                keys = if keyed { ", $11::text[]" } else { "" },
                key_col = if keyed { ", unique_key" } else { "" },
            )
        };
        Sql {
            insert: format!(
                "WITH ins AS ({} RETURNING id::bigint) \
                 SELECT ins.id FROM ins CROSS JOIN (SELECT pg_notify($10, '')) AS announced",
                rows(false)
            )
            .into(),
            // A key an unfinished task holds gives back that task (the no-op update locks and
            // returns it; the caller passes each key once).
            insert_keyed: format!(
                "WITH ins AS ({} ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND status IN (10, 30, 50) \
                 DO UPDATE SET unique_key = EXCLUDED.unique_key RETURNING {tcols}) \
                 SELECT ins.* FROM ins CROSS JOIN (SELECT pg_notify($10, '')) AS announced",
                rows(true)
            )
            .into(),
            find: format!("SELECT {cols} FROM {t} WHERE id = $1").into(),
            claim: format!("WITH c AS ({pick} {order}) {claim_set} FROM c WHERE t.id = c.id RETURNING {tcols}").into(),
            claim_for: format!(
                "WITH c AS ({pick} AND identifier = ANY($5) {order}) {claim_set} FROM c WHERE t.id = c.id \
                 RETURNING {tcols}"
            )
            .into(),
            // Explicitly requested tasks run now, whatever their not-before time.
            claim_ids: format!(
                "WITH c AS (SELECT id FROM {t} WHERE status = 10 AND id = ANY($5) {order}) {claim_set} \
                 FROM c WHERE t.id = c.id RETURNING {tcols}"
            )
            .into(),
            expired: format!(
                "SELECT id::bigint, fence::bigint, attempts::bigint, max_attempts::bigint, cancel_requested::bigint, \
                 locked_by FROM {t} WHERE status IN (30, 50) AND lease_expires_at IS NOT NULL \
                 AND lease_expires_at < $1 ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED"
            )
            .into(),
            rescue_to_pending: format!(
                "UPDATE {t} SET status = 10, available_at = $3, {release}, updated_at = {now}, message = $6, \
                 last_error = $6 {rescue_guard}",
                now = ts("$4")
            )
            .into(),
            rescue_to_failed: format!(
                "UPDATE {t} SET status = 100, finished_at = {now}, {release}, updated_at = {now}, message = $6, \
                 last_error = $6 {rescue_guard}",
                now = ts("$4")
            )
            .into(),
            rescue_to_cancelled: format!(
                "UPDATE {t} SET status = 90, finished_at = {now}, {release}, updated_at = {now}, message = $6 \
                 {rescue_guard}",
                now = ts("$4")
            )
            .into(),
            renew: format!(
                "UPDATE {t} AS t SET lease_expires_at = $1, heartbeat_at = $2 \
                 FROM unnest($3::bigint[], $4::bigint[]) AS v(id, fence) \
                 WHERE t.id = v.id AND t.fence = v.fence AND t.status IN (30, 50) \
                 RETURNING t.id::bigint, t.cancel_requested::bigint"
            )
            .into(),
            inspect: format!(
                "SELECT id::bigint, fence::bigint, status::bigint, cancel_requested::bigint FROM {t} \
                 WHERE id = ANY($1)"
            )
            .into(),
            save_progress: format!(
                "UPDATE {t} SET progress = $3, message = COALESCE($4, message), updated_at = {} \
                 WHERE id = $1 AND fence = $2 AND status IN (30, 50)",
                ts("$5")
            )
            .into(),
            mark_running: format!(
                "UPDATE {t} SET status = $3, message = COALESCE($4, message), updated_at = {} \
                 WHERE id = $1 AND fence = $2 AND status IN (30, 50)",
                ts("$5")
            )
            .into(),
            amend_finished: format!(
                "UPDATE {t} SET status = $3, message = COALESCE($4, message), result = COALESCE($5, result), \
                 last_error = CASE WHEN $3 = 100 THEN COALESCE($4, last_error) ELSE last_error END, \
                 progress = CASE WHEN $3 = 80 THEN 100 ELSE progress END, finished_at = {now}, updated_at = {now} \
                 WHERE id = $1 AND fence = $2 AND status IN (80, 90, 100)",
                now = ts("$6")
            )
            .into(),
            reschedule_pending: format!(
                "UPDATE {t} SET available_at = $2, updated_at = {} WHERE id = $1 AND status = 10",
                ts("$3")
            )
            .into(),
            complete_claimed: batch(
                &format!(
                    "status = 80, progress = 100, result = v.result, message = v.message, finished_at = {now}, \
                     updated_at = {now}, {release}",
                    now = ts("$1")
                ),
                "$2::bigint[], $3::bigint[], $4::text[], $5::text[]",
                "id, fence, result, message",
            ),
            retry_claimed: batch(
                &format!(
                    "status = 10, available_at = v.available_at, last_error = v.error, message = v.message, \
                     updated_at = {}, {release}",
                    ts("$1")
                ),
                "$2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]",
                "id, fence, available_at, error, message",
            ),
            fail_claimed: batch(
                &format!(
                    "status = 100, last_error = v.error, message = v.message, finished_at = {now}, \
                     updated_at = {now}, {release}",
                    now = ts("$1")
                ),
                "$2::bigint[], $3::bigint[], $4::text[], $5::text[]",
                "id, fence, error, message",
            ),
            cancel_claimed: batch(
                &format!(
                    "status = 90, message = v.message, finished_at = {now}, updated_at = {now}, {release}",
                    now = ts("$1")
                ),
                "$2::bigint[], $3::bigint[], $4::text[]",
                "id, fence, message",
            ),
            release_claimed: batch(
                &format!(
                    "status = 10, attempts = GREATEST(t.attempts - 1, 0), start_at = NULL, updated_at = {}, {release}",
                    ts("$1")
                ),
                "$2::bigint[], $3::bigint[]",
                "id, fence",
            ),
            complete_pending: format!(
                "UPDATE {t} SET status = 80, progress = 100, result = $2, message = $3, finished_at = {now}, \
                 updated_at = {now} WHERE id = $1 AND status = 10",
                now = ts("$4")
            )
            .into(),
            fail_pending: format!(
                "UPDATE {t} SET status = 100, message = $2, last_error = $2, finished_at = {now}, updated_at = {now} \
                 WHERE id = $1 AND status = 10",
                now = ts("$3")
            )
            .into(),
            cancel_pending: format!(
                "UPDATE {t} SET status = 90, message = 'Cancelled', finished_at = {now}, updated_at = {now} \
                 WHERE id = $1 AND status = 10",
                now = ts("$2")
            )
            .into(),
            request_cancel: format!(
                "UPDATE {t} SET cancel_requested = 1, updated_at = {} WHERE id = $1 AND status IN (30, 50)",
                ts("$2")
            )
            .into(),
            status_for_update: format!("SELECT status::bigint FROM {t} WHERE id = $1 FOR UPDATE").into(),
            retry_finished: format!(
                "UPDATE {t} SET status = 10, attempts = 0, progress = 0, available_at = $2, finished_at = NULL, \
                 start_at = NULL, cancel_requested = 0, message = 'Queued again by retry', updated_at = {}, \
                 {release} WHERE id = $1 AND status IN (90, 100)",
                ts("$2")
            )
            .into(),
            finished_before: format!(
                "SELECT id::bigint FROM {t} WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL \
                 AND finished_at <= {}",
                ts("$1")
            )
            .into(),
            delete: format!("DELETE FROM {t} WHERE id = ANY($1) AND status NOT IN (30, 50) RETURNING id::bigint")
                .into(),
            finished_since: format!(
                "SELECT identifier, status::bigint, available_at::bigint, {}, {} FROM {t} \
                 WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL AND finished_at >= {} \
                 ORDER BY finished_at DESC LIMIT $2",
                ms("start_at"),
                ms("finished_at"),
                ts("$1")
            )
            .into(),
            notify: "SELECT pg_notify($1, '')".into(),
            next_due: format!(
                "SELECT LEAST((SELECT MIN(available_at) FROM {t} WHERE status = 10), \
                 (SELECT MIN(lease_expires_at) FROM {t} WHERE status IN (30, 50)))::bigint"
            )
            .into(),
            next_due_for: format!(
                "SELECT LEAST((SELECT MIN(available_at) FROM {t} WHERE status = 10 AND identifier = ANY($1)), \
                 (SELECT MIN(lease_expires_at) FROM {t} WHERE status IN (30, 50)))::bigint"
            )
            .into(),
            put_snapshot: format!(
                "INSERT INTO {progress} (task_id, snapshot, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (task_id) DO UPDATE SET snapshot = EXCLUDED.snapshot, updated_at = EXCLUDED.updated_at \
                 WHERE {progress}.updated_at <= EXCLUDED.updated_at"
            )
            .into(),
            get_snapshot: format!("SELECT snapshot FROM {progress} WHERE task_id = $1").into(),
            with_snapshots: format!("SELECT task_id::bigint FROM {progress} WHERE task_id = ANY($1)").into(),
            // In the given order, so that ids (which order the entries) follow it.
            put_logs: format!(
                "INSERT INTO {logs} (task_id, logged_at, level, message, context) \
                 SELECT task_id, logged_at, level, message, context \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                 WITH ORDINALITY AS u(task_id, logged_at, level, message, context, ord) ORDER BY ord"
            )
            .into(),
            get_logs: format!(
                "SELECT logged_at, level, message, context FROM {logs} WHERE task_id = $1 ORDER BY id DESC LIMIT $2"
            )
            .into(),
            get_logs_level: format!(
                "SELECT logged_at, level, message, context FROM {logs} WHERE task_id = $1 AND level = $3 \
                 ORDER BY id DESC LIMIT $2"
            )
            .into(),
            has_logs: format!("SELECT 1 FROM {logs} WHERE task_id = $1 LIMIT 1").into(),
            get_logs_after: format!(
                "SELECT logged_at, level, message, context, id::bigint FROM {logs} WHERE task_id = $1 AND id > $2 \
                 ORDER BY id LIMIT $3"
            )
            .into(),
            delete_journal: format!(
                "WITH s AS (DELETE FROM {progress} WHERE task_id = ANY($1) RETURNING task_id), \
                 l AS (DELETE FROM {logs} WHERE task_id = ANY($1) RETURNING task_id) \
                 SELECT DISTINCT task_id::bigint FROM (SELECT task_id FROM s UNION ALL SELECT task_id FROM l) AS d \
                 ORDER BY 1"
            )
            .into(),
            tasks: t,
        }
    }
}

fn q(sql: &Text) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(Arc::clone(sql))
}

/// A PostgreSQL database holding the tasks.
pub struct PgStore {
    link: Link<PgConnection>,
    config: Config,
    sql: Sql,
    channel: String,
    /// The `LISTEN` connection of `waitForTasks()`, with the process that opened it.
    listener: Option<(u32, PgListener)>,
}

impl PgStore {
    pub fn open(config: &Config) -> Result<PgStore> {
        let Backend::Postgres(url) = &config.backend else {
            return Err(Error::Config("not a PostgreSQL URL".into()));
        };
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("invalid PostgreSQL URL: {e}")))?
            // Timestamps are written and read as UTC whatever the server's zone.
            .options([("timezone", "UTC")]);
        if !url.contains("application_name=") {
            // Shown in pg_stat_activity, unless the URL names the application itself.
            options = options.application_name("stask");
        }
        let link = Link::open("PostgreSQL", &[], url, options)?;
        Ok(PgStore {
            link,
            sql: Sql::new(config),
            channel: config.notify_channel(),
            config: config.clone(),
            listener: None,
        })
    }

    fn forget_listener(&mut self) {
        match self.listener.take() {
            Some((pid, listener)) if pid == std::process::id() => {
                let _inside = self.link.runtime().enter();
                drop(listener);
            }
            // Made before a fork: its socket is the parent's.
            other => std::mem::forget(other),
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.forget_listener();
    }
}

fn ids_and_fences(batch: &[&Finish]) -> (Vec<i64>, Vec<i64>) {
    batch.iter().map(|f| (f.lease.id, f.lease.fence)).unzip()
}

impl Store for PgStore {
    fn migrate(&mut self) -> Result<MigrationReport> {
        let config = self.config.clone();
        self.link.run(Mode::Transaction, async |conn: &mut PgConnection| pg_schema::migrate(conn, &config).await)
    }

    /// One statement for the whole batch. With unique keys, a key that an unfinished task
    /// holds gives back that task, and a key repeated in the batch gives its first task.
    fn insert(&mut self, tasks: Vec<NewTask>, now: Millis) -> Result<Vec<Task>> {
        let encoded = tasks.iter().map(|t| encode_json("data", &t.data)).collect::<Result<Vec<_>>>()?;
        let keyed = tasks.iter().any(|t| t.unique_key.is_some());
        let keys = unique_keys(&tasks);
        let rows: Vec<&NewTask> = keys.insert.iter().map(|i| &tasks[*i]).collect();
        let default_attempts = self.config.max_attempts;
        let identifiers: Vec<&str> = rows.iter().map(|t| t.identifier.as_str()).collect();
        let actions: Vec<&str> = rows.iter().map(|t| t.action.as_str()).collect();
        let users: Vec<Option<i64>> = rows.iter().map(|t| t.started_by).collect();
        let meta: Vec<&str> = keys.insert.iter().map(|i| encoded[*i].as_str()).collect();
        let attempts: Vec<i64> = rows.iter().map(|t| t.max_attempts.unwrap_or(default_attempts)).collect();
        let priorities: Vec<&str> = rows.iter().map(|t| t.priority.name()).collect();
        let ranks: Vec<i64> = rows.iter().map(|t| t.priority.rank()).collect();
        let available: Vec<i64> = rows.iter().map(|t| t.available_at.unwrap_or(now)).collect();
        let unique: Vec<Option<&str>> = rows.iter().map(|t| t.unique_key.as_deref()).collect();
        let (sql, channel) = (&self.sql, &self.channel);
        let returned = self.link.run(Mode::Transaction, async |conn: &mut PgConnection| {
            let query = sqlx::query(q(if keyed { &sql.insert_keyed } else { &sql.insert }))
                .bind(&identifiers)
                .bind(&actions)
                .bind(&users)
                .bind(&meta)
                .bind(&attempts)
                .bind(&priorities)
                .bind(&ranks)
                .bind(&available)
                .bind(now)
                .bind(channel);
            let query = if keyed { query.bind(&unique) } else { query };
            Ok(query.fetch_all(&mut *conn).await?)
        })?;
        if returned.len() != rows.len() {
            return Err(Error::Database(format!("inserted {} of {} tasks", returned.len(), rows.len())));
        }
        if !keyed {
            // Ids come from one sequence in insertion order.
            let mut ids = returned
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| server::to_error("PostgreSQL", &e))?;
            ids.sort_unstable();
            return Ok(tasks
                .into_iter()
                .zip(ids)
                .zip(attempts)
                .zip(available)
                .map(|(((task, id), max_attempts), available_at)| task.stored(id, max_attempts, available_at, now))
                .collect());
        }
        // Full rows: keyed ones are found by their key (new, or the holder's); the others are
        // new, with ids in insertion order.
        let returned = returned
            .iter()
            .map(task_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| server::to_error("PostgreSQL", &e))?;
        let (mut with_key, mut plain): (Vec<Task>, Vec<Task>) =
            returned.into_iter().partition(|t| t.unique_key.is_some());
        plain.sort_unstable_by_key(|t| t.id);
        let mut plain = plain.into_iter();
        let mut written = Vec::with_capacity(rows.len());
        for key in &unique {
            let task = match key {
                Some(key) => {
                    with_key.iter().position(|t| t.unique_key.as_deref() == Some(*key)).map(|p| with_key.swap_remove(p))
                }
                None => plain.next(),
            };
            written.push(task.ok_or_else(|| Error::Database("an inserted task was not returned".into()))?);
        }
        Ok(keys.answer.iter().map(|at| written[*at].clone()).collect())
    }

    fn find(&mut self, id: i64) -> Result<Option<Task>> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let row = sqlx::query(q(&sql.find)).bind(id).fetch_optional(&mut *conn).await?;
            Ok(row.map(|r| task_from_row(&r)).transpose()?)
        })
    }

    fn claim(&mut self, req: &ClaimRequest<'_>) -> Result<Vec<Task>> {
        let sql = &self.sql;
        let limit = req.limit as i64;
        let mut tasks = self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let query = if !req.ids.is_empty() {
                sqlx::query(q(&sql.claim_ids))
            } else if !req.identifiers.is_empty() {
                sqlx::query(q(&sql.claim_for))
            } else {
                sqlx::query(q(&sql.claim))
            };
            let mut query = query.bind(req.owner).bind(req.lease_until).bind(req.now).bind(limit);
            if !req.ids.is_empty() {
                query = query.bind(req.ids);
            } else if !req.identifiers.is_empty() {
                query = query.bind(req.identifiers);
            }
            let rows = query.fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(task_from_row).collect::<Result<Vec<_>, _>>()?)
        })?;
        sort_claimed(&mut tasks);
        Ok(tasks)
    }

    fn rescue_expired(&mut self, now: Millis, retry: &RetryPolicy) -> Result<Vec<Rescued>> {
        let (sql, channel) = (&self.sql, &self.channel);
        self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let rows = sqlx::query(q(&sql.expired)).bind(now).fetch_all(&mut *conn).await?;
            let mut rescued = Vec::with_capacity(rows.len());
            for row in rows {
                let (id, fence, attempts, max_attempts): (i64, i64, i64, i64) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
                let cancel_requested = row.try_get::<i64, _>(4)? != 0;
                let owner: Option<String> = row.try_get(5)?;
                let (status, available_at, message) =
                    rescue_plan(attempts, max_attempts, cancel_requested, owner.as_deref(), now, retry);
                let text = match status {
                    Status::Pending => &sql.rescue_to_pending,
                    Status::Failed => &sql.rescue_to_failed,
                    _ => &sql.rescue_to_cancelled,
                };
                let done = sqlx::query(q(text))
                    .bind(id)
                    .bind(fence)
                    .bind(available_at.unwrap_or(0))
                    .bind(now)
                    .bind(now)
                    .bind(&message)
                    .execute(&mut *conn)
                    .await?;
                if done.rows_affected() == 1 {
                    rescued.push(Rescued { id, status, attempts, max_attempts, previous_owner: owner, available_at });
                }
            }
            if !rescued.is_empty() {
                sqlx::query(q(&sql.notify)).bind(channel).execute(&mut *conn).await?;
            }
            Ok(rescued)
        })
    }

    fn renew(&mut self, leases: &[Lease], lease_until: Millis, now: Millis) -> Result<Renewal> {
        if leases.is_empty() {
            return Ok(Renewal::default());
        }
        let (ids, fences): (Vec<i64>, Vec<i64>) = leases.iter().map(|l| (l.id, l.fence)).unzip();
        let sql = &self.sql;
        let rows = self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let rows = sqlx::query(q(&sql.renew))
                .bind(lease_until)
                .bind(now)
                .bind(&ids)
                .bind(&fences)
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows
                .iter()
                .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?)
        })?;
        let mut renewal = Renewal::default();
        for lease in leases {
            match rows.iter().find(|r| r.0 == lease.id) {
                None => renewal.lost.push(lease.id),
                Some(&(_, cancel)) if cancel != 0 => renewal.cancel_requested.push(lease.id),
                Some(_) => {}
            }
        }
        Ok(renewal)
    }

    fn inspect(&mut self, leases: &[Lease]) -> Result<Renewal> {
        if leases.is_empty() {
            return Ok(Renewal::default());
        }
        let ids: Vec<i64> = leases.iter().map(|l| l.id).collect();
        let sql = &self.sql;
        let rows = self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let rows = sqlx::query(q(&sql.inspect)).bind(&ids).fetch_all(&mut *conn).await?;
            Ok(rows
                .iter()
                .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<Result<Vec<(i64, i64, i64, i64)>, sqlx::Error>>()?)
        })?;
        Ok(super::renewal_from_rows(leases, &rows))
    }

    fn save_progress(&mut self, lease: Lease, progress: i64, message: Option<&str>, now: Millis) -> Result<bool> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let done = sqlx::query(q(&sql.save_progress))
                .bind(lease.id)
                .bind(lease.fence)
                .bind(progress)
                .bind(message)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn mark_running(&mut self, lease: Lease, status: Status, message: Option<&str>, now: Millis) -> Result<bool> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let done = sqlx::query(q(&sql.mark_running))
                .bind(lease.id)
                .bind(lease.fence)
                .bind(status.code())
                .bind(message)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
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
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let done = sqlx::query(q(&sql.amend_finished))
                .bind(lease.id)
                .bind(lease.fence)
                .bind(status.code())
                .bind(message)
                .bind(result)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn reschedule_pending(&mut self, id: i64, available_at: Millis, now: Millis) -> Result<bool> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let done = sqlx::query(q(&sql.reschedule_pending))
                .bind(id)
                .bind(available_at)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn finish(&mut self, batch: &[Finish], now: Millis) -> Result<Vec<bool>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let of = |pick: fn(&Transition) -> bool| batch.iter().filter(|f| pick(&f.transition)).collect::<Vec<_>>();
        let completes = of(|t| matches!(t, Transition::Complete { .. }));
        let retries = of(|t| matches!(t, Transition::Retry { .. }));
        let fails = of(|t| matches!(t, Transition::Fail { .. }));
        let cancels = of(|t| matches!(t, Transition::Cancel { .. }));
        let releases = of(|t| matches!(t, Transition::Release));
        let (sql, channel) = (&self.sql, &self.channel);
        let applied: Vec<i64> = self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let mut applied = Vec::with_capacity(batch.len());
            let collect = |rows: Vec<sqlx::postgres::PgRow>, into: &mut Vec<i64>| -> Result<(), sqlx::Error> {
                for r in rows {
                    into.push(r.try_get(0)?);
                }
                Ok(())
            };
            if !completes.is_empty() {
                let (ids, fences) = ids_and_fences(&completes);
                let (results, messages): (Vec<Option<&str>>, Vec<&str>) = completes
                    .iter()
                    .map(|f| match &f.transition {
                        Transition::Complete { result, message } => (result.as_deref(), message.as_str()),
                        _ => unreachable!("filtered above"),
                    })
                    .unzip();
                let rows = sqlx::query(q(&sql.complete_claimed))
                    .bind(now)
                    .bind(&ids)
                    .bind(&fences)
                    .bind(&results)
                    .bind(&messages)
                    .fetch_all(&mut *conn)
                    .await?;
                collect(rows, &mut applied)?;
            }
            if !retries.is_empty() {
                let (ids, fences) = ids_and_fences(&retries);
                let mut at = Vec::new();
                let mut errors = Vec::new();
                let mut messages = Vec::new();
                for f in &retries {
                    if let Transition::Retry { error, message, available_at } = &f.transition {
                        at.push(*available_at);
                        errors.push(error.as_str());
                        messages.push(message.as_str());
                    }
                }
                let rows = sqlx::query(q(&sql.retry_claimed))
                    .bind(now)
                    .bind(&ids)
                    .bind(&fences)
                    .bind(&at)
                    .bind(&errors)
                    .bind(&messages)
                    .fetch_all(&mut *conn)
                    .await?;
                collect(rows, &mut applied)?;
            }
            if !fails.is_empty() {
                let (ids, fences) = ids_and_fences(&fails);
                let (errors, messages): (Vec<&str>, Vec<&str>) = fails
                    .iter()
                    .map(|f| match &f.transition {
                        Transition::Fail { error, message } => (error.as_str(), message.as_str()),
                        _ => unreachable!("filtered above"),
                    })
                    .unzip();
                let rows = sqlx::query(q(&sql.fail_claimed))
                    .bind(now)
                    .bind(&ids)
                    .bind(&fences)
                    .bind(&errors)
                    .bind(&messages)
                    .fetch_all(&mut *conn)
                    .await?;
                collect(rows, &mut applied)?;
            }
            if !cancels.is_empty() {
                let (ids, fences) = ids_and_fences(&cancels);
                let messages: Vec<&str> = cancels
                    .iter()
                    .map(|f| match &f.transition {
                        Transition::Cancel { message } => message.as_str(),
                        _ => unreachable!("filtered above"),
                    })
                    .collect();
                let rows = sqlx::query(q(&sql.cancel_claimed))
                    .bind(now)
                    .bind(&ids)
                    .bind(&fences)
                    .bind(&messages)
                    .fetch_all(&mut *conn)
                    .await?;
                collect(rows, &mut applied)?;
            }
            if !releases.is_empty() {
                let (ids, fences) = ids_and_fences(&releases);
                let rows = sqlx::query(q(&sql.release_claimed))
                    .bind(now)
                    .bind(&ids)
                    .bind(&fences)
                    .fetch_all(&mut *conn)
                    .await?;
                collect(rows, &mut applied)?;
                sqlx::query(q(&sql.notify)).bind(channel).execute(&mut *conn).await?;
            }
            Ok(applied)
        })?;
        Ok(batch.iter().map(|f| applied.contains(&f.lease.id)).collect())
    }

    fn complete_pending(&mut self, id: i64, result: Option<&str>, message: &str, now: Millis) -> Result<bool> {
        let sql = &self.sql;
        self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let done = sqlx::query(q(&sql.complete_pending))
                .bind(id)
                .bind(result)
                .bind(message)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn fail_pending(&mut self, id: i64, message: &str, now: Millis) -> Result<bool> {
        let sql = &self.sql;
        self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let done = sqlx::query(q(&sql.fail_pending)).bind(id).bind(message).bind(now).execute(&mut *conn).await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn cancel(&mut self, id: i64, now: Millis) -> Result<Option<CancelOutcome>> {
        let sql = &self.sql;
        self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            if sqlx::query(q(&sql.cancel_pending)).bind(id).bind(now).execute(&mut *conn).await?.rows_affected() == 1 {
                return Ok(Some(CancelOutcome::Cancelled));
            }
            if sqlx::query(q(&sql.request_cancel)).bind(id).bind(now).execute(&mut *conn).await?.rows_affected() == 1 {
                return Ok(Some(CancelOutcome::Requested));
            }
            let row = sqlx::query(q(&sql.find)).bind(id).fetch_optional(&mut *conn).await?;
            Ok(row.map(|r| task_from_row(&r)).transpose()?.map(|t| CancelOutcome::AlreadyFinished(t.status)))
        })
    }

    fn retry(&mut self, id: i64, now: Millis) -> Result<bool> {
        let (sql, channel) = (&self.sql, &self.channel);
        self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let Some(row) = sqlx::query(q(&sql.status_for_update)).bind(id).fetch_optional(&mut *conn).await? else {
                return Ok(false);
            };
            let status = Status::from_code(row.try_get(0)?);
            let done = match sqlx::query(q(&sql.retry_finished)).bind(id).bind(now).execute(&mut *conn).await {
                Err(err) if is_unique_violation(&err) => return Err(Fail::Engine(unique_key_taken(id, status))),
                other => other?,
            };
            if done.rows_affected() == 1 {
                sqlx::query(q(&sql.notify)).bind(channel).execute(&mut *conn).await?;
            }
            Ok(done.rows_affected() == 1)
        })
    }

    fn stats(&mut self) -> Result<Stats> {
        let t = self.sql.tasks.clone();
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let mut stats = Stats::default();
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT status::bigint, COUNT(*)::bigint FROM {t} GROUP BY status ORDER BY status"
            )))
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                stats.by_status.push((Status::from_code(r.try_get(0)?), r.try_get(1)?));
            }
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT identifier, status::bigint, COUNT(*)::bigint FROM {t} GROUP BY identifier, status \
                 ORDER BY identifier, status"
            )))
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                stats.by_identifier.push((r.try_get(0)?, Status::from_code(r.try_get(1)?), r.try_get(2)?));
            }
            Ok(stats)
        })
    }

    fn finished_before(&mut self, before: Millis) -> Result<Vec<i64>> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let rows = sqlx::query(q(&sql.finished_before)).bind(before).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?)
        })
    }

    fn delete(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.sql;
        let mut deleted = self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let rows = sqlx::query(q(&sql.delete)).bind(ids).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?)
        })?;
        deleted.sort_unstable();
        Ok(deleted)
    }

    fn finished_since(&mut self, since: Millis, limit: usize) -> Result<Vec<Timing>> {
        let sql = &self.sql;
        let limit = limit.min(i64::MAX as usize) as i64;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let rows = sqlx::query(q(&sql.finished_since)).bind(since).bind(limit).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(server::timing_from_row).collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn prune(&mut self, before: Millis) -> Result<Vec<i64>> {
        let t = self.sql.tasks.clone();
        self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {t} WHERE status IN (80, 90, 100) AND finished_at IS NOT NULL AND finished_at <= {} \
                 RETURNING id::bigint",
                ts("$1")
            )))
            .bind(before)
            .fetch_all(&mut *conn)
            .await?;
            let mut ids = rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?;
            ids.sort_unstable();
            Ok(ids)
        })
    }

    fn sibling(&self) -> Result<Option<Box<dyn Store>>> {
        Ok(Some(Box::new(PgStore::open(&self.config)?)))
    }

    fn next_due(&mut self, identifiers: &[String]) -> Result<Option<Millis>> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let row = if identifiers.is_empty() {
                sqlx::query(q(&sql.next_due)).fetch_one(&mut *conn).await?
            } else {
                sqlx::query(q(&sql.next_due_for)).bind(identifiers).fetch_one(&mut *conn).await?
            };
            Ok(row.try_get::<Option<i64>, _>(0)?)
        })
    }

    fn subscribe(&mut self) -> Result<bool> {
        match &self.listener {
            Some((pid, _)) if *pid == std::process::id() => return Ok(true),
            Some(_) => self.forget_listener(),
            None => {}
        }
        let Backend::Postgres(url) = &self.config.backend else { return Ok(false) };
        let mut options =
            PgConnectOptions::from_str(url).map_err(|e| Error::Config(format!("invalid PostgreSQL URL: {e}")))?;
        if !url.contains("application_name=") {
            options = options.application_name("stask-listener");
        }
        let channel = self.channel.clone();
        let rt = server::runtime()?;
        let listener = rt
            .block_on(async {
                // A pool of one: the listener uses it to reconnect after a lost connection.
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .min_connections(0)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_lazy_with(options);
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.ignore_pool_close_event(true);
                listener.listen(&channel).await?;
                Ok::<_, sqlx::Error>(listener)
            })
            .map_err(|e| server::to_error("PostgreSQL", &e))?;
        self.listener = Some((std::process::id(), listener));
        Ok(true)
    }

    fn wait_announcement(&mut self, timeout: Duration) -> Result<bool> {
        if self.subscribe().is_err() {
            // The server is unreachable: wait as a poller would, the caller checks again.
            std::thread::sleep(timeout.min(Duration::from_millis(500)));
            return Ok(true);
        }
        let rt = self.link.runtime();
        let (_, listener) = self.listener.as_mut().expect("subscribed above");
        let outcome = rt.block_on(async { tokio::time::timeout(timeout, listener.try_recv()).await });
        match outcome {
            Err(_) => Ok(false),
            Ok(Ok(Some(_))) => {
                // Drain what else arrived: one check covers them all.
                while listener.next_buffered().is_some() {}
                Ok(true)
            }
            // The connection was lost (and is re-established): something may have been missed.
            Ok(Ok(None)) => Ok(true),
            Ok(Err(_)) => {
                self.forget_listener();
                Ok(true)
            }
        }
    }

    fn put_snapshot(&mut self, id: i64, snapshot: &str, updated_at: Millis) -> Result<()> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            sqlx::query(q(&sql.put_snapshot)).bind(id).bind(snapshot).bind(updated_at).execute(&mut *conn).await?;
            Ok(())
        })
    }

    fn get_snapshot(&mut self, id: i64) -> Result<Option<String>> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let row = sqlx::query(q(&sql.get_snapshot)).bind(id).fetch_optional(&mut *conn).await?;
            Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
        })
    }

    fn with_snapshots(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let rows = sqlx::query(q(&sql.with_snapshots)).bind(ids).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?)
        })
    }

    fn put_logs(&mut self, entries: &[(i64, &LogEntry)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = entries.iter().map(|(id, _)| *id).collect();
        let times: Vec<&str> = entries.iter().map(|(_, e)| e.time.as_str()).collect();
        let levels: Vec<&str> = entries.iter().map(|(_, e)| e.level.name()).collect();
        let messages: Vec<&str> = entries.iter().map(|(_, e)| e.message.as_str()).collect();
        let contexts: Vec<Option<String>> = entries.iter().map(|(_, e)| context_text(e)).collect();
        let sql = &self.sql;
        self.link.run(Mode::Transaction, async |conn: &mut PgConnection| {
            sqlx::query(q(&sql.put_logs))
                .bind(&ids)
                .bind(&times)
                .bind(&levels)
                .bind(&messages)
                .bind(&contexts)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    fn get_logs(&mut self, id: i64, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>> {
        let sql = &self.sql;
        let limit = limit.min(i64::MAX as usize) as i64;
        let mut entries = self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let rows = match level {
                None => sqlx::query(q(&sql.get_logs)).bind(id).bind(limit).fetch_all(&mut *conn).await?,
                Some(level) => {
                    sqlx::query(q(&sql.get_logs_level))
                        .bind(id)
                        .bind(limit)
                        .bind(level.name())
                        .fetch_all(&mut *conn)
                        .await?
                }
            };
            Ok(rows.iter().map(log_from_row).collect::<Result<Vec<_>, _>>()?)
        })?;
        entries.reverse();
        Ok(entries)
    }

    fn has_logs(&mut self, id: i64) -> Result<bool> {
        let sql = &self.sql;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            Ok(sqlx::query(q(&sql.has_logs)).bind(id).fetch_optional(&mut *conn).await?.is_some())
        })
    }

    fn get_logs_after(&mut self, id: i64, after: i64, limit: usize) -> Result<Vec<(i64, LogEntry)>> {
        let sql = &self.sql;
        let limit = limit.min(i64::MAX as usize) as i64;
        self.link.run(Mode::Repeatable, async |conn: &mut PgConnection| {
            let rows =
                sqlx::query(q(&sql.get_logs_after)).bind(id).bind(after).bind(limit).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(|r| Ok((r.try_get(4)?, log_from_row(r)?))).collect::<Result<Vec<_>, sqlx::Error>>()?)
        })
    }

    fn delete_journal(&mut self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.sql;
        self.link.run(Mode::Guarded, async |conn: &mut PgConnection| {
            let rows = sqlx::query(q(&sql.delete_journal)).bind(ids).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?)
        })
    }
}
