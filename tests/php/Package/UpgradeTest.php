<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Illuminate\Database\Schema\Blueprint;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;

/**
 * A site that ran upstream sTask: its tables, rows, migrations and permission exist. Installing
 * this package and migrating upgrades everything in place.
 */
final class UpgradeTest extends PackageTestCase
{
    protected bool $migrate = false;

    private function createUpstreamInstall(): void
    {
        $db = $this->site->app->make('db')->connection();
        $schema = $db->getSchemaBuilder();
        upstream_create_tables($schema);
        $schema->create('migrations', function (Blueprint $t) {
            $t->increments('id');
            $t->string('migration');
            $t->integer('batch');
        });
        $db->table('migrations')->insert([
            ['migration' => '2025_10_15_000000_create_task_tables', 'batch' => 1],
            ['migration' => '2025_10_15_000001_add_stask_permissions', 'batch' => 1],
        ]);
        $groupId = $db->table('permissions_groups')->insertGetId(['name' => 'sTask', 'lang_key' => 'sTask::global.permissions_group']);
        $db->table('permissions')->insert(['name' => 'Access sTask Interface', 'key' => 'stask', 'lang_key' => 'sTask::global.permission_access', 'group_id' => $groupId, 'disabled' => 0]);
        $db->table('role_permissions')->insert(['role_id' => 1, 'permission' => 'stask']);
        $db->table('s_workers')->insert([
            'identifier' => 'product', 'scope' => 'mypackage', 'class' => 'Acme\\Shop\\Workers\\ProductWorker', 'active' => 1,
            'position' => 1, 'settings' => json_encode(['batch_size' => 50, 'schedule' => ['type' => 'manual']]),
        ]);
        $csv = $this->site->root . '/legacy.csv';
        file_put_contents($csv, "sku,name\nL1,Legacy one\nL2,Legacy two\n");
        $db->table('s_tasks')->insert([
            ['identifier' => 'product', 'action' => 'import', 'status' => 10, 'message' => '_Task queued..._', 'started_by' => 0,
             'meta' => json_encode(['file' => $csv]), 'attempts' => 0, 'priority' => 'high', 'created_at' => '2026-06-01 10:00:00', 'updated_at' => '2026-06-01 10:00:00'],
            ['identifier' => 'product', 'action' => 'import', 'status' => 50, 'attempts' => 1, 'message' => 'stuck since a crash', 'started_by' => 1,
             'meta' => json_encode(['file' => $csv]), 'priority' => 'normal', 'created_at' => '2026-05-01 10:00:00', 'updated_at' => '2026-05-01 10:00:00'],
            ['identifier' => 'product', 'action' => 'export', 'status' => 80, 'message' => 'done', 'started_by' => 1,
             'meta' => json_encode([]), 'attempts' => 1, 'priority' => 'normal', 'created_at' => '2026-04-01 10:00:00', 'updated_at' => '2026-04-01 10:00:00'],
        ]);
    }

    public function testMigratingUpgradesUpstreamTablesKeepingRowsAndWorkers(): void
    {
        $this->createUpstreamInstall();
        $out = $this->artisan('migrate', ['--force' => true]);
        self::assertStringContainsString('2026_11_27_000000_stask_engine_schema', $out);

        $pdo = $this->site->pdo();
        self::assertSame(3, (int) $pdo->query('SELECT COUNT(*) FROM evo_s_tasks')->fetchColumn(), 'rows kept');
        self::assertSame(['stask', 'stask_artisan', 'stask_composer'], $pdo->query('SELECT key FROM evo_permissions ORDER BY key')->fetchAll(\PDO::FETCH_COLUMN));
        self::assertSame(1, (int) $pdo->query('SELECT COUNT(*) FROM evo_permissions_groups')->fetchColumn());
        self::assertSame(50, sTask::getWorker('product')->settings['batch_size'], 'worker settings kept');

        // The queued upstream task runs; the one upstream left running forever is rescued.
        $report = sTask::process(10);
        self::assertSame(1, $report['rescued']);
        self::assertSame(1, $report['completed']);
        $tasks = sTaskModel::query()->orderBy('id')->get();
        self::assertSame('completed', $tasks[0]->status_text);
        self::assertSame('Imported 2 products', $tasks[0]->message);
        self::assertSame('pending', $tasks[1]->status_text, 'rescued, waiting for its retry');
        self::assertSame(1, $tasks[1]->attempts);
        self::assertSame('completed', $tasks[2]->status_text);
        self::assertSame('2026-04-01 10:00:00', $tasks[2]->created_at->copy()->setTimezone('UTC')->format('Y-m-d H:i:s'));
    }
}
