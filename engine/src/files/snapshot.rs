//! A task's progress snapshot: what the admin page and `progress()` show while it runs.

use serde_json::{Map, Value, json};

use crate::time::{Millis, to_rfc3339};

/// Everything a progress file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: i64,
    pub identifier: String,
    pub action: String,
    pub status: &'static str,
    /// Percent, 0–100.
    pub progress: i64,
    pub processed: Option<i64>,
    pub total: Option<i64>,
    pub message: Option<String>,
    pub eta_seconds: Option<i64>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub started_at: Option<Millis>,
    pub updated_at: Millis,
    pub finished_at: Option<Millis>,
}

impl Snapshot {
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), json!(self.id));
        map.insert("identifier".into(), json!(self.identifier));
        map.insert("action".into(), json!(self.action));
        map.insert("status".into(), json!(self.status));
        map.insert("progress".into(), json!(self.progress));
        map.insert("processed".into(), json!(self.processed));
        map.insert("total".into(), json!(self.total));
        map.insert("eta".into(), json!(human_eta(self.eta_seconds)));
        map.insert("eta_seconds".into(), json!(self.eta_seconds));
        map.insert("message".into(), json!(self.message));
        map.insert("attempt".into(), json!(self.attempt));
        map.insert("max_attempts".into(), json!(self.max_attempts));
        map.insert("started_at".into(), json!(self.started_at.map(to_rfc3339)));
        map.insert("updated_at".into(), json!(to_rfc3339(self.updated_at)));
        map.insert("finished_at".into(), json!(self.finished_at.map(to_rfc3339)));
        Value::Object(map)
    }

    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

/// `"—"` when unknown, else a short form such as `"45s"`, `"3m 20s"`, `"2h 05m"`.
pub fn human_eta(seconds: Option<i64>) -> String {
    match seconds {
        None => "—".into(),
        Some(s) if s < 60 => format!("{}s", s.max(0)),
        Some(s) if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        Some(s) if s < 86_400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        Some(s) => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Remaining seconds, from elapsed time and the fraction done. Unknown before any progress.
pub fn estimate_eta(elapsed_ms: i64, fraction_done: f64) -> Option<i64> {
    if !(fraction_done > 0.0) || elapsed_ms <= 0 {
        return None;
    }
    if fraction_done >= 1.0 {
        return Some(0);
    }
    let remaining = elapsed_ms as f64 * (1.0 - fraction_done) / fraction_done / 1000.0;
    Some(remaining.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_is_estimated_and_formatted() {
        assert_eq!(estimate_eta(10_000, 0.5), Some(10));
        assert_eq!(estimate_eta(10_000, 0.0), None);
        assert_eq!(estimate_eta(10_000, 1.0), Some(0));
        assert_eq!(human_eta(None), "—");
        assert_eq!(human_eta(Some(45)), "45s");
        assert_eq!(human_eta(Some(200)), "3m 20s");
        assert_eq!(human_eta(Some(7500)), "2h 05m");
        assert_eq!(human_eta(Some(90_000)), "1d 01h");
    }
}
