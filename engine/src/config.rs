//! Where the engine stores things and how it behaves: parsed from a URL plus options.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::task::MAX_ATTEMPTS_LIMIT;

/// Which database holds the tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file, opened in WAL mode.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (tests, throwaway demos): one process only.
    SqliteMemory,
    /// A PostgreSQL server (10 or newer); the URL as sqlx reads it (`postgres://…`).
    Postgres(String),
    /// A MySQL 8 or MariaDB 10.5+ server; the URL as sqlx reads it (`mysql://…`).
    MySql(String),
}

impl Backend {
    /// A short name for messages: "sqlite", "postgres" or "mysql".
    pub fn name(&self) -> &'static str {
        match self {
            Backend::SqliteFile(_) | Backend::SqliteMemory => "sqlite",
            Backend::Postgres(_) => "postgres",
            Backend::MySql(_) => "mysql",
        }
    }

    /// Served by a database server that several machines can share.
    pub fn is_networked(&self) -> bool {
        matches!(self, Backend::Postgres(_) | Backend::MySql(_))
    }
}

/// Where progress snapshots and log entries are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalMode {
    /// `{id}.json` and `{id}.log` files in the storage directory: fastest, one server only.
    Files,
    /// Tables in the task database, so every server sees every task's progress and logs.
    Database,
}

/// How a MySQL/MariaDB claim locks the rows it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimLocking {
    /// `SKIP LOCKED` when the server has it (MySQL ≥ 8.0.1, MariaDB ≥ 10.6), else `FOR UPDATE`.
    Auto,
    /// Plain `FOR UPDATE`: correct everywhere, but workers queue on the same rows. The path
    /// older servers take; selectable so that it can be tested on a new server.
    Blocking,
}

/// Everything an engine needs to open.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub backend: Backend,
    /// Table prefix, e.g. Evolution CMS's `evo_`.
    pub prefix: String,
    /// Directory for `{id}.json` progress snapshots and `{id}.log` logs.
    pub storage_dir: PathBuf,
    /// How long a claim stays valid without a heartbeat.
    pub lease_ms: i64,
    /// Attempts a task gets when its creator does not say.
    pub max_attempts: i64,
    pub retry: RetryPolicy,
    /// Minimum time between two writes of one task's progress snapshot.
    pub progress_interval_ms: i64,
    /// How long a SQLite writer waits for the lock before giving up.
    pub busy_timeout_ms: i64,
    /// Worker name recorded on claims; the process id is appended.
    pub worker_name: Option<String>,
    /// Log "attempt started" and "completed" lines for every task (failures are always logged).
    pub lifecycle_log: bool,
    /// Progress snapshots and logs in files (one server) or in the database (several).
    pub journal: JournalMode,
    pub claim_locking: ClaimLocking,
}

pub const MAX_PREFIX_LEN: usize = 32;

/// URL schemes this build can open (their aliases — `sqlite3`, `postgresql`, `pgsql`,
/// `mariadb` — work too).
pub const SUPPORTED_SCHEMES: &[&str] = &["sqlite", "postgres", "mysql"];

impl Config {
    /// Parses an engine URL: `sqlite:/abs/path.db`, `sqlite:relative.db`, `sqlite:///abs/path.db`,
    /// `sqlite::memory:`, `postgres://user:pass@host:5432/db` (or `postgresql://`, `pgsql://`),
    /// `mysql://user:pass@host:3306/db` (or `mariadb://`). Every other setting takes its default.
    pub fn from_url(url: &str) -> Result<Config> {
        let backend = parse_url(url)?;
        let storage_dir = default_storage_dir(&backend);
        Ok(Config {
            backend,
            prefix: String::new(),
            storage_dir,
            lease_ms: 60_000,
            max_attempts: 3,
            retry: RetryPolicy::default(),
            progress_interval_ms: 250,
            busy_timeout_ms: 10_000,
            worker_name: None,
            lifecycle_log: true,
            journal: JournalMode::Files,
            claim_locking: ClaimLocking::Auto,
        })
    }

