//! Several connections and threads claiming one queue: every task runs exactly once.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};

use common::{Sandbox, task};
use stask_engine::{NewTask, Outcome, ProcessOptions, Status};

#[test]
fn concurrent_workers_never_run_a_task_twice() {
    let sb = Sandbox::new();
    let setup = sb.engine();
    let total = 3_000;
    let tasks: Vec<NewTask> = (0..total).map(|_| task("w", "run")).collect();
    setup.create_many(tasks).unwrap();

    let workers = 4;
    let runs: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    let barrier = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let runs = Arc::clone(&runs);
            let barrier = Arc::clone(&barrier);
            let engine = sb.engine();
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = 0;
                loop {
                    let report = engine
                        .process_pending(&ProcessOptions { limit: 50, identifiers: vec![], ids: vec![] }, |t| {
                            *runs.lock().unwrap().entry(t.id).or_default() += 1;
                            Outcome::Returned
                        })
                        .unwrap();
                    mine += report.completed;
                    if report.claimed == 0 {
                        break mine;
                    }
                }
            })
        })
        .collect();
    let per_worker: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), total, "every task ran");
    assert!(runs.values().all(|&n| n == 1), "no task ran twice");
    assert_eq!(per_worker.iter().sum::<usize>(), total);
    assert!(per_worker.iter().filter(|&&n| n > 0).count() >= 2, "the work was shared: {per_worker:?}");
    let stats = setup.stats().unwrap();
    assert_eq!(stats.by_status, vec![(Status::Completed, total as i64)]);
}

#[test]
fn racing_claims_from_many_connections_are_disjoint() {
    let sb = Sandbox::new();
    let setup = sb.engine();
    setup.create_many((0..500).map(|_| task("w", "run")).collect()).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let engine = sb.engine();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut ids = Vec::new();
                loop {
                    let batch = engine.claim(7, &[]).unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    ids.extend(batch.iter().map(|t| t.id));
                }
                std::mem::forget(engine); // keep the claims; don't release anything
                ids
            })
        })
        .collect();
    let mut all: Vec<i64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(n, 500);
    assert_eq!(all.len(), 500, "a task was claimed twice");
}
