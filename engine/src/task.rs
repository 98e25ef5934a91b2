//! Tasks: their status codes, priorities, the stored row, and validated input for new ones.

use std::fmt;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::time::Millis;

/// Longest accepted identifier or action, in bytes. Fits an indexed VARCHAR on every backend.
pub const MAX_NAME_LEN: usize = 190;
/// Upper bound for `maxAttempts`, so a typo cannot retry a task for years.
pub const MAX_ATTEMPTS_LIMIT: i64 = 1000;
/// Largest accepted `data` or `result`, encoded as JSON (16 MiB).
pub const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of arrays and objects in stored JSON (a task's data, its result, a log
/// entry's context): `[]` is one level, `[[1]]` two. Deeper values are refused when they are
/// written, so nothing is stored that cannot be read back. The one limit of both ends: the
/// extension's PHP converter stops at it too, and every reader of stored JSON (serde_json
/// gives up at 128 levels) reads values this deep, which the tests check.
pub const MAX_DEPTH: usize = 100;
const _: () = assert!(MAX_DEPTH < 128, "serde_json's reader stops at 128 levels");

/// A task's status. The numeric codes are upstream sTask's, plus 90 for cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Preparing,
    Running,
    Completed,
    Cancelled,
    Failed,
    /// A code written by something else; shown, never produced.
    Other(i64),
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Pending, Status::Preparing, Status::Running, Status::Completed, Status::Cancelled, Status::Failed];

    pub fn code(self) -> i64 {
        match self {
            Status::Pending => 10,
            Status::Preparing => 30,
            Status::Running => 50,
            Status::Completed => 80,
            Status::Cancelled => 90,
            Status::Failed => 100,
            Status::Other(c) => c,
        }
    }

    pub fn from_code(code: i64) -> Status {
        match code {
            10 => Status::Pending,
            30 => Status::Preparing,
            50 => Status::Running,
            80 => Status::Completed,
            90 => Status::Cancelled,
            100 => Status::Failed,
            c => Status::Other(c),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Preparing => "preparing",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Failed => "failed",
            Status::Other(_) => "unknown",
        }
    }

    /// Parses a status name or numeric code, as accepted in filters.
    pub fn parse(text: &str) -> Option<Status> {
        if let Ok(code) = text.trim().parse::<i64>() {
            return Some(Status::from_code(code)).filter(|s| !matches!(s, Status::Other(_)));
        }
        Status::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(text.trim()))
    }

    /// Completed, cancelled and failed tasks never run again on their own.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Completed | Status::Cancelled | Status::Failed)
    }

    /// Claimed by a worker (running, or upstream's preparing).
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Preparing)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Priority: higher runs first; first-in first-out within one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Low,
    Normal,
    High,
}

impl Priority {
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }

    /// The sortable rank stored next to the name (higher first).
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 1,
            Priority::Normal => 2,
            Priority::High => 3,
        }
    }

    pub fn parse(text: &str) -> Result<Priority> {
        match text.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            _ => Err(Error::invalid(format!(
                "unknown priority \"{}\": use \"low\", \"normal\" or \"high\"",
                text.escape_debug()
            ))),
        }
    }

    /// Reads a stored priority leniently: a value written by other code counts as normal.
    pub fn from_stored(text: &str) -> Priority {
        Priority::parse(text).unwrap_or(Priority::Normal)
    }
}

/// One stored task, as read from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: i64,
    pub identifier: String,
    pub action: String,
    pub status: Status,
    pub priority: Priority,
    /// The task's input (`meta` column), decoded from JSON.
    pub data: Value,
    pub progress: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub message: Option<String>,
    /// The task's output, decoded from JSON.
    pub result: Option<Value>,
    pub last_error: Option<String>,
    pub started_by: Option<i64>,
    /// While the task is pending or running, no other task can have this key.
    pub unique_key: Option<String>,
    pub available_at: Option<Millis>,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub created_at: Option<Millis>,
    pub updated_at: Option<Millis>,
    pub cancel_requested: bool,
    /// Bumped on every claim; writes by an owner must carry the current value.
    pub fence: i64,
    pub locked_by: Option<String>,
    pub lease_expires_at: Option<Millis>,
}

