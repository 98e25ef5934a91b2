//! The MySQL/MariaDB schema, as versioned, idempotent migrations. DDL commits on its own here,
//! so every step checks what exists first and racing processes take turns through a named lock
//! (`GET_LOCK`) held by the migrating connection. There are no partial indexes: the claim index
//! leads with the status instead, and the unique-key index covers a stored generated column
//! that holds the key only while the task is unfinished. Upstream sTask's tables (Laravel's MySQL grammar: LONGTEXT
//! `meta`/`result`, TIMESTAMP columns) upgrade in place.

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use crate::config::Config;
use crate::error::Error;
use crate::store::server::Fail;
use crate::store::{LATEST_VERSION, MigrationReport};

/// Columns added to upstream's `s_tasks`, with their definitions.
const TASK_COLUMNS_V1: &[(&str, &str)] = &[
    ("priority_rank", "INT NOT NULL DEFAULT 2"),
    ("available_at", "BIGINT NOT NULL DEFAULT 0"),
    ("fence", "BIGINT NOT NULL DEFAULT 0"),
    ("locked_by", "VARCHAR(255) NULL"),
    ("lease_expires_at", "BIGINT NULL"),
    ("heartbeat_at", "BIGINT NULL"),
    ("cancel_requested", "TINYINT NOT NULL DEFAULT 0"),
    ("last_error", "TEXT NULL"),
];

const TABLE_OPTIONS: &str = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
/// Seconds a migration waits for another process's migration to finish.
const LOCK_WAIT_SECONDS: i64 = 120;

/// DDL goes through the text protocol: nothing to prepare, nothing to close.
async fn exec(conn: &mut MySqlConnection, sql: String) -> Result<(), Fail> {
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    Ok(())
}

