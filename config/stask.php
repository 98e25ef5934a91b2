<?php

/*
 * sTask settings. Publish with `php artisan vendor:publish --tag=stask` and edit
 * core/custom/config/stask.php; keys you leave out keep these defaults.
 */
return [
    // Where tasks are stored. null: the site's own database connection when the engine supports
    // its driver (SQLite, MySQL/MariaDB, PostgreSQL), else an embedded SQLite file under
    // storage/. A Laravel connection name picks another connection; an engine URL
    // ("sqlite:/path/stask.sqlite", "mysql://user:pass@host/db", "postgres://…") sets it outright.
    'connection' => null,
    'url' => null,

    // Where progress snapshots and task logs go: "local" ({id}.json and {id}.log files in
    // `storage`, the fastest for one server) or "database" (tables next to the tasks, for
    // workers and manager pages on several servers). null: "local".
    'files' => null,

    // Directory for {id}.json progress snapshots and {id}.log task logs. null: storage/stask.
    'storage' => null,

    // Claims live this long without a heartbeat; a crashed worker's task is rescued after it.
    'lease_seconds' => 60,

    // Attempts for tasks whose worker declares no `tries` and that set no maxAttempts (1: run
    // once, as upstream did), and the delay between attempts.
    'max_attempts' => 1,
    'backoff' => ['base' => 10, 'factor' => 2, 'max' => 3600, 'jitter' => 0.2],

    // stask:worker (the cron/scheduler pass) and stask:work (the long-running worker).
    'worker' => [
        'schedule' => true,   // run stask:worker every minute from `php artisan schedule:run`
        'limit' => 100,       // tasks per stask:worker pass
        'sleep' => 1,         // seconds stask:work waits when the queue is empty
        'supervise_every' => 30, // seconds between stask:work's supervisor passes and heartbeat touches (0: no passes)
    ],

    // Worker discovery: namespaces never scanned for workers (added to the built-in list).
    'discovery' => [
        'exclude' => [],
        'activate_new' => false,  // upstream behaviour: newly found workers start inactive
    ],

    // Files managers upload for a task on a worker's page (kept in {storage}/uploads; pruned
    // with old tasks). A worker narrows the types with its `allowed_extensions` setting.
    'uploads' => [
        'extensions' => ['csv', 'tsv', 'txt', 'json', 'xml', 'xlsx', 'xls', 'ods', 'zip'],
        'max_mb' => 100,     // largest file, sent in chunks of chunk_mb when needed
        'chunk_mb' => 1,
    ],

    // Built-in workers.
    'artisan' => [
        // Commands the `artisan` worker may run (exact names or prefixes ending in "*").
        'allowed' => ['cache:clear', 'view:clear', 'config:clear', 'route:clear', 'stask:prune', 'stask:stats', 'list'],
        // A manager user needs this permission (besides "stask") to run artisan tasks.
        'permission' => 'stask_artisan',
        'timeout' => 600,
    ],
    'composer_update' => [
        'enabled' => false,   // running `composer update` from the manager is off unless enabled
        // A manager user needs this permission (besides "stask") to run, retry or schedule it.
        'permission' => 'stask_composer',
        'timeout' => 1800,
    ],
    'cleanup' => [
        'days' => 30,         // finished tasks older than this are pruned with their files
    ],
];
