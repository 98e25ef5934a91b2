<?php

use Illuminate\Database\Migrations\Migration;
use Seiger\sTask\sTask;

/*
 * The task tables belong to the engine: it creates them, or upgrades the tables of upstream
 * sTask in place (rows kept), with the site's table prefix. Outside a transaction, because the
 * engine writes through its own connection.
 */
return new class extends Migration {
    public $withinTransaction = false;

    public function up(): void
    {
        app(sTask::class)->engine()->migrate();
    }

    public function down(): void
    {
        $schema = app('db')->connection(app(sTask::class)->connectionName())->getSchemaBuilder();
        foreach (['s_task_schema', 's_task_logs', 's_task_progress', 's_tasks', 's_workers'] as $table) {
            $schema->dropIfExists($table);
        }
    }
};
