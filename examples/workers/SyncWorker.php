<?php
declare(strict_types=1);

namespace Demo\Workers;

use STask\Task;

/** Syncs stock with a supplier whose API times out on the first call. */
final class SyncWorker
{
    public function stock(Task $task): void
    {
        if ($task->attempts === 1) {
            throw new \RuntimeException('Supplier API timed out after 30 s');
        }
        usleep(200_000);
    }
}
