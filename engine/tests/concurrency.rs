//! Several connections and threads claiming one queue: every task runs exactly once, on every
//! backend (and on MySQL/MariaDB with both claim lockings).

#[macro_use]
mod common;

conformance! {
    concurrent_workers_never_run_a_task_twice,
    racing_claims_from_many_connections_are_disjoint,
    blocking_claims_are_disjoint_too,
}

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};

use common::{Sandbox, task};
use stask_engine::config::ClaimLocking;
use stask_engine::{NewTask, Outcome, ProcessOptions, Status};

fn concurrent_workers_never_run_a_task_twice(sb: Sandbox) {
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

fn racing_claims_from_many_connections_are_disjoint(sb: Sandbox) {
    racing_claims(sb, ClaimLocking::Auto);
}

/// The path older MySQL/MariaDB servers take (no SKIP LOCKED); elsewhere the same as Auto.
fn blocking_claims_are_disjoint_too(sb: Sandbox) {
    racing_claims(sb, ClaimLocking::Blocking);
}

fn racing_claims(sb: Sandbox, locking: ClaimLocking) {
    let setup = sb.engine();
    setup.create_many((0..500).map(|_| task("w", "run")).collect()).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let engine = sb.engine_with(|c| c.claim_locking = locking);
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
                // Kept alive until every thread is done: dropping hands unstarted claims back.
                (ids, engine)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut all: Vec<i64> = results.iter().flat_map(|(ids, _)| ids.iter().copied()).collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(n, 500);
    assert_eq!(all.len(), 500, "a task was claimed twice");
}
