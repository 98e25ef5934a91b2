//! Waiting for work on every backend: an idle worker wakes when a task is created (PostgreSQL
//! is told by NOTIFY, the others poll), when a delayed task becomes due, or when its time is up.

#[macro_use]
mod common;

conformance! {
    an_idle_wait_times_out_with_false,
    a_new_task_wakes_a_waiting_worker,
    a_delayed_task_wakes_the_worker_when_due,
    an_expired_lease_wakes_the_worker_to_rescue_it,
}

use std::time::{Duration, Instant};

use common::{Sandbox, task};
use stask_engine::{Outcome, ProcessOptions};

fn an_idle_wait_times_out_with_false(sb: Sandbox) {
    let engine = sb.engine();
    assert!(!engine.wait_for_tasks(Duration::from_millis(300), &[]).unwrap());
    let mut later = task("w", "later");
    later.available_at = Some(stask_engine::time::now_ms() + 60_000);
    engine.create(later).unwrap();
    assert!(!engine.wait_for_tasks(Duration::from_millis(300), &[]).unwrap(), "not due yet");
    engine.create(task("other", "now")).unwrap();
    assert!(!engine.wait_for_tasks(Duration::from_millis(300), &["w".into()]).unwrap(), "not ours");
    assert!(engine.wait_for_tasks(Duration::from_millis(300), &["other".into()]).unwrap());
}

fn a_new_task_wakes_a_waiting_worker(sb: Sandbox) {
    let worker = sb.engine();
    let producer = sb.engine();
    let started = Instant::now();
    let woke = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| worker.wait_for_tasks(Duration::from_secs(30), &[]).unwrap());
        std::thread::sleep(Duration::from_millis(200));
        producer.create(task("w", "a")).unwrap();
        waiting.join().unwrap()
    });
    assert!(woke, "woken by the new task");
    common::shout(&format!("{:?}: woken {:?} after the wait began", sb.kind, started.elapsed()));
    let r = worker
        .process_pending(&ProcessOptions { limit: 1, identifiers: vec![], ids: vec![] }, |_| Outcome::Returned)
        .unwrap();
    assert_eq!(r.completed, 1);
}

fn a_delayed_task_wakes_the_worker_when_due(sb: Sandbox) {
    let engine = sb.engine();
    let mut soon = task("w", "soon");
    soon.available_at = Some(stask_engine::time::now_ms() + 400);
    engine.create(soon).unwrap();
    assert!(engine.wait_for_tasks(Duration::from_secs(30), &[]).unwrap());
    let r = engine
        .process_pending(&ProcessOptions { limit: 1, identifiers: vec![], ids: vec![] }, |_| Outcome::Returned)
        .unwrap();
    assert_eq!(r.completed, 1, "due when the wait returned");
}

fn an_expired_lease_wakes_the_worker_to_rescue_it(sb: Sandbox) {
    let engine = sb.engine();
    engine.create(task("w", "a")).unwrap();
    let dead = sb.engine();
    assert_eq!(dead.claim(1, &[]).unwrap().len(), 1);
    std::mem::forget(dead); // like SIGKILL
    engine
        .process_pending(&ProcessOptions { limit: 0, identifiers: vec![], ids: vec![] }, |_| Outcome::Returned)
        .unwrap();
    sb.exec("UPDATE evo_s_tasks SET lease_expires_at = 1");
    assert!(engine.wait_for_tasks(Duration::from_secs(30), &[]).unwrap());
    let r = engine
        .process_pending(&ProcessOptions { limit: 0, identifiers: vec![], ids: vec![] }, |_| Outcome::Returned)
        .unwrap();
    assert_eq!(r.rescued, 1, "rescued at once, not a second later");
}
