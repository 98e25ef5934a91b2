//! Task files and log lines an attacker or a careless worker can make: over-long log entries
//! (capped when written, in files and in the database journal), over-long lines already in a
//! log (read in bounded memory and reads), and links or other non-regular files planted under
//! a task file's name (refused, never followed; pruning removes the link, not its target).

#[macro_use]
mod common;

conformance! {
    an_over_long_entry_is_cut_when_written,
    an_over_long_entry_is_cut_in_the_database_journal,
}

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::{Sandbox, task};
use serde_json::json;
use stask_engine::files::{MAX_ENTRY_BYTES, MAX_LINE_BYTES};
use stask_engine::{Engine, Error, HandlerError, JournalMode, Level, LogEntry, Outcome, ProcessOptions, Status};

// ---- memory and reads of the current thread -------------------------------------------------

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Counts the bytes each thread has allocated, and the most it held at once.
struct Counting;

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: forwards to the system allocator; the counting touches only const-initialised
// thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Read system calls made by this thread so far (`syscr` of /proc/thread-self/io).
fn read_calls() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").expect("/proc/thread-self/io");
    io.lines().find_map(|l| l.strip_prefix("syscr: ")).and_then(|n| n.trim().parse().ok()).expect("syscr")
}

/// What `body` cost this thread: its result, the most memory it held at once beyond what was
/// held before, and its read system calls.
fn measured<T>(body: impl FnOnce() -> T) -> (T, usize, u64) {
    let before_calls = read_calls();
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = body();
    let peak = PEAK.with(Cell::get) - base;
    let calls = read_calls() - before_calls;
    (out, peak.max(0) as usize, calls)
}

/// Runs `body` on another thread; fails if it takes longer than 20 s (an endless read).
fn within_20s<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what} did not return within 20 s"))
}

fn opts(limit: usize) -> ProcessOptions {
    ProcessOptions { limit, identifiers: Vec::new(), ids: Vec::new() }
}

/// `(message, context)` of an entry, as the log stores them, in bytes.
fn stored(e: &LogEntry) -> usize {
    e.message.len() + e.context.as_ref().map_or(0, |c| c.to_string().len())
}

// ---- the cap at write ------------------------------------------------------------------------

/// A 1 MiB message (the most `log()` takes) and an 8 MB context (a CSV a worker logged).
fn log_huge_entries(engine: &Engine, id: i64) {
    engine.log(id, Level::Info, "before", None).unwrap();
    engine.log(id, Level::Warning, &"m".repeat(1024 * 1024), None).unwrap();
    let rows: Vec<String> = (0..100_000).map(|i| format!("{i};widget;{};in stock", i * 7)).collect();
    engine.log(id, Level::Error, "Imported products.csv", Some(json!({ "rows": rows }))).unwrap();
    engine.log(id, Level::Info, "after", None).unwrap();
}

