//! Status writes from a task's model (upstream workers' `$task->update(['status' => …])`) on
//! every backend: the owner's are transitions made with its claim, anyone else's only touch
//! tasks no worker holds, and a stale owner is fenced off.

#[macro_use]
mod common;

conformance! {
    the_owner_moves_its_task_through_preparing_and_running_then_completes_it,
    an_owner_status_write_keeps_the_lease_alive,
    the_owner_fails_its_task_for_good_without_retries,
    a_failure_marked_by_the_owner_is_retried_when_it_throws_and_attempts_remain,
    progress_after_the_owner_finished_refreshes_the_final_snapshot,
    the_workers_last_final_write_wins_while_it_runs,
    a_failed_task_keeps_its_progress_in_the_row,
    a_task_its_worker_left_running_ends_with_one_message,
    strangers_may_only_finish_pending_tasks,
    a_stale_owner_status_write_is_fenced,
    pending_tasks_can_be_rescheduled,
    a_worker_may_choose_its_retry_delay,
    long_outcome_messages_are_cut_to_fit_every_backend,
}

use std::time::Duration;

use common::{Sandbox, task};
use serde_json::json;
use stask_engine::{Error, HandlerError, Level, NewTask, Outcome, ProcessOptions, ProgressUpdate, Status};

fn opts(limit: usize) -> ProcessOptions {
    ProcessOptions { limit, identifiers: Vec::new(), ids: Vec::new() }
}

fn threw(message: &str) -> Outcome {
    Outcome::Threw(HandlerError { class: "RuntimeException".into(), message: message.into(), file: None, line: None })
}

fn with_attempts(n: i64) -> NewTask {
    let mut t = task("w", "a");
    t.max_attempts = Some(n);
    t
}

fn snapshot_status(engine: &stask_engine::Engine, id: i64) -> String {
    engine.progress(id).unwrap()["status"].as_str().unwrap_or_default().to_owned()
}

fn no_lease_lines(engine: &stask_engine::Engine, id: i64) {
    for entry in engine.logs(id, None, 100).unwrap() {
        assert!(!entry.message.contains("lease") && !entry.message.contains("lost"), "unexpected: {}", entry.message);
    }
}

fn the_owner_moves_its_task_through_preparing_and_running_then_completes_it(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    let report = engine
        .process_pending(&opts(1), |t| {
            engine.set_status(t.id, Status::Preparing, Some("Preparing the feed"), None).unwrap();
            assert_eq!(engine.find(t.id).unwrap().unwrap().status, Status::Preparing);
            assert_eq!(snapshot_status(&engine, t.id), "preparing");
            engine.set_status(t.id, Status::Running, Some("Sending"), None).unwrap();
            engine.push_progress(t.id, ProgressUpdate { progress: Some(40.0), ..Default::default() }).unwrap();
            assert_eq!(engine.find(t.id).unwrap().unwrap().status, Status::Running);
            engine.set_status(t.id, Status::Completed, Some("Sent 3 mails"), Some(json!("/tmp/report.csv"))).unwrap();
            Outcome::Returned
        })
        .unwrap();
    assert_eq!((report.completed, report.lost, report.failed), (1, 0, 0));
    let t = engine.get(id).unwrap();
    assert_eq!(t.status, Status::Completed);
    assert_eq!(t.message.as_deref(), Some("Sent 3 mails"));
    assert_eq!(t.result, Some(json!("/tmp/report.csv")));
    assert_eq!(t.progress, 100);
    let snapshot = engine.progress(id).unwrap();
    assert_eq!(snapshot["status"], "completed");
    assert_eq!(snapshot["message"], "Sent 3 mails");
    no_lease_lines(&engine, id);
}

