<?php

use Illuminate\Database\Migrations\Migration;

/*
 * Manager permissions: "stask" (use the task manager), "stask_artisan" (run artisan commands
 * through the artisan worker) and "stask_composer" (run the composer_update worker), in group
 * "sTask", granted to the Administrator role (1).
 * Idempotent, and a no-op where Evolution CMS's permission tables do not exist. Users log out
 * and in again to pick up new permissions.
 */
return new class extends Migration {
    public $withinTransaction = false;

    private const PERMISSIONS = [
        'stask' => ['Access sTask Interface', 'sTask::global.permission_access'],
        'stask_artisan' => ['Run artisan commands from sTask', 'sTask::global.permission_artisan'],
        'stask_composer' => ['Run composer update from sTask', 'sTask::global.permission_composer'],
    ];

    public function up(): void
    {
        $db = app('db')->connection();
        $schema = $db->getSchemaBuilder();
        if (!$schema->hasTable('permissions_groups') || !$schema->hasTable('permissions')) {
            return;
        }
        $now = date('Y-m-d H:i:s');
        $group = $db->table('permissions_groups')->where('name', 'sTask')->first();
        $groupId = $group->id ?? $db->table('permissions_groups')->insertGetId([
            'name' => 'sTask', 'lang_key' => 'sTask::global.permissions_group', 'created_at' => $now, 'updated_at' => $now,
        ]);
        foreach (self::PERMISSIONS as $key => [$name, $langKey]) {
            $values = ['name' => $name, 'lang_key' => $langKey, 'group_id' => $groupId, 'disabled' => 0, 'updated_at' => $now];
            if ($db->table('permissions')->where('key', $key)->exists()) {
                $db->table('permissions')->where('key', $key)->update($values);
            } else {
                $db->table('permissions')->insert($values + ['key' => $key, 'created_at' => $now]);
            }
            if ($schema->hasTable('role_permissions')
                && !$db->table('role_permissions')->where('role_id', 1)->where('permission', $key)->exists()) {
                $db->table('role_permissions')->insert(['role_id' => 1, 'permission' => $key, 'created_at' => $now, 'updated_at' => $now]);
            }
        }
    }

    public function down(): void
    {
        $db = app('db')->connection();
        $schema = $db->getSchemaBuilder();
        if (!$schema->hasTable('permissions')) {
            return;
        }
        $keys = array_keys(self::PERMISSIONS);
        if ($schema->hasTable('role_permissions')) {
            $db->table('role_permissions')->whereIn('permission', $keys)->delete();
        }
        $db->table('permissions')->whereIn('key', $keys)->delete();
        $group = $db->table('permissions_groups')->where('name', 'sTask')->first();
        if ($group && !$db->table('permissions')->where('group_id', $group->id)->exists()) {
            $db->table('permissions_groups')->where('id', $group->id)->delete();
        }
    }
};
