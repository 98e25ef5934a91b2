<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Seiger\sTask\Exceptions\TaskTimeoutException;
use Seiger\sTask\Services\SupervisorService;
use Seiger\sTask\Support\Heartbeat;
use STask\Task;
use Symfony\Component\Console\Formatter\OutputFormatter;
use Symfony\Component\Console\Output\OutputInterface;

/**
 * A long-running worker for supervisor/systemd: runs tasks as they come, highest priority
 * first; stops gracefully (after the current task) on SIGTERM/SIGINT, or on its limits.
 * Several may run at once, on one server or many: claims are atomic.
 */
final class WorkCommand extends StaskCommand
{
    protected $signature = 'stask:work
        {--identifier=* : Only tasks of these workers}
        {--sleep=1 : Longest wait, in seconds, when there is nothing to do (a task coming due ends it)}
        {--max-jobs=0 : Stop after this many tasks (0: no limit)}
        {--max-time=0 : Stop after this many seconds (0: no limit)}
        {--memory=128 : Stop when PHP uses more than this many MB}
        {--timeout=0 : Fail a task that runs longer than this many seconds (0: no limit; needs pcntl)}
        {--batch=50 : Tasks per engine call}
        {--stop-when-empty : Stop when no task is due}
        {--once : Run at most one task, then stop}
        {--supervise= : Seconds between supervisor passes and heartbeat touches (default: stask.worker.supervise_every, 30; 0: no supervisor passes)}';

    protected $description = 'Run tasks continuously (for supervisor or systemd); stops gracefully on SIGTERM';

    private bool $stopping = false;
    private string $stopReason = '';
    /** When the next heartbeat touch and supervisor pass are due (microtime), and their period. */
    private float $nextTick = 0.0;
    private int $tickEvery = 30;
    private bool $supervise = true;

    public function handle(): int
    {
        $this->stopping = false;
        $this->stopReason = '';
        return $this->guard(function (): int {
            $engine = $this->stask()->engine();
            $this->trapSignals($engine);
            $sleep = max(0.0, (float) $this->option('sleep'));
            $maxJobs = max(0, (int) $this->option('max-jobs'));
            $maxTime = max(0, (int) $this->option('max-time'));
            $memory = max(1, (int) $this->option('memory'));
            $batch = $this->option('once') ? 1 : max(1, (int) $this->option('batch'));
            $identifiers = array_values(array_filter((array) $this->option('identifier')));
            $runner = $this->timed($this->stask()->runner(), max(0, (int) $this->option('timeout')));
            $started = microtime(true);
            $done = 0;

            $this->line(sprintf('<info>sTask worker</info> pid %d, %s', getmypid(), $identifiers ? 'workers: ' . implode(', ', $identifiers) : 'all workers'));
            $every = $this->option('supervise') ?? $this->laravel->make('config')->get('stask.worker.supervise_every', 30);
            $this->supervise = (int) $every > 0;
            $this->tickEvery = (int) $every > 0 ? (int) $every : 30;
            $this->tick();
            while (!$this->stopping) {
                if (microtime(true) >= $this->nextTick) {
                    $this->tick();
                }
                $limit = $maxJobs > 0 ? min($batch, $maxJobs - $done) : $batch;
                $report = $engine->process($runner, $limit, $identifiers ? ['identifiers' => $identifiers] : null);
                $done += $report['completed'] + $report['retried'] + $report['failed'] + $report['cancelled'];
                if ($report['exited'] || $report['stopped']) {
                    break;
                }
                if ($this->option('once') && $report['claimed'] > 0) {
                    $this->stop('--once');
                } elseif ($maxJobs > 0 && $done >= $maxJobs) {
                    $this->stop("--max-jobs=$maxJobs reached");
                } elseif ($maxTime > 0 && microtime(true) - $started >= $maxTime) {
                    $this->stop("--max-time=$maxTime reached");
                } elseif (memory_get_usage(true) / 1048576 >= $memory) {
                    $this->stop(sprintf('memory %.0f MB ≥ --memory=%d', memory_get_usage(true) / 1048576, $memory));
                } elseif ($report['claimed'] === 0) {
                    if ($this->option('stop-when-empty')) {
                        $this->stop('queue empty');
                    } else {
                        $this->idle($engine, $sleep, $identifiers);
                    }
                }
            }
            $this->line(sprintf('<info>Stopped</info> (%s) after %d task(s) in %s.', $this->stopReason ?: 'signal', $done, $this->span(microtime(true) - $started)));
            return 0;
        }, fn () => $this->releaseSignals());
    }

    /** Puts back the default signal handling (this process may go on, e.g. under tests). */
    private function releaseSignals(): void
    {
        if (function_exists('pcntl_signal')) {
            pcntl_alarm(0);
            foreach ([SIGTERM, SIGINT, SIGQUIT, SIGALRM] as $signal) {
                pcntl_signal($signal, SIG_DFL);
            }
        }
    }

