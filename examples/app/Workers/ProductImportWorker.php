<?php

declare(strict_types=1);

namespace App\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Workers\BaseWorker;

/**
 * Imports products from a CSV file into the site's own table in chunks of 100 rows, reporting
 * progress after each and logging the rows it has to skip. Option `pause_ms` (per row) slows
 * it down so people can watch.
 */
final class ProductImportWorker extends BaseWorker
{
    public function identifier(): string { return 'product'; }
    public function scope(): string { return 'shop'; }
    public function title(): string { return 'Products'; }
    public function description(): string { return 'Imports the product catalogue from a CSV file.'; }

    /** Managers may upload the CSV on the worker's page. */
    public function uploadExtensions(): array
    {
        return ['csv'];
    }

    public function taskImport(sTaskModel $task, array $options = []): void
    {
        // An uploaded file, or a path given in the options.
        $file = (string) ($options['uploaded_file'] ?? $options['file'] ?? '');
        if (!is_file($file)) {
            $this->markFailed($task, "CSV file not found: $file");
            return;
        }
        $pause = (int) ($options['pause_ms'] ?? 0);
        $lines = file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES);
        $rows = array_slice($lines, 1);
        $total = count($rows);
        $db = app('db')->connection();
        $imported = $skipped = 0;
        foreach (array_chunk($rows, 100, true) as $chunk) {
            $valid = [];
            foreach ($chunk as $i => $line) {
                [$sku, $name, $price, $stock] = str_getcsv($line, ',', '"', '\\');
                if (!is_numeric($price)) {
                    $skipped++;
                    $this->appendTaskLog($task, 'warning', 'Row ' . ($i + 1) . ' skipped: price is not a number', ['sku' => $sku, 'price' => $price]);
                    continue;
                }
                $valid[] = ['sku' => $sku, 'name' => $name, 'price' => (float) $price, 'stock' => (int) $stock];
            }
            // One transaction per chunk, re-run if the database was busy (on SQLite the site
            // shares its file with sTask's own writes).
            $db->transaction(function () use ($db, $valid): void {
                foreach ($valid as $row) {
                    $db->table('demo_products')->updateOrInsert(['sku' => $row['sku']], $row);
                }
            }, 5);
            $imported += count($valid);
            $this->pushProgress($task, ['processed' => array_key_last($chunk) + 1, 'total' => $total, 'message' => 'Imported up to ' . end($valid)['sku']]);
            if ($pause > 0) {
                usleep($pause * 1000 * count($chunk));
            }
        }
        $this->appendTaskLog($task, 'info', "Imported $imported products", ['skipped' => $skipped]);
        $this->markFinishedWith($task, ['imported' => $imported, 'skipped' => $skipped], "Imported $imported products, skipped $skipped");
    }
}