    pub fn validate(&self) -> Result<()> {
        if self.prefix.len() > MAX_PREFIX_LEN || !self.prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::Config(format!(
                "prefix \"{}\" is invalid: use at most {MAX_PREFIX_LEN} letters, digits and underscores",
                self.prefix.escape_debug()
            )));
        }
        if !(1_000..=86_400_000).contains(&self.lease_ms) {
            return Err(Error::Config(format!(
                "leaseSeconds must be between 1 and 86400, got {}",
                self.lease_ms as f64 / 1000.0
            )));
        }
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(Error::Config(format!(
                "maxAttempts must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {}",
                self.max_attempts
            )));
        }
        if !(0..=60_000).contains(&self.progress_interval_ms) {
            return Err(Error::Config("progressInterval must be between 0 and 60000 ms".into()));
        }
        if !(0..=600_000).contains(&self.busy_timeout_ms) {
            return Err(Error::Config("busyTimeout must be between 0 and 600000 ms".into()));
        }
        if let Some(name) = &self.worker_name {
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                return Err(Error::Config("worker name must be 1 to 100 printable characters".into()));
            }
        }
        if self.journal == JournalMode::Database && self.backend == Backend::SqliteMemory {
            return Err(Error::Config(
                "files => 'database' needs a database that other connections can open, not sqlite::memory:".into(),
            ));
        }
        if self.storage_dir.as_os_str().is_empty() {
            return Err(Error::Config("storage directory must not be empty".into()));
        }
        if self.storage_dir.as_os_str().as_encoded_bytes().contains(&0) {
            return Err(Error::Config(format!(
                "storage directory \"{}\" contains a NUL byte",
                self.storage_dir.display().to_string().escape_debug()
            )));
        }
        self.retry.validate()
    }

    /// Table names with the prefix applied.
    pub fn tasks_table(&self) -> String {
        format!("{}s_tasks", self.prefix)
    }

    pub fn workers_table(&self) -> String {
        format!("{}s_workers", self.prefix)
    }

    pub fn schema_table(&self) -> String {
        format!("{}s_task_schema", self.prefix)
    }

    /// Progress snapshots, when they are kept in the database.
    pub fn progress_table(&self) -> String {
        format!("{}s_task_progress", self.prefix)
    }

    /// Log entries, when they are kept in the database.
    pub fn logs_table(&self) -> String {
        format!("{}s_task_logs", self.prefix)
    }

    /// The PostgreSQL channel that announces new due tasks (a prefix per site).
    pub fn notify_channel(&self) -> String {
        format!("{}s_tasks_due", self.prefix)
    }
}

fn parse_url(url: &str) -> Result<Backend> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(Error::Config(format!(
            "engine URL \"{}\" has no scheme: use e.g. \"sqlite:/path/to/stask.sqlite\"",
            url.escape_debug()
        )));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" | "sqlite3" => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path == ":memory:" {
                return Ok(Backend::SqliteMemory);
            }
            if path.is_empty() {
                return Err(Error::Config(
                    "sqlite URL has no file path: use \"sqlite:/path/to/stask.sqlite\" or \"sqlite::memory:\"".into(),
                ));
            }
            if path.contains('\0') {
                return Err(Error::Config("sqlite path must not contain NUL bytes".into()));
            }
            Ok(Backend::SqliteFile(PathBuf::from(path)))
        }
        "postgres" | "postgresql" | "pgsql" => Ok(Backend::Postgres(server_url("postgres", rest)?)),
        "mysql" | "mariadb" => Ok(Backend::MySql(server_url("mysql", rest)?)),
        other => Err(Error::Config(format!(
            "unknown engine URL scheme \"{}\": use \"sqlite:\", \"postgres://\" or \"mysql://\"",
            other.escape_debug()
        ))),
    }
}

/// A server URL in the scheme sqlx expects; the rest is checked when connecting.
fn server_url(scheme: &str, rest: &str) -> Result<String> {
    let Some(authority) = rest.strip_prefix("//") else {
        return Err(Error::Config(format!(
            "a {scheme} URL looks like \"{scheme}://user:password@host:port/database\""
        )));
    };
    let host_part = authority.split(['/', '?']).next().unwrap_or_default();
    let database = authority.split('?').next().unwrap_or_default().split_once('/').map(|(_, db)| db);
    if host_part.rsplit('@').next().unwrap_or_default().is_empty() && !authority.contains("host=") {
        return Err(Error::Config(format!("the {scheme} URL names no host")));
    }
    if database.is_none_or(str::is_empty) {
        return Err(Error::Config(format!("the {scheme} URL names no database: add \"/database\" after the host")));
    }
    if authority.contains(char::is_control) {
        return Err(Error::Config(format!("the {scheme} URL contains control characters")));
    }
    Ok(format!("{scheme}://{authority}"))
}