fn an_owner_status_write_keeps_the_lease_alive(sb: Sandbox) {
    let engine = sb.engine_with(|c| c.lease_ms = 1_000);
    let rival = sb.engine_with(|c| c.lease_ms = 1_000);
    let id = engine.create(task("w", "slow")).unwrap().id;
    let report = engine
        .process_pending(&opts(1), |t| {
            engine.set_status(t.id, Status::Preparing, None, None).unwrap();
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(400));
                let r = rival.process_pending(&opts(1), |_| panic!("the rival must not get the task")).unwrap();
                assert_eq!(r.rescued, 0, "a preparing task is still its owner's");
            }
            engine.push_progress(t.id, ProgressUpdate { progress: Some(50.0), ..Default::default() }).unwrap();
            Outcome::Returned
        })
        .unwrap();
    assert_eq!((report.completed, report.lost), (1, 0));
    assert_eq!(engine.get(id).unwrap().status, Status::Completed);
    no_lease_lines(&engine, id);
}

fn the_owner_fails_its_task_for_good_without_retries(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(with_attempts(1)).unwrap().id;
    let report = engine
        .process_pending(&opts(1), |t| {
            engine.set_status(t.id, Status::Running, None, None).unwrap();
            engine.set_status(t.id, Status::Failed, Some("Mailing document is unavailable"), None).unwrap();
            // Upstream's catch block: status 100, a last progress line, then rethrow.
            engine.push_progress(t.id, ProgressUpdate { progress: Some(0.0), ..Default::default() }).unwrap();
            threw("Mailing document is unavailable")
        })
        .unwrap();
    assert_eq!((report.failed, report.retried, report.lost), (1, 0, 0));
    let t = engine.get(id).unwrap();
    assert_eq!(t.status, Status::Failed);
    assert_eq!(t.message.as_deref(), Some("Mailing document is unavailable"));
    assert_eq!(snapshot_status(&engine, id), "failed");
    no_lease_lines(&engine, id);
    let errors = engine.logs(id, Some(Level::Error), 10).unwrap();
    assert!(errors.iter().any(|e| e.message.contains("Mailing document is unavailable")), "{errors:?}");
}

fn a_failure_marked_by_the_owner_is_retried_when_it_throws_and_attempts_remain(sb: Sandbox) {
    let engine = sb.engine();
    let thrown = engine.create(with_attempts(3)).unwrap().id;
    let returned = engine.create(with_attempts(3)).unwrap().id;
    let report = engine
        .process_pending(&opts(2), |t| {
            engine.set_status(t.id, Status::Failed, Some("API said 503"), None).unwrap();
            assert_eq!(engine.find(t.id).unwrap().unwrap().status, Status::Running, "decided when the handler ends");
            if t.id == thrown { threw("API said 503") } else { Outcome::Returned }
        })
        .unwrap();
    assert_eq!((report.retried, report.failed), (1, 1));
    assert_eq!(engine.get(thrown).unwrap().status, Status::Pending);
    let t = engine.get(returned).unwrap();
    assert_eq!(t.status, Status::Failed);
    assert_eq!(t.message.as_deref(), Some("API said 503"));
}

fn progress_after_the_owner_finished_refreshes_the_final_snapshot(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    engine
        .process_pending(&opts(1), |t| {
            engine.push_progress(t.id, ProgressUpdate { progress: Some(30.0), ..Default::default() }).unwrap();
            engine.set_status(t.id, Status::Completed, Some("Done"), None).unwrap();
            engine
                .push_progress(
                    t.id,
                    ProgressUpdate { progress: Some(100.0), message: Some("Done".into()), ..Default::default() },
                )
                .unwrap();
            assert!(!engine.is_cancelled(t.id).unwrap());
            Outcome::Returned
        })
        .unwrap();
    let snapshot = engine.progress(id).unwrap();
    assert_eq!((snapshot["status"].as_str(), snapshot["progress"].as_i64()), (Some("completed"), Some(100)));
    assert_eq!(engine.get(id).unwrap().message.as_deref(), Some("Done"));
}

