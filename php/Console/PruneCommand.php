<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

/** Deletes old finished tasks with their files, or only their files. */
final class PruneCommand extends StaskCommand
{
    protected $signature = 'stask:prune
        {--days= : Finished more than this many days ago (default: stask.cleanup.days, 30)}
        {--files-only : Delete only progress and log files, keep the rows}';

    protected $description = 'Delete finished tasks older than --days, with their progress and log files';

    public function handle(): int
    {
        return $this->guard(function (): int {
            $days = $this->option('days');
            $days = $days === null ? (int) $this->laravel->make('config')->get('stask.cleanup.days', 30) : (int) $days;
            if ($days < 0) {
                $this->error('--days must not be negative.');
                return 2;
            }
            $engine = $this->stask()->engine();
            if ($this->option('files-only')) {
                $this->line(sprintf('Deleted the files of %d task(s) finished more than %d day(s) ago.', $engine->pruneFiles($days), $days));
            } else {
                $this->line(sprintf('Deleted %d task(s) finished more than %d day(s) ago, with their files.', $engine->prune($days), $days));
            }
            return 0;
        });
    }
}
