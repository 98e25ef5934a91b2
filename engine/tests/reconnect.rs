//! The database server drops every connection mid-run (a restart, a failover, an admin's
//! `pg_terminate_backend` / `KILL`): engines reconnect, retry what is safe, and finish the work
//! with every task run exactly once. (SQLite has no connections to lose.)

#[macro_use]
mod common;

conformance! {
    workers_reconnect_after_the_server_drops_their_connections,
    a_waiting_worker_survives_a_dropped_connection,
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Kind, Sandbox, task};
use stask_engine::{Outcome, ProcessOptions, Status};

fn workers_reconnect_after_the_server_drops_their_connections(sb: Sandbox) {
    if sb.kind == Kind::Sqlite {
        return;
    }
    let total = 600;
    let setup = sb.engine();
    setup.create_many((0..total).map(|_| task("w", "run")).collect()).unwrap();
    let runs: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    // A claim whose COMMIT was cut off may or may not have been saved: if it was, its tasks
    // wait for their lease to expire and are rescued. A short lease keeps the test short.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let engine = sb.engine_with(|c| c.lease_ms = 1_000);
            let runs = Arc::clone(&runs);
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                loop {
                    let report = engine
                        .process_pending(&ProcessOptions { limit: 20, identifiers: vec![], ids: vec![] }, |t| {
                            *runs.lock().unwrap().entry(t.id).or_default() += 1;
                            std::thread::sleep(Duration::from_millis(2));
                            Outcome::Returned
                        })
                        .expect("processing survives lost connections");
                    if report.claimed == 0 {
                        let stats = engine.stats().unwrap();
                        if stats.by_status == vec![(Status::Completed, total as i64)]
                            || std::time::Instant::now() > deadline
                        {
                            break;
                        }
                        engine.wait_for_tasks(Duration::from_millis(500), &[]).unwrap();
                    }
                }
            })
        })
        .collect();
    let mut killed = 0;
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        killed += sb.kill_connections();
    }
    for w in workers {
        w.join().unwrap();
    }
    assert!(killed > 0, "connections were dropped");
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), total, "every task ran");
    assert!(runs.values().all(|&n| n == 1), "no task ran twice");
    assert_eq!(setup.stats().unwrap().by_status, vec![(Status::Completed, total as i64)]);
}

fn a_waiting_worker_survives_a_dropped_connection(sb: Sandbox) {
    if sb.kind == Kind::Sqlite {
        return;
    }
    let worker = sb.engine();
    let producer = sb.engine();
    assert!(!worker.wait_for_tasks(Duration::from_millis(100), &[]).unwrap());
    let woke = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| worker.wait_for_tasks(Duration::from_secs(30), &[]).unwrap());
        std::thread::sleep(Duration::from_millis(200));
        assert!(sb.kill_connections() > 0);
        std::thread::sleep(Duration::from_millis(200));
        producer.create(task("w", "a")).unwrap();
        waiting.join().unwrap()
    });
    assert!(woke);
    let report = worker
        .process_pending(&ProcessOptions { limit: 5, identifiers: vec![], ids: vec![] }, |_| Outcome::Returned)
        .unwrap();
    assert_eq!(report.completed, 1);
}