async fn table_exists(conn: &mut MySqlConnection, name: &str) -> Result<bool, Fail> {
    let row = sqlx::query("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

async fn column_names(conn: &mut MySqlConnection, table: &str) -> Result<Vec<String>, Fail> {
    let rows = sqlx::query(
        "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = ?",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

async fn create_index(conn: &mut MySqlConnection, table: &str, name: &str, columns: &str) -> Result<(), Fail> {
    create_index_of_kind(conn, "INDEX", table, name, columns).await
}

/// `kind`: `INDEX` or `UNIQUE INDEX`.
async fn create_index_of_kind(
    conn: &mut MySqlConnection,
    kind: &str,
    table: &str,
    name: &str,
    columns: &str,
) -> Result<(), Fail> {
    let exists = sqlx::query(
        "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? \
         AND index_name = ? LIMIT 1",
    )
    .bind(table)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?
    .is_some();
    if !exists {
        exec(conn, format!("CREATE {kind} `{name}` ON `{table}` ({columns})")).await?;
    }
    Ok(())
}

/// Runs on one connection, outside any transaction.
pub async fn migrate(conn: &mut MySqlConnection, config: &Config) -> Result<MigrationReport, Fail> {
    let schema = config.schema_table();
    // Lock names are limited to 64 characters; the prefix is at most 32.
    let lock = format!("stask-migrate:{schema}");
    let got: Option<i64> = sqlx::query("SELECT CAST(GET_LOCK(?, ?) AS SIGNED)")
        .bind(&lock)
        .bind(LOCK_WAIT_SECONDS)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if got != Some(1) {
        return Err(Fail::Engine(Error::Database(format!(
            "another process has been migrating the sTask tables for over {LOCK_WAIT_SECONDS} s"
        ))));
    }
    let outcome = migrate_locked(conn, config).await;
    let released = sqlx::query("DO RELEASE_LOCK(?)").bind(&lock).execute(&mut *conn).await;
    let report = outcome?;
    released?;
    Ok(report)
}

async fn migrate_locked(conn: &mut MySqlConnection, config: &Config) -> Result<MigrationReport, Fail> {
    let schema = config.schema_table();
    exec(
        conn,
        format!(
            "CREATE TABLE IF NOT EXISTS `{schema}` (version INT NOT NULL, applied_at TIMESTAMP(3) NULL DEFAULT NULL) \
             {TABLE_OPTIONS}"
        ),
    )
    .await?;
    let from_version: i64 = sqlx::query(AssertSqlSafe(format!("SELECT CAST(MAX(version) AS SIGNED) FROM `{schema}`")))
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
    sqlx::query(AssertSqlSafe(format!("INSERT INTO `{schema}` (version, applied_at) VALUES (?, UTC_TIMESTAMP(3))")))
        .bind(LATEST_VERSION)
        .execute(&mut *conn)
        .await?;
    Ok(MigrationReport { from_version, to_version: LATEST_VERSION, upgraded_upstream })
}

/// Upstream's two tables plus the claim, lease and retry columns. `true` when tables written
/// by upstream sTask were upgraded.
async fn version_1(conn: &mut MySqlConnection, config: &Config) -> Result<bool, Fail> {
    let tasks = config.tasks_table();
    let workers = config.workers_table();
    let upstream_tasks = table_exists(conn, &tasks).await?;
    // Upstream's columns, in upstream's order. `NULL DEFAULT NULL` keeps old servers from
    // giving the first TIMESTAMP column an automatic "on update" value.
    exec(
        conn,
        format!(
            "CREATE TABLE IF NOT EXISTS `{tasks}` (
                id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                identifier VARCHAR(255) NOT NULL,
                action VARCHAR(255) NOT NULL,
                status SMALLINT UNSIGNED NOT NULL DEFAULT 10,
                message TEXT NULL,
                started_by INT UNSIGNED NULL,
                meta LONGTEXT NULL,
                result LONGTEXT NULL,
                start_at TIMESTAMP(3) NULL DEFAULT NULL,
                finished_at TIMESTAMP(3) NULL DEFAULT NULL,
                attempts INT NOT NULL DEFAULT 0,
                max_attempts INT NOT NULL DEFAULT 3,
                priority VARCHAR(255) NOT NULL DEFAULT 'normal',
                progress INT NOT NULL DEFAULT 0,
                created_at TIMESTAMP(3) NULL DEFAULT NULL,
                updated_at TIMESTAMP(3) NULL DEFAULT NULL
            ) {TABLE_OPTIONS}"
        ),
    )
    .await?;
    exec(
        conn,
        format!(
            "CREATE TABLE IF NOT EXISTS `{workers}` (
                id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                uuid CHAR(36) NULL,
                identifier VARCHAR(255) NOT NULL,
                scope VARCHAR(255) NOT NULL DEFAULT '',
                class VARCHAR(255) NOT NULL,
                active TINYINT(1) NOT NULL DEFAULT 0,
                position INT UNSIGNED NOT NULL DEFAULT 0,
                settings LONGTEXT NOT NULL DEFAULT ('[]'),
                hidden INT UNSIGNED NOT NULL DEFAULT 0,
                created_at TIMESTAMP(3) NULL DEFAULT NULL,
                updated_at TIMESTAMP(3) NULL DEFAULT NULL,
                UNIQUE KEY `{workers}_uuid_unique` (uuid),
                UNIQUE KEY `{workers}_identifier_unique` (identifier)
            ) {TABLE_OPTIONS}"
        ),
    )
    .await?;
    let existing = column_names(conn, &tasks).await?;
    let missing: Vec<_> =
        TASK_COLUMNS_V1.iter().filter(|(name, _)| !existing.iter().any(|c| c.eq_ignore_ascii_case(name))).collect();
    if !missing.is_empty() {
        // One statement: a big table is rebuilt once, not once per column.
        let adds: Vec<String> = missing.iter().map(|(n, d)| format!("ADD COLUMN {n} {d}")).collect();
        exec(conn, format!("ALTER TABLE `{tasks}` {}", adds.join(", "))).await?;
    }
    let upgraded = upstream_tasks && !missing.is_empty();
    if upgraded {
        // Rows written by upstream get the values the new columns would have had; running rows
        // (upstream never recovered crashed workers) get an expired lease so they are rescued.
        exec(
            conn,
            format!(
                "UPDATE `{tasks}` SET priority_rank = CASE LOWER(priority) WHEN 'high' THEN 3 WHEN 'low' THEN 1 ELSE 2 END"
            ),
        )
        .await?;
        exec(
            conn,
            format!(
                "UPDATE `{tasks}` SET available_at = \
                 COALESCE(CAST(ROUND(UNIX_TIMESTAMP(COALESCE(start_at, created_at)) * 1000) AS SIGNED), 0) \
                 WHERE status = 10"
            ),
        )
        .await?;
        exec(conn, format!("UPDATE `{tasks}` SET lease_expires_at = 0 WHERE status IN (30, 50)")).await?;
    }
    create_index(conn, &tasks, &format!("{tasks}_claim_idx"), "status, priority_rank DESC, available_at, id").await?;
    create_index(conn, &tasks, &format!("{tasks}_lease_idx"), "status, lease_expires_at").await?;
    create_index(conn, &tasks, &format!("{tasks}_finished_idx"), "finished_at").await?;
    create_index(conn, &workers, &format!("{workers}_scope_index"), "scope").await?;
    create_index(conn, &workers, &format!("{workers}_active_index"), "active").await?;
    create_index(conn, &workers, &format!("{workers}_position_index"), "position").await?;
    Ok(upgraded)
}

/// Progress snapshots and logs in the database, for workers on several servers.
async fn version_2(conn: &mut MySqlConnection, config: &Config) -> Result<(), Fail> {
    let progress = config.progress_table();
    let logs = config.logs_table();
    exec(
        conn,
        format!(
            "CREATE TABLE IF NOT EXISTS `{progress}` (
                task_id BIGINT NOT NULL PRIMARY KEY,
                snapshot LONGTEXT NOT NULL,
                updated_at BIGINT NOT NULL
            ) {TABLE_OPTIONS}"
        ),
    )
    .await?;
    exec(
        conn,
        format!(
            "CREATE TABLE IF NOT EXISTS `{logs}` (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                task_id BIGINT NOT NULL,
                logged_at VARCHAR(40) NOT NULL,
                level VARCHAR(10) NOT NULL,
                message LONGTEXT NOT NULL,
                context LONGTEXT NULL,
                KEY `{logs}_task_idx` (task_id, id)
            ) {TABLE_OPTIONS}"
        ),
    )
    .await
}

