//! Times `Engine::create` and `create_many` without PHP (profiling aid).
use std::time::Instant;

use serde_json::json;
use stask_engine::{Config, Engine, NewTask};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_url(&format!("sqlite:{}/db.sqlite", dir.path().display())).unwrap();
    config.storage_dir = dir.path().join("files");
    let engine = Engine::open(config).unwrap();
    engine.migrate().unwrap();
    let data = json!({"file": "products.csv", "rows": 10000, "options": {"delimiter": ";", "update": true}});
    let n = if std::env::var("ONLY_MANY").is_ok() { 0 } else { 5000 };
    let t = Instant::now();
    for _ in 0..n {
        engine.create(NewTask::new("product", "import", data.clone())).unwrap();
    }
    if n > 0 {
        println!("create: {:.1} µs", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    let batch: Vec<NewTask> = (0..100_000).map(|_| NewTask::new("mail", "send", data.clone())).collect();
    let t = Instant::now();
    engine.create_many(batch).unwrap();
    println!("create_many: {:.2} µs", t.elapsed().as_secs_f64() * 1e6 / 100_000.0);
}
