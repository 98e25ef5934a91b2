//! Numbers for dashboards: tasks finished per minute, and wait and run times per worker, over
//! a recent window. Computed from finished tasks' timestamps, the same way on every backend.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::store::Timing;
use crate::task::Status;
use crate::time::{Millis, to_rfc3339};

/// Most finished tasks one window considers (the newest).
pub const MAX_TIMINGS: usize = 200_000;

#[derive(Debug, Default, Clone)]
struct Sample {
    completed: u64,
    failed: u64,
    cancelled: u64,
    waits: Vec<i64>,
    runs: Vec<i64>,
}

impl Sample {
    fn add(&mut self, t: &Timing) {
        match t.status {
            Status::Completed => self.completed += 1,
            Status::Failed => self.failed += 1,
            Status::Cancelled => self.cancelled += 1,
            _ => {}
        }
        if let (Some(due), Some(start)) = (t.available_at, t.started_at) {
            self.waits.push((start - due).max(0));
        }
        if let (Some(start), Some(end)) = (t.started_at, t.finished_at) {
            self.runs.push((end - start).max(0));
        }
    }

    fn to_value(&mut self) -> Value {
        self.runs.sort_unstable();
        json!({
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "avg_wait_ms": average(&self.waits),
            "avg_run_ms": average(&self.runs),
            "p95_run_ms": percentile(&self.runs, 0.95),
            "max_run_ms": self.runs.last().copied(),
        })
    }
}

fn average(values: &[i64]) -> Option<i64> {
    (!values.is_empty()).then(|| values.iter().sum::<i64>() / values.len() as i64)
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// `minutes` one-minute buckets ending at `now`, totals and per-worker figures.
pub fn summarize(timings: &[Timing], now: Millis, minutes: i64) -> Value {
    let minute = 60_000;
    let end = now - now.rem_euclid(minute) + minute;
    let start = end - minutes * minute;
    let mut buckets: Vec<(u64, u64, u64)> = vec![(0, 0, 0); minutes as usize];
    let mut total = Sample::default();
    let mut workers: BTreeMap<&str, Sample> = BTreeMap::new();
    for t in timings {
        let Some(finished) = t.finished_at else { continue };
        if finished < start || finished >= end {
            continue;
        }
        let b = &mut buckets[((finished - start) / minute) as usize];
        match t.status {
            Status::Completed => b.0 += 1,
            Status::Failed => b.1 += 1,
            Status::Cancelled => b.2 += 1,
            _ => {}
        }
        total.add(t);
        workers.entry(&t.identifier).or_default().add(t);
    }
    let per_minute: Vec<Value> = buckets
        .iter()
        .enumerate()
        .map(|(i, (c, f, x))| {
            json!({"minute": to_rfc3339(start + i as i64 * minute), "completed": c, "failed": f, "cancelled": x})
        })
        .collect();
    let workers: serde_json::Map<String, Value> =
        workers.into_iter().map(|(id, mut s)| (id.to_owned(), s.to_value())).collect();
    json!({
        "window_minutes": minutes,
        "from": to_rfc3339(start),
        "to": to_rfc3339(end),
        "per_minute": per_minute,
        "totals": total.to_value(),
        "workers": workers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(id: &str, status: Status, due: i64, start: i64, end: i64) -> Timing {
        Timing {
            identifier: id.into(),
            status,
            available_at: Some(due),
            started_at: Some(start),
            finished_at: Some(end),
        }
    }

    #[test]
    fn buckets_and_per_worker_figures() {
        let now = 1_700_000_000_000 - 1_700_000_000_000 % 60_000 + 30_000; // mid-minute
        let t = vec![
            timing("mail", Status::Completed, now - 10_000, now - 9_000, now - 8_000),
            timing("mail", Status::Failed, now - 70_000, now - 69_000, now - 65_000),
            timing("report", Status::Completed, now - 5_000, now - 4_000, now - 1_000),
            timing("report", Status::Cancelled, now - 3_000_000, now - 3_000_000, now - 3_000_000), // outside
        ];
        let m = summarize(&t, now, 5);
        let per = m["per_minute"].as_array().unwrap();
        assert_eq!(per.len(), 5);
        assert_eq!(per[4]["completed"], 2);
        assert_eq!(per[3]["failed"], 1);
        assert_eq!(m["totals"]["completed"], 2);
        assert_eq!(m["totals"]["cancelled"], 0);
        assert_eq!(m["workers"]["mail"]["avg_run_ms"], 2_500);
        assert_eq!(m["workers"]["mail"]["avg_wait_ms"], 1_000);
        assert_eq!(m["workers"]["report"]["p95_run_ms"], 3_000);
        assert!(m["workers"].get("other").is_none());
    }

    #[test]
    fn empty_windows_have_no_averages() {
        let m = summarize(&[], 1_700_000_000_000, 60);
        assert_eq!(m["per_minute"].as_array().unwrap().len(), 60);
        assert_eq!(m["totals"]["avg_run_ms"], Value::Null);
    }
}
