//! Where progress snapshots and log entries live: files in the storage directory (the fast
//! default for one server), or tables in the task database (`files => 'database'`), so that a
//! worker on any server writes what the admin page on any other server reads.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde_json::Value;

use crate::config::{Config, JournalMode};
use crate::error::{Error, Result};
use crate::files::{Files, Level, LogEntry, Snapshot};
use crate::store::{self, Store};

/// Log rows read per query when a whole log is read in pieces.
const LOG_ROWS_PER_QUERY: usize = 200;

/// Progress snapshots and logs of tasks.
pub enum Journal {
    Files(Files),
    Database(DbJournal),
}

/// Snapshots and logs in the database, through a connection of its own (opened on first use in
/// each process, so a fork gets its own).
pub struct DbJournal {
    config: Config,
    store: Mutex<Option<(u32, Box<dyn Store>)>>,
}

impl DbJournal {
    fn with<T>(&self, body: impl FnOnce(&mut dyn Store) -> Result<T>) -> Result<T> {
        let mut slot = self.store.lock();
        let pid = std::process::id();
        if slot.as_ref().is_some_and(|(p, _)| *p != pid) {
            // The parent's connection: leave it alone.
            std::mem::forget(slot.take());
        }
        if slot.is_none() {
            *slot = Some((pid, store::open(&self.config)?));
        }
        body(slot.as_mut().expect("opened above").1.as_mut())
    }
}

impl Journal {
    pub fn open(config: &Config) -> Result<Journal> {
        match config.journal {
            JournalMode::Files => Ok(Journal::Files(Files::open(&config.storage_dir)?)),
            JournalMode::Database => {
                Ok(Journal::Database(DbJournal { config: config.clone(), store: Mutex::new(None) }))
            }
        }
    }

    /// Files on this server (as opposed to the shared database).
    pub fn is_local(&self) -> bool {
        matches!(self, Journal::Files(_))
    }

    pub fn dir(&self) -> &Path {
        match self {
            Journal::Files(f) => f.dir(),
            Journal::Database(d) => &d.config.storage_dir,
        }
    }

    /// Where the log file is (or would be); meaningful for the files journal only.
    pub fn log_path(&self, id: i64) -> PathBuf {
        match self {
            Journal::Files(f) => f.log_path(id),
            Journal::Database(d) => d.config.storage_dir.join(format!("{id}.log")),
        }
    }

