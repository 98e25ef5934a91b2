//! Migrations: idempotent, concurrent-safe, and upgrading a database made by upstream sTask.

mod common;

use common::Sandbox;
use rusqlite::params;
use stask_engine::{Engine, Outcome, Priority, ProcessOptions, Status};

/// The tables as upstream sTask's Laravel migration creates them on SQLite.
const UPSTREAM_SCHEMA: &str = r#"
create table "evo_s_workers" ("id" integer primary key autoincrement not null, "uuid" varchar,
  "identifier" varchar not null, "scope" varchar not null default '', "class" varchar not null,
  "active" tinyint(1) not null default '0', "position" integer not null default '0',
  "settings" text not null default (json_array()), "hidden" integer not null default '0',
  "created_at" datetime, "updated_at" datetime);
create unique index "evo_s_workers_uuid_unique" on "evo_s_workers" ("uuid");
create unique index "evo_s_workers_identifier_unique" on "evo_s_workers" ("identifier");
create index "evo_s_workers_identifier_index" on "evo_s_workers" ("identifier");
create table "evo_s_tasks" ("id" integer primary key autoincrement not null, "identifier" varchar not null,
  "action" varchar not null, "status" integer not null default '10', "message" text, "started_by" integer,
  "meta" text, "result" text, "start_at" datetime, "finished_at" datetime,
  "attempts" integer not null default '0', "max_attempts" integer not null default '3',
  "priority" varchar not null default 'normal', "progress" integer not null default '0',
  "created_at" datetime, "updated_at" datetime);
create index "evo_s_tasks_identifier_action_index" on "evo_s_tasks" ("identifier", "action");
create index "evo_s_tasks_status_index" on "evo_s_tasks" ("status");
create index "evo_s_tasks_priority_index" on "evo_s_tasks" ("priority");
"#;

fn upstream_row(conn: &rusqlite::Connection, status: i64, priority: &str, created: &str, meta: Option<&str>) -> i64 {
    conn.execute(
        "insert into evo_s_tasks (identifier, action, status, message, started_by, meta, priority, created_at, updated_at)
         values ('product', 'import', ?1, '_Task queued..._', 0, ?2, ?3, ?4, ?4)",
        params![status, meta, priority, created],
    )
    .unwrap();
    conn.last_insert_rowid()
}

#[test]
fn migrate_is_idempotent() {
    let sb = Sandbox::new();
    let engine = sb.engine();
    let again = engine.migrate().unwrap();
    assert_eq!((again.from_version, again.to_version), (1, 1));
    let fresh = Sandbox::new();
    let e = Engine::open(fresh.config()).unwrap();
    let first = e.migrate().unwrap();
    assert_eq!((first.from_version, first.to_version, first.upgraded_upstream), (0, 1, false));
}

#[test]
fn concurrent_first_migrations_do_not_collide() {
    let sb = Sandbox::new();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let config = sb.config();
            std::thread::spawn(move || Engine::open(config).unwrap().migrate().unwrap())
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(reports.iter().filter(|r| r.from_version == 0).count(), 1, "{reports:?}");
}

#[test]
fn a_database_from_upstream_stask_is_upgraded_in_place_keeping_rows() {
    let sb = Sandbox::new();
    let conn = sb.sql();
    conn.execute_batch(UPSTREAM_SCHEMA).unwrap();
    conn.execute(
        "insert into evo_s_workers (identifier, scope, class, active, position) values ('product', 'shop', 'Shop\\ProductWorker', 1, 1)",
        [],
    )
    .unwrap();
    let low = upstream_row(&conn, 10, "low", "2025-10-20 10:00:00", Some(r#"{"file":"a.csv"}"#));
    let high = upstream_row(&conn, 10, "high", "2025-10-20 11:00:00", None);
    let stuck = upstream_row(&conn, 50, "normal", "2025-10-19 09:00:00", Some("[]"));
    let done = upstream_row(&conn, 80, "normal", "2025-10-18 09:00:00", Some("not json"));
    conn.execute("update evo_s_tasks set attempts = 1 where id = ?1", [stuck]).unwrap();
    drop(conn);

    let engine = Engine::open(sb.config()).unwrap();
    let report = engine.migrate().unwrap();
    assert!(report.upgraded_upstream);
    assert_eq!(engine.migrate().unwrap().from_version, 1, "second run is a no-op");

    let t = engine.get(low).unwrap();
    assert_eq!(t.data, serde_json::json!({"file": "a.csv"}));
    assert_eq!(t.priority, Priority::Low);
    assert_eq!(t.created_at, stask_engine::time::parse_sql_text("2025-10-20 10:00:00"));
    assert_eq!(engine.get(done).unwrap().status, Status::Completed);
    assert_eq!(engine.get(done).unwrap().data, serde_json::json!("not json"), "unparseable meta is kept as text");
    let workers: i64 = sb.sql().query_row("select count(*) from evo_s_workers", [], |r| r.get(0)).unwrap();
    assert_eq!(workers, 1);

    // Upstream's rows run in priority order; the stuck running row is rescued, not lost.
    let order = std::cell::RefCell::new(Vec::new());
    let report = engine
        .process_pending(&ProcessOptions { limit: 10, identifiers: vec![], ids: vec![] }, |t| {
            order.borrow_mut().push(t.id);
            Outcome::Returned
        })
        .unwrap();
    assert_eq!(report.rescued, 1);
    assert_eq!(order.into_inner()[..2], [high, low]);
    let s = engine.get(stuck).unwrap();
    assert_eq!((s.status, s.attempts), (Status::Pending, 1), "rescued with backoff, attempt counted");
    // New tasks get ids after upstream's.
    let new = engine.create(common::task("w", "a")).unwrap();
    assert!(new.id > done);
}