    /**
     * Every --supervise seconds: touch the runner heartbeat (sTask::heartbeat()) and run a
     * supervisor pass (workers with the `supervisor` schedule). A failing pass is reported and
     * the worker goes on.
     */
    private function tick(): void
    {
        $this->nextTick = microtime(true) + $this->tickEvery;
        if (!Heartbeat::touch()) {
            $this->warn('Could not touch the heartbeat file ' . Heartbeat::path());
        }
        if (!$this->supervise) {
            return;
        }
        $supervisor = $this->laravel->make(SupervisorService::class);
        try {
            $supervisor->superviseAll();
        } catch (\Throwable $e) {
            $this->warn('Supervisor pass failed: ' . $e->getMessage());
        }
        $report = $supervisor->takeReport();
        if ($report['events'] > 0) {
            $this->line(sprintf('%s  Supervisors: %d event(s) recorded', date('H:i:s'), $report['events']));
        }
        foreach ($report['errors'] as $error) {
            $this->warn('Supervisor ' . $error);
        }
    }

    private function stop(string $reason): void
    {
        $this->stopping = true;
        $this->stopReason = $reason;
    }

    /** SIGTERM/SIGINT/SIGQUIT: finish the current task, hand back the rest, exit. */
    private function trapSignals(\STask\Engine $engine): void
    {
        if (!function_exists('pcntl_signal')) {
            return;
        }
        pcntl_async_signals(true);
        foreach ([SIGTERM, SIGINT, SIGQUIT] as $signal) {
            pcntl_signal($signal, function (int $signo) use ($engine): void {
                $this->stop($signo === SIGINT ? 'SIGINT' : ($signo === SIGQUIT ? 'SIGQUIT' : 'SIGTERM'));
                $engine->requestStop();
            });
        }
    }

    /**
     * Waits up to $seconds for work: returns as soon as a task is due (at once on PostgreSQL,
     * which announces new tasks), in short steps so that a signal ends the wait quickly.
     */
    private function idle(\STask\Engine $engine, float $seconds, array $identifiers): void
    {
        $until = microtime(true) + $seconds;
        $only = $identifiers ? ['identifiers' => $identifiers] : null;
        while (!$this->stopping && ($left = $until - microtime(true)) > 0) {
            if ($engine->waitForTasks(min(0.25, $left), $only)) {
                return;
            }
            if (microtime(true) >= $this->nextTick) {
                $this->tick();
            }
        }
    }

    /**
     * One line per task. Written raw when the output is not a terminal (supervisor's log):
     * at tens of thousands of tasks a second, the console's style parser costs more than the
     * engine's own work per task.
     */
    private function taskLine(string $label, string $state, string $color, float $start, string $detail = ''): void
    {
        $span = $this->span(microtime(true) - $start);
        if ($this->output->isDecorated()) {
            $detail = $detail === '' ? '' : '  ' . OutputFormatter::escape($detail);
            $this->output->writeln(sprintf('%s  %-40s <fg=%s>%s</> %s%s', date('H:i:s'), OutputFormatter::escape($label), $color, $state, $span, $detail));
        } else {
            $this->output->writeln(sprintf('%s  %-40s %s %s%s', date('H:i:s'), $label, $state, $span, $detail === '' ? '' : "  $detail"), OutputInterface::OUTPUT_RAW);
        }
    }

    /** Wraps the runner: a line per task, and the per-task timeout. */
    private function timed(callable $runner, int $timeout): \Closure
    {
        $alarm = $timeout > 0 && function_exists('pcntl_alarm');
        if ($alarm) {
            pcntl_async_signals(true);
            pcntl_signal(SIGALRM, static function () use ($timeout): void {
                throw new TaskTimeoutException("The task ran longer than --timeout=$timeout s");
            });
        }
        return function (Task $task) use ($runner, $alarm, $timeout): void {
            if (microtime(true) >= $this->nextTick) {
                $this->tick(); // long batches: between tasks, not only between engine calls
            }
            $label = sprintf('#%d %s:%s', $task->id, $task->identifier, $task->action);
            $start = microtime(true);
            if ($alarm) {
                pcntl_alarm($timeout);
            }
            try {
                $runner($task);
                $this->taskLine($label, 'done', 'green', $start);
            } catch (\STask\Exception\TaskCancelledException $e) {
                $this->taskLine($label, 'cancelled', 'gray', $start);
                throw $e;
            } catch (\Throwable $e) {
                $this->taskLine($label, 'fail', 'red', $start, $this->excerpt($e->getMessage(), 80));
                throw $e;
            } finally {
                if ($alarm) {
                    pcntl_alarm(0);
                }
            }
        };
    }
}
