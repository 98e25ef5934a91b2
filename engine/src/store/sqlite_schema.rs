//! The SQLite schema, as versioned, idempotent migrations. Version 1 is upstream sTask's two
//! tables (same names, columns and codes, so an existing database upgrades in place) plus the
//! columns claims, leases, fencing, retries and cancellation need.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::config::Config;
use crate::error::Result;
use crate::store::{LATEST_VERSION, MigrationReport};
use crate::time::{now_ms, to_sql_text};

/// Columns added to upstream's `s_tasks`, with their definitions.
const TASK_COLUMNS_V1: &[(&str, &str)] = &[
    ("priority_rank", "INTEGER NOT NULL DEFAULT 2"),
    ("available_at", "INTEGER NOT NULL DEFAULT 0"),
    ("fence", "INTEGER NOT NULL DEFAULT 0"),
    ("locked_by", "VARCHAR(255) NULL"),
    ("lease_expires_at", "INTEGER NULL"),
    ("heartbeat_at", "INTEGER NULL"),
    ("cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
    ("last_error", "TEXT NULL"),
];

pub fn migrate(conn: &mut Connection, config: &Config) -> Result<MigrationReport> {
    let schema = config.schema_table();
    // One writer at a time: a second process racing here waits, then finds the work done.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS \"{schema}\" (version INTEGER NOT NULL, applied_at DATETIME NULL)"
    ))?;
    let from_version: i64 = tx
        .query_row(&format!("SELECT MAX(version) FROM \"{schema}\""), [], |r| r.get::<_, Option<i64>>(0))?
        .unwrap_or(0);
    if from_version >= LATEST_VERSION {
        tx.commit()?;
        return Ok(MigrationReport { from_version, to_version: from_version, upgraded_upstream: false });
    }
    let upgraded_upstream = if from_version < 1 { version_1(&tx, config)? } else { false };
    if from_version < 2 {
        version_2(&tx, config)?;
    }
    if from_version < 3 {
        version_3(&tx, config)?;
    }
    tx.execute(
        &format!("INSERT INTO \"{schema}\" (version, applied_at) VALUES (?1, ?2)"),
        rusqlite::params![LATEST_VERSION, to_sql_text(now_ms())],
    )?;
    tx.commit()?;
    Ok(MigrationReport { from_version, to_version: LATEST_VERSION, upgraded_upstream })
}

/// Progress snapshots and logs in the database, for `files => 'database'`.
fn version_2(tx: &Connection, config: &Config) -> Result<()> {
    let progress = config.progress_table();
    let logs = config.logs_table();
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS \"{progress}\" (
            task_id INTEGER PRIMARY KEY,
            snapshot TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS \"{logs}\" (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task_id INTEGER NOT NULL,
            logged_at TEXT NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL,
            context TEXT NULL
        );
        CREATE INDEX IF NOT EXISTS \"{logs}_task_idx\" ON \"{logs}\" (task_id, id);"
    ))?;
    Ok(())
}

/// Unique keys: while a task is pending or running, no other task may hold its key. (Databases
/// made by an early build have the column at version 1 already.)
fn version_3(tx: &Connection, config: &Config) -> Result<()> {
    let tasks = config.tasks_table();
    if !column_names(tx, &tasks)?.iter().any(|c| c.eq_ignore_ascii_case("unique_key")) {
        tx.execute_batch(&format!("ALTER TABLE \"{tasks}\" ADD COLUMN unique_key VARCHAR(190) NULL"))?;
    }
    tx.execute_batch(&format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS \"{tasks}_unique_idx\" ON \"{tasks}\" (unique_key)
            WHERE unique_key IS NOT NULL AND status IN (10, 30, 50);"
    ))?;
    Ok(())
}