fn the_workers_last_final_write_wins_while_it_runs(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    let other = engine.create(task("w", "b")).unwrap().id;
    let report = engine
        .process_pending(&opts(2), |t| {
            if t.id == id {
                engine.set_status(t.id, Status::Completed, Some("Imported"), None).unwrap();
                engine.set_status(t.id, Status::Completed, None, None).unwrap(); // nothing new: a no-op
                engine.complete(t.id, Some(json!("/tmp/export.csv")), Some("Exported")).unwrap();
                engine.set_status(t.id, Status::Completed, None, None).unwrap();
                assert!(matches!(
                    engine.set_status(t.id, Status::Running, None, None),
                    Err(Error::InvalidState { status: Status::Completed, .. })
                ));
                engine.set_status(t.id, Status::Failed, Some("Feed rejected"), None).unwrap();
                threw("an exception after finishing is ignored")
            } else {
                engine.set_status(t.id, Status::Completed, Some("Done"), None).unwrap();
                // The task moved on meanwhile (say, retried and claimed again): fenced.
                sb.exec(&format!("UPDATE evo_s_tasks SET fence = fence + 1 WHERE id = {}", t.id));
                assert!(matches!(
                    engine.set_status(t.id, Status::Failed, Some("too late"), None),
                    Err(Error::InvalidState { .. })
                ));
                Outcome::Returned
            }
        })
        .unwrap();
    assert_eq!((report.completed, report.failed, report.lost), (1, 1, 0));
    let t = engine.get(id).unwrap();
    assert_eq!((t.status, t.message.as_deref()), (Status::Failed, Some("Feed rejected")));
    assert_eq!(t.result, Some(json!("/tmp/export.csv")), "a result written before is kept");
    assert_eq!(snapshot_status(&engine, id), "failed");
    let o = engine.get(other).unwrap();
    assert_eq!((o.status, o.message.as_deref()), (Status::Completed, Some("Done")));
}

fn a_failed_task_keeps_its_progress_in_the_row(sb: Sandbox) {
    let engine = sb.engine();
    let thrown = engine.create(with_attempts(1)).unwrap().id;
    let mut b = with_attempts(1);
    b.action = "b".into();
    let marked = engine.create(b).unwrap().id;
    engine
        .process_pending(&opts(2), |t| {
            engine.push_progress(t.id, ProgressUpdate { progress: Some(38.0), ..Default::default() }).unwrap();
            if t.id == marked {
                engine.set_status(t.id, Status::Failed, Some("stopped"), None).unwrap();
                Outcome::Returned
            } else {
                threw("boom")
            }
        })
        .unwrap();
    for id in [thrown, marked] {
        let row = engine.get(id).unwrap();
        assert_eq!(row.status, Status::Failed);
        assert_eq!(row.progress, 38, "the row says what the snapshot says");
        assert_eq!(engine.progress(id).unwrap()["progress"], 38);
    }
}

fn a_task_its_worker_left_running_ends_with_one_message(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    engine
        .process_pending(&opts(1), |t| {
            engine.set_status(t.id, Status::Running, Some("Sending"), None).unwrap();
            engine
                .push_progress(t.id, ProgressUpdate { message: Some("Sent 3".into()), ..Default::default() })
                .unwrap();
            Outcome::Returned
        })
        .unwrap();
    let row = engine.get(id).unwrap();
    assert_eq!(row.status, Status::Completed);
    assert_eq!(engine.progress(id).unwrap()["message"], row.message.clone().unwrap(), "snapshot and row agree");
}

