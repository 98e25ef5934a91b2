<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

/** Cancels tasks: pending ones at once, running ones at their next progress report. */
final class CancelCommand extends StaskCommand
{
    protected $signature = 'stask:cancel {id* : Task ids}';

    protected $description = 'Cancel tasks (running ones stop at their next progress report)';

    public function handle(): int
    {
        return $this->guard(function (): int {
            $engine = $this->stask()->engine();
            $rows = [];
            $bad = 0;
            foreach (array_unique(array_map('intval', (array) $this->argument('id'))) as $id) {
                try {
                    $before = $engine->find($id);
                    $ok = $engine->cancel($id);
                    $rows[] = [$id, match (true) {
                        !$ok => '<comment>already ' . $before?->statusText . '</comment>',
                        $before?->isRunning() => '<fg=yellow>asked to stop</>',
                        default => '<fg=green>cancelled</>',
                    }];
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