/// Input for a new task, validated by [`NewTask::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub identifier: String,
    pub action: String,
    pub data: Value,
    pub priority: Priority,
    pub max_attempts: Option<i64>,
    /// Not before this time; `None` means now.
    pub available_at: Option<Millis>,
    pub started_by: Option<i64>,
    /// Creating a task whose key an unfinished task already holds returns that task instead.
    pub unique_key: Option<String>,
}

impl NewTask {
    /// A task with defaults for everything but its name and data.
    pub fn new(identifier: impl Into<String>, action: impl Into<String>, data: Value) -> NewTask {
        NewTask {
            identifier: identifier.into(),
            action: action.into(),
            data,
            priority: Priority::Normal,
            max_attempts: None,
            available_at: None,
            started_by: None,
            unique_key: None,
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        validate_name("identifier", &self.identifier)?;
        validate_name("action", &self.action)?;
        if let Some(n) = self.max_attempts {
            if !(1..=MAX_ATTEMPTS_LIMIT).contains(&n) {
                return Err(Error::invalid(format!("maxAttempts must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {n}")));
            }
        }
        if let Some(at) = self.available_at {
            if !(0..=253_402_300_799_000).contains(&at) {
                return Err(Error::invalid("availableAt must be a time between 1970 and 9999"));
            }
        }
        if let Some(key) = &self.unique_key {
            if key.is_empty() || key.len() > MAX_NAME_LEN || key.chars().any(char::is_control) {
                return Err(Error::invalid(format!(
                    "unique key must be 1 to {MAX_NAME_LEN} bytes without control characters"
                )));
            }
        }
        if let Some(user) = self.started_by {
            if user < 0 {
                return Err(Error::invalid(format!("userId must not be negative, got {user}")));
            }
        }
        Ok(())
    }
}

impl NewTask {
    /// The task as stored by an insert that gave it `id`.
    pub(crate) fn stored(self, id: i64, max_attempts: i64, available_at: Millis, now: Millis) -> Task {
        Task {
            id,
            identifier: self.identifier,
            action: self.action,
            status: Status::Pending,
            priority: self.priority,
            data: self.data,
            progress: 0,
            attempts: 0,
            max_attempts,
            message: Some("Queued".into()),
            result: None,
            last_error: None,
            started_by: self.started_by,
            unique_key: self.unique_key,
            available_at: Some(available_at),
            started_at: None,
            finished_at: None,
            created_at: Some(now),
            updated_at: Some(now),
            cancel_requested: false,
            fence: 0,
            locked_by: None,
            lease_expires_at: None,
        }
    }
}

/// Identifiers and actions name PHP workers and methods: short, printable, no surprises.
pub fn validate_name(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!("{what} is {} bytes long; the limit is {MAX_NAME_LEN}", value.len())));
    }
    if let Some(c) =
        value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '\\')))
    {
        return Err(Error::invalid(format!(
            "{what} \"{}\" contains '{}': use letters, digits and _ - . : / \\ only",
            value.escape_debug(),
            c.escape_debug()
        )));
    }
    Ok(())
}

/// Whether `value` nests arrays and objects more than `levels` deep. Looks no deeper than
/// that, so a value of any depth is checked in bounded stack.
pub fn nested_deeper_than(value: &Value, levels: usize) -> bool {
    match value {
        Value::Array(list) => levels == 0 || list.iter().any(|v| nested_deeper_than(v, levels - 1)),
        Value::Object(map) => levels == 0 || map.values().any(|v| nested_deeper_than(v, levels - 1)),
        _ => false,
    }
}

