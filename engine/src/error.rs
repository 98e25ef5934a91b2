//! The engine's one error type. Messages are written for the PHP user who will read them
//! in an exception; the extension maps each variant to one PHP exception class.

use crate::task::Status;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller passed a value the engine cannot accept. Nothing was written.
    #[error("{0}")]
    InvalidArgument(String),

    /// The engine URL or an option is malformed or names something unsupported.
    #[error("{0}")]
    Config(String),

    /// No task has this id.
    #[error("task {0} does not exist")]
    NotFound(i64),

    /// The task exists but its current status does not allow the operation.
    #[error("task {id} is {status}: cannot {operation}")]
    InvalidState { id: i64, status: Status, operation: &'static str },

    /// This process no longer owns the task: its lease expired and another worker rescued it,
    /// or the task was finished elsewhere. The write was refused (fencing).
    #[error(
        "task {0} is no longer owned by this worker (its lease expired or it was finished elsewhere); the write was refused"
    )]
    LeaseLost(i64),

    /// A cancel was requested for the task while it ran; the worker should stop.
    #[error("task {0} was cancelled")]
    Cancelled(i64),

    /// Progress or log files could not be read or written.
    #[error("storage error: {0}")]
    Storage(String),

    /// The database refused or failed an operation.
    #[error("database error: {0}")]
    Database(String),

    /// The database server could not be reached, or the connection broke and could not be
    /// re-established in time.
    #[error("database connection error: {0}")]
    Connection(String),
}

/// Shorthand used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    pub(crate) fn storage(context: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        Error::Storage(format!("{context}: {err}"))
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        let text = err.to_string();
        if text.contains("no such table") {
            return Error::Database(format!("{text}: the sTask tables do not exist yet; run migrate() first"));
        }
        Error::Database(text)
    }
}
