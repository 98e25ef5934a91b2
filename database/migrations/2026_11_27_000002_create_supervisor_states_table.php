<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Database\Schema\Builder;
use Seiger\sTask\sTask;

/*
 * {prefix}s_supervisor_states: the live state of supervised processes (one row per worker and
 * supervisor key), on the connection the task models use. Upstream 2.2 created the same table
 * under another migration name; on such a site the table is kept and only the pass-lock
 * columns are added.
 */
return new class extends Migration {
    public $withinTransaction = false;

    public function up(): void
    {
        $schema = $this->schema();
        if (!$schema->hasTable('s_supervisor_states')) {
            $schema->create('s_supervisor_states', function (Blueprint $t) {
                $t->bigIncrements('id');
                $t->unsignedBigInteger('worker_id')->index();
                $t->string('identifier')->index();
                $t->string('supervisor_key');
                $t->char('key_hash', 64)->unique();
                $t->string('state', 24)->default('stopped')->index();
                $t->unsignedBigInteger('pid')->nullable();
                $t->timestamp('heartbeat_at')->nullable();
                $t->timestamp('supervisor_started_at')->nullable();
                $t->unsignedBigInteger('uptime_seconds')->nullable();
                $t->text('message')->nullable();
                $t->char('fingerprint', 64)->nullable();
                $t->timestamp('last_transition_at')->nullable();
                $t->timestamp('last_seen_at')->nullable()->index();
                $t->unsignedInteger('repeat_count')->default(0);
                $t->timestamp('launch_requested_at')->nullable();
                $t->unsignedBigInteger('locked_until')->nullable();
                $t->string('lock_owner', 64)->nullable();
                $t->timestamps();
            });
            return;
        }
        foreach (['locked_until', 'lock_owner'] as $column) {
            if (!$schema->hasColumn('s_supervisor_states', $column)) {
                $schema->table('s_supervisor_states', function (Blueprint $t) use ($column) {
                    $column === 'locked_until'
                        ? $t->unsignedBigInteger('locked_until')->nullable()
                        : $t->string('lock_owner', 64)->nullable();
                });
            }
        }
    }

    public function down(): void
    {
        $this->schema()->dropIfExists('s_supervisor_states');
    }

    private function schema(): Builder
    {
        return app('db')->connection(app(sTask::class)->connectionName())->getSchemaBuilder();
    }
};