/// Encodes a JSON value for storage, refusing values nested deeper than [`MAX_DEPTH`] or over
/// [`MAX_JSON_BYTES`]. Floats are written in their shortest exact form and read back to the
/// same bits.
pub fn encode_json(what: &str, value: &Value) -> Result<String> {
    if nested_deeper_than(value, MAX_DEPTH) {
        return Err(Error::invalid(format!(
            "{what} is nested more than {MAX_DEPTH} levels deep; the limit is {MAX_DEPTH}"
        )));
    }
    let text =
        serde_json::to_string(value).map_err(|e| Error::invalid(format!("{what} cannot be stored as JSON: {e}")))?;
    if text.len() > MAX_JSON_BYTES {
        return Err(Error::invalid(format!("{what} is {} bytes as JSON; the limit is {MAX_JSON_BYTES}", text.len())));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), s);
            assert_eq!(Status::parse(s.name()), Some(s));
            assert_eq!(Status::parse(&s.code().to_string()), Some(s));
        }
        assert_eq!(Status::from_code(20), Status::Other(20));
        assert_eq!(Status::parse("20"), None);
        assert!(Status::Failed.is_finished() && !Status::Running.is_finished());
    }

    #[test]
    fn priorities_parse_and_rank() {
        assert_eq!(Priority::parse(" HIGH ").unwrap(), Priority::High);
        assert!(Priority::parse("urgent").unwrap_err().to_string().contains("unknown priority"));
        assert!(Priority::High.rank() > Priority::Normal.rank() && Priority::Normal.rank() > Priority::Low.rank());
        assert_eq!(Priority::from_stored("weird"), Priority::Normal);
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_name("identifier", "product").is_ok());
        assert!(validate_name("action", "sync_stock").is_ok());
        assert!(validate_name("identifier", "App\\Workers\\Mail").is_ok());
        assert!(validate_name("identifier", "").is_err());
        assert!(validate_name("identifier", "   ").is_err());
        assert!(validate_name("identifier", "a b").is_err());
        assert!(validate_name("identifier", "drop;table").is_err());
        assert!(validate_name("identifier", &"x".repeat(MAX_NAME_LEN + 1)).is_err());
        assert!(validate_name("identifier", &"x".repeat(MAX_NAME_LEN)).is_ok());
    }

    #[test]
    fn new_task_limits() {
        let mut t = NewTask::new("a", "b", Value::Null);
        assert!(t.validate().is_ok());
        t.max_attempts = Some(0);
        assert!(t.validate().is_err());
        t.max_attempts = Some(5);
        t.started_by = Some(-1);
        assert!(t.validate().is_err());
    }

    fn nested(levels: usize) -> Value {
        (0..levels).fold(Value::from(1), |inner, i| {
            if i % 2 == 0 { Value::Array(vec![inner]) } else { serde_json::json!({ "k": inner }) }
        })
    }

    #[test]
    fn json_at_the_depth_limit_is_stored_and_read_back_deeper_is_refused() {
        assert!(!nested_deeper_than(&nested(MAX_DEPTH), MAX_DEPTH));
        assert!(nested_deeper_than(&nested(MAX_DEPTH + 1), MAX_DEPTH));
        assert!(!nested_deeper_than(&Value::from(1), 0));
        assert!(nested_deeper_than(&Value::Array(vec![]), 0));
        let text = encode_json("data", &nested(MAX_DEPTH)).unwrap();
        // Every reader of stored JSON is serde_json with its default limits.
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, nested(MAX_DEPTH));
        let err = encode_json("data", &nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        assert!(err.to_string().contains("nested more than"), "{err}");
        // A value built in Rust of any depth is refused without exhausting the stack.
        assert!(encode_json("data", &nested(1_000)).is_err());
    }

    #[test]
    fn floats_are_stored_in_a_form_that_reads_back_to_the_same_bits() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut floats =
            vec![926.5663804999999, -0.0, 0.0, 5e-324, 2.2250738585072014e-308, f64::MAX, f64::MIN, 1e20, 1.0];
        while floats.len() < 20_000 {
            let f = f64::from_bits(rng.u64(..));
            if f.is_finite() {
                floats.push(f);
            }
        }
        let value = Value::Array(floats.iter().map(|f| Value::from(*f)).collect());
        let back: Value = serde_json::from_str(&encode_json("data", &value).unwrap()).unwrap();
        for (f, v) in floats.iter().zip(back.as_array().unwrap()) {
            assert_eq!(v.as_f64().map(f64::to_bits), Some(f.to_bits()), "{f:e} came back as {v}");
        }
    }
}
