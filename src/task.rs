//! `STask\Task`: a read-only view of one task as it was when read.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendHashTable, Zval};
use stask_engine::{Status, Task};

use crate::convert::{self, assoc, zv};

/// A task as stored when it was read. Properties are read-only; call `Engine::find()` for a
/// fresh copy.
#[php_class]
#[php(name = "STask\\Task")]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
pub struct PhpTask {
    task: Task,
}

impl From<Task> for PhpTask {
    fn from(task: Task) -> Self {
        PhpTask { task }
    }
}

fn seconds(ms: Option<i64>) -> Option<i64> {
    ms.map(|m| m.div_euclid(1000))
}

#[php_impl]
impl PhpTask {
    pub const PENDING: i64 = 10;
    pub const PREPARING: i64 = 30;
    pub const RUNNING: i64 = 50;
    pub const COMPLETED: i64 = 80;
    pub const CANCELLED: i64 = 90;
    pub const FAILED: i64 = 100;

    /// Task id.
    #[php(getter)]
    pub fn get_id(&self) -> i64 {
        self.task.id
    }

    /// The worker identifier, e.g. "product".
    #[php(getter)]
    pub fn get_identifier(&self) -> String {
        self.task.identifier.clone()
    }

    /// The action, e.g. "import" (runs `taskImport`).
    #[php(getter)]
    pub fn get_action(&self) -> String {
        self.task.action.clone()
    }

    /// Status code: 10 pending, 30 preparing, 50 running, 80 completed, 90 cancelled, 100 failed.
    #[php(getter)]
    pub fn get_status(&self) -> i64 {
        self.task.status.code()
    }

    /// Status name: pending, preparing, running, completed, cancelled, failed.
    #[php(getter)]
    pub fn get_status_text(&self) -> String {
        self.task.status.name().to_owned()
    }

    /// "low", "normal" or "high".
    #[php(getter)]
    pub fn get_priority(&self) -> String {
        self.task.priority.name().to_owned()
    }

    /// The task's input.
    #[php(getter)]
    pub fn get_data(&self) -> ZBox<ZendHashTable> {
        convert::to_array(&self.task.data)
    }

    /// Percent done, 0–100 (updated about once a second while running).
    #[php(getter)]
    pub fn get_progress(&self) -> i64 {
        self.task.progress
    }

    /// Attempts started so far.
    #[php(getter)]
    pub fn get_attempts(&self) -> i64 {
        self.task.attempts
    }

    /// Attempts allowed before the task fails for good.
    #[php(getter)]
    pub fn get_max_attempts(&self) -> i64 {
        self.task.max_attempts
    }

    /// Human-readable state message.
    #[php(getter)]
    pub fn get_message(&self) -> Option<String> {
        self.task.message.clone()
    }

    /// The task's output, as given to `complete()`.
    #[php(getter)]
    pub fn get_result(&self) -> Zval {
        self.task.result.as_ref().map(convert::to_zval).unwrap_or_else(Zval::null)
    }

    /// The last failure: exception class, message, file and line.
    #[php(getter)]
    pub fn get_last_error(&self) -> Option<String> {
        self.task.last_error.clone()
    }

    /// The user who created it, if any.
    #[php(getter)]
    pub fn get_user_id(&self) -> Option<i64> {
        self.task.started_by
    }

    /// Unix time before which it will not run.
    #[php(getter)]
    pub fn get_available_at(&self) -> Option<i64> {
        seconds(self.task.available_at)
    }

    /// Unix time its current or last attempt started.
    #[php(getter)]
    pub fn get_started_at(&self) -> Option<i64> {
        seconds(self.task.started_at)
    }

    /// Unix time it finished.
    #[php(getter)]
    pub fn get_finished_at(&self) -> Option<i64> {
        seconds(self.task.finished_at)
    }

    /// Unix time it was created.
    #[php(getter)]
    pub fn get_created_at(&self) -> Option<i64> {
        seconds(self.task.created_at)
    }

    /// Unix time of its last change.
    #[php(getter)]
    pub fn get_updated_at(&self) -> Option<i64> {
        seconds(self.task.updated_at)
    }

    /// Its unique key: while it is unfinished, creating a task with this key returns it.
    #[php(getter)]
    pub fn get_unique_key(&self) -> Option<String> {
        self.task.unique_key.clone()
    }

    /// A cancel was requested while it runs.
    #[php(getter)]
    pub fn get_cancel_requested(&self) -> bool {
        self.task.cancel_requested
    }

    /// Completed, cancelled or failed.
    pub fn is_finished(&self) -> bool {
        self.task.status.is_finished()
    }

    pub fn is_pending(&self) -> bool {
        self.task.status == Status::Pending
    }

    pub fn is_running(&self) -> bool {
        self.task.status.is_active()
    }

    pub fn is_completed(&self) -> bool {
        self.task.status == Status::Completed
    }

    pub fn is_failed(&self) -> bool {
        self.task.status == Status::Failed
    }

    pub fn is_cancelled(&self) -> bool {
        self.task.status == Status::Cancelled
    }

    /// All properties as an array (for JSON responses and logs).
    pub fn to_array(&self) -> ZBox<ZendHashTable> {
        let t = &self.task;
        assoc(vec![
            ("id", zv(t.id)),
            ("identifier", zv(t.identifier.as_str())),
            ("action", zv(t.action.as_str())),
            ("status", zv(t.status.code())),
            ("statusText", zv(t.status.name())),
            ("priority", zv(t.priority.name())),
            ("data", zv(convert::to_array(&t.data))),
            ("progress", zv(t.progress)),
            ("attempts", zv(t.attempts)),
            ("maxAttempts", zv(t.max_attempts)),
            ("message", zv(t.message.clone())),
            ("result", t.result.as_ref().map(convert::to_zval).unwrap_or_else(Zval::null)),
            ("lastError", zv(t.last_error.clone())),
            ("userId", zv(t.started_by)),
            ("availableAt", zv(seconds(t.available_at))),
            ("startedAt", zv(seconds(t.started_at))),
            ("finishedAt", zv(seconds(t.finished_at))),
            ("createdAt", zv(seconds(t.created_at))),
            ("updatedAt", zv(seconds(t.updated_at))),
            ("cancelRequested", zv(t.cancel_requested)),
            ("uniqueKey", zv(t.unique_key.clone())),
        ])
    }
}
