//! The task files under the storage directory: `{id}.json` progress snapshots and `{id}.log`
//! logs. Both are plain files so a single server needs no database round trip to show them.

mod log;
pub mod snapshot;

pub use log::{BLOCK, Level, LogEntry, MAX_ENTRY_BYTES, MAX_LINE_BYTES};
pub use snapshot::Snapshot;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// How many log files stay open for appending; a worker writes to one or two at a time.
const OPEN_LOGS: usize = 16;

/// The largest progress file read: a snapshot holds a message of at most 1 MiB (JSON-escaped,
/// up to six bytes a character) and a few numbers.
const MAX_SNAPSHOT_BYTES: u64 = 8 * 1024 * 1024;

/// Opens a task file without following a symbolic link in its last component (`O_NOFOLLOW`;
/// `O_NONBLOCK` so that a FIFO cannot block the open), then refuses anything but a regular
/// file (checked on the open descriptor). `Ok(None)`: there is no such file.
fn open_task_file(path: &Path, options: &mut OpenOptions, what: &str) -> Result<Option<File>> {
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::Storage(format!(
                "{what} {} is a symbolic link; task files are never opened through links",
                path.display()
            )));
        }
        Err(e) => return Err(Error::storage(format!("cannot open {what} {}", path.display()), e)),
    };
    let kind = file.metadata().map_err(|e| Error::storage(format!("cannot open {what} {}", path.display()), e))?;
    let kind = kind.file_type();
    if !kind.is_file() {
        let name = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_block_device() || kind.is_char_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(Error::Storage(format!("{what} {} is {name}; only regular task files are used", path.display())));
    }
    Ok(Some(file))
}

/// Whether a directory entry exists at `path` (a symbolic link counts; it is not followed).
fn entry_exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Reads and writes the files of tasks in one directory. Task files are opened without
/// following symbolic links and must be regular files; anything else placed under their names
/// is refused with [`Error::Storage`], and pruning unlinks it without touching what it points to.
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
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&probe)
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
    /// The temporary file is new (`O_CREAT|O_EXCL|O_NOFOLLOW`: never an existing file or a
    /// link's target), and `rename` replaces the directory entry `{id}.json` itself, so a link
    /// placed there is replaced, not written through.
    pub fn write_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let path = self.snapshot_path(snapshot.id);
        let tmp = self.dir.join(format!(".{}.json.{}-{:08x}.tmp", snapshot.id, std::process::id(), fastrand::u32(..)));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .and_then(|mut file| file.write_all(snapshot.to_json().as_bytes()));
        let renamed = match written {
            Ok(()) => fs::rename(&tmp, &path),
            // Not created: nothing of ours to remove (the name may be someone else's).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::storage(format!("cannot write progress file {}", path.display()), e));
            }
            Err(e) => Err(e),
        };
        renamed.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::storage(format!("cannot write progress file {}", path.display()), e)
        })
    }

    /// Whether the task has a progress file (a link in its place counts, and is refused when read).
    pub fn has_snapshot(&self, id: i64) -> bool {
        entry_exists(&self.snapshot_path(id))
    }

    /// Whether the task has a log file (a link in its place counts, and is refused when read).
    pub fn has_log(&self, id: i64) -> bool {
        entry_exists(&self.log_path(id))
    }

    /// The stored snapshot, or `None` when the task never reported progress.
    pub fn read_snapshot(&self, id: i64) -> Result<Option<serde_json::Value>> {
        let path = self.snapshot_path(id);
        let Some(file) = open_task_file(&path, OpenOptions::new().read(true), "progress file")? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.take(MAX_SNAPSHOT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::storage(format!("cannot read progress file {}", path.display()), e))?;
        if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
            return Err(Error::Storage(format!(
                "progress file {} is larger than {MAX_SNAPSHOT_BYTES} bytes: not a snapshot the engine wrote",
                path.display()
            )));
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::storage(format!("progress file {} is corrupt", path.display()), e))
    }

    /// Appends one entry as one `write`, so concurrent writers never interleave inside a line.
    /// The entry is cut to [`MAX_ENTRY_BYTES`] first (see [`LogEntry::capped`]).
    pub fn append_log(&self, id: i64, entry: &LogEntry) -> Result<()> {
        let line = entry.capped().to_line();
        let mut open = self.open_logs.lock();
        let pos = match open.iter().position(|(i, _)| *i == id) {
            Some(pos) => pos,
            None => {
                let path = self.log_path(id);
                let file = open_task_file(&path, OpenOptions::new().create(true).append(true), "log file")?
                    .ok_or_else(|| Error::Storage(format!("cannot open log file {}: it vanished", path.display())))?;
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
        let path = self.log_path(id);
        match open_task_file(&path, OpenOptions::new().read(true), "log file")? {
            Some(file) => log::read_tail(&file, &path, level, limit),
            None => Ok(Vec::new()),
        }
    }

    /// Whole lines of the log from byte `offset`; see [`log::read_chunk`].
    pub fn read_log_chunk(&self, id: i64, offset: u64, max_bytes: usize) -> Result<(String, Option<u64>)> {
        let path = self.log_path(id);
        match open_task_file(&path, OpenOptions::new().read(true), "log file")? {
            Some(file) => log::read_chunk(&file, &path, offset, max_bytes),
            None => Ok((String::new(), None)),
        }
    }

    /// Deletes a task's files (after pruning its row). `unlink` removes a symbolic link itself,
    /// never the file it points to.
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
