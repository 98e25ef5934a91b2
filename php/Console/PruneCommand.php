<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Seiger\sTask\Services\Uploads;

/** Deletes old finished tasks with their files (or only their files), and old uploads. */
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
            if ($days !== null && preg_match('/^\s*-?\d+\s*$/', (string) $days) !== 1) {
                // `--days=` or `--days=abc` would otherwise be 0: every finished task.
                $this->error('--days must be a whole number of days (0 or more).');
                return 2;
            }
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
            $uploads = $this->laravel->make(Uploads::class)->prune($days);
            if ($uploads > 0) {
                $this->line(sprintf('Deleted %d uploaded file(s) older than %d day(s).', $uploads, $days));
            }
            return 0;
        });
    }
}
