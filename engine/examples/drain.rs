//! Creates N empty tasks and drains them with T threads, each with its own engine; prints
//! tasks per second (profiling aid). `cargo run --release --example drain -- URL N T`
use std::time::Instant;

use serde_json::json;
use stask_engine::{Config, Engine, NewTask, Outcome, ProcessOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).cloned().unwrap_or_else(|| "sqlite::memory:".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_url(&url).unwrap();
    config.storage_dir = dir.path().join("files");
    config.prefix = format!("drain{}_", std::process::id());
    let setup = Engine::open(config.clone()).unwrap();
    setup.migrate().unwrap();
    let t = Instant::now();
    setup.create_many((0..n).map(|_| NewTask::new("w", "run", json!({}))).collect()).unwrap();
    println!("create_many: {:.0} tasks/s", n as f64 / t.elapsed().as_secs_f64());
    let t = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let engine = Engine::open(config.clone()).unwrap();
            std::thread::spawn(move || {
                let mut done = 0;
                loop {
                    let r = engine
                        .process_pending(&ProcessOptions { limit: 1000, identifiers: vec![], ids: vec![] }, |_| {
                            Outcome::Returned
                        })
                        .unwrap();
                    done += r.completed;
                    if r.claimed == 0 {
                        break done;
                    }
                }
            })
        })
        .collect();
    let done: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("processed {done}: {:.0} tasks/s", done as f64 / t.elapsed().as_secs_f64());
}
