<?php

declare(strict_types=1);

namespace Seiger\sTask\Facades;

use Illuminate\Support\Facades\Facade;

/**
 * @method static \STask\Engine engine()
 * @method static string connectionName()
 * @method static \Seiger\sTask\Models\sTaskModel create(string $identifier, string $action, array $data = [], string $priority = 'normal', ?int $userId = null, array $options = [])
 * @method static \Illuminate\Support\Collection createMany(array $tasks)
 * @method static bool execute(\Seiger\sTask\Models\sTaskModel|int $task)
 * @method static \Illuminate\Support\Collection getPendingTasks(int $limit = 10)
 * @method static int processPendingTasks(?int $batchSize = null)
 * @method static array process(int $limit, array $identifiers = [])
 * @method static \Seiger\sTask\Models\sTaskModel|null find(int $id)
 * @method static bool retry(\Seiger\sTask\Models\sTaskModel|int $task)
 * @method static bool cancel(\Seiger\sTask\Models\sTaskModel|int $task)
 * @method static void log(\Seiger\sTask\Models\sTaskModel|int $task, string $level, string $message, array $context = [])
 * @method static array logs(\Seiger\sTask\Models\sTaskModel|int $task, ?string $level = null, int $limit = 100)
 * @method static array progress(\Seiger\sTask\Models\sTaskModel|int $task)
 * @method static array getStats()
 * @method static int cleanOldTasks(int $days = 30)
 * @method static int cleanOldLogs(int $days = 30)
 * @method static array discoverWorkers()
 * @method static \Seiger\sTask\Services\DiscoveryReport discover(?bool $activate = null)
 * @method static \Seiger\sTask\Services\DiscoveryReport rescanWorkers()
 * @method static \Seiger\sTask\Models\sWorker|null registerWorker(string $className)
 * @method static int cleanOrphanedWorkers()
 * @method static \Illuminate\Support\Collection getWorkers(bool $activeOnly = false)
 * @method static \Seiger\sTask\Models\sWorker|null getWorker(string $identifier)
 * @method static bool activateWorker(string $identifier)
 * @method static bool deactivateWorker(string $identifier)
 * @method static array getCacheStats()
 * @method static void clearWorkerCache(?string $identifier = null)
 * @method static array getPerformanceMetrics(int $hours = 24)
 * @method static array getWorkerStats(?string $identifier = null, int $hours = 24)
 * @method static array getPerformanceAlerts()
 * @method static int currentUserId()
 * @method static bool heartbeat(int $ttl = 3610)
 * @method static array heartbeatStatus(int $ttl = 3610)
 *
 * @see \Seiger\sTask\sTask
 */
class sTask extends Facade
{
    protected static function getFacadeAccessor()
    {
        return 'sTask';
    }
}
