//! The task lifecycle on every backend: create, claim order, outcomes, retries, cancel,
//! progress, logs, fencing, rescue, stats, pruning, running chosen tasks, unique keys, delete
//! and metrics.

#[macro_use]
mod common;

conformance! {
    create_then_find_round_trips_data,
    bad_input_writes_nothing,
    claims_follow_priority_then_age_and_respect_not_before,
    limit_is_respected_and_identifier_filter_works,
    a_throwing_handler_is_retried_with_backoff_then_fails,
    handler_may_complete_or_fail_itself,
    complete_and_fail_work_on_pending_tasks_only_when_unowned,
    cancelling_pending_and_running_tasks,
    cancel_from_another_process_reaches_a_running_worker,
    progress_is_coalesced_and_snapshots_are_written,
    tasks_without_progress_get_no_snapshot_but_report_from_the_database,
    logs_are_written_and_read_by_level,
    a_whole_log_is_read_in_pieces,
    a_stale_owner_cannot_write_after_its_task_was_taken_over,
    outcomes_of_a_stale_owner_are_fenced_even_without_a_heartbeat_notice,
    expired_leases_are_rescued,
    the_heartbeat_keeps_a_long_task_owned,
    prune_deletes_old_finished_tasks_and_their_files,
    exit_leaves_the_task_to_its_lease_and_releases_the_rest,
    claims_keep_the_size_they_grew_to_across_calls,
    an_unwritable_storage_directory_is_refused_up_front,
    specific_tasks_can_be_run_on_demand_even_before_they_are_due,
    a_stop_request_ends_processing_after_the_current_task,
    old_files_can_be_pruned_while_rows_are_kept,
    unique_keys_keep_one_unfinished_task_per_key,
    unique_keys_hold_across_connections_and_retries,
    delete_skips_running_tasks_and_removes_files,
    metrics_count_finished_tasks_with_their_times,
}

use std::cell::RefCell;
use std::time::Duration;

use common::{Sandbox, task, task_with};
use serde_json::{Value, json};
use stask_engine::{Error, HandlerError, Level, NewTask, Outcome, Priority, ProcessOptions, ProgressUpdate, Status};

fn opts(limit: usize) -> ProcessOptions {
    ProcessOptions { limit, identifiers: Vec::new(), ids: Vec::new() }
}

fn boom() -> Outcome {
    Outcome::Threw(HandlerError {
        class: "RuntimeException".into(),
        message: "boom".into(),
        file: Some("/app/Worker.php".into()),
        line: Some(12),
    })
}

fn create_then_find_round_trips_data(sb: Sandbox) {
    let engine = sb.engine();
    let data =
        json!({"file": "products.csv", "rows": [1, 2, {"deep": "ünïcode ✓"}], "big": 9007199254740993_i64, "f": 1.5});
    let mut new = NewTask::new("product", "import", data.clone());
    new.priority = Priority::High;
    new.max_attempts = Some(5);
    new.started_by = Some(7);
    let created = engine.create(new).unwrap();
    assert_eq!(created.status, Status::Pending);
    let found = engine.find(created.id).unwrap().unwrap();
    assert_eq!(found.data, data);
    assert_eq!(found.identifier, "product");
    assert_eq!(found.action, "import");
    assert_eq!(found.priority, Priority::High);
    assert_eq!(found.max_attempts, 5);
    assert_eq!(found.started_by, Some(7));
    assert_eq!(found.attempts, 0);
    assert_eq!(found.created_at, created.created_at);
    assert!(engine.find(created.id + 1000).unwrap().is_none());
}

fn bad_input_writes_nothing(sb: Sandbox) {
    let engine = sb.engine();
    let good = task("product", "import");
    let mut bad = task("product", "import");
    bad.identifier = "has space".into();
    let err = engine.create_many(vec![good.clone(), bad]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("task #1"), "{err}");
    assert_eq!(engine.stats().unwrap().by_status, vec![], "nothing was inserted");
    assert!(matches!(engine.push_progress(99, ProgressUpdate::default()), Err(Error::NotFound(99))));
    assert!(matches!(engine.log(99, Level::Info, "x", None), Err(Error::NotFound(99))));
    assert!(matches!(engine.cancel(99), Err(Error::NotFound(99))));
    assert!(matches!(engine.complete(99, None, None), Err(Error::NotFound(99))));
    let id = engine.create(good).unwrap().id;
    let bad_progress = ProgressUpdate { progress: Some(101.0), ..Default::default() };
    assert!(matches!(engine.push_progress(id, bad_progress), Err(Error::InvalidArgument(_))));
    assert!(matches!(engine.prune(-1), Err(Error::InvalidArgument(_))));
}