fn default_storage_dir(backend: &Backend) -> PathBuf {
    match backend {
        // No file to sit next to: local files go under the system's temporary directory unless
        // the `storage` option says where (or the journal is kept in the database).
        Backend::Postgres(_) | Backend::MySql(_) => std::env::temp_dir().join("stask"),
        Backend::SqliteFile(path) => {
            path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("stask")
        }
        Backend::SqliteMemory => std::env::temp_dir().join(format!("stask-memory-{}", std::process::id())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_urls() {
        assert_eq!(
            Config::from_url("sqlite:/var/db.sqlite").unwrap().backend,
            Backend::SqliteFile("/var/db.sqlite".into())
        );
        assert_eq!(
            Config::from_url("sqlite:///var/db.sqlite").unwrap().backend,
            Backend::SqliteFile("/var/db.sqlite".into())
        );
        assert_eq!(Config::from_url("sqlite:db.sqlite").unwrap().backend, Backend::SqliteFile("db.sqlite".into()));
        assert_eq!(Config::from_url("sqlite::memory:").unwrap().backend, Backend::SqliteMemory);
        assert_eq!(Config::from_url("sqlite:/var/db.sqlite").unwrap().storage_dir, PathBuf::from("/var/stask"));
        assert_eq!(Config::from_url("sqlite:db.sqlite").unwrap().storage_dir, PathBuf::from("./stask"));
    }

    #[test]
    fn parses_server_urls() {
        let pg = |u: &str| Config::from_url(u).unwrap().backend;
        assert_eq!(pg("postgres://u:p@db:5432/site"), Backend::Postgres("postgres://u:p@db:5432/site".into()));
        assert_eq!(pg("postgresql://db/site"), Backend::Postgres("postgres://db/site".into()));
        assert_eq!(
            pg("pgsql://db/site?sslmode=disable"),
            Backend::Postgres("postgres://db/site?sslmode=disable".into())
        );
        assert_eq!(pg("mysql://root@127.0.0.1:3306/test"), Backend::MySql("mysql://root@127.0.0.1:3306/test".into()));
        assert_eq!(pg("MariaDB://root@db/site"), Backend::MySql("mysql://root@db/site".into()));
        assert!(pg("mysql://db/site").is_networked());
    }

    #[test]
    fn rejects_bad_urls_with_a_hint() {
        for bad in [
            "",
            "nonsense",
            "sqlite:",
            "ftp://x",
            "sqlite:a\0b",
            "postgres:db",
            "postgres://host",
            "mysql://h/",
            "mysql:///db",
        ] {
            let err = Config::from_url(bad).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad}: {err}");
        }
        assert!(Config::from_url("postgres://localhost").unwrap_err().to_string().contains("no database"));
    }

    #[test]
    fn validates_options() {
        let mut c = Config::from_url("sqlite::memory:").unwrap();
        assert!(c.validate().is_ok());
        c.prefix = "evo_".into();
        assert!(c.validate().is_ok());
        c.prefix = "evo-; drop".into();
        assert!(c.validate().is_err());
        c.prefix = "evo_".into();
        c.lease_ms = 10;
        assert!(c.validate().is_err());
        c.lease_ms = 60_000;
        c.max_attempts = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn a_storage_path_with_a_nul_byte_is_a_config_error() {
        let mut c = Config::from_url("sqlite::memory:").unwrap();
        c.storage_dir = PathBuf::from("/tmp/a\0b");
        let err = c.validate().unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert!(err.to_string().contains("NUL") && !err.to_string().contains('\0'), "{err}");
    }

    #[test]
    fn absurd_backoff_is_refused_or_bounded() {
        let mut c = Config::from_url("sqlite::memory:").unwrap();
        c.retry.base_ms = i64::MAX;
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        c.retry.base_ms = 10_000;
        c.retry.max_ms = i64::MAX;
        assert!(c.validate().is_ok());
        assert!(c.retry.delay_ms(1_000) <= crate::retry::MAX_RETRY_DELAY_MS);
    }
}
