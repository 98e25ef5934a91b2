<?php

declare(strict_types=1);

namespace App\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Workers\BaseWorker;

/**
 * Syncs stock with a supplier. Option `flaky` makes the first attempt time out (the demo's
 * retry); the worker setting `supplier_down` (edited on its manager page) fails every attempt.
 */
final class StockSyncWorker extends BaseWorker
{
    /** A sync may simply be run again: up to 3 attempts (tasks run once unless a worker says so). */
    public $tries = 3;

    public function identifier(): string { return 'sync'; }
    public function scope(): string { return 'shop'; }
    public function title(): string { return 'Stock sync'; }
    public function description(): string { return 'Pulls stock levels from the supplier.'; }

    public function taskStock(sTaskModel $task, array $options = []): void
    {
        if ($this->getConfig('supplier_down', false)) {
            throw new \RuntimeException('Supplier API is down (worker setting supplier_down)');
        }
        if (!empty($options['flaky']) && $task->attempts === 1) {
            throw new \RuntimeException('Supplier API timed out after 30 s');
        }
        $this->pushProgress($task, ['progress' => 50, 'message' => 'Downloading stock levels']);
        usleep(200_000);
        $this->markFinishedWith($task, ['updated' => 312], 'Updated 312 stock levels');
    }
}
