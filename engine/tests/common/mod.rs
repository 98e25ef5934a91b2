//! Helpers shared by the engine's integration tests, and the conformance harness: every test
//! written as `fn name(sb: Sandbox)` runs once per backend through [`conformance!`]. SQLite
//! always runs; PostgreSQL and MySQL/MariaDB run when `STASK_TEST_PG_URL` /
//! `STASK_TEST_MYSQL_URL` name a server, and otherwise each test says SKIPPED on the terminal.
//! Every test gets its own schema (PostgreSQL) or database (MySQL), so tests run in parallel.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Row};
use stask_engine::{Config, Engine, NewTask, Priority};

/// The database behind a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

impl Kind {
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            Kind::Sqlite => None,
            Kind::Postgres => Some("STASK_TEST_PG_URL"),
            Kind::MySql => Some("STASK_TEST_MYSQL_URL"),
        }
    }

    /// The server URL to test against; `None` when not configured.
    pub fn server_url(self) -> Option<String> {
        self.env_var().and_then(|v| std::env::var(v).ok()).filter(|u| !u.trim().is_empty())
    }
}

/// Writes straight to the terminal: the test harness captures `eprintln!`, not this.
pub fn shout(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// A fresh database and storage directory, removed when dropped.
pub struct Sandbox {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    /// The engine URL of this sandbox.
    pub url: String,
    /// The server URL and the schema or database made for this sandbox.
    server: Option<(String, String)>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// `mysql://host/db?x` → `mysql://host/{db}?x`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Sandbox {
    /// A sandbox on `kind`, or `None` (after saying so) when that backend is not configured.
    pub fn open(kind: Kind, test: &str) -> Option<Sandbox> {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = format!("stask_t{:08x}", fastrand::u32(..));
        match kind {
            Kind::Sqlite => {
                let url = format!("sqlite:{}", dir.path().join("stask.sqlite").display());
                Some(Sandbox { kind, dir, url, server: None })
            }
            Kind::Postgres | Kind::MySql => {
                let Some(server) = kind.server_url() else {
                    shout(&format!(
                        "SKIPPED {test} on {kind:?}: set {} to run it against a real server",
                        kind.env_var().unwrap_or_default()
                    ));
                    return None;
                };
                let url = if kind == Kind::Postgres {
                    let sep = if server.contains('?') { '&' } else { '?' };
                    format!("{server}{sep}options[search_path]={name}&application_name={name}")
                } else {
                    with_database(&server, &name)
                };
                let sb = Sandbox { kind, dir, url, server: Some((server, name.clone())) };
                match kind {
                    Kind::Postgres => sb.admin(&format!("CREATE SCHEMA {name}")),
                    _ => sb.admin(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")),
                }
                Some(sb)
            }
        }
    }

    /// Another sandbox on the same backend.
    pub fn another(&self) -> Sandbox {
        Sandbox::open(self.kind, "another").expect("configured")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("stask.sqlite")
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("files")
    }

    pub fn config(&self) -> Config {
        let mut config = Config::from_url(&self.url).unwrap();
        config.storage_dir = self.storage();
        config.prefix = "evo_".into();
        config.retry.base_ms = 1_000;
        config.retry.jitter = 0.0;
        config
    }

    /// An engine with migrated tables.
    pub fn engine(&self) -> Engine {
        self.engine_with(|_| {})
    }

    pub fn engine_with(&self, tweak: impl FnOnce(&mut Config)) -> Engine {
        let mut config = self.config();
        tweak(&mut config);
        let engine = Engine::open(config).expect("open engine");
        engine.migrate().expect("migrate");
        engine
    }

    /// Runs a statement on the server itself (not in this sandbox's schema).
    fn admin(&self, sql: &str) {
        let (server, _) = self.server.as_ref().expect("a server backend");
        let sql = sql.to_owned();
        let server = server.clone();
        let kind = self.kind;
        runtime().block_on(async move {
            if kind == Kind::Postgres {
                let mut conn = sqlx::PgConnection::connect(&server).await.expect("connect to PostgreSQL");
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await.expect("admin statement");
            } else {
                let mut conn = sqlx::MySqlConnection::connect(&server).await.expect("connect to MySQL");
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await.expect("admin statement");
            }
        });
    }

    /// Runs statements in this sandbox's database, the way another program or time would
    /// (e.g. `UPDATE evo_s_tasks SET available_at = 0 WHERE id = 3`).
    pub fn exec(&self, sql: &str) {
        match self.kind {
            Kind::Sqlite => {
                let conn = rusqlite::Connection::open(self.db_path()).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                conn.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Kind::Postgres => {
                let (url, sql) = (self.url.clone(), sql.to_owned());
                runtime().block_on(async move {
                    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                });
            }
            Kind::MySql => {
                let (url, sql) = (self.url.clone(), sql.to_owned());
                runtime().block_on(async move {
                    let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                });
            }
        }
    }

    /// The first column of the first row, as an integer (`NULL` → `None`).
    pub fn query_i64(&self, sql: &str) -> Option<i64> {
        match self.kind {
            Kind::Sqlite => {
                let conn = rusqlite::Connection::open(self.db_path()).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Kind::Postgres => {
                let (url, sql) = (self.url.clone(), format!("SELECT ({sql})::bigint"));
                runtime().block_on(async move {
                    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                    let row = sqlx::query(AssertSqlSafe(sql.clone()))
                        .fetch_one(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    row.try_get::<Option<i64>, _>(0).unwrap()
                })
            }
            Kind::MySql => {
                let (url, sql) = (self.url.clone(), format!("SELECT CAST(({sql}) AS SIGNED)"));
                runtime().block_on(async move {
                    let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
                    let row = sqlx::query(AssertSqlSafe(sql.clone()))
                        .fetch_one(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    row.try_get::<Option<i64>, _>(0).unwrap()
                })
            }
        }
    }

    /// Closes every server connection of this sandbox's engines, as a database restart or a
    /// network failure would; returns how many were closed.
    pub fn kill_connections(&self) -> usize {
        let (server, name) = self.server.as_ref().expect("a server backend");
        let (server, name, kind) = (server.clone(), name.clone(), self.kind);
        runtime().block_on(async move {
            if kind == Kind::Postgres {
                let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
                let rows = sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
                rows.len()
            } else {
                let mut conn = sqlx::MySqlConnection::connect(&server).await.unwrap();
                let rows = sqlx::query(
                    "SELECT CAST(id AS SIGNED) FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                )
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .unwrap();
                let mut killed = 0;
                for row in rows {
                    let id: i64 = row.try_get(0).unwrap();
                    if sqlx::raw_sql(AssertSqlSafe(format!("KILL {id}"))).execute(&mut conn).await.is_ok() {
                        killed += 1;
                    }
                }
                killed
            }
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.storage().join(name)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let Some((_, name)) = &self.server else { return };
        let sql = match self.kind {
            Kind::Postgres => format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
            _ => format!("DROP DATABASE IF EXISTS {name}"),
        };
        if !std::thread::panicking() {
            self.admin(&sql);
        } else {
            // Keep a failed test's tables for a look; say where they are.
            shout(&format!("kept {name} on {:?} for inspection", self.kind));
        }
    }
}

/// Declares one `#[test]` per backend for each named `fn name(sb: Sandbox)`, in modules
/// `sqlite`, `postgres` and `mysql`, plus a summary that lists the backends that were skipped.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() {
                if let Some(sb) = $crate::common::Sandbox::open($crate::common::Kind::Sqlite, stringify!($name)) {
                    super::$name(sb)
                }
            } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if let Some(sb) = $crate::common::Sandbox::open($crate::common::Kind::Postgres, stringify!($name)) {
                    super::$name(sb)
                }
            } )*
        }
        mod mysql {
            $( #[test] fn $name() {
                if let Some(sb) = $crate::common::Sandbox::open($crate::common::Kind::MySql, stringify!($name)) {
                    super::$name(sb)
                }
            } )*
        }
        #[test]
        fn backends_under_test() {
            let tests = [$(stringify!($name)),*].len();
            for kind in [$crate::common::Kind::Postgres, $crate::common::Kind::MySql] {
                if kind.server_url().is_none() {
                    $crate::common::shout(&format!(
                        "SKIPPED: {tests} conformance tests did not run on {kind:?} ({} is not set)",
                        kind.env_var().unwrap_or_default()
                    ));
                }
            }
        }
    };
}

pub fn task(identifier: &str, action: &str) -> NewTask {
    NewTask::new(identifier, action, json!({}))
}

pub fn task_with(identifier: &str, priority: Priority, data: Value) -> NewTask {
    let mut t = NewTask::new(identifier, "run", data);
    t.priority = priority;
    t
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// Checks that reading a task's whole log in pieces of about `max_bytes` gives every entry
/// `logs()` gives, in order, in whole lines; returns the number of pieces.
pub fn assert_log_reads_in_pieces(engine: &Engine, id: i64, max_bytes: usize) -> usize {
    let mut text = String::new();
    let mut cursor = 0;
    let mut pieces = 0;
    loop {
        let (data, next) = engine.log_chunk(id, cursor, max_bytes).unwrap();
        pieces += 1;
        assert!(data.is_empty() || data.ends_with('\n'), "whole lines only: {data:?}");
        text.push_str(&data);
        match next {
            Some(n) => {
                assert!(n > cursor, "the cursor moves on");
                cursor = n;
            }
            None => break,
        }
        assert!(pieces < 100_000, "endless");
    }
    let read: Vec<stask_engine::LogEntry> =
        text.lines().map(|l| stask_engine::LogEntry::parse(l).expect("a log line")).collect();
    assert_eq!(read, engine.logs(id, None, 100_000).unwrap());
    pieces
}
