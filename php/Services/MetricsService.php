<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Carbon\Carbon;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\sTask;

/**
 * Upstream sTask's metrics service (a container singleton; also behind
 * `sTask::getPerformanceMetrics()`, `getWorkerStats()` and `getPerformanceAlerts()`), with real
 * numbers where upstream's were placeholders.
 *
 * The numbers come from the engine: every attempt's due, start and finish times are stored on
 * the task as it runs, by every runner (`stask:work`, `stask:worker`, processPendingTasks,
 * execute), and `Engine::metrics()` turns the finished ones into counts, throughput and
 * wait/run times per worker; `Engine::stats()` counts what waits and runs now. Windows are
 * whole minutes, up to the last 24 hours.
 *
 * Not measured: memory per task (the engine records none), so the memory fields are null and
 * no memory alert is raised.
 */
final class MetricsService
{
    /** Alert thresholds: success rate (%), average run and wait time (seconds), memory (bytes). */
    public const THRESHOLDS = [
        'min_success_rate' => 95.0,
        'max_avg_duration' => 300.0,
        'max_avg_wait' => 300.0,
        'max_avg_memory' => 100 * 1024 * 1024,
    ];

    /** Most hours a window covers: the engine's metrics look back one day at most. */
    public const MAX_HOURS = 24;

    /** How many of the most frequent errors a summary lists. */
    private const COMMON_ERRORS = 5;

    public function __construct(private sTask $stask)
    {
    }

    /**
     * Kept for code written against upstream, which called it before each task ran. Nothing to
     * do: the engine stores each attempt's start on the task itself, for every runner.
     */
    public function recordTaskStart(sTaskModel $task): void
    {
    }

    /**
     * Kept for code written against upstream, which called it after each task. Nothing to do:
     * the engine stores each attempt's end, outcome and error on the task itself.
     */
    public function recordTaskEnd(sTaskModel $task, bool $success, ?string $errorMessage = null): void
    {
    }

    /**
     * Kept for code written against upstream. Upstream kept these entries in the cache and never
     * read them; worker figures are computed from the tasks (getWorkerStats()).
     *
     * @param array<string, mixed> $metrics
     */
    public function recordWorkerMetrics(string $identifier, array $metrics): void
    {
    }

    /**
     * The last $hours (1–24): `period` {hours, from, to}; `tasks` {total, completed, failed,
     * cancelled (finished in the window), running, queued (now)}; `performance` (success and
     * error rate in %, durations in seconds: average, p95, max, average wait, total execution
     * time, throughput per minute); `workers` (getWorkerStats() per identifier); `errors`
     * {total_errors, error_rate, common_errors: [last error => count]}.
     *
     * @return array<string, mixed>
     */
    public function getSystemSummary(int $hours = 24): array
    {
        $hours = self::hours($hours);
        $window = $this->stask->engine()->metrics($hours * 60);
        $now = $this->stask->engine()->stats();
        $totals = $window['totals'];
        $running = (int) $now['preparing'] + (int) $now['running'];
        $queued = (int) $now['pending'];
        $finished = (int) $totals['completed'] + (int) $totals['failed'] + (int) $totals['cancelled'];
        $performance = self::performance($totals, $hours);
        return [
            'period' => ['hours' => $hours, 'from' => $window['from'], 'to' => $window['to']],
            'tasks' => [
                'total' => $finished + $running + $queued,
                'completed' => (int) $totals['completed'],
                'failed' => (int) $totals['failed'],
                'cancelled' => (int) $totals['cancelled'],
                'running' => $running,
                'queued' => $queued,
            ],
            'performance' => $performance,
            'workers' => $this->workers($window, $now, null, $hours),
            'errors' => [
                'total_errors' => (int) $totals['failed'],
                'error_rate' => $performance['error_rate'],
                'common_errors' => $this->commonErrors($window['from']),
            ],
        ];
    }