fn assert_capped_entries(engine: &Engine, id: i64) {
    let entries = engine.logs(id, None, 100).unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0].message, "before");
    assert_eq!(entries[3].message, "after");
    let long = &entries[1];
    assert!(stored(long) <= MAX_ENTRY_BYTES, "{}", stored(long));
    assert!(long.message.starts_with("mmmm"));
    let kept = long.message.find('…').expect("a marker");
    assert_eq!(&long.message[kept..], format!("… [truncated, {} more bytes]", 1024 * 1024 - kept));
    let csv = &entries[2];
    assert_eq!(csv.message, "Imported products.csv");
    assert!(stored(csv) <= MAX_ENTRY_BYTES, "{}", stored(csv));
    let preview = csv.context.as_ref().unwrap()["truncated"].as_str().expect("the context's start");
    assert!(preview.starts_with(r#"{"rows":["0;widget;0;in stock","1;widget;7;in stock""#), "{}", &preview[..80]);
    assert!(preview.contains("… [truncated, "));
    // The whole log reads the same in pieces.
    common::assert_log_reads_in_pieces(engine, id, 1000);
}

fn an_over_long_entry_is_cut_when_written(sb: Sandbox) {
    let engine = sb.engine();
    let id = engine.create(task("import", "csv")).unwrap().id;
    log_huge_entries(&engine, id);
    assert_capped_entries(&engine, id);
    let text = std::fs::read_to_string(sb.file(&format!("{id}.log"))).unwrap();
    assert!(text.len() < 4 * MAX_LINE_BYTES, "the file holds capped lines: {} bytes", text.len());
    assert!(text.lines().all(|l| l.len() <= MAX_LINE_BYTES));
}

fn an_over_long_entry_is_cut_in_the_database_journal(sb: Sandbox) {
    let engine = sb.engine_with(|c| c.journal = JournalMode::Database);
    let id = engine.create(task("import", "csv")).unwrap().id;
    log_huge_entries(&engine, id);
    // What the table holds, not only what is read back.
    let longest =
        sb.query_i64("SELECT MAX(LENGTH(message) + COALESCE(LENGTH(context), 0)) FROM evo_s_task_logs").unwrap();
    assert!(longest as usize <= MAX_ENTRY_BYTES, "a stored row holds {longest} bytes");
    assert_capped_entries(&engine, id);
    // Failures logged by the engine itself are capped too.
    let failing = engine.create(task("import", "fail")).unwrap().id;
    engine
        .process_pending(&ProcessOptions { ids: vec![failing], ..opts(1) }, |_| {
            Outcome::Threw(HandlerError {
                class: "RuntimeException".into(),
                message: "x".repeat(1 << 20),
                ..Default::default()
            })
        })
        .unwrap();
    let logged = engine.logs(failing, Some(Level::Error), 10).unwrap();
    assert!(!logged.is_empty() && logged.iter().all(|e| stored(e) <= MAX_ENTRY_BYTES));
}

// ---- over-long lines already in a log ----------------------------------------------------------

/// A task whose log holds an 8 MB line (written before lines were capped) between two others.
fn log_with_an_8mb_line(sb: &Sandbox, engine: &Engine) -> i64 {
    let id = engine.create(task("import", "csv")).unwrap().id;
    let line = |message: String| {
        LogEntry { time: "2026-01-01T00:00:00.000Z".into(), level: Level::Info, message, context: None }.to_line()
    };
    let mut text = line("first".into());
    text.push_str(&line("x".repeat(8 << 20)));
    text.push_str(&line("last".into()));
    std::fs::write(sb.file(&format!("{id}.log")), text).unwrap();
    id
}

#[test]
fn an_8mb_line_costs_bounded_memory_and_reads() {
    let sb = Sandbox::open(common::Kind::Sqlite, "8mb").unwrap();
    let engine = sb.engine();
    let id = log_with_an_8mb_line(&sb, &engine);
    engine.find(id).unwrap(); // warm the statement cache

    // The last entries (the progress endpoint): the long line is skipped over, not held.
    let (entries, memory, calls) = measured(|| engine.logs(id, None, 50).unwrap());
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2].message, "last");
    assert!(entries[1].message.contains("… [truncated, "), "the long line is shown cut");
    assert!(entries[1].message.len() <= MAX_LINE_BYTES);
    common::shout(&format!("logs(): {memory} bytes, {calls} reads"));
    assert!(memory < 1 << 20, "logs() held {memory} bytes at once for an 8 MB line");
    assert!(calls < 400, "logs() made {calls} read calls for an 8 MB line");

    // The whole log in pieces (the download).
    let (pieces, memory, calls) = measured(|| {
        let mut pieces = Vec::new();
        let mut cursor = 0;
        loop {
            let (data, next) = engine.log_chunk(id, cursor, 262_144).unwrap();
            pieces.push(data);
            match next {
                Some(n) => cursor = n,
                None => return pieces,
            }
        }
    });
    let text = pieces.concat();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].len() <= MAX_LINE_BYTES && lines[1].contains("… [truncated, "));
    assert_eq!(LogEntry::parse(lines[2]).unwrap().message, "last");
    common::shout(&format!("download: {memory} bytes, {calls} reads"));
    assert!(memory < 2 << 20, "the download held {memory} bytes at once for an 8 MB line");
    assert!(calls < 400, "the download made {calls} read calls for an 8 MB line");
}

// ---- links and other files in place of task files ----------------------------------------------