/// Upstream's tables plus claims, leases, fencing, retries and cancels. `true` when tables
/// written by upstream sTask were upgraded.
fn version_1(tx: &Connection, config: &Config) -> Result<bool> {
    let tasks = config.tasks_table();
    let workers = config.workers_table();

    let upstream_tasks = table_exists(tx, &tasks)?;
    // Upstream's columns, in upstream's order.
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS \"{tasks}\" (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            identifier VARCHAR(255) NOT NULL,
            action VARCHAR(255) NOT NULL,
            status INTEGER NOT NULL DEFAULT 10,
            message TEXT NULL,
            started_by INTEGER NULL,
            meta TEXT NULL,
            result TEXT NULL,
            start_at DATETIME NULL,
            finished_at DATETIME NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 3,
            priority VARCHAR(255) NOT NULL DEFAULT 'normal',
            progress INTEGER NOT NULL DEFAULT 0,
            created_at DATETIME NULL,
            updated_at DATETIME NULL
        );
        CREATE TABLE IF NOT EXISTS \"{workers}\" (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid VARCHAR(36) NULL UNIQUE,
            identifier VARCHAR(255) NOT NULL UNIQUE,
            scope VARCHAR(255) NOT NULL DEFAULT '',
            class VARCHAR(255) NOT NULL,
            active INTEGER NOT NULL DEFAULT 0,
            position INTEGER NOT NULL DEFAULT 0,
            settings TEXT NOT NULL DEFAULT '[]',
            hidden INTEGER NOT NULL DEFAULT 0,
            created_at DATETIME NULL,
            updated_at DATETIME NULL
        );"
    ))?;

    let existing = column_names(tx, &tasks)?;
    let mut added = Vec::new();
    for (name, definition) in TASK_COLUMNS_V1 {
        if !existing.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            tx.execute_batch(&format!("ALTER TABLE \"{tasks}\" ADD COLUMN {name} {definition}"))?;
            added.push(*name);
        }
    }

    if upstream_tasks && !added.is_empty() {
        backfill_upstream_rows(tx, &tasks)?;
    }

    // Partial indexes: a new task touches only the claim index; running and finished tasks
    // enter the others later. Pages written per commit are most of what `create` costs, so
    // there is deliberately no index on identifier (upstream's, when present, is kept).
    tx.execute_batch(&format!(
        "CREATE INDEX IF NOT EXISTS \"{tasks}_claim_idx\" ON \"{tasks}\" (priority_rank DESC, available_at, id) WHERE status = 10;
         CREATE INDEX IF NOT EXISTS \"{tasks}_lease_idx\" ON \"{tasks}\" (lease_expires_at) WHERE status IN (30, 50);
         CREATE INDEX IF NOT EXISTS \"{tasks}_finished_idx\" ON \"{tasks}\" (finished_at) WHERE finished_at IS NOT NULL;
         CREATE INDEX IF NOT EXISTS \"{workers}_scope_index\" ON \"{workers}\" (scope);
         CREATE INDEX IF NOT EXISTS \"{workers}_active_index\" ON \"{workers}\" (active);
         CREATE INDEX IF NOT EXISTS \"{workers}_position_index\" ON \"{workers}\" (position);"
    ))?;
    Ok(upstream_tasks && !added.is_empty())
}

/// Rows written by upstream sTask get the values the new columns would have had.
fn backfill_upstream_rows(conn: &Connection, tasks: &str) -> Result<()> {
    conn.execute_batch(&format!(
        "UPDATE \"{tasks}\" SET priority_rank = CASE lower(priority) WHEN 'high' THEN 3 WHEN 'low' THEN 1 ELSE 2 END;
         UPDATE \"{tasks}\" SET available_at = CAST(ROUND(COALESCE(
                (julianday(start_at) - 2440587.5) * 86400000.0,
                (julianday(created_at) - 2440587.5) * 86400000.0,
                0)) AS INTEGER)
            WHERE status = 10;
         -- Upstream never recovered crashed workers: its running rows may be stuck forever.
         -- Give them an expired lease so the first claim rescues them.
         UPDATE \"{tasks}\" SET lease_expires_at = 0 WHERE status IN (30, 50);"
    ))?;
    Ok(())
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |_| Ok(()))
        .optional()?
        .is_some())
}

fn column_names(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
    let names = stmt.query_map([], |row| row.get::<_, String>(1))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}