/// Unique keys: while a task is pending or running, no other task may hold its key. Without
/// partial indexes, `unfinished_key` repeats the key (as bytes: compared exactly, no collation
/// or trailing-space folding) while the status is pending/preparing/running and is NULL
/// otherwise; a unique index allows any number of NULLs.
async fn version_3(conn: &mut MySqlConnection, config: &Config) -> Result<(), Fail> {
    let tasks = config.tasks_table();
    let existing = column_names(conn, &tasks).await?;
    let has = |name: &str| existing.iter().any(|c| c.eq_ignore_ascii_case(name));
    // Two statements: the generated column refers to a column that must exist first (adding a
    // nullable column is instant; the stored one rebuilds the table once).
    if !has("unique_key") {
        exec(
            conn,
            format!("ALTER TABLE `{tasks}` ADD COLUMN unique_key VARCHAR(190) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL"),
        )
        .await?;
    }
    if !has("unfinished_key") {
        exec(
            conn,
            format!(
                "ALTER TABLE `{tasks}` ADD COLUMN unfinished_key VARBINARY(190) GENERATED ALWAYS AS \
                 (IF(status IN (10, 30, 50), CAST(unique_key AS BINARY), NULL)) STORED"
            ),
        )
        .await?;
    }
    create_index_of_kind(conn, "UNIQUE INDEX", &tasks, &format!("{tasks}_unique_idx"), "unfinished_key").await
}
