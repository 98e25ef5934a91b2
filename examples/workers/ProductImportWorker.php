<?php
declare(strict_types=1);

namespace Demo\Workers;

use STask\Engine;
use STask\Task;

/**
 * Imports products from a CSV file into the shop's own database, reporting progress on every
 * row and logging rows it has to skip.
 */
final class ProductImportWorker
{
    public function __construct(private Engine $engine, private \PDO $shop)
    {
    }

    public function import(Task $task): void
    {
        $file = $task->data['file'];
        $total = max(0, count(file($file)) - 1);
        $csv = fopen($file, 'r');
        fgetcsv($csv); // header
        $insert = $this->shop->prepare('INSERT OR REPLACE INTO products (sku, name, price, stock) VALUES (?, ?, ?, ?)');
        $this->shop->beginTransaction();
        $imported = $skipped = 0;
        for ($row = 1; ($line = fgetcsv($csv)) !== false; $row++) {
            [$sku, $name, $price, $stock] = $line;
            if (!is_numeric($price)) {
                $skipped++;
                $this->engine->log($task->id, 'warning', "Row $row skipped: price is not a number", ['sku' => $sku, 'price' => $price]);
            } else {
                $insert->execute([$sku, $name, (float) $price, (int) $stock]);
                $imported++;
            }
            // Cheap enough to call on every row: the engine coalesces the writes.
            $this->engine->pushProgress($task->id, ['processed' => $row, 'total' => $total, 'message' => "Importing $sku"]);
        }
        $this->shop->commit();
        fclose($csv);
        $this->engine->complete($task->id, ['imported' => $imported, 'skipped' => $skipped], "Imported $imported products, skipped $skipped");
    }
}
