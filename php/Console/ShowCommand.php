<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Seiger\sTask\Models\sTaskModel;

/** One task: details, live progress bar, and the tail of its log. */
final class ShowCommand extends StaskCommand
{
    protected $signature = 'stask:show
        {id : Task id}
        {--lines=20 : Log entries to show}
        {--level= : Only log entries of this level (info, warning, error)}
        {--watch : Follow the progress bar until the task finishes}';

    protected $description = 'Show a task with its progress and log';

    public function handle(): int
    {
        return $this->guard(function (): int {
            $id = (int) $this->argument('id');
            $task = $id > 0 ? sTaskModel::query()->find($id) : null;
            if ($task === null) {
                $this->error("Task {$this->argument('id')} does not exist.");
                return 1;
            }
            $this->table(['field', 'value'], [
                ['id', $task->id],
                ['worker', "{$task->identifier}:{$task->action}"],
                ['status', $this->status($task->status_text)],
                ['priority', $task->priority],
                ['attempts', "{$task->attempts}/{$task->max_attempts}"],
                ['created', (string) $task->created_at],
                ['started', (string) ($task->start_at ?? '—')],
                ['finished', (string) ($task->finished_at ?? '—')],
                ['message', $this->excerpt($task->message, 100)],
                ['last error', $this->excerpt($task->last_error, 100) ?: '—'],
                ['data', $this->excerpt(json_encode($task->meta, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), 100)],
                ['result', $this->excerpt(json_encode($task->result, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), 100)],
            ]);
            $this->progress($id);
            $this->logTail($id);
            return 0;
        });
    }

    private function progress(int $id): void
    {
        $engine = $this->stask()->engine();
        $p = $engine->progress($id);
        $bar = $this->output->createProgressBar(100);
        $bar->setFormat(' %bar% %percent:3s%%  %message%');
        $bar->setBarCharacter('█');
        $bar->setEmptyBarCharacter('░');
        $bar->setProgressCharacter('█');
        $render = function (array $p) use ($bar): void {
            $counts = $p['total'] ? " {$p['processed']}/{$p['total']}" : '';
            $bar->setMessage(sprintf('%s%s  eta %s  %s', $p['status'], $counts, $p['eta'], $this->excerpt((string) $p['message'], 60)));
            $bar->setProgress((int) $p['progress']);
        };
        $render($p);
        while ($this->option('watch') && in_array($p['status'], ['pending', 'preparing', 'running'], true)) {
            usleep(250_000);
            $p = $engine->progress($id);
            $render($p);
        }
        $bar->display();
        $this->newLine(2);
    }

    private function logTail(int $id): void
    {
        $level = $this->option('level') ?: null;
        $entries = $this->stask()->engine()->logs($id, $level, max(1, (int) $this->option('lines')));
        if ($entries === []) {
            $this->line('<fg=gray>No log entries.</>');
            return;
        }
        $colors = ['info' => 'default', 'warning' => 'yellow', 'error' => 'red'];
        foreach ($entries as $e) {
            $context = $e['context'] ? ' ' . json_encode($e['context'], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) : '';
            $this->line(sprintf('%s <fg=%s>%-7s</> %s<fg=gray>%s</>', substr($e['time'], 0, 19), $colors[$e['level']] ?? 'default', $e['level'], $e['message'], $context));
        }
        if (($this->stask()->settings()->options['files'] ?? 'local') === 'database') {
            $this->line('<fg=gray>Full log: in the database (more with --lines, or "Download log" on the task page)</>');
        } else {
            $this->line('<fg=gray>Full log: ' . $this->stask()->engine()->logPath($id) . '</>');
        }
    }
}
