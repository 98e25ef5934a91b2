<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/** Maps an action name to its worker method: "sync_stock" and "sync-stock" → "taskSyncStock". */
final class ActionMethod
{
    public static function for(string $action): string
    {
        $words = str_replace(['-', '_', '.'], ' ', strtolower(trim($action)));
        return 'task' . str_replace(' ', '', ucwords($words));
    }

    /**
     * The public, non-static method that handles $action on $worker, or null. Upstream sTask
     * also reached protected and private task* methods; only public ones are actions here.
     */
    public static function find(object $worker, string $action): ?\ReflectionMethod
    {
        $name = self::for($action);
        if (!method_exists($worker, $name)) {
            return null;
        }
        $method = new \ReflectionMethod($worker, $name);
        return $method->isPublic() && !$method->isStatic() ? $method : null;
    }

    /**
     * The actions a worker offers (its public task* methods), as names: taskSyncStock → sync_stock.
     *
     * @return list<string>
     */
    public static function actionsOf(object|string $worker): array
    {
        $actions = [];
        foreach ((new \ReflectionClass($worker))->getMethods(\ReflectionMethod::IS_PUBLIC) as $method) {
            $name = $method->getName();
            if (!$method->isStatic() && strlen($name) > 4 && str_starts_with($name, 'task') && ctype_upper($name[4])) {
                $actions[] = strtolower((string) preg_replace('/(?<!^)[A-Z]/', '_$0', substr($name, 4)));
            }
        }
        sort($actions);
        return $actions;
    }
}
