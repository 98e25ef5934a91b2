//! Progress snapshots and logs kept in the database (`files => 'database'`): an engine with
//! another storage directory — another server — sees every task's progress and logs.

#[macro_use]
mod common;

conformance! {
    progress_and_logs_are_shared_through_the_database,
    final_snapshots_and_rescues_reach_the_database,
    pruning_removes_database_journal_rows,
    pruning_files_and_deleting_tasks_clear_their_database_journal,
    a_whole_database_log_is_read_in_pieces,
    progress_reported_just_before_the_end_reaches_the_final_snapshot,
}

use std::time::Duration;

use common::{Sandbox, task};
use serde_json::json;
use stask_engine::{Engine, JournalMode, Level, Outcome, ProcessOptions, ProgressUpdate, Status};

fn opts(limit: usize) -> ProcessOptions {
    ProcessOptions { limit, identifiers: Vec::new(), ids: Vec::new() }
}

/// An engine keeping its journal in the database, with a storage directory of its own.
fn server(sb: &Sandbox, name: &str) -> Engine {
    let dir = sb.dir.path().join(name);
    sb.engine_with(|c| {
        c.journal = JournalMode::Database;
        c.storage_dir = dir;
        c.progress_interval_ms = 50;
    })
}

fn progress_and_logs_are_shared_through_the_database(sb: Sandbox) {
    let worker = server(&sb, "server-a");
    let admin = server(&sb, "server-b");
    let id = worker.create(task("import", "csv")).unwrap().id;
    worker
        .process_pending(&opts(1), |t| {
            worker.log(t.id, Level::Info, "Reading products.csv", Some(json!({"rows": 3}))).unwrap();
            for i in 1..=3 {
                worker
                    .push_progress(
                        t.id,
                        ProgressUpdate {
                            processed: Some(i),
                            total: Some(3),
                            message: Some(format!("row {i}")),
                            ..Default::default()
                        },
                    )
                    .unwrap();
            }
            // The heartbeat writes the snapshot to the database; the other server sees it.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let seen = admin.progress(t.id).unwrap();
                if seen["processed"] == 3 {
                    assert_eq!(seen["status"], "running");
                    assert_eq!(seen["message"], "row 3");
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "the other server never saw the progress: {seen}");
                std::thread::sleep(Duration::from_millis(20));
            }
            worker.log(t.id, Level::Warning, "Row 2 skipped", None).unwrap();
            Outcome::Returned
        })
        .unwrap();
    let logs = admin.logs(id, None, 100).unwrap();
    let messages: Vec<&str> = logs.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages[0], "Attempt 1/3 started");
    assert_eq!(messages[1], "Reading products.csv");
    assert_eq!(logs[1].context, Some(json!({"rows": 3})));
    assert_eq!(messages[2], "Row 2 skipped");
    assert!(messages[3].starts_with("Completed in"), "{messages:?}");
    assert_eq!(admin.logs(id, Some(Level::Warning), 10).unwrap().len(), 1);
    assert_eq!(admin.logs(id, None, 2).unwrap()[1].message, messages[3], "the last entries, oldest first");
    let done = admin.progress(id).unwrap();
    assert_eq!((done["status"].as_str(), done["progress"].as_i64()), (Some("completed"), Some(100)));
    // Nothing was written to either server's directory.
    assert!(!sb.dir.path().join("server-a").join(format!("{id}.log")).exists());
    assert!(!sb.dir.path().join("server-b").exists());
}

