<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * The manager permission a worker's tasks need besides "stask" (BaseWorker::managerPermission():
 * "stask_artisan" for the artisan worker, "stask_composer" for composer_update). The manager's
 * endpoints check it wherever such a task can be created, re-run or fed — the run routes,
 * POST stask/task, retry, uploads, the worker's settings (its schedule creates tasks) — and the
 * worker page shows no run form without it. The check does not depend on is_cli(): an HTTP
 * endpoint is the manager by definition. Code that calls sTask::create() is not checked (the CLI,
 * the scheduler, a package's own code): it decides for itself.
 */
final class WorkerPermission
{
    /** The permission $worker's tasks need beyond "stask", or null. */
    public static function of(?object $worker): ?string
    {
        if ($worker === null || !method_exists($worker, 'managerPermission')) {
            return null;
        }
        $permission = $worker->managerPermission();
        return is_string($permission) && $permission !== '' ? $permission : null;
    }

    /** The permission the logged-in manager lacks for $worker's tasks, or null when none. */
    public static function missing(?object $worker): ?string
    {
        $permission = self::of($worker);
        if ($permission === null) {
            return null;
        }
        return function_exists('evo') && evo()->hasPermission($permission) ? null : $permission;
    }

    /** Why the manager may not: names the worker and the permission. */
    public static function message(object $worker, string $permission): string
    {
        $name = method_exists($worker, 'title') ? (string) $worker->title() : get_class($worker);
        return (string) trans('sTask::global.permission_needed', ['worker' => $name, 'permission' => $permission]);
    }
}
