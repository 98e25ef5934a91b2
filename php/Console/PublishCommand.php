<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Illuminate\Support\ServiceProvider;
use Seiger\sTask\sTaskServiceProvider;

/**
 * Publishes the facade alias (core/custom/config/app/aliases/sTask.php, for cores older than
 * alias discovery) and the editable settings (core/custom/config/stask.php). Works on every
 * Evolution CMS version, with or without a `vendor:publish` command.
 */
final class PublishCommand extends StaskCommand
{
    protected $signature = 'stask:publish {--force : Overwrite files already published}';

    protected $description = 'Publish sTask\'s alias and settings files';

    public function handle(): int
    {
        $rows = [];
        $failed = 0;
        foreach (ServiceProvider::pathsToPublish(sTaskServiceProvider::class, 'stask') as $from => $to) {
            if (is_file($to) && !$this->option('force')) {
                $rows[] = [$to, '<comment>exists (use --force to overwrite)</comment>'];
                continue;
            }
            $dir = dirname($to);
            if (!is_dir($dir) && !@mkdir($dir, 0775, true) && !is_dir($dir)) {
                $rows[] = [$to, "<fg=red>cannot create $dir</>"];
                $failed++;
                continue;
            }
            if (!@copy($from, $to)) {
                $rows[] = [$to, '<fg=red>cannot write</>'];
                $failed++;
                continue;
            }
            $rows[] = [$to, '<fg=green>published</>'];
        }
        $this->table(['file', 'result'], $rows);
        return $failed === 0 ? 0 : 1;
    }
}