fn claims_follow_priority_then_age_and_respect_not_before(sb: Sandbox) {
    let engine = sb.engine();
    let low = engine.create(task_with("w", Priority::Low, json!("low"))).unwrap().id;
    let normal1 = engine.create(task_with("w", Priority::Normal, json!("n1"))).unwrap().id;
    let high = engine.create(task_with("w", Priority::High, json!("high"))).unwrap().id;
    let normal2 = engine.create(task_with("w", Priority::Normal, json!("n2"))).unwrap().id;
    let mut later = task_with("w", Priority::High, json!("later"));
    later.available_at = Some(stask_engine::time::now_ms() + 60_000);
    let later = engine.create(later).unwrap().id;

    let order = RefCell::new(Vec::new());
    let report = engine
        .process_pending(&opts(100), |t| {
            order.borrow_mut().push(t.id);
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(order.into_inner(), vec![high, normal1, normal2, low]);
    assert_eq!(report.completed, 4);
    assert_eq!(engine.get(later).unwrap().status, Status::Pending, "not before its time");
    let done = engine.get(high).unwrap();
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.progress, 100);
    assert_eq!(done.attempts, 1);
    assert!(done.finished_at.is_some() && done.started_at.is_some());
    assert!(done.locked_by.is_none() && done.lease_expires_at.is_none());
}

fn limit_is_respected_and_identifier_filter_works(sb: Sandbox) {
    let engine = sb.engine();
    for i in 0..10 {
        engine.create(task(if i % 2 == 0 { "even" } else { "odd" }, "run")).unwrap();
    }
    let seen = RefCell::new(Vec::new());
    let report = engine
        .process_pending(&ProcessOptions { limit: 3, identifiers: vec!["odd".into()], ids: vec![] }, |t| {
            seen.borrow_mut().push(t.identifier.clone());
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(report.completed, 3);
    assert_eq!(seen.into_inner(), vec!["odd"; 3]);
    let stats = engine.stats().unwrap();
    assert!(stats.by_status.contains(&(Status::Completed, 3)));
    assert!(stats.by_status.contains(&(Status::Pending, 7)));
    assert!(stats.by_identifier.contains(&("odd".to_string(), Status::Pending, 2)));
}

fn a_throwing_handler_is_retried_with_backoff_then_fails(sb: Sandbox) {
    let engine = sb.engine();
    let mut new = task("mail", "send");
    new.max_attempts = Some(2);
    let id = engine.create(new).unwrap().id;

    let before = stask_engine::time::now_ms();
    let report = engine.process_pending(&opts(10), |_| boom()).unwrap();
    assert_eq!((report.retried, report.failed), (1, 0));
    let t = engine.get(id).unwrap();
    assert_eq!(t.status, Status::Pending);
    assert_eq!(t.attempts, 1);
    assert!(t.available_at.unwrap() >= before + 1_000, "backoff delays the next attempt");
    assert!(t.last_error.as_deref().unwrap().contains("RuntimeException: boom in /app/Worker.php:12"));
    // Not due yet: nothing to run.
    assert_eq!(engine.process_pending(&opts(10), |_| Outcome::Returned).unwrap().claimed, 0);

    // Let time pass.
    sb.exec(&format!("UPDATE evo_s_tasks SET available_at = 0 WHERE id = {id}"));
    let report = engine.process_pending(&opts(10), |_| boom()).unwrap();
    assert_eq!((report.retried, report.failed), (0, 1));
    let t = engine.get(id).unwrap();
    assert_eq!(t.status, Status::Failed);
    assert_eq!(t.attempts, 2);
    assert!(t.message.as_deref().unwrap().starts_with("Failed after 2 attempt(s): boom"));
    let errors = engine.logs(id, Some(Level::Error), 10).unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].context.as_ref().unwrap()["exception"], "RuntimeException");

    // A manual retry gives it fresh attempts.
    assert!(engine.retry(id).unwrap());
    let t = engine.get(id).unwrap();
    assert_eq!((t.status, t.attempts), (Status::Pending, 0));
    assert_eq!(engine.process_pending(&opts(10), |_| Outcome::Returned).unwrap().completed, 1);
    assert!(!engine.retry(id).unwrap(), "a completed task is not retried");
}

fn handler_may_complete_or_fail_itself(sb: Sandbox) {
    let engine = sb.engine();
    let a = engine.create(task("w", "a")).unwrap().id;
    let b = engine.create(task("w", "b")).unwrap().id;
    let report = engine
        .process_pending(&opts(10), |t| {
            if t.action == "a" {
                engine.complete(t.id, Some(json!({"rows": 10})), Some("Imported 10 rows")).unwrap();
            } else {
                engine.fail(t.id, "source file is missing").unwrap();
            }
            Outcome::Returned
        })
        .unwrap();
    assert_eq!((report.completed, report.failed, report.retried), (1, 1, 0));
    let ta = engine.get(a).unwrap();
    assert_eq!(ta.result, Some(json!({"rows": 10})));
    assert_eq!(ta.message.as_deref(), Some("Imported 10 rows"));
    let tb = engine.get(b).unwrap();
    assert_eq!(tb.status, Status::Failed);
    assert_eq!(tb.message.as_deref(), Some("Failed: source file is missing"));
    assert!(matches!(engine.complete(a, None, None), Err(Error::InvalidState { status: Status::Completed, .. })));
}

fn complete_and_fail_work_on_pending_tasks_only_when_unowned(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    engine.complete(id, Some(json!("done by hand")), None).unwrap();
    assert_eq!(engine.get(id).unwrap().status, Status::Completed);
    let id2 = engine.create(task("w", "b")).unwrap().id;
    engine.fail(id2, "not needed").unwrap();
    assert_eq!(engine.get(id2).unwrap().status, Status::Failed);
}

fn cancelling_pending_and_running_tasks(sb: Sandbox) {
    let engine = sb.engine();
    let pending = engine.create(task("w", "later")).unwrap().id;
    assert!(engine.cancel(pending).unwrap());
    assert_eq!(engine.get(pending).unwrap().status, Status::Cancelled);
    assert!(!engine.cancel(pending).unwrap(), "already finished");
    assert!(engine.is_cancelled(pending).unwrap());

    let running = engine.create(task("w", "long")).unwrap().id;
    let saw = RefCell::new(Vec::new());
    let report = engine
        .process_pending(&opts(10), |t| {
            assert!(!engine.is_cancelled(t.id).unwrap());
            assert!(engine.cancel(t.id).unwrap(), "running: the flag is set");
            assert_eq!(engine.get(t.id).unwrap().status, Status::Running);
            for i in 0..100 {
                match engine.push_progress(t.id, ProgressUpdate { progress: Some(i as f64), ..Default::default() }) {
                    Ok(()) => saw.borrow_mut().push(i),
                    Err(Error::Cancelled(_)) => return Outcome::Cancelled,
                    Err(e) => panic!("{e}"),
                }
            }
            Outcome::Returned
        })
        .unwrap();
    assert!(saw.borrow().is_empty(), "the first progress report after the cancel stops the worker");
    assert_eq!(report.cancelled, 1);
    assert_eq!(engine.get(running).unwrap().status, Status::Cancelled);
    assert!(engine.retry(running).unwrap(), "cancelled tasks can be retried");
}

fn cancel_from_another_process_reaches_a_running_worker(sb: Sandbox) {
    let engine = sb.engine();
    let other = sb.engine();
    let id = engine.create(task("w", "long")).unwrap().id;
    let report = engine
        .process_pending(&opts(1), |t| {
            assert!(other.cancel(t.id).unwrap());
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                if engine.is_cancelled(t.id).unwrap() {
                    return Outcome::Returned; // returns after seeing it: counts as cancelled
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("the heartbeat never reported the cancel");
        })
        .unwrap();
    assert_eq!(report.cancelled, 1);
    assert_eq!(engine.get(id).unwrap().status, Status::Cancelled);
}

fn progress_is_coalesced_and_snapshots_are_written(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("import", "csv")).unwrap().id;
    let snapshot_path = sb.file(&format!("{id}.json"));
    engine
        .process_pending(&opts(1), |t| {
            for i in 1..=10_000 {
                engine
                    .push_progress(
                        t.id,
                        ProgressUpdate { processed: Some(i), total: Some(10_000), ..Default::default() },
                    )
                    .unwrap();
            }
            let live = engine.progress(t.id).unwrap();
            assert_eq!(live["progress"], 100);
            assert_eq!(live["processed"], 10_000);
            assert_eq!(live["status"], "running");
            let file: Value = serde_json::from_slice(&std::fs::read(&snapshot_path).unwrap()).unwrap();
            assert_eq!(file["status"], "running");
            engine
                .push_progress(t.id, ProgressUpdate { message: Some("almost".into()), ..Default::default() })
                .unwrap();
            assert_eq!(engine.progress(t.id).unwrap()["progress"], 100, "a message alone keeps the percent");
            Outcome::Returned
        })
        .unwrap();
    let file: Value = serde_json::from_slice(&std::fs::read(&snapshot_path).unwrap()).unwrap();
    assert_eq!(file["status"], "completed");
    assert_eq!(file["progress"], 100);
    assert_eq!(file["processed"], 10_000);
    assert!(file["finished_at"].is_string());
    assert_eq!(engine.progress(id).unwrap()["status"], "completed");
    // No temp files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(sb.storage())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

fn tasks_without_progress_get_no_snapshot_but_report_from_the_database(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "quick")).unwrap().id;
    engine.process_pending(&opts(1), |_| Outcome::Returned).unwrap();
    assert!(!sb.file(&format!("{id}.json")).exists());
    let p = engine.progress(id).unwrap();
    assert_eq!((p["status"].as_str(), p["progress"].as_i64()), (Some("completed"), Some(100)));
}

