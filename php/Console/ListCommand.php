<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Seiger\sTask\Models\sTaskModel;

/** Lists tasks, newest first, with filters. */
final class ListCommand extends StaskCommand
{
    protected $signature = 'stask:list
        {--status=* : pending, running, completed, cancelled, failed (or codes)}
        {--identifier=* : Worker identifiers}
        {--action= : Action name}
        {--limit=20 : Rows per page}
        {--page=1 : Page number}';

    protected $description = 'List tasks with their status, progress and attempts';

    private const STATUS_CODES = ['pending' => 10, 'preparing' => 30, 'running' => 50, 'completed' => 80, 'cancelled' => 90, 'failed' => 100];

    public function handle(): int
    {
        return $this->guard(function (): int {
            $query = sTaskModel::query()->orderByDesc('id');
            $statuses = [];
            foreach ((array) $this->option('status') as $status) {
                $code = is_numeric($status) ? (int) $status : (self::STATUS_CODES[strtolower((string) $status)] ?? null);
                if ($code === null) {
                    $this->error("Unknown status \"$status\": use " . implode(', ', array_keys(self::STATUS_CODES)));
                    return 2;
                }
                $statuses[] = $code;
            }
            if ($statuses !== []) {
                $query->whereIn('status', $statuses);
            }
            if ($identifiers = array_filter((array) $this->option('identifier'))) {
                $query->whereIn('identifier', $identifiers);
            }
            if ($action = $this->option('action')) {
                $query->where('action', $action);
            }
            $limit = max(1, min(1000, (int) $this->option('limit')));
            $page = max(1, (int) $this->option('page'));
            $total = (clone $query)->count();
            $tasks = $query->forPage($page, $limit)->get();
            if ($tasks->isEmpty()) {
                $this->line($total === 0 ? 'No tasks match.' : "Page $page is empty ($total task(s) match).");
                return 0;
            }
            $rows = [];
            foreach ($tasks as $t) {
                $rows[] = [
                    $t->id,
                    $t->identifier,
                    $t->action,
                    $this->status($t->status_text),
                    $t->priority,
                    $this->bar((int) $t->progress, 10),
                    "{$t->attempts}/{$t->max_attempts}",
                    $this->ago($t->created_at),
                    $this->excerpt($t->message, 50),
                ];
            }
            $this->table(['id', 'worker', 'action', 'status', 'priority', 'progress', 'tries', 'created', 'message'], $rows);
            $this->line(sprintf('Page %d of %d (%d task(s)).', $page, (int) ceil($total / $limit), $total));
            return 0;
        });
    }
}
