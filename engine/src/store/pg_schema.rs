//! The PostgreSQL schema, as versioned, idempotent migrations run in one transaction (DDL is
//! transactional here). A transaction-scoped advisory lock per table prefix makes racing
//! processes take turns: the second finds the work done. Same columns, codes and partial
//! indexes as on SQLite (the unique-key index among them); upstream sTask's tables (Laravel's PostgreSQL grammar) upgrade in place.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use crate::config::Config;
use crate::store::server::Fail;
use crate::store::{LATEST_VERSION, MigrationReport};

/// Columns added to upstream's `s_tasks`, with their definitions.
const TASK_COLUMNS_V1: &[(&str, &str)] = &[
    ("priority_rank", "INTEGER NOT NULL DEFAULT 2"),
    ("available_at", "BIGINT NOT NULL DEFAULT 0"),
    ("fence", "BIGINT NOT NULL DEFAULT 0"),
    ("locked_by", "VARCHAR(255) NULL"),
    ("lease_expires_at", "BIGINT NULL"),
    ("heartbeat_at", "BIGINT NULL"),
    ("cancel_requested", "SMALLINT NOT NULL DEFAULT 0"),
    ("last_error", "TEXT NULL"),
];

/// A stable 64-bit key for the advisory lock of one prefix's migrations (FNV-1a).
fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("stask-migrate:{name}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

async fn batch(conn: &mut PgConnection, sql: String) -> Result<(), Fail> {
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    Ok(())
}

async fn table_exists(conn: &mut PgConnection, name: &str) -> Result<bool, Fail> {
    let row = sqlx::query(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

async fn column_names(conn: &mut PgConnection, table: &str) -> Result<Vec<String>, Fail> {
    let rows = sqlx::query(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

/// Runs inside the transaction the caller opened.
pub async fn migrate(conn: &mut PgConnection, config: &Config) -> Result<MigrationReport, Fail> {
    let schema = config.schema_table();
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&schema)).execute(&mut *conn).await?;
    batch(
        conn,
        format!("CREATE TABLE IF NOT EXISTS \"{schema}\" (version INTEGER NOT NULL, applied_at TIMESTAMP(3) NULL)"),
    )
    .await?;
    let from_version: i64 = sqlx::query(AssertSqlSafe(format!("SELECT MAX(version)::bigint FROM \"{schema}\"")))
        .fetch_one(&mut *conn)
        .await?
        .try_get::<Option<i64>, _>(0)?
        .unwrap_or(0);
    if from_version >= LATEST_VERSION {
        return Ok(MigrationReport { from_version, to_version: from_version, upgraded_upstream: false });
    }
    let mut upgraded_upstream = false;
    if from_version < 1 {
        upgraded_upstream = version_1(conn, config).await?;
    }
    if from_version < 2 {
        version_2(conn, config).await?;
    }
    if from_version < 3 {
        version_3(conn, config).await?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO \"{schema}\" (version, applied_at) VALUES ($1, now() AT TIME ZONE 'UTC')"
    )))
    .bind(LATEST_VERSION as i32)
    .execute(&mut *conn)
    .await?;
    Ok(MigrationReport { from_version, to_version: LATEST_VERSION, upgraded_upstream })
}

/// Upstream's two tables plus the claim, lease and retry columns. `true` when tables written
/// by upstream sTask were upgraded.
async fn version_1(conn: &mut PgConnection, config: &Config) -> Result<bool, Fail> {
    let tasks = config.tasks_table();
    let workers = config.workers_table();
    let upstream_tasks = table_exists(conn, &tasks).await?;
    // Upstream's columns, in upstream's order (Laravel's types, with millisecond timestamps).
    batch(
        conn,
        format!(
            "CREATE TABLE IF NOT EXISTS \"{tasks}\" (
                id BIGSERIAL PRIMARY KEY,
                identifier VARCHAR(255) NOT NULL,
                action VARCHAR(255) NOT NULL,
                status SMALLINT NOT NULL DEFAULT 10,
                message TEXT NULL,
                started_by INTEGER NULL,
                meta TEXT NULL,
                result TEXT NULL,
                start_at TIMESTAMP(3) NULL,
                finished_at TIMESTAMP(3) NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL DEFAULT 3,
                priority VARCHAR(255) NOT NULL DEFAULT 'normal',
                progress INTEGER NOT NULL DEFAULT 0,
                created_at TIMESTAMP(3) NULL,
                updated_at TIMESTAMP(3) NULL
            );
            CREATE TABLE IF NOT EXISTS \"{workers}\" (
                id BIGSERIAL PRIMARY KEY,
                uuid VARCHAR(36) NULL UNIQUE,
                identifier VARCHAR(255) NOT NULL UNIQUE,
                scope VARCHAR(255) NOT NULL DEFAULT '',
                class VARCHAR(255) NOT NULL,
                active BOOLEAN NOT NULL DEFAULT false,
                position INTEGER NOT NULL DEFAULT 0,
                settings TEXT NOT NULL DEFAULT '[]',
                hidden INTEGER NOT NULL DEFAULT 0,
                created_at TIMESTAMP(3) NULL,
                updated_at TIMESTAMP(3) NULL
            );"
        ),
    )
    .await?;
    let existing = column_names(conn, &tasks).await?;
    let missing: Vec<_> =
        TASK_COLUMNS_V1.iter().filter(|(name, _)| !existing.iter().any(|c| c.eq_ignore_ascii_case(name))).collect();
    if !missing.is_empty() {
        let adds: Vec<String> = missing.iter().map(|(n, d)| format!("ADD COLUMN IF NOT EXISTS {n} {d}")).collect();
        batch(conn, format!("ALTER TABLE \"{tasks}\" {}", adds.join(", "))).await?;
    }
    let upgraded = upstream_tasks && !missing.is_empty();
    if upgraded {
        // Rows written by upstream get the values the new columns would have had; running rows
        // (upstream never recovered crashed workers) get an expired lease so they are rescued.
        batch(
            conn,
            format!(
                "UPDATE \"{tasks}\" SET priority_rank = CASE lower(priority) WHEN 'high' THEN 3 WHEN 'low' THEN 1 ELSE 2 END;
                 UPDATE \"{tasks}\" SET available_at =
                    COALESCE((EXTRACT(EPOCH FROM COALESCE(start_at, created_at)) * 1000)::bigint, 0)
                    WHERE status = 10;
                 UPDATE \"{tasks}\" SET lease_expires_at = 0 WHERE status IN (30, 50);"
            ),
        )
        .await?;
    }
    // Partial indexes: a new task enters only the claim index.
    batch(
        conn,
        format!(
            "CREATE INDEX IF NOT EXISTS \"{tasks}_claim_idx\" ON \"{tasks}\" (priority_rank DESC, available_at, id) WHERE status = 10;
             CREATE INDEX IF NOT EXISTS \"{tasks}_lease_idx\" ON \"{tasks}\" (lease_expires_at) WHERE status IN (30, 50);
             CREATE INDEX IF NOT EXISTS \"{tasks}_finished_idx\" ON \"{tasks}\" (finished_at) WHERE finished_at IS NOT NULL;
             CREATE INDEX IF NOT EXISTS \"{workers}_scope_index\" ON \"{workers}\" (scope);
             CREATE INDEX IF NOT EXISTS \"{workers}_active_index\" ON \"{workers}\" (active);
             CREATE INDEX IF NOT EXISTS \"{workers}_position_index\" ON \"{workers}\" (position);"
        ),
    )
    .await?;
    Ok(upgraded)
}