fn logs_are_written_and_read_by_level(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    engine.log(id, Level::Info, "first", None).unwrap();
    engine.log(id, Level::Warning, "careful\twith\ttabs\nand lines", Some(json!({"row": 5}))).unwrap();
    engine.log(id, Level::Error, "bad", Some(json!(["x"]))).unwrap();
    let all = engine.logs(id, None, 100).unwrap();
    assert_eq!(
        all.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["first", "careful\twith\ttabs\nand lines", "bad"]
    );
    assert_eq!(all[1].context, Some(json!({"row": 5})));
    assert_eq!(engine.logs(id, Some(Level::Warning), 100).unwrap().len(), 1);
    assert_eq!(engine.logs(id, None, 1).unwrap()[0].message, "bad");
    assert!(all[0].time.ends_with('Z'));
}

fn a_whole_log_is_read_in_pieces(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    assert_eq!(engine.log_chunk(id, 0, 1000).unwrap(), (String::new(), None), "no log yet");
    for i in 0..300 {
        let context = (i % 7 == 0).then(|| json!({"row": i, "note": "tab\there"}));
        engine.log(id, Level::Info, &format!("line {i}\nwith a newline and ünïcode"), context).unwrap();
    }
    engine.log(id, Level::Error, &"x".repeat(5000), None).unwrap();
    assert!(common::assert_log_reads_in_pieces(&engine, id, 1000) > 10);
    assert_eq!(common::assert_log_reads_in_pieces(&engine, id, 10 << 20), 1);
    assert!(matches!(engine.log_chunk(999_999, 0, 1000), Err(Error::NotFound(999_999))));
    assert!(matches!(engine.log_chunk(id, -1, 1000), Err(Error::InvalidArgument(_))));
}