    pub fn write_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        match self {
            Journal::Files(f) => f.write_snapshot(snapshot),
            Journal::Database(d) => d.with(|s| s.put_snapshot(snapshot.id, &snapshot.to_json(), snapshot.updated_at)),
        }
    }

    pub fn has_snapshot(&self, id: i64) -> bool {
        match self {
            Journal::Files(f) => f.has_snapshot(id),
            Journal::Database(d) => d.with(|s| s.get_snapshot(id)).is_ok_and(|s| s.is_some()),
        }
    }

    /// Which of these tasks have a snapshot (one query in the database).
    pub fn with_snapshots(&self, ids: &[i64]) -> Vec<i64> {
        match self {
            Journal::Files(f) => ids.iter().copied().filter(|id| f.has_snapshot(*id)).collect(),
            Journal::Database(d) => d.with(|s| s.with_snapshots(ids)).unwrap_or_default(),
        }
    }

    pub fn read_snapshot(&self, id: i64) -> Result<Option<Value>> {
        match self {
            Journal::Files(f) => f.read_snapshot(id),
            Journal::Database(d) => {
                let Some(text) = d.with(|s| s.get_snapshot(id))? else { return Ok(None) };
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| Error::storage(format!("the progress snapshot of task {id} is corrupt"), e))
            }
        }
    }

    /// Appends an entry, cut to [`MAX_ENTRY_BYTES`](crate::files::MAX_ENTRY_BYTES) of message
    /// and context (in both journals: see [`LogEntry::capped`]).
    pub fn append_log(&self, id: i64, entry: &LogEntry) -> Result<()> {
        match self {
            Journal::Files(f) => f.append_log(id, entry),
            Journal::Database(d) => d.with(|s| s.put_logs(&[(id, &entry.capped())])),
        }
    }

    /// Appends several entries (one statement in the database), each cut like [`Self::append_log`]'s.
    pub fn append_logs(&self, entries: &[(i64, LogEntry)]) -> Result<()> {
        match self {
            Journal::Files(f) => entries.iter().try_for_each(|(id, e)| f.append_log(*id, e)),
            Journal::Database(d) => {
                let capped: Vec<(i64, Cow<'_, LogEntry>)> = entries.iter().map(|(id, e)| (*id, e.capped())).collect();
                let refs: Vec<(i64, &LogEntry)> = capped.iter().map(|(id, e)| (*id, e.as_ref())).collect();
                d.with(|s| s.put_logs(&refs))
            }
        }
    }

    /// The last `limit` entries, oldest first. Rows stored before entries were capped are cut
    /// on the way out, as long lines of a log file are.
    pub fn read_log(&self, id: i64, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>> {
        match self {
            Journal::Files(f) => f.read_log(id, level, limit),
            Journal::Database(d) => {
                let entries = d.with(|s| s.get_logs(id, level, limit))?;
                Ok(entries
                    .into_iter()
                    .map(|e| {
                        let cut = match e.capped() {
                            Cow::Owned(cut) => Some(cut),
                            Cow::Borrowed(_) => None,
                        };
                        cut.unwrap_or(e)
                    })
                    .collect())
            }
        }
    }

    /// A piece of a task's whole log, oldest entries first, as lines in the log file format:
    /// from `cursor` (0: the start) about `max_bytes` of whole entries, and the cursor of the
    /// next piece (`None`: the end). Memory stays bounded however long the log is.
    pub fn log_chunk(&self, id: i64, cursor: i64, max_bytes: usize) -> Result<(String, Option<i64>)> {
        match self {
            Journal::Files(f) => {
                let (data, next) = f.read_log_chunk(id, cursor.max(0) as u64, max_bytes)?;
                Ok((data, next.map(|n| n as i64)))
            }
            Journal::Database(d) => d.with(|s| {
                let mut data = String::new();
                let mut cursor = cursor;
                loop {
                    let rows = s.get_logs_after(id, cursor, LOG_ROWS_PER_QUERY)?;
                    let last = rows.len() < LOG_ROWS_PER_QUERY;
                    let count = rows.len();
                    for (i, (position, entry)) in rows.into_iter().enumerate() {
                        data.push_str(&entry.capped().to_line());
                        cursor = position;
                        if data.len() >= max_bytes && !(last && i + 1 == count) {
                            return Ok((data, Some(cursor)));
                        }
                    }
                    if last {
                        return Ok((data, None));
                    }
                }
            }),
        }
    }

    /// Whether earlier attempts of a task left log lines, decided without a database query:
    /// in the database journal, a retried attempt is assumed to have a log (failures and
    /// rescues are always logged), a first attempt not.
    pub fn likely_has_log(&self, id: i64, attempt: i64) -> bool {
        match self {
            Journal::Files(f) => f.has_log(id),
            Journal::Database(_) => attempt > 1,
        }
    }

    /// Deletes the snapshots and logs of these tasks; returns how many of them had any.
    pub fn remove(&self, ids: &[i64]) -> Result<usize> {
        match self {
            Journal::Files(f) => {
                let mut had = 0;
                for id in ids {
                    if f.has_snapshot(*id) || f.has_log(*id) {
                        had += 1;
                    }
                    f.remove(*id)?;
                }
                Ok(had)
            }
            Journal::Database(d) => Ok(d.with(|s| s.delete_journal(ids))?.len()),
        }
    }

    pub fn close_log(&self, id: i64) {
        if let Journal::Files(f) = self {
            f.close_log(id);
        }
    }

    pub fn close_all(&self) {
        if let Journal::Files(f) = self {
            f.close_all();
        }
    }
}