fn strangers_may_only_finish_pending_tasks(sb: Sandbox) {
    let engine = sb.engine();
    let other = sb.engine();
    let a = engine.create(task("w", "a")).unwrap().id;
    engine.set_status(a, Status::Completed, Some("Done by hand"), Some(json!({"rows": 1}))).unwrap();
    assert_eq!(engine.get(a).unwrap().status, Status::Completed);
    let b = engine.create(task("w", "b")).unwrap().id;
    engine.set_status(b, Status::Failed, Some("Not needed"), None).unwrap();
    assert_eq!(engine.get(b).unwrap().message.as_deref(), Some("Not needed"));
    let c = engine.create(task("w", "c")).unwrap().id;
    assert!(matches!(engine.set_status(c, Status::Running, None, None), Err(Error::InvalidState { .. })));
    engine.set_status(c, Status::Pending, None, None).unwrap();
    assert!(matches!(engine.set_status(a, Status::Failed, None, None), Err(Error::InvalidState { .. })));
    assert!(matches!(engine.set_status(999_999, Status::Failed, None, None), Err(Error::NotFound(_))));
    assert!(matches!(engine.set_status(c, Status::Other(42), None, None), Err(Error::InvalidArgument(_))));
    // A task another process runs is fenced against this one's writes.
    engine
        .process_pending(&opts(1), |t| {
            for status in [Status::Preparing, Status::Completed, Status::Failed, Status::Cancelled] {
                assert!(matches!(other.set_status(t.id, status, None, None), Err(Error::InvalidState { .. })));
            }
            other.set_status(t.id, Status::Running, None, None).expect("the status it has: nothing to change");
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(engine.get(c).unwrap().status, Status::Completed);
    let d = engine.create(task("w", "d")).unwrap().id;
    engine.set_status(d, Status::Cancelled, Some("Campaign removed"), None).unwrap();
    assert_eq!(engine.get(d).unwrap().status, Status::Cancelled);
}

fn a_stale_owner_status_write_is_fenced(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "a")).unwrap().id;
    let report = engine
        .process_pending(&opts(1), |t| {
            sb.exec(&format!("UPDATE evo_s_tasks SET fence = fence + 1, locked_by = 'thief' WHERE id = {}", t.id));
            assert!(matches!(engine.set_status(t.id, Status::Running, None, None), Err(Error::LeaseLost(_))));
            assert!(matches!(engine.set_status(t.id, Status::Completed, None, None), Err(Error::LeaseLost(_))));
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(report.lost, 1);
    let t = engine.get(id).unwrap();
    assert_eq!((t.status, t.locked_by.as_deref()), (Status::Running, Some("thief")));
}

fn pending_tasks_can_be_rescheduled(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("w", "later")).unwrap().id;
    let later = stask_engine::time::now_ms() + 3_600_000;
    assert!(engine.reschedule(id, later).unwrap());
    let report = engine.process_pending(&opts(5), |_| panic!("not before its time")).unwrap();
    assert_eq!(report.claimed, 0);
    assert_eq!(engine.get(id).unwrap().available_at, Some(later));
    assert!(engine.reschedule(id, 0).unwrap());
    assert_eq!(engine.process_pending(&opts(5), |_| Outcome::Returned).unwrap().completed, 1);
    assert!(!engine.reschedule(id, later).unwrap(), "a finished task is not rescheduled");
    assert!(matches!(engine.reschedule(999_999, later), Err(Error::NotFound(_))));
    assert!(matches!(engine.reschedule(id, -5), Err(Error::InvalidArgument(_))));
}

fn a_worker_may_choose_its_retry_delay(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(with_attempts(2)).unwrap().id;
    let before = stask_engine::time::now_ms();
    engine
        .process_pending(&opts(1), |t| {
            engine.retry_after(t.id, 120_000).unwrap();
            threw("later, please")
        })
        .unwrap();
    let t = engine.get(id).unwrap();
    assert_eq!(t.status, Status::Pending);
    let at = t.available_at.unwrap();
    assert!(at >= before + 120_000 && at < before + 130_000, "{at} vs {before}");
    assert!(matches!(engine.retry_after(id, 1_000), Err(Error::InvalidState { .. })), "only while running it");
}

fn long_outcome_messages_are_cut_to_fit_every_backend(sb: Sandbox) {
    let engine = sb.engine();
    let long = "é".repeat(100_000); // 200 KB: more than MySQL's TEXT holds
    let a = engine.create(task("w", "a")).unwrap().id;
    engine.complete(a, None, Some(&long)).unwrap();
    let b = engine.create(task("w", "b")).unwrap().id;
    engine.fail(b, &long).unwrap();
    let c = engine.create(task("w", "c")).unwrap().id;
    engine.set_status(c, Status::Failed, Some(&long), None).unwrap();
    for id in [a, b, c] {
        let message = engine.get(id).unwrap().message.unwrap();
        assert!(message.len() < 64 * 1024, "{} bytes", message.len());
        assert!(message.contains("[cut: "), "the cut is marked");
    }
}
