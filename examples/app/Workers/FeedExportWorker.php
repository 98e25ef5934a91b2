<?php

declare(strict_types=1);

namespace App\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Workers\BaseWorker;

/**
 * A worker written the way upstream sTask 2.x clients write theirs: upstream's default widget
 * (`sTask::partials.defaultWorkerWidget`, with its Run button and live log), its own settings
 * form (renderSettings / normalizeSettingsForSave) and the files it made (getGeneratedFiles).
 * `import` takes a CSV uploaded by the widget script's uploadFile() and passed as `filename`.
 */
final class FeedExportWorker extends BaseWorker
{
    public function identifier(): string { return 'feed_export'; }
    public function scope(): string { return 'shop'; }
    public function title(): string { return 'Product feed'; }
    public function description(): string { return 'Builds the product feed for price comparison sites.'; }

    public function uploadExtensions(): array
    {
        return ['csv'];
    }

    public function renderWidget(): string
    {
        return view('sTask::partials.defaultWorkerWidget', [
            'identifier' => $this->identifier(),
            'description' => $this->description(),
        ])->render();
    }

    public function renderSettings(): string
    {
        $format = (string) $this->getConfig('format', 'xml');
        $options = '';
        foreach (['xml' => 'XML', 'csv' => 'CSV'] as $value => $label) {
            $options .= '<option value="' . $value . '"' . ($format === $value ? ' selected' : '') . '>' . $label . '</option>';
        }
        return '<label class="st-label" for="feed-format">Format</label>'
            . '<select id="feed-format" class="st-input w-full" name="format">' . $options . '</select>'
            . '<label class="st-label" for="feed-items">Items per run</label>'
            . '<input id="feed-items" class="st-input w-full" type="number" min="1" name="items" value="' . (int) $this->getConfig('items', 5) . '">';
    }

    public function normalizeSettingsForSave(array $data): array
    {
        return [
            'format' => ($data['format'] ?? '') === 'csv' ? 'csv' : 'xml',
            'items' => max(1, min(50, (int) ($data['items'] ?? 5))),
        ];
    }

    public function getGeneratedFiles(): array
    {
        $file = storage_path('stask/feed.' . $this->getConfig('format', 'xml'));
        return is_file($file) ? [['filename' => basename($file), 'url' => '']] : [];
    }

    public function taskMake(sTaskModel $task, array $options = []): void
    {
        $items = (int) $this->getConfig('items', 5);
        $this->log($task, 'info', '**Feed:** _collecting ' . $items . ' products…_');
        for ($i = 1; $i <= $items; $i++) {
            usleep(150_000);
            $this->pushProgress($task, ['processed' => $i, 'total' => $items, 'message' => "Product $i of $items"]);
        }
        // Log text is shown as text by the widget, never as HTML.
        $this->log($task, 'info', 'Title of the last product: <b>Tea & "Cakes"</b>');
        file_put_contents(storage_path('stask/feed.' . $this->getConfig('format', 'xml')), "<feed items=\"$items\"/>\n");
        $this->markFinished($task, null, "Feed ready: $items products");
    }

    /** Counts the rows of the CSV the widget uploaded (its token came as `filename`). */
    public function taskImport(sTaskModel $task, array $options = []): void
    {
        $rows = count(file($options['uploaded_file'], FILE_SKIP_EMPTY_LINES));
        $this->markFinished($task, null, "Read $rows rows of {$options['original_filename']}");
    }
}