fn final_snapshots_and_rescues_reach_the_database(sb: Sandbox) {
    let a = server(&sb, "a");
    let b = server(&sb, "b");
    let mut new = task("w", "fails");
    new.max_attempts = Some(2);
    let id = a.create(new).unwrap().id;
    // A worker that reported progress, then died: its lease expires and another server rescues it.
    {
        let dead = server(&sb, "dead");
        let claimed = dead.claim(1, &[]).unwrap();
        assert_eq!(claimed.len(), 1);
        dead.push_progress(id, ProgressUpdate { progress: Some(40.0), ..Default::default() }).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while b.progress(id).unwrap()["progress"] != 40 {
            assert!(std::time::Instant::now() < deadline, "the snapshot never reached the database");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::mem::forget(dead); // like SIGKILL
    }
    sb.exec("UPDATE evo_s_tasks SET lease_expires_at = 1");
    assert_eq!(b.process_pending(&opts(0), |_| Outcome::Returned).unwrap().rescued, 1);
    let warnings = a.logs(id, Some(Level::Warning), 10).unwrap();
    assert!(warnings.iter().any(|e| e.message.contains("stopped responding")), "{warnings:?}");
    assert_eq!(a.progress(id).unwrap()["status"], "pending", "the rescue refreshed the snapshot");
    // Its next attempt completes on server b: the final snapshot replaces attempt 1's.
    sb.exec(&format!("UPDATE evo_s_tasks SET available_at = 0 WHERE id = {id}"));
    assert_eq!(b.process_pending(&opts(1), |_| Outcome::Returned).unwrap().completed, 1);
    let seen = a.progress(id).unwrap();
    assert_eq!((seen["status"].as_str(), seen["progress"].as_i64()), (Some("completed"), Some(100)));
    assert_eq!(a.get(id).unwrap().status, Status::Completed);
    assert!(a.logs(id, None, 100).unwrap().last().unwrap().message.starts_with("Completed in"));
}

fn pruning_removes_database_journal_rows(sb: Sandbox) {
    let e = server(&sb, "a");
    let id = e.create(task("w", "a")).unwrap().id;
    e.log(id, Level::Info, "hello", None).unwrap();
    e.push_progress(id, ProgressUpdate { progress: Some(10.0), ..Default::default() }).ok();
    e.complete(id, None, None).unwrap();
    assert_eq!(sb.query_i64(&format!("SELECT COUNT(*) FROM evo_s_task_logs WHERE task_id = {id}")), Some(2));
    assert_eq!(sb.query_i64(&format!("SELECT COUNT(*) FROM evo_s_task_progress WHERE task_id = {id}")), Some(1));
    assert_eq!(e.prune(0).unwrap(), 1);
    assert_eq!(sb.query_i64("SELECT COUNT(*) FROM evo_s_task_logs"), Some(0));
    assert_eq!(sb.query_i64("SELECT COUNT(*) FROM evo_s_task_progress"), Some(0));
}

fn pruning_files_and_deleting_tasks_clear_their_database_journal(sb: Sandbox) {
    let e = server(&sb, "a");
    let done = e.create(task("w", "a")).unwrap().id;
    let pending = e.create(task("w", "b")).unwrap().id;
    e.log(done, Level::Info, "hello", None).unwrap();
    e.push_progress(done, ProgressUpdate { progress: Some(10.0), ..Default::default() }).unwrap();
    e.complete(done, None, None).unwrap();
    e.log(pending, Level::Info, "waiting", None).unwrap();
    let rows = |id: i64| {
        sb.query_i64(&format!("SELECT COUNT(*) FROM evo_s_task_logs WHERE task_id = {id}")).unwrap()
            + sb.query_i64(&format!("SELECT COUNT(*) FROM evo_s_task_progress WHERE task_id = {id}")).unwrap()
    };
    assert_eq!(rows(done), 3);
    assert_eq!(e.prune_files(1).unwrap(), 0, "too recent");
    assert_eq!(e.prune_files(0).unwrap(), 1);
    assert_eq!(rows(done), 0);
    assert_eq!(e.get(done).unwrap().status, Status::Completed, "the task itself is kept");
    assert_eq!(rows(pending), 1, "unfinished tasks keep theirs");
    assert_eq!(e.prune_files(0).unwrap(), 0, "nothing left to prune");
    assert_eq!(e.delete(&[pending, done]).unwrap(), vec![done, pending]);
    assert_eq!(rows(pending), 0);
    assert!(e.find(done).unwrap().is_none());
}

fn a_whole_database_log_is_read_in_pieces(sb: Sandbox) {
    let e = server(&sb, "a");
    let id = e.create(task("w", "a")).unwrap().id;
    let other = e.create(task("w", "b")).unwrap().id;
    assert_eq!(e.log_chunk(id, 0, 1000).unwrap(), (String::new(), None), "no log yet");
    for i in 0..450 {
        e.log(id, Level::Info, &format!("line {i}\twith a tab"), (i % 5 == 0).then(|| json!({"i": i}))).unwrap();
        if i % 50 == 0 {
            e.log(other, Level::Warning, "another task's line", None).unwrap();
        }
    }
    assert!(common::assert_log_reads_in_pieces(&e, id, 2000) > 10);
    assert_eq!(common::assert_log_reads_in_pieces(&e, id, 10 << 20), 1);
    assert!(common::assert_log_reads_in_pieces(&e, other, 100) > 1, "only its own lines, in pieces");
    assert!(!sb.dir.path().join("a").join(format!("{id}.log")).exists(), "no file was involved");
}

fn progress_reported_just_before_the_end_reaches_the_final_snapshot(sb: Sandbox) {
    // The heartbeat would write the snapshot after a minute: the task ends long before.
    let e = sb.engine_with(|c| {
        c.journal = JournalMode::Database;
        c.storage_dir = sb.dir.path().join("a");
        c.progress_interval_ms = 60_000;
    });
    let returned = e.create(task("w", "returns")).unwrap().id;
    let completes = e.create(task("w", "completes")).unwrap().id;
    e.process_pending(&opts(2), |t| {
        let update =
            ProgressUpdate { processed: Some(2), total: Some(2), message: Some("2 of 2".into()), ..Default::default() };
        e.push_progress(t.id, update).unwrap();
        if t.id == completes {
            e.complete(t.id, None, Some("done by the worker")).unwrap();
        }
        Outcome::Returned
    })
    .unwrap();
    for id in [returned, completes] {
        let seen = server(&sb, "b").progress(id).unwrap();
        assert_eq!(
            (seen["status"].as_str(), seen["progress"].as_i64(), seen["processed"].as_i64(), seen["total"].as_i64()),
            (Some("completed"), Some(100), Some(2), Some(2)),
            "task {id}: {seen}"
        );
    }
}
