<?php

declare(strict_types=1);

namespace STask\Tests\Bench;

use PHPUnit\Framework\TestCase;

/**
 * The benchmark harness (bench/compare.php) keeps working: a quick pass over every workload of
 * the three systems on every backend that is up. Each case checks its own work (every task
 * ran, the import wrote every row) and fails otherwise, so a cell without a number is a broken
 * system or harness. Timings are printed by `make bench`, never asserted.
 */
final class CompareHarnessTest extends TestCase
{
    public function testEveryWorkloadOfEverySystemRunsOnEveryBackend(): void
    {
        $repo = dirname(__DIR__, 3);
        $extension = getenv('STASK_EXTENSION') ?: $repo . '/target/release/libstask.so';
        $command = [PHP_BINARY, '-d', "extension=$extension", "$repo/bench/compare.php", '--quick', '--no-save'];
        $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $repo,
            ['STASK_BENCH_MEMORY_TASKS' => '3000', 'STASK_EXTENSION' => $extension] + getenv());
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        self::assertSame(0, proc_close($process), $err . $out);

        $rows = array_values(array_filter(explode("\n", $out), fn ($l) => str_starts_with($l, '| ') && !str_starts_with($l, '| workload')));
        self::assertStringNotContainsString('error:', $out, $out);
        $tables = substr_count($out, "\n## ");
        self::assertGreaterThanOrEqual(1, $tables);
        // SQLite has the nine workloads; each server backend that is up has seven (memory and
        // discovery are measured once).
        self::assertCount(9 + 7 * ($tables - 1), $rows, $out);
        foreach ($rows as $row) {
            $cells = array_map('trim', explode('|', trim($row, '|')));
            self::assertMatchesRegularExpression('/^\d[\d,.]*( µs|\/s| s| MB| ms)$/u', $cells[1], "sTask's cell of: $row");
            if (!str_starts_with($cells[0], 'worker discovery')) {
                self::assertMatchesRegularExpression('/^\d/', $cells[2], "Laravel's cell of: $row");
            }
            self::assertMatchesRegularExpression('/^\d/', $cells[3], "upstream's cell of: $row");
        }
        foreach (['pgsql' => 'PostgreSQL', 'mysql' => 'MariaDB/MySQL'] as $driver => $name) {
            if (!str_contains($out, "## $name")) {
                fwrite(STDERR, "\n*** SKIPPED: the benchmark harness on $name (server not configured or not reachable) ***\n");
            }
        }
    }
}
