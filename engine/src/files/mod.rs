//! The task files under the storage directory: `{id}.json` progress snapshots and `{id}.log`
//! logs. Both are plain files so a single server needs no database round trip to show them.

mod log;
pub mod snapshot;

pub use log::{Level, LogEntry};
pub use snapshot::Snapshot;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// How many log files stay open for appending; a worker writes to one or two at a time.
const OPEN_LOGS: usize = 16;

/// Reads and writes the files of tasks in one directory.
pub struct Files {
    dir: PathBuf,
    open_logs: Mutex<Vec<(i64, File)>>,
}

impl Files {
    /// Uses `dir`, creating it if needed, and fails unless files can be created in it.
    pub fn open(dir: &Path) -> Result<Files> {
        fs::create_dir_all(dir)
            .map_err(|e| Error::storage(format!("storage directory {} cannot be created", dir.display()), e))?;
        // Unique per call: engines opened concurrently must not delete each other's probe.
        let probe = dir.join(format!(".stask-probe-{}-{:016x}", std::process::id(), fastrand::u64(..)));
        File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|e| Error::storage(format!("storage directory {} is not writable", dir.display()), e))?;
        Ok(Files { dir: dir.to_path_buf(), open_logs: Mutex::new(Vec::new()) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn snapshot_path(&self, id: i64) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub fn log_path(&self, id: i64) -> PathBuf {
        self.dir.join(format!("{id}.log"))
    }

    /// Replaces the snapshot atomically: readers see the old file or the new one, never half.
    pub fn write_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let path = self.snapshot_path(snapshot.id);
        let tmp = self.dir.join(format!(".{}.json.{}-{:08x}.tmp", snapshot.id, std::process::id(), fastrand::u32(..)));
        fs::write(&tmp, snapshot.to_json()).and_then(|_| fs::rename(&tmp, &path)).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::storage(format!("cannot write progress file {}", path.display()), e)
        })
    }

    pub fn has_snapshot(&self, id: i64) -> bool {
        self.snapshot_path(id).exists()
    }

    /// The stored snapshot, or `None` when the task never reported progress.
    pub fn read_snapshot(&self, id: i64) -> Result<Option<serde_json::Value>> {
        let path = self.snapshot_path(id);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::storage(format!("progress file {} is corrupt", path.display()), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::storage(format!("cannot read progress file {}", path.display()), e)),
        }
    }

    /// Appends one entry as one `write`, so concurrent writers never interleave inside a line.
    pub fn append_log(&self, id: i64, entry: &LogEntry) -> Result<()> {
        let line = entry.to_line();
        let mut open = self.open_logs.lock();
        let pos = match open.iter().position(|(i, _)| *i == id) {
            Some(pos) => pos,
            None => {
                let path = self.log_path(id);
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| Error::storage(format!("cannot open log file {}", path.display()), e))?;
                if open.len() >= OPEN_LOGS {
                    open.remove(0);
                }
                open.push((id, file));
                open.len() - 1
            }
        };
        let file = &mut open[pos].1;
        file.write_all(line.as_bytes())
            .map_err(|e| Error::storage(format!("cannot write log file {}", self.log_path(id).display()), e))
    }

    /// The last `limit` entries, oldest first, optionally only those of one level.
    pub fn read_log(&self, id: i64, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>> {
        log::read_tail(&self.log_path(id), level, limit)
    }

    /// Whole lines of the log from byte `offset`; see [`log::read_chunk`].
    pub fn read_log_chunk(&self, id: i64, offset: u64, max_bytes: usize) -> Result<(String, Option<u64>)> {
        log::read_chunk(&self.log_path(id), offset, max_bytes)
    }

    /// Deletes a task's files (after pruning its row).
    pub fn remove(&self, id: i64) -> Result<()> {
        self.open_logs.lock().retain(|(i, _)| *i != id);
        for path in [self.snapshot_path(id), self.log_path(id)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::storage(format!("cannot delete {}", path.display()), e));
                }
            }
        }
        Ok(())
    }

    /// Closes cached log handles (after a fork, or when a task finishes).
    pub fn close_log(&self, id: i64) {
        self.open_logs.lock().retain(|(i, _)| *i != id);
    }

    pub fn close_all(&self) {
        self.open_logs.lock().clear();
    }
}
