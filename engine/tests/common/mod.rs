//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::{Value, json};
use stask_engine::{Config, Engine, NewTask, Priority};

/// A fresh database and storage directory, removed when dropped.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("stask.sqlite")
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("files")
    }

    pub fn config(&self) -> Config {
        let mut config = Config::from_url(&format!("sqlite:{}", self.db_path().display())).unwrap();
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

    /// A direct connection, to inspect or age rows the way time or another process would.
    pub fn sql(&self) -> Connection {
        let conn = Connection::open(self.db_path()).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        conn
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.storage().join(name)
    }
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