fn a_stale_owner_cannot_write_after_its_task_was_taken_over(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    let report = engine
        .process_pending(&opts(1), |t| {
            // Another worker rescued the task and claimed it again: the fence moved on.
            sb.exec(&format!("UPDATE evo_s_tasks SET fence = fence + 1, locked_by = 'thief' WHERE id = {}", t.id));
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            loop {
                match engine.push_progress(t.id, ProgressUpdate { progress: Some(5.0), ..Default::default() }) {
                    Err(Error::LeaseLost(_)) => break,
                    Ok(()) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    other => panic!("expected the lease to be reported lost, got {other:?}"),
                }
            }
            assert!(matches!(engine.complete(t.id, None, None), Err(Error::LeaseLost(_))));
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(report.lost, 1);
    let t = engine.get(id).unwrap();
    assert_eq!(t.status, Status::Running, "the stale owner's outcome was refused");
    assert_eq!(t.locked_by.as_deref(), Some("thief"));
}

fn outcomes_of_a_stale_owner_are_fenced_even_without_a_heartbeat_notice(sb: Sandbox) {
    let engine = sb.engine();
    engine.create(task("w", "a")).unwrap();
    let report = engine
        .process_pending(&opts(1), |t| {
            sb.exec(&format!("UPDATE evo_s_tasks SET fence = fence + 1 WHERE id = {}", t.id));
            Outcome::Returned // immediately: the heartbeat has not noticed yet
        })
        .unwrap();
    assert_eq!(report.completed, 1, "decided as completed…");
    let stats = engine.stats().unwrap();
    assert!(stats.by_status.contains(&(Status::Running, 1)), "…but the fenced write was refused: {stats:?}");
}

fn expired_leases_are_rescued(sb: Sandbox) {
    let engine = sb.engine();
    let mut one = task("w", "retryable");
    one.max_attempts = Some(3);
    let retryable = engine.create(one).unwrap().id;
    let mut last = task("w", "last");
    last.max_attempts = Some(1);
    let last = engine.create(last).unwrap().id;
    let cancelled = engine.create(task("w", "cancel-me")).unwrap().id;
    // A worker claimed them and died: simulate with a claim from an engine that then vanishes.
    {
        let dead = sb.engine();
        let claimed = dead.claim(10, &[]).unwrap();
        assert_eq!(claimed.len(), 3);
        std::mem::forget(dead); // no shutdown, no heartbeat stop: like SIGKILL
    }
    assert!(engine.cancel(cancelled).unwrap());
    sb.exec("UPDATE evo_s_tasks SET lease_expires_at = 1");
    let report = engine.process_pending(&opts(10), |_| Outcome::Returned).unwrap();
    assert_eq!(report.rescued, 3);
    let r = engine.get(retryable).unwrap();
    assert_eq!((r.status, r.attempts), (Status::Pending, 1), "back to pending, the lost attempt counted");
    assert!(r.available_at.unwrap() > stask_engine::time::now_ms(), "with backoff");
    assert!(r.message.unwrap().contains("lease expired"));
    assert_eq!(engine.get(last).unwrap().status, Status::Failed, "no attempts left");
    assert_eq!(engine.get(cancelled).unwrap().status, Status::Cancelled);
    assert!(engine.logs(retryable, Some(Level::Warning), 5).unwrap()[0].message.contains("stopped responding"));
}

fn the_heartbeat_keeps_a_long_task_owned(sb: Sandbox) {
    let engine = sb.engine_with(|c| c.lease_ms = 1_000);
    let rival = sb.engine_with(|c| c.lease_ms = 1_000);
    let id = engine.create(task("w", "slow")).unwrap().id;
    let report = engine
        .process_pending(&opts(1), |_| {
            for _ in 0..6 {
                std::thread::sleep(Duration::from_millis(400));
                let r = rival.process_pending(&opts(1), |_| panic!("the rival must not get the task")).unwrap();
                assert_eq!(r.rescued, 0);
            }
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(report.completed, 1);
    assert_eq!(engine.get(id).unwrap().attempts, 1);
}

fn prune_deletes_old_finished_tasks_and_their_files(sb: Sandbox) {
    let engine = sb.engine();
    let old = engine.create(task("w", "old")).unwrap().id;
    let keep = engine.create(task("w", "keep")).unwrap().id;
    let pending = engine.create(task("w", "pending")).unwrap().id;
    engine.complete(old, None, None).unwrap();
    engine.complete(keep, None, None).unwrap();
    engine.push_progress(old, ProgressUpdate::default()).ok();
    engine.log(old, Level::Info, "x", None).unwrap();
    assert!(sb.file(&format!("{old}.log")).exists());
    sb.exec(&format!("UPDATE evo_s_tasks SET finished_at = '2000-01-01 00:00:00' WHERE id = {old}"));
    assert_eq!(engine.prune(30).unwrap(), 1);
    assert!(engine.find(old).unwrap().is_none());
    assert!(!sb.file(&format!("{old}.log")).exists());
    assert!(engine.find(keep).unwrap().is_some());
    assert!(engine.find(pending).unwrap().is_some());
    assert_eq!(engine.prune(0).unwrap(), 1, "days = 0 prunes everything finished");
}

fn exit_leaves_the_task_to_its_lease_and_releases_the_rest(sb: Sandbox) {
    let engine = sb.engine();
    for _ in 0..6 {
        engine.create(task("w", "a")).unwrap();
    }
    // Warm up the batch size with quick tasks so several are claimed at once.
    engine.process_pending(&opts(2), |_| Outcome::Returned).unwrap();
    let report = engine.process_pending(&opts(4), |_| Outcome::Exit).unwrap();
    assert!(report.exited);
    let stats = engine.stats().unwrap();
    assert!(stats.by_status.contains(&(Status::Running, 1)), "the exiting task keeps its lease: {stats:?}");
    assert!(stats.by_status.contains(&(Status::Pending, 3)), "unstarted claims were handed back: {stats:?}");
    let attempts = sb.query_i64("SELECT SUM(attempts) FROM evo_s_tasks WHERE status = 10").unwrap();
    assert_eq!(attempts, 0, "a handed-back claim does not count as an attempt");
}

fn claims_keep_the_size_they_grew_to_across_calls(sb: Sandbox) {
    // stask:work calls process_pending in a loop with a small limit; each call must not start
    // again from claims of one task.
    let engine = sb.engine();
    for _ in 0..40 {
        engine.create(task("w", "a")).unwrap();
    }
    engine.process_pending(&opts(16), |_| Outcome::Returned).unwrap();
    let claimed_at_first_task = RefCell::new(None);
    engine
        .process_pending(&opts(8), |_| {
            if claimed_at_first_task.borrow().is_none() {
                let running = sb.query_i64("SELECT COUNT(*) FROM evo_s_tasks WHERE status = 50").unwrap();
                *claimed_at_first_task.borrow_mut() = Some(running);
            }
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(claimed_at_first_task.into_inner(), Some(8), "the second call claimed its whole limit at once");
    // A slow batch brings the size back to one task per claim, for the next call too.
    engine
        .process_pending(&opts(1), |_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            Outcome::Returned
        })
        .unwrap();
    let claimed = RefCell::new(Vec::new());
    engine
        .process_pending(&opts(2), |_| {
            claimed.borrow_mut().push(sb.query_i64("SELECT COUNT(*) FROM evo_s_tasks WHERE status = 50").unwrap());
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(claimed.into_inner()[0], 1, "after a slow task, claims start small again");
}

#[test]
fn in_memory_databases_work_for_throwaway_use() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = stask_engine::Config::from_url("sqlite::memory:").unwrap();
    config.storage_dir = dir.path().to_path_buf();
    let engine = stask_engine::Engine::open(config).unwrap();
    engine.migrate().unwrap();
    engine.create(task("w", "a")).unwrap();
    assert_eq!(engine.process_pending(&opts(5), |_| Outcome::Returned).unwrap().completed, 1);
}

fn an_unwritable_storage_directory_is_refused_up_front(sb: Sandbox) {
    let mut config = sb.config();
    config.storage_dir = "/proc/stask-cannot-write-here".into();
    let err = stask_engine::Engine::open(config).err().expect("must fail");
    assert!(matches!(err, Error::Storage(_)), "{err}");
    assert!(!sb.db_path().exists(), "nothing was written");
}

fn specific_tasks_can_be_run_on_demand_even_before_they_are_due(sb: Sandbox) {
    let engine = sb.engine();
    let first = engine.create(task("w", "a")).unwrap().id;
    let mut later = task("w", "later");
    later.available_at = Some(stask_engine::time::now_ms() + 3_600_000);
    let later = engine.create(later).unwrap().id;
    let ran = RefCell::new(Vec::new());
    let report = engine
        .process_pending(&ProcessOptions { limit: 10, identifiers: vec![], ids: vec![later] }, |t| {
            ran.borrow_mut().push(t.id);
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(ran.into_inner(), vec![later]);
    assert_eq!(report.completed, 1);
    assert_eq!(engine.get(first).unwrap().status, Status::Pending, "other tasks are left alone");
    // More ids than the limit: only `limit` of them are claimed (highest priority first), the
    // rest stay pending and unclaimed; finished or unknown ids are skipped.
    let mut urgent = task("w", "urgent");
    urgent.priority = Priority::High;
    let urgent = engine.create(urgent).unwrap().id;
    let third = engine.create(task("w", "c")).unwrap().id;
    let ran = RefCell::new(Vec::new());
    let report = engine
        .process_pending(
            &ProcessOptions { limit: 1, identifiers: vec![], ids: vec![first, later, third, urgent, 999_999] },
            |t| {
                ran.borrow_mut().push(t.id);
                Outcome::Returned
            },
        )
        .unwrap();
    assert_eq!((report.claimed, ran.into_inner()), (1, vec![urgent]));
    for id in [first, third] {
        let t = engine.get(id).unwrap();
        assert_eq!((t.status, t.attempts, t.locked_by), (Status::Pending, 0, None), "task {id} was not claimed");
    }
}

fn a_stop_request_ends_processing_after_the_current_task(sb: Sandbox) {
    let engine = sb.engine();
    for _ in 0..20 {
        engine.create(task("w", "a")).unwrap();
    }
    // Grow the batch first so that unstarted claims exist when the stop arrives.
    engine.process_pending(&opts(3), |_| Outcome::Returned).unwrap();
    let mut n = 0;
    let report = engine
        .process_pending(&opts(100), |_| {
            n += 1;
            if n == 2 {
                engine.request_stop();
            }
            Outcome::Returned
        })
        .unwrap();
    assert!(report.stopped);
    assert_eq!(report.completed, 2);
    let stats = engine.stats().unwrap();
    assert!(stats.by_status.contains(&(Status::Pending, 15)), "{stats:?}");
    // The request is consumed: the next call processes normally.
    assert_eq!(engine.process_pending(&opts(100), |_| Outcome::Returned).unwrap().completed, 15);
}

fn old_files_can_be_pruned_while_rows_are_kept(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    engine.log(id, Level::Info, "x", None).unwrap();
    engine.push_progress(id, ProgressUpdate { message: Some("m".into()), ..Default::default() }).unwrap();
    engine.complete(id, None, None).unwrap();
    assert_eq!(engine.prune_files(1).unwrap(), 0, "too recent");
    assert_eq!(engine.prune_files(0).unwrap(), 1);
    assert!(!sb.file(&format!("{id}.log")).exists() && !sb.file(&format!("{id}.json")).exists());
    assert!(engine.find(id).unwrap().is_some());
}

fn unique_keys_keep_one_unfinished_task_per_key(sb: Sandbox) {
    let engine = sb.engine();
    let mut keyed = task("report", "build");
    keyed.unique_key = Some("report:2026-11".into());
    let first = engine.create(keyed.clone()).unwrap();
    let again = engine.create(keyed.clone()).unwrap();
    assert_eq!(again.id, first.id, "the unfinished task with the key is returned");
    let batch = engine.create_many(vec![keyed.clone(), task("other", "x"), keyed.clone()]).unwrap();
    assert_eq!(batch[0].id, first.id);
    assert_eq!(batch[2].id, first.id);
    assert_ne!(batch[1].id, first.id);
    engine
        .process_pending(&ProcessOptions { limit: 10, identifiers: vec!["report".into()], ids: vec![] }, |_| boom())
        .unwrap();
    assert_eq!(engine.create(keyed.clone()).unwrap().id, first.id, "still unfinished while waiting for a retry");
    engine.cancel(first.id).unwrap();
    let fresh = engine.create(keyed.clone()).unwrap();
    assert_ne!(fresh.id, first.id, "a finished task frees its key");
    let err = engine.retry(first.id).unwrap_err();
    assert!(matches!(err, Error::InvalidState { .. }), "{err}");
    let mut bad = task("report", "build");
    bad.unique_key = Some(String::new());
    assert!(matches!(engine.create(bad), Err(Error::InvalidArgument(_))));
}

fn unique_keys_hold_across_connections_and_retries(sb: Sandbox) {
    let engine = sb.engine();
    let keyed = |key: &str| {
        let mut t = task("sync", "run");
        t.unique_key = Some(key.to_owned());
        t
    };
    // Keys compare exactly: case, trailing spaces and accents make different keys.
    let base = engine.create(keyed("sync:shop")).unwrap();
    assert_eq!(base.unique_key.as_deref(), Some("sync:shop"));
    assert_eq!(engine.get(base.id).unwrap().unique_key.as_deref(), Some("sync:shop"));
    for other in ["SYNC:shop", "sync:shop ", "sync:shöp"] {
        assert_ne!(engine.create(keyed(other)).unwrap().id, base.id, "{other:?} is another key");
    }
    let long = "ключ".repeat(23) + "xxxxxx"; // 190 bytes
    let long_task = engine.create(keyed(&long)).unwrap();
    assert_eq!(engine.create(keyed(&long)).unwrap().id, long_task.id);
    // Many connections creating the same key at once get one task.
    let ids: Vec<i64> = (0..6)
        .map(|_| {
            let config = sb.config();
            std::thread::spawn(move || {
                let e = stask_engine::Engine::open(config).unwrap();
                let mut t = task("race", "run");
                t.unique_key = Some("race:1".into());
                (0..5).map(|_| e.create(t.clone()).unwrap().id).collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(sb.query_i64("SELECT COUNT(*) FROM evo_s_tasks WHERE identifier = 'race'"), Some(1));
    // A running task keeps its key; once it failed for good another task may take the key,
    // and the failed one cannot be retried until that one finishes.
    let mut once = keyed("sync:once");
    once.max_attempts = Some(1);
    let failed = engine.create(once.clone()).unwrap().id;
    engine
        .process_pending(&ProcessOptions { limit: 1, identifiers: vec![], ids: vec![failed] }, |t| {
            assert_eq!(engine.create(once.clone()).unwrap().id, t.id, "a running task holds its key");
            boom()
        })
        .unwrap();
    assert_eq!(engine.get(failed).unwrap().status, Status::Failed);
    let successor = engine.create(once.clone()).unwrap().id;
    assert_ne!(successor, failed);
    match engine.retry(failed) {
        Err(Error::InvalidState { id, status, .. }) => assert_eq!((id, status), (failed, Status::Failed)),
        other => panic!("retry must fail while another task holds the key: {other:?}"),
    }
    assert_eq!(engine.get(failed).unwrap().status, Status::Failed, "the refused retry changed nothing");
    engine.complete(successor, None, None).unwrap();
    assert!(engine.retry(failed).unwrap(), "the key is free again");
    assert_eq!(engine.create(once).unwrap().id, failed, "the retried task holds the key");
}

fn metrics_count_finished_tasks_with_their_times(sb: Sandbox) {
    let engine = sb.engine();
    let mut once = task("mail", "send");
    once.max_attempts = Some(1);
    let created =
        engine.create_many(vec![task("mail", "send"), once, task("report", "build"), task("report", "late")]).unwrap();
    let mut n = 0;
    engine
        .process_pending(&ProcessOptions { limit: 3, identifiers: vec![], ids: vec![] }, |_| {
            n += 1;
            std::thread::sleep(Duration::from_millis(20));
            if n == 2 { boom() } else { Outcome::Returned }
        })
        .unwrap();
    assert_eq!(engine.get(created[3].id).unwrap().status, Status::Pending);
    engine.cancel(created[3].id).unwrap();
    let m = engine.metrics(5).unwrap();
    assert_eq!(
        (&m["totals"]["completed"], &m["totals"]["failed"], &m["totals"]["cancelled"]),
        (&json!(2), &json!(1), &json!(1)),
        "{m}"
    );
    assert_eq!(m["workers"]["mail"]["failed"], 1, "{m}");
    assert_eq!(m["workers"]["report"]["completed"], 1, "{m}");
    assert!(m["workers"]["mail"]["avg_run_ms"].as_i64().unwrap() >= 15, "run times come from ms timestamps: {m}");
    assert!(m["workers"]["mail"]["avg_wait_ms"].as_i64().unwrap() >= 0, "{m}");
    let per_minute: i64 = m["per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["completed"].as_i64().unwrap() + b["failed"].as_i64().unwrap() + b["cancelled"].as_i64().unwrap())
        .sum();
    assert_eq!(per_minute, 4);
    // Tasks that finished long ago are outside the window.
    sb.exec("UPDATE evo_s_tasks SET finished_at = '2020-01-01 00:00:00' WHERE status = 90");
    assert_eq!(engine.metrics(5).unwrap()["totals"]["cancelled"], 0);
}

fn delete_skips_running_tasks_and_removes_files(sb: Sandbox) {
    let engine = sb.engine();
    let pending = engine.create(task("w", "a")).unwrap().id;
    let done = engine.create(task("w", "b")).unwrap().id;
    engine.log(done, Level::Info, "x", None).unwrap();
    engine.complete(done, None, None).unwrap();
    let running = engine.create(task("w", "c")).unwrap().id;
    let deleted = RefCell::new(Vec::new());
    engine
        .process_pending(&ProcessOptions { limit: 1, identifiers: vec![], ids: vec![running] }, |_| {
            *deleted.borrow_mut() = engine.delete(&[pending, done, running, 9999]).unwrap();
            Outcome::Returned
        })
        .unwrap();
    let mut deleted = deleted.into_inner();
    deleted.sort();
    assert_eq!(deleted, vec![pending, done]);
    assert!(engine.find(running).unwrap().is_some());
    assert!(!sb.file(&format!("{done}.log")).exists());
    let m = engine.metrics(60).unwrap();
    assert_eq!(m["totals"]["completed"], 1, "{m}");
    assert!(matches!(engine.metrics(0), Err(Error::InvalidArgument(_))));
}
