<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Seiger\sTask\Models\sTaskModel;

/** Queues failed or cancelled tasks again with fresh attempts. */
final class RetryCommand extends StaskCommand
{
    protected $signature = 'stask:retry
        {id?* : Task ids}
        {--failed : All failed tasks}
        {--identifier= : With --failed: only this worker\'s}';

    protected $description = 'Retry failed or cancelled tasks';

    public function handle(): int
    {
        return $this->guard(function (): int {
            $ids = array_map('intval', (array) $this->argument('id'));
            if ($this->option('failed')) {
                $query = sTaskModel::query()->failed();
                if ($identifier = $this->option('identifier')) {
                    $query->byIdentifier($identifier);
                }
                $ids = array_merge($ids, $query->pluck('id')->map(fn ($id) => (int) $id)->all());
            }
            if ($ids === []) {
                $this->error('Give task ids, or --failed.');
                return 2;
            }
            $engine = $this->stask()->engine();
            $rows = [];
            $bad = 0;
            foreach (array_unique($ids) as $id) {
                try {
                    $ok = $engine->retry($id);
                    $rows[] = [$id, $ok ? '<fg=green>queued again</>' : '<comment>not failed or cancelled</comment>'];
                    $bad += $ok ? 0 : 1;
                } catch (\STask\Exception\StaskException $e) {
                    $rows[] = [$id, '<fg=red>' . $e->getMessage() . '</>'];
                    $bad++;
                }
            }
            $this->table(['task', 'result'], $rows);
            return $bad === 0 ? 0 : 1;
        });
    }
}
