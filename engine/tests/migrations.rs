//! Migrations on every backend: idempotent, safe when processes race, and upgrading a
//! database made by upstream sTask (its Laravel migration, per grammar) in place.

#[macro_use]
mod common;

conformance! {
    migrate_is_idempotent,
    concurrent_first_migrations_do_not_collide,
    a_database_from_upstream_stask_is_upgraded_in_place_keeping_rows,
    a_version_2_database_gains_unique_keys_keeping_rows,
}

use common::{Kind, Sandbox};
use stask_engine::store::LATEST_VERSION;
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

/// The same tables as Laravel's PostgreSQL grammar writes them.
const UPSTREAM_SCHEMA_PG: &str = r#"
create table "evo_s_workers" ("id" bigserial not null primary key, "uuid" uuid null,
  "identifier" varchar(255) not null, "scope" varchar(255) not null default '', "class" varchar(255) not null,
  "active" boolean not null default '0', "position" integer not null default '0',
  "settings" json not null default '[]', "hidden" integer not null default '0',
  "created_at" timestamp(0) without time zone null, "updated_at" timestamp(0) without time zone null);
alter table "evo_s_workers" add constraint "evo_s_workers_uuid_unique" unique ("uuid");
alter table "evo_s_workers" add constraint "evo_s_workers_identifier_unique" unique ("identifier");
create index "evo_s_workers_identifier_index" on "evo_s_workers" ("identifier");
create table "evo_s_tasks" ("id" bigserial not null primary key, "identifier" varchar(255) not null,
  "action" varchar(255) not null, "status" smallint not null default '10', "message" text null,
  "started_by" integer null, "meta" text null, "result" text null,
  "start_at" timestamp(0) without time zone null, "finished_at" timestamp(0) without time zone null,
  "attempts" integer not null default '0', "max_attempts" integer not null default '3',
  "priority" varchar(255) not null default 'normal', "progress" integer not null default '0',
  "created_at" timestamp(0) without time zone null, "updated_at" timestamp(0) without time zone null);
create index "evo_s_tasks_identifier_action_index" on "evo_s_tasks" ("identifier", "action");
create index "evo_s_tasks_status_index" on "evo_s_tasks" ("status");
create index "evo_s_tasks_priority_index" on "evo_s_tasks" ("priority");
"#;

/// The same tables as Laravel's MySQL grammar writes them (LONGTEXT meta/result, TIMESTAMP).
const UPSTREAM_SCHEMA_MYSQL: &str = r#"
create table `evo_s_workers` (`id` bigint unsigned not null auto_increment primary key, `uuid` char(36) null,
  `identifier` varchar(255) not null, `scope` varchar(255) not null default '', `class` varchar(255) not null,
  `active` tinyint(1) not null default '0', `position` int unsigned not null default '0',
  `settings` json not null default (JSON_ARRAY()), `hidden` int unsigned not null default '0',
  `created_at` timestamp null, `updated_at` timestamp null)
  default character set utf8mb4 collate 'utf8mb4_unicode_ci' comment 'Workers for sTask';
alter table `evo_s_workers` add unique `evo_s_workers_uuid_unique`(`uuid`);
alter table `evo_s_workers` add unique `evo_s_workers_identifier_unique`(`identifier`);
alter table `evo_s_workers` add index `evo_s_workers_identifier_index`(`identifier`);
create table `evo_s_tasks` (`id` bigint unsigned not null auto_increment primary key,
  `identifier` varchar(255) not null, `action` varchar(255) not null,
  `status` smallint unsigned not null default '10', `message` text null, `started_by` int unsigned null,
  `meta` longtext null, `result` longtext null, `start_at` timestamp null, `finished_at` timestamp null,
  `attempts` int not null default '0', `max_attempts` int not null default '3',
  `priority` varchar(255) not null default 'normal', `progress` int not null default '0',
  `created_at` timestamp null, `updated_at` timestamp null)
  default character set utf8mb4 collate 'utf8mb4_unicode_ci' comment 'Async tasks for sTask';
alter table `evo_s_tasks` add index `evo_s_tasks_identifier_action_index`(`identifier`, `action`);
alter table `evo_s_tasks` add index `evo_s_tasks_status_index`(`status`);
alter table `evo_s_tasks` add index `evo_s_tasks_priority_index`(`priority`);
"#;

/// A row as upstream's `sTask::create()` wrote it. Ids are 1, 2, 3… in a fresh table.
fn upstream_row(status: i64, priority: &str, created: &str, meta: Option<&str>) -> String {
    let meta = meta.map_or("NULL".to_string(), |m| format!("'{m}'"));
    format!(
        "insert into evo_s_tasks (identifier, action, status, message, started_by, meta, priority, created_at, updated_at) \
         values ('product', 'import', {status}, '_Task queued..._', 0, {meta}, '{priority}', '{created}', '{created}');"
    )
}