/// Progress snapshots and logs in the database, for workers on several servers.
async fn version_2(conn: &mut PgConnection, config: &Config) -> Result<(), Fail> {
    let progress = config.progress_table();
    let logs = config.logs_table();
    batch(
        conn,
        format!(
            "CREATE TABLE IF NOT EXISTS \"{progress}\" (
                task_id BIGINT PRIMARY KEY,
                snapshot TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS \"{logs}\" (
                id BIGSERIAL PRIMARY KEY,
                task_id BIGINT NOT NULL,
                logged_at VARCHAR(40) NOT NULL,
                level VARCHAR(10) NOT NULL,
                message TEXT NOT NULL,
                context TEXT NULL
            );
            CREATE INDEX IF NOT EXISTS \"{logs}_task_idx\" ON \"{logs}\" (task_id, id);"
        ),
    )
    .await
}

/// Unique keys: while a task is pending or running, no other task may hold its key.
async fn version_3(conn: &mut PgConnection, config: &Config) -> Result<(), Fail> {
    let tasks = config.tasks_table();
    batch(
        conn,
        format!(
            "ALTER TABLE \"{tasks}\" ADD COLUMN IF NOT EXISTS unique_key VARCHAR(190) NULL;
             CREATE UNIQUE INDEX IF NOT EXISTS \"{tasks}_unique_idx\" ON \"{tasks}\" (unique_key)
                WHERE unique_key IS NOT NULL AND status IN (10, 30, 50);"
        ),
    )
    .await
}
