//! The PHP exception hierarchy, and the one place engine errors become PHP exceptions.
//!
//! ```text
//! RuntimeException
//! └── STask\Exception\StaskException
//!     ├── InvalidArgumentException      bad input; nothing was written
//!     │   └── ConfigurationException    bad engine URL or option
//!     ├── NotFoundException             no task with that id
//!     ├── StateException                the task's status does not allow it
//!     ├── LeaseLostException            this worker no longer owns the task
//!     ├── TaskCancelledException        a cancel was requested: stop working
//!     ├── StorageException              progress/log files
//!     └── DatabaseException             the database failed
//!         └── ConnectionException       the server is unreachable, or the connection broke
//! ```

use ext_php_rs::class::RegisteredClass;
use ext_php_rs::exception::PhpException;
use ext_php_rs::prelude::*;
use ext_php_rs::zend::{ClassEntry, ce};
use stask_engine::Error;

/// `\RuntimeException`. The class table cannot be searched during module start, so the class
/// entry is read from SPL's exported `spl_ce_RuntimeException` (SPL is always compiled in and
/// starts before shared extensions). Looked up with `dlsym` rather than linked, so the library
/// also loads outside PHP (stub generation).
fn runtime_exception() -> &'static ClassEntry {
    // SAFETY: dlsym returns the address of a `zend_class_entry *` variable or null; the entry
    // it points to lives as long as the PHP process.
    unsafe {
        let symbol = libc::dlsym(libc::RTLD_DEFAULT, c"spl_ce_RuntimeException".as_ptr()) as *const *const ClassEntry;
        symbol.as_ref().and_then(|entry| entry.as_ref()).unwrap_or_else(ce::exception)
    }
}

/// Base class of every exception the extension throws.
#[php_class]
#[php(name = "STask\\Exception\\StaskException")]
#[php(extends(ce = runtime_exception, stub = "\\RuntimeException"))]
#[derive(Default)]
pub struct StaskException;

/// Bad input: an empty or over-long name, an unknown priority or level, data that cannot be
/// stored as JSON, an out-of-range number. Nothing was written.
#[php_class]
#[php(name = "STask\\Exception\\InvalidArgumentException")]
#[php(extends(StaskException))]
#[derive(Default)]
pub struct InvalidArgumentException;

/// A malformed engine URL, an unknown or invalid option, or a database that cannot be opened.
#[php_class]
#[php(name = "STask\\Exception\\ConfigurationException")]
#[php(extends(InvalidArgumentException))]
#[derive(Default)]
pub struct ConfigurationException;

/// No task has the given id.
#[php_class]
#[php(name = "STask\\Exception\\NotFoundException")]
#[php(extends(StaskException))]
#[derive(Default)]
pub struct NotFoundException;

/// The task's status does not allow the operation (e.g. completing a finished task).
#[php_class]
#[php(name = "STask\\Exception\\StateException")]
#[php(extends(StaskException))]
#[derive(Default)]
pub struct StateException;

/// This worker no longer owns the task: its lease expired and another worker took over, so
/// the write was refused. Stop working on the task.
#[php_class]
#[php(name = "STask\\Exception\\LeaseLostException")]
#[php(extends(StaskException))]
#[derive(Default)]
pub struct LeaseLostException;

/// A cancel was requested for the running task. Thrown by `pushProgress()`; let it propagate
/// (or return) and the task is marked cancelled.
#[php_class]
#[php(name = "STask\\Exception\\TaskCancelledException")]
#[php(extends(StaskException))]
#[derive(Default)]
pub struct TaskCancelledException;

/// Progress or log files could not be read or written.
#[php_class]
#[php(name = "STask\\Exception\\StorageException")]
#[php(extends(StaskException))]
#[derive(Default)]
pub struct StorageException;

/// The database failed or refused an operation.
#[php_class]
#[php(name = "STask\\Exception\\DatabaseException")]
#[php(extends(StaskException))]
#[derive(Default)]
pub struct DatabaseException;

/// The database server could not be reached, or a connection broke and could not be
/// re-established in time (the engine reconnects and retries what is safe for about 20 s).
/// When the message says so, a write's outcome is unknown.
#[php_class]
#[php(name = "STask\\Exception\\ConnectionException")]
#[php(extends(DatabaseException))]
#[derive(Default)]
pub struct ConnectionException;

/// A message PHP can carry: Zend exception messages are C strings, and a NUL byte in one
/// (from a path or a value quoted in the message) would turn the typed exception into a bare
/// `Error` ("cannot throw …"). NUL is written as `\0`.
fn printable(message: String) -> String {
    if message.contains('\0') { message.replace('\0', "\\0") } else { message }
}

/// Maps an engine error to its PHP exception class.
pub fn to_php(err: Error) -> PhpException {
    let message = printable(err.to_string());
    match err {
        Error::InvalidArgument(_) => PhpException::from_class::<InvalidArgumentException>(message),
        Error::Config(_) => PhpException::from_class::<ConfigurationException>(message),
        Error::NotFound(_) => PhpException::from_class::<NotFoundException>(message),
        Error::InvalidState { .. } => PhpException::from_class::<StateException>(message),
        Error::LeaseLost(_) => PhpException::from_class::<LeaseLostException>(message),
        Error::Cancelled(_) => PhpException::from_class::<TaskCancelledException>(message),
        Error::Storage(_) => PhpException::from_class::<StorageException>(message),
        Error::Database(_) => PhpException::from_class::<DatabaseException>(message),
        Error::Connection(_) => PhpException::from_class::<ConnectionException>(message),
    }
}

/// An invalid-argument exception with a message.
pub fn invalid(message: impl Into<String>) -> PhpException {
    PhpException::from_class::<InvalidArgumentException>(printable(message.into()))
}

/// A configuration exception with a message.
pub fn config(message: impl Into<String>) -> PhpException {
    PhpException::from_class::<ConfigurationException>(printable(message.into()))
}

/// Whether a thrown object is one of ours of class `T`.
pub fn is<T: RegisteredClass>(obj: &ext_php_rs::types::ZendObject) -> bool {
    obj.instance_of(T::get_metadata().ce())
}
