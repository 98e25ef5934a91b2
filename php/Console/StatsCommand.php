<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

/** Counts per status, overall and per worker. */
final class StatsCommand extends StaskCommand
{
    protected $signature = 'stask:stats';

    protected $description = 'Show task counts per status and per worker';

    private const STATUSES = ['pending', 'running', 'completed', 'cancelled', 'failed'];

    public function handle(): int
    {
        return $this->guard(function (): int {
            $stats = $this->stask()->getStats();
            $rows = [];
            foreach ($stats['identifiers'] as $identifier => $counts) {
                $rows[] = array_merge([$identifier], array_map(fn ($s) => $counts[$s] + ($s === 'running' ? $counts['preparing'] : 0), self::STATUSES), [$counts['total']]);
            }
            $rows[] = array_merge(['<options=bold>all</>'], array_map(fn ($s) => $stats[$s] + ($s === 'running' ? $stats['preparing'] : 0), self::STATUSES), [$stats['total']]);
            $this->table(array_merge(['worker'], self::STATUSES, ['total']), $rows);
            $this->line(sprintf('Workers: %d registered, %d active.', $stats['total_workers'], $stats['active_workers']));
            return 0;
        });
    }
}
