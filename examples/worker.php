<?php
declare(strict_types=1);

// The demo's worker process: runs tasks until none are pending or running, dispatching each to
// the worker class named by its identifier and the method named by its action.
[$_, $db, $storage, $shopDb, $outbox] = $argv;

require __DIR__ . '/workers/ProductImportWorker.php';
require __DIR__ . '/workers/MailWorker.php';
require __DIR__ . '/workers/SyncWorker.php';

$engine = new STask\Engine("sqlite:$db", ['storage' => $storage, 'backoff' => ['base' => 1, 'jitter' => 0]]);
$shop = new PDO("sqlite:$shopDb");
$shop->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$workers = [
    'product' => new Demo\Workers\ProductImportWorker($engine, $shop),
    'mail' => new Demo\Workers\MailWorker($engine, $outbox),
    'sync' => new Demo\Workers\SyncWorker(),
];

$dispatch = function (STask\Task $task) use ($workers): void {
    $workers[$task->identifier]->{$task->action}($task);
};

while (true) {
    $report = $engine->process($dispatch, 10);
    $stats = $engine->stats();
    if ($stats['pending'] + $stats['running'] === 0) {
        break;
    }
    if ($report['claimed'] === 0) {
        usleep(100_000); // a retry is waiting for its backoff
    }
}
