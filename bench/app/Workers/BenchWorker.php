<?php

namespace App\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Workers\BaseWorker;

/** The benchmark's worker, written as a site builder writes one (bench/compare.php). */
final class BenchWorker extends BaseWorker
{
    /** What the last task measured or returned, read by the harness in the same process. */
    public static array $result = [];

    public function identifier(): string { return 'bench'; }
    public function scope(): string { return 'bench'; }

    public function taskRun(sTaskModel $task, array $options = []): void
    {
    }

    /** The CSV import: the user's code (bench_import_csv) with pushProgress after every row. */
    public function taskImport(sTaskModel $task, array $options = []): void
    {
        self::$result = bench_import_csv(app('db')->connection(), $options['file'], function (int $done, int $total) use ($task) {
            $this->pushProgress($task, ['processed' => $done, 'total' => $total, 'progress' => intdiv($done * 100, max(1, $total))]);
        });
        $this->appendTaskLog($task, 'info', 'Import finished', ['imported' => self::$result[0], 'skipped' => self::$result[1]]);
    }

    /** pushProgress in a tight loop; the time is taken inside the task. */
    public function taskProgress(sTaskModel $task, array $options = []): void
    {
        $n = (int) $options['n'];
        $t = hrtime(true);
        for ($i = 1; $i <= $n; $i++) {
            $this->pushProgress($task, ['processed' => $i, 'total' => $n, 'progress' => intdiv($i * 100, $n)]);
        }
        self::$result = [(hrtime(true) - $t) / 1e3 / $n];
    }

    /** A log line in a tight loop. */
    public function taskLog(sTaskModel $task, array $options = []): void
    {
        $n = (int) $options['n'];
        $t = hrtime(true);
        for ($i = 0; $i < $n; $i++) {
            $this->appendTaskLog($task, 'info', 'Imported row', ['row' => $i]);
        }
        self::$result = [(hrtime(true) - $t) / 1e3 / $n];
    }
}