    /**
     * Per worker identifier, over the last $hours (1–24): identifier, total_tasks (finished in
     * the window plus waiting or running now; also as task_count), completed, failed,
     * cancelled, running, queued, success_rate and error_rate (%), average_duration,
     * p95_duration, max_duration, average_wait and total_execution_time (seconds),
     * throughput_per_minute, memory_usage (null: not measured) and last_execution (when its
     * latest task started, ISO 8601, or null). With $identifier: that worker only (listed
     * even when idle).
     *
     * @return array<string, array<string, mixed>>
     */
    public function getWorkerStats(?string $identifier = null, int $hours = 24): array
    {
        $hours = self::hours($hours);
        $engine = $this->stask->engine();
        return $this->workers($engine->metrics($hours * 60), $engine->stats(), $identifier, $hours);
    }

    /**
     * Problems in the last hour, each {type, severity, message, value, threshold}:
     * `low_success_rate` (below 95 %, only when tasks finished at all), `high_execution_time`
     * (average run above 300 s), `high_wait_time` (tasks wait above 300 s on average for a
     * worker to start them: too few workers, or none running).
     *
     * @return list<array{type: string, severity: string, message: string, value: float, threshold: float}>
     */
    public function getPerformanceAlerts(): array
    {
        $totals = $this->stask->engine()->metrics(60)['totals'];
        $performance = self::performance($totals, 1);
        $alerts = [];
        if ((int) $totals['completed'] + (int) $totals['failed'] > 0
            && $performance['success_rate'] < self::THRESHOLDS['min_success_rate']) {
            $alerts[] = self::alert('low_success_rate', $performance['success_rate'], self::THRESHOLDS['min_success_rate'],
                sprintf('Task success rate in the last hour is %s%% (below %s%%)', $performance['success_rate'], self::THRESHOLDS['min_success_rate']));
        }
        if ($performance['average_duration'] > self::THRESHOLDS['max_avg_duration']) {
            $alerts[] = self::alert('high_execution_time', $performance['average_duration'], self::THRESHOLDS['max_avg_duration'],
                sprintf('Tasks ran %s s on average in the last hour (above %s s)', $performance['average_duration'], self::THRESHOLDS['max_avg_duration']));
        }
        if ($performance['average_wait'] > self::THRESHOLDS['max_avg_wait']) {
            $alerts[] = self::alert('high_wait_time', $performance['average_wait'], self::THRESHOLDS['max_avg_wait'],
                sprintf('Tasks waited %s s on average for a worker in the last hour (above %s s): too few workers, or none running', $performance['average_wait'], self::THRESHOLDS['max_avg_wait']));
        }
        return $alerts;
    }

    /**
     * @param array<string, mixed> $window Engine::metrics()
     * @param array<string, mixed> $now Engine::stats()
     * @return array<string, array<string, mixed>>
     */
    private function workers(array $window, array $now, ?string $only, int $hours): array
    {
        $current = $now['identifiers'] ?? [];
        if ($only !== null) {
            $identifiers = [$only];
        } else {
            $identifiers = array_keys($window['workers']);
            foreach ($current as $identifier => $counts) {
                if ((int) $counts['pending'] + (int) $counts['preparing'] + (int) $counts['running'] > 0) {
                    $identifiers[] = (string) $identifier;
                }
            }
            $identifiers = array_values(array_unique($identifiers));
            sort($identifiers);
        }
        $lastStarts = $this->lastStarts($identifiers);
        $idle = ['completed' => 0, 'failed' => 0, 'cancelled' => 0, 'avg_wait_ms' => null, 'avg_run_ms' => null, 'p95_run_ms' => null, 'max_run_ms' => null];
        $stats = [];
        foreach ($identifiers as $identifier) {
            $figures = $window['workers'][$identifier] ?? $idle;
            $counts = $current[$identifier] ?? [];
            $running = (int) ($counts['preparing'] ?? 0) + (int) ($counts['running'] ?? 0);
            $queued = (int) ($counts['pending'] ?? 0);
            $total = (int) $figures['completed'] + (int) $figures['failed'] + (int) $figures['cancelled'] + $running + $queued;
            $performance = self::performance($figures, $hours);
            $stats[$identifier] = [
                'identifier' => $identifier,
                'total_tasks' => $total,
                'task_count' => $total,
                'completed' => (int) $figures['completed'],
                'failed' => (int) $figures['failed'],
                'cancelled' => (int) $figures['cancelled'],
                'running' => $running,
                'queued' => $queued,
                'success_rate' => $performance['success_rate'],
                'error_rate' => $performance['error_rate'],
                'average_duration' => $performance['average_duration'],
                'p95_duration' => $performance['p95_duration'],
                'max_duration' => $performance['max_duration'],
                'average_wait' => $performance['average_wait'],
                'total_execution_time' => $performance['total_execution_time'],
                'throughput_per_minute' => $performance['throughput_per_minute'],
                'memory_usage' => null,
                'last_execution' => $lastStarts[$identifier] ?? null,
            ];
        }
        return $stats;
    }

