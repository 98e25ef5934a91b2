<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Seiger\sTask\Services\Scheduler;
use Seiger\sTask\Services\SupervisorService;
use Seiger\sTask\Support\Heartbeat;

/**
 * One pass, for cron and `schedule:run` (upstream's command): queue the next run of scheduled
 * workers, run the due tasks (up to --limit), print a summary, exit. Safe to run from several
 * places at once: claims are atomic and scheduled runs are unique.
 */
final class WorkerCommand extends StaskCommand
{
    protected $signature = 'stask:worker
        {--limit= : Most tasks to run in this pass (default: stask.worker.limit, 100)}
        {--identifier=* : Only tasks of these workers}';

    protected $description = 'Queue scheduled runs, process due tasks once, and exit (for cron / schedule:run)';

    public function handle(Scheduler $scheduler): int
    {
        // The runner's heartbeat (sTask::heartbeat()), first: it says a pass was attempted.
        if (!Heartbeat::touch()) {
            $this->warn('Could not touch the heartbeat file ' . Heartbeat::path());
        }
        return $this->guard(function () use ($scheduler): int {
            $queued = $scheduler->queueDueRuns();
            foreach ($queued as $run) {
                $this->line(sprintf('Scheduled <info>%s</info> for %s (task #%d)', $run['identifier'], $run['at'], $run['task']));
            }
            $supervised = $this->laravel->make(SupervisorService::class)->takeReport();
            if ($supervised['events'] > 0) {
                $this->line(sprintf('Supervisors: %d event(s) recorded', $supervised['events']));
            }
            foreach ($supervised['errors'] as $error) {
                $this->warn('Supervisor ' . $error);
            }
            $limit = (int) ($this->option('limit') ?: $this->laravel->make('config')->get('stask.worker.limit', 100));
            $started = microtime(true);
            $report = $this->stask()->process(max(1, $limit), array_values(array_filter((array) $this->option('identifier'))));
            $this->line(sprintf(
                'Processed %d task(s) in %s: %d completed, %d retrying, %d failed, %d cancelled%s.',
                $report['claimed'] - $report['released'],
                $this->span(microtime(true) - $started),
                $report['completed'],
                $report['retried'],
                $report['failed'],
                $report['cancelled'],
                $report['rescued'] ? ", {$report['rescued']} rescued from dead workers" : ''
            ));
            return 0;
        });
    }
}