fn storage_error(result: Result<impl std::fmt::Debug, Error>, why: &str) {
    match result {
        Err(Error::Storage(message)) => assert!(message.contains(why), "{message}"),
        other => panic!("expected a storage error saying {why:?}, got {other:?}"),
    }
}

fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn a_log_link_is_never_followed() {
    let sb = Sandbox::open(common::Kind::Sqlite, "log link").unwrap();
    let engine = sb.engine();
    let id = engine.create(task("import", "csv")).unwrap().id;
    let secret = sb.dir.path().join("secret.txt");
    std::fs::write(&secret, "2026-01-01T00:00:00.000Z\tinfo\troot:x:0:0\t\n").unwrap();
    symlink(&secret, &sb.file(&format!("{id}.log")));

    storage_error(engine.logs(id, None, 10), "symbolic link");
    storage_error(engine.log_chunk(id, 0, 1000), "symbolic link");
    storage_error(engine.log(id, Level::Info, "appended through the link", None), "symbolic link");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "2026-01-01T00:00:00.000Z\tinfo\troot:x:0:0\t\n");

    // Pruning removes the link and leaves its target.
    assert_eq!(engine.delete(&[id]).unwrap(), vec![id]);
    assert!(std::fs::symlink_metadata(sb.file(&format!("{id}.log"))).is_err(), "the link is gone");
    assert!(secret.exists(), "its target is not");
}

#[test]
fn a_log_link_to_dev_zero_or_a_fifo_is_refused_at_once() {
    let sb = Sandbox::open(common::Kind::Sqlite, "dev zero").unwrap();
    let zero = sb.engine().create(task("import", "zero")).unwrap().id;
    symlink(Path::new("/dev/zero"), &sb.file(&format!("{zero}.log")));
    let fifo = sb.engine().create(task("import", "fifo")).unwrap().id;
    let made = std::process::Command::new("mkfifo").arg(sb.file(&format!("{fifo}.log"))).status().unwrap();
    assert!(made.success());
    let dir = sb.engine().create(task("import", "dir")).unwrap().id;
    std::fs::create_dir(sb.file(&format!("{dir}.log"))).unwrap();

    let config = sb.config();
    let results = within_20s("reading the planted logs", move || {
        let engine = Engine::open(config).unwrap();
        [
            (engine.log_chunk(zero, 0, 1000).map(|_| ()), "symbolic link"),
            (engine.logs(zero, None, 10).map(|_| ()), "symbolic link"),
            (engine.log_chunk(fifo, 0, 1000).map(|_| ()), "is a FIFO"),
            (engine.logs(fifo, None, 10).map(|_| ()), "is a FIFO"),
            (engine.log(fifo, Level::Info, "x", None), "log file"),
            (engine.logs(dir, None, 10).map(|_| ()), "is a directory"),
        ]
    });
    for (result, why) in results {
        storage_error(result, why);
    }
}

#[test]
fn a_snapshot_link_is_refused_when_read_and_replaced_when_written() {
    let sb = Sandbox::open(common::Kind::Sqlite, "snapshot link").unwrap();
    let engine = sb.engine();
    let id = engine.create(task("import", "csv")).unwrap().id;
    let target = sb.dir.path().join("elsewhere.json");
    let original = r#"{"progress": 42, "secret": "not a snapshot"}"#;
    std::fs::write(&target, original).unwrap();
    let link = sb.file(&format!("{id}.json"));
    symlink(&target, &link);

    storage_error(engine.progress(id), "symbolic link");

    // Finishing the task writes its snapshot: the link is replaced, its target untouched.
    let report = engine.process_pending(&opts(1), |_| Outcome::Returned).unwrap();
    assert_eq!(report.completed, 1);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_file(), "a regular file now");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), original);
    assert_eq!(engine.progress(id).unwrap()["status"], "completed");
    assert_eq!(engine.get(id).unwrap().status, Status::Completed);

    // Pruning a link to a snapshot removes the link only.
    let other = engine.create(task("import", "csv2")).unwrap().id;
    symlink(&target, &sb.file(&format!("{other}.json")));
    engine.delete(&[other]).unwrap();
    assert!(std::fs::symlink_metadata(sb.file(&format!("{other}.json"))).is_err());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), original);
}
