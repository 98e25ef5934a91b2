<?php

declare(strict_types=1);

namespace App\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Workers\BaseWorker;

/** Syncs stock with a supplier whose API times out on the first call (option `fail_always`). */
final class StockSyncWorker extends BaseWorker
{
    public function identifier(): string { return 'sync'; }
    public function scope(): string { return 'shop'; }
    public function title(): string { return 'Stock sync'; }
    public function description(): string { return 'Pulls stock levels from the supplier.'; }

    public function taskStock(sTaskModel $task, array $options = []): void
    {
        if ($task->attempts === 1 || !empty($options['fail_always'])) {
            throw new \RuntimeException('Supplier API timed out after 30 s');
        }
        $this->pushProgress($task, ['progress' => 50, 'message' => 'Downloading stock levels']);
        usleep(200_000);
        $this->markFinished($task, ['updated' => 312], 'Updated 312 stock levels');
    }
}