fn migrate_is_idempotent(sb: Sandbox) {
    let engine = sb.engine();
    let again = engine.migrate().unwrap();
    assert_eq!((again.from_version, again.to_version), (LATEST_VERSION, LATEST_VERSION));
    let fresh = sb.another();
    let e = Engine::open(fresh.config()).unwrap();
    let first = e.migrate().unwrap();
    assert_eq!((first.from_version, first.to_version, first.upgraded_upstream), (0, LATEST_VERSION, false));
    // The table prefix applies to every table: another prefix in the same database is separate.
    let other = Engine::open(stask_engine::Config { prefix: "other_".into(), ..fresh.config() }).unwrap();
    assert_eq!(other.migrate().unwrap().from_version, 0);
    other.create(common::task("w", "a")).unwrap();
    assert_eq!(e.stats().unwrap().by_status, vec![], "the evo_ tables saw nothing");
}

fn concurrent_first_migrations_do_not_collide(sb: Sandbox) {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let config = sb.config();
            std::thread::spawn(move || Engine::open(config).unwrap().migrate().unwrap())
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(reports.iter().filter(|r| r.from_version == 0).count(), 1, "{reports:?}");
}

fn a_database_from_upstream_stask_is_upgraded_in_place_keeping_rows(sb: Sandbox) {
    sb.exec(match sb.kind {
        Kind::Sqlite => UPSTREAM_SCHEMA,
        Kind::Postgres => UPSTREAM_SCHEMA_PG,
        Kind::MySql => UPSTREAM_SCHEMA_MYSQL,
    });
    sb.exec(
        "insert into evo_s_workers (identifier, scope, class, position) values ('product', 'shop', 'Shop.ProductWorker', 1)",
    );
    let rows = [
        upstream_row(10, "low", "2025-10-20 10:00:00", Some(r#"{"file":"a.csv"}"#)),
        upstream_row(10, "high", "2025-10-20 11:00:00", None),
        upstream_row(50, "normal", "2025-10-19 09:00:00", Some("[]")),
        upstream_row(80, "normal", "2025-10-18 09:00:00", Some("not json")),
    ];
    sb.exec(&rows.concat());
    let (low, high, stuck, done) = (1, 2, 3, 4);
    sb.exec("update evo_s_tasks set attempts = 1 where id = 3");

    let engine = Engine::open(sb.config()).unwrap();
    let report = engine.migrate().unwrap();
    assert!(report.upgraded_upstream);
    assert_eq!(engine.migrate().unwrap().from_version, LATEST_VERSION, "second run is a no-op");

    let t = engine.get(low).unwrap();
    assert_eq!(t.data, serde_json::json!({"file": "a.csv"}));
    assert_eq!(t.priority, Priority::Low);
    assert_eq!(t.created_at, stask_engine::time::parse_sql_text("2025-10-20 10:00:00"));
    assert_eq!(engine.get(done).unwrap().status, Status::Completed);
    assert_eq!(engine.get(done).unwrap().data, serde_json::json!("not json"), "unparseable meta is kept as text");
    assert_eq!(sb.query_i64("select count(*) from evo_s_workers"), Some(1));

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

fn a_version_2_database_gains_unique_keys_keeping_rows(sb: Sandbox) {
    let old = {
        let engine = sb.engine();
        engine.create(common::task("w", "before")).unwrap().id
    };
    // Back to the tables as schema version 2 left them (before unique keys).
    sb.exec(match sb.kind {
        Kind::Sqlite => {
            "DROP INDEX evo_s_tasks_unique_idx; ALTER TABLE evo_s_tasks DROP COLUMN unique_key; \
             UPDATE evo_s_task_schema SET version = 2"
        }
        Kind::Postgres => "ALTER TABLE evo_s_tasks DROP COLUMN unique_key; UPDATE evo_s_task_schema SET version = 2",
        Kind::MySql => {
            "ALTER TABLE evo_s_tasks DROP INDEX evo_s_tasks_unique_idx, DROP COLUMN unfinished_key; \
             ALTER TABLE evo_s_tasks DROP COLUMN unique_key; UPDATE evo_s_task_schema SET version = 2"
        }
    });
    let engine = Engine::open(sb.config()).unwrap();
    let report = engine.migrate().unwrap();
    assert_eq!((report.from_version, report.to_version, report.upgraded_upstream), (2, LATEST_VERSION, false));
    assert_eq!(engine.migrate().unwrap().from_version, LATEST_VERSION, "second run is a no-op");
    assert_eq!(engine.get(old).unwrap().action, "before");
    assert_eq!(engine.get(old).unwrap().unique_key, None);
    let mut keyed = common::task("w", "keyed");
    keyed.unique_key = Some("k".into());
    let first = engine.create(keyed.clone()).unwrap().id;
    assert_eq!(engine.create(keyed).unwrap().id, first);
}
