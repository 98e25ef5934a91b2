<?php

declare(strict_types=1);

namespace App\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Workers\BaseWorker;

/**
 * Imports products from a CSV file into the site's own table, reporting progress on every row
 * and logging the rows it has to skip. Option `pause_ms` slows it down so people can watch.
 */
final class ProductImportWorker extends BaseWorker
{
    public function identifier(): string { return 'product'; }
    public function scope(): string { return 'shop'; }
    public function title(): string { return 'Products'; }
    public function description(): string { return 'Imports the product catalogue from a CSV file.'; }

    public function taskImport(sTaskModel $task, array $options = []): void
    {
        $file = (string) ($options['file'] ?? '');
        if (!is_file($file)) {
            $this->markFailed($task, "CSV file not found: $file");
            return;
        }
        $pause = (int) ($options['pause_ms'] ?? 0);
        $lines = file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES);
        $total = max(0, count($lines) - 1);
        $db = app('db')->connection();
        $imported = $skipped = 0;
        $db->beginTransaction();
        foreach (array_slice($lines, 1) as $i => $line) {
            [$sku, $name, $price, $stock] = str_getcsv($line);
            if (!is_numeric($price)) {
                $skipped++;
                $this->log($task, 'warning', 'Row ' . ($i + 1) . ' skipped: price is not a number', ['sku' => $sku, 'price' => $price]);
            } else {
                $db->table('demo_products')->updateOrInsert(['sku' => $sku], ['name' => $name, 'price' => (float) $price, 'stock' => (int) $stock]);
                $imported++;
            }
            $this->pushProgress($task, ['processed' => $i + 1, 'total' => $total, 'message' => "Importing $sku"]);
            if ($pause > 0) {
                $db->commit();
                usleep($pause * 1000);
                $db->beginTransaction();
            }
        }
        $db->commit();
        $this->log($task, 'info', "Imported $imported products", ['skipped' => $skipped]);
        $this->markFinished($task, ['imported' => $imported, 'skipped' => $skipped], "Imported $imported products, skipped $skipped");
    }
}
