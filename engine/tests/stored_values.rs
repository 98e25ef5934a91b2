//! What is stored comes back as it was, on every backend: floats to the bit, data up to the
//! depth limit as data (deeper is refused, nothing written), and a handler's failure message
//! cut to a bounded size that every backend's columns hold.

#[macro_use]
mod common;

conformance! {
    floats_come_back_bit_for_bit,
    data_at_the_depth_limit_comes_back_and_deeper_is_refused,
    huge_failure_messages_are_cut_to_fit_every_backend,
}

use std::cell::RefCell;

use common::{Kind, Sandbox, task};
use serde_json::{Value, json};
use stask_engine::process::{MAX_ERROR_MESSAGE_BYTES, MAX_ERROR_NAME_BYTES};
use stask_engine::task::MAX_DEPTH;
use stask_engine::{Error, HandlerError, Level, NewTask, Outcome, ProcessOptions, Status};

fn opts(limit: usize) -> ProcessOptions {
    ProcessOptions { limit, identifiers: Vec::new(), ids: Vec::new() }
}

/// Finite floats: hard cases found before, then random bit patterns from a fixed seed.
fn floats() -> Vec<f64> {
    let mut floats = vec![
        926.5663804999999,
        -9.787735304563955e251,
        -0.0,
        0.0,
        5e-324,
        f64::from_bits(0x000f_ffff_ffff_ffff), // the largest subnormal
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        0.1 + 0.2,
        1e20,
        1.0,
        9007199254740993.0,
    ];
    let mut rng = fastrand::Rng::with_seed(3);
    while floats.len() < 3000 {
        let f = f64::from_bits(rng.u64(..));
        if f.is_finite() {
            floats.push(if rng.bool() { f } else { f % 1e6 });
        }
    }
    floats
}

fn assert_same_bits(expected: &[f64], actual: &Value, what: &str) {
    let actual = actual.as_array().unwrap_or_else(|| panic!("{what}: not a list: {actual}"));
    assert_eq!(expected.len(), actual.len(), "{what}");
    for (f, v) in expected.iter().zip(actual) {
        assert_eq!(v.as_f64().map(f64::to_bits), Some(f.to_bits()), "{what}: {f:e} came back as {v}");
    }
}