    /**
     * Rates and times from the engine's figures for a window. The success rate counts completed
     * against failed attempts that ended the task (cancelled ones are neither); with nothing
     * finished it is 100 and the error rate 0. Times with nothing measured are 0.0.
     * total_execution_time is the average run times the number of completed and failed tasks:
     * the engine reports averages, not sums, so it is an estimate (tasks cancelled while
     * running count into the average but not into the number).
     *
     * @param array<string, mixed> $figures completed, failed, cancelled, avg_wait_ms, avg_run_ms, p95_run_ms, max_run_ms
     * @return array<string, float|null>
     */
    private static function performance(array $figures, int $hours): array
    {
        $completed = (int) $figures['completed'];
        $failed = (int) $figures['failed'];
        $ended = $completed + $failed;
        $seconds = static fn (mixed $ms): float => $ms === null ? 0.0 : round($ms / 1000, 3);
        return [
            'success_rate' => $ended > 0 ? round($completed / $ended * 100, 2) : 100.0,
            'error_rate' => $ended > 0 ? round($failed / $ended * 100, 2) : 0.0,
            'average_duration' => $seconds($figures['avg_run_ms']),
            'p95_duration' => $seconds($figures['p95_run_ms']),
            'max_duration' => $seconds($figures['max_run_ms']),
            'average_wait' => $seconds($figures['avg_wait_ms']),
            'total_execution_time' => $seconds($figures['avg_run_ms'] === null ? null : $figures['avg_run_ms'] * $ended),
            'throughput_per_minute' => round(($ended + (int) $figures['cancelled']) / ($hours * 60), 3),
            'average_memory' => null,
        ];
    }

    /**
     * The most frequent last errors of tasks that failed since $from, most frequent first.
     *
     * @return array<string, int>
     */
    private function commonErrors(string $from): array
    {
        $since = (new sTaskModel())->fromDateTime(Carbon::parse($from));
        return sTaskModel::query()
            ->where('status', sTaskModel::STATUS_FAILED)
            ->where('finished_at', '>=', $since)
            ->whereNotNull('last_error')
            ->groupBy('last_error')
            ->selectRaw('last_error, COUNT(*) AS occurrences')
            ->orderByDesc('occurrences')
            ->limit(self::COMMON_ERRORS)
            ->pluck('occurrences', 'last_error')
            ->map(static fn ($n): int => (int) $n)
            ->all();
    }

    /**
     * When each worker's latest task started (ISO 8601, UTC), in one query.
     *
     * @param list<string> $identifiers
     * @return array<string, string>
     */
    private function lastStarts(array $identifiers): array
    {
        if ($identifiers === []) {
            return [];
        }
        $rows = sTaskModel::query()
            ->whereIn('identifier', $identifiers)
            ->whereNotNull('start_at')
            ->groupBy('identifier')
            ->selectRaw('identifier, MAX(start_at) AS last_start')
            ->pluck('last_start', 'identifier');
        $starts = [];
        foreach ($rows as $identifier => $value) {
            $starts[(string) $identifier] = Carbon::parse((string) $value, 'UTC')->utc()->format('Y-m-d\TH:i:s.v\Z');
        }
        return $starts;
    }

    private static function hours(int $hours): int
    {
        return max(1, min(self::MAX_HOURS, $hours));
    }

    /** @return array{type: string, severity: string, message: string, value: float, threshold: float} */
    private static function alert(string $type, float $value, float $threshold, string $message): array
    {
        return ['type' => $type, 'severity' => 'warning', 'message' => $message, 'value' => $value, 'threshold' => $threshold];
    }
}