fn floats_come_back_bit_for_bit(sb: Sandbox) {
    let engine = sb.engine();
    let floats = floats();
    let list = Value::Array(floats.iter().map(|f| json!(f)).collect());
    let id = engine.create(NewTask::new("w", "floats", json!({ "f": list }))).unwrap().id;
    assert_same_bits(&floats, &engine.get(id).unwrap().data["f"], "found");

    // Claimed (another query), completed with the floats as the result, logged as context.
    let seen = RefCell::new(Value::Null);
    let report = engine
        .process_pending(&opts(1), |t| {
            *seen.borrow_mut() = t.data.clone();
            engine.log(t.id, Level::Info, "floats", Some(t.data.clone())).unwrap();
            engine.complete(t.id, Some(t.data["f"].clone()), None).unwrap();
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(report.completed, 1);
    assert_same_bits(&floats, &seen.borrow()["f"], "claimed");
    let done = engine.get(id).unwrap();
    assert_same_bits(&floats, done.result.as_ref().unwrap(), "result");
    let logged = engine.logs(id, None, 100).unwrap();
    let entry = logged.iter().find(|e| e.message == "floats").expect("the log entry");
    assert_same_bits(&floats, &entry.context.as_ref().unwrap()["f"], "log context");
}

/// `levels` arrays and objects, one inside the other.
fn nested(levels: usize) -> Value {
    (1..levels).fold(json!(["bottom"]), |inner, i| if i % 2 == 0 { json!([inner]) } else { json!({ "k": inner }) })
}

fn data_at_the_depth_limit_comes_back_and_deeper_is_refused(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(NewTask::new("w", "deep", nested(MAX_DEPTH))).unwrap().id;
    assert_eq!(engine.get(id).unwrap().data, nested(MAX_DEPTH), "read back as data, not as its JSON text");
    let seen = RefCell::new(Value::Null);
    engine
        .process_pending(&opts(1), |t| {
            *seen.borrow_mut() = t.data.clone();
            engine.complete(t.id, Some(nested(MAX_DEPTH)), None).unwrap();
            let err = engine.complete(t.id, Some(nested(MAX_DEPTH + 1)), None).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(*seen.borrow(), nested(MAX_DEPTH), "claimed");
    assert_eq!(engine.get(id).unwrap().result, Some(nested(MAX_DEPTH)));
    engine.log(id, Level::Info, "deep", Some(json!({ "c": nested(MAX_DEPTH - 1) }))).unwrap();
    let logged = engine.logs(id, None, 100).unwrap();
    assert_eq!(
        logged.iter().find(|e| e.message == "deep").unwrap().context,
        Some(json!({ "c": nested(MAX_DEPTH - 1) }))
    );

    for levels in [MAX_DEPTH + 1, 128, 256] {
        let err = engine.create(NewTask::new("w", "deeper", nested(levels))).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{levels}: {err}");
        assert!(err.to_string().contains(&format!("nested more than {MAX_DEPTH} levels")), "{err}");
        let err = engine.create_many(vec![task("w", "ok"), NewTask::new("w", "deeper", nested(levels))]).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{levels}: {err}");
        let err = engine.log(id, Level::Info, "deeper", Some(nested(levels))).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{levels}: {err}");
    }
    let stats = engine.stats().unwrap();
    assert_eq!(stats.by_status, vec![(Status::Completed, 1)], "nothing else was written");
    assert!(engine.logs(id, None, 100).unwrap().iter().all(|e| e.message != "deeper"));
}

/// Bytes of a text column, the way each backend counts them.
fn bytes_of(sb: &Sandbox, column: &str, id: i64) -> i64 {
    let expr = match sb.kind {
        Kind::Sqlite => format!("length(CAST({column} AS BLOB))"),
        Kind::Postgres => format!("octet_length({column})"),
        Kind::MySql => format!("LENGTH({column})"),
    };
    sb.query_i64(&format!("SELECT {expr} FROM evo_s_tasks WHERE id = {id}")).unwrap_or(0)
}

fn huge_failure_messages_are_cut_to_fit_every_backend(sb: Sandbox) {
    let engine = sb.engine();
    let mut retried = task("w", "retried");
    retried.max_attempts = Some(2);
    let retried = engine.create(retried).unwrap().id;
    let mut failed = task("w", "failed");
    failed.max_attempts = Some(1);
    let failed = engine.create(failed).unwrap().id;
    // 5 MB of two-byte characters after one byte: a cut by bytes alone would split one.
    let message = format!("x{}", "ж".repeat(2_621_440));
    let report = engine
        .process_pending(&opts(10), |_| {
            Outcome::Threw(HandlerError {
                class: "RuntimeException".repeat(1000),
                message: message.clone(),
                file: Some(format!("/app/{}.php", "d/".repeat(5000))),
                line: Some(7),
            })
        })
        .unwrap();
    assert_eq!((report.retried, report.failed), (1, 1));
    let marker = format!("… [cut: {} bytes in all]", message.len());
    for id in [retried, failed] {
        let t = engine.get(id).unwrap();
        let log = engine.logs(id, Some(Level::Error), 10).unwrap();
        assert_eq!(log.len(), 1);
        let context = log[0].context.as_ref().unwrap();
        for (what, text) in [
            ("message", t.message.clone().unwrap()),
            ("last error", t.last_error.clone().unwrap()),
            ("log", log[0].message.clone()),
        ] {
            assert!(text.len() < 65_536, "{what} of task {id}: {} bytes", text.len());
            assert!(text.len() > MAX_ERROR_MESSAGE_BYTES - 100, "{what}: the start of the message is kept");
            assert!(text.contains(&marker), "{what}");
            assert!(text.contains("xжжж"), "{what}");
        }
        assert!(context["exception"].as_str().unwrap().len() <= MAX_ERROR_NAME_BYTES);
        assert!(context["file"].as_str().unwrap().len() <= MAX_ERROR_NAME_BYTES);
        for column in ["message", "last_error"] {
            let stored = bytes_of(&sb, column, id);
            assert!((60_000..65_536).contains(&stored), "{column} of task {id}: {stored} bytes stored");
        }
    }
}
