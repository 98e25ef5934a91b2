<?php

declare(strict_types=1);

/*
 * A plain-PHP baseline written the way upstream sTask (the PHP package this project replaces)
 * works, so the seed README's figures can be checked: Eloquent rows in its s_tasks schema,
 * progress as a pipe-separated line appended to storage/stask/{id}.log per update, and its
 * `stask:worker` pass — select every due task (no order, no limit, no claim), then per task
 * look up the worker row, mark running, write a "Starting" line, run, re-read the row, mark
 * finished, write a final line. Upstream has no per-task log API: its log is that file.
 */

require_once '/usr/share/php/Illuminate/autoload.php';
require_once BENCH_REPO . '/tests/fixtures/upstream/schema.php';

final class UpstreamTask extends Illuminate\Database\Eloquent\Model
{
    protected $table = 's_tasks';
    protected $fillable = ['identifier', 'action', 'status', 'message', 'started_by', 'meta', 'result', 'start_at', 'finished_at', 'attempts', 'max_attempts', 'priority', 'progress'];
    protected $casts = ['meta' => 'array', 'result' => 'array', 'start_at' => 'datetime', 'finished_at' => 'datetime'];

    public function markAsRunning(): void
    {
        $this->update(['status' => 50, 'start_at' => now(), 'attempts' => $this->attempts + 1]);
    }

    public function markAsFinished(?string $message = null): void
    {
        $this->update(['status' => 80, 'message' => $message ?? 'Task completed successfully', 'finished_at' => now()]);
    }
}

final class UpstreamWorkerRow extends Illuminate\Database\Eloquent\Model
{
    protected $table = 's_workers';
    protected $guarded = [];
}

/** Upstream's TaskProgress::write: one line appended per update, no lock. */
final class UpstreamProgress
{
    public static string $dir;

    public static function write(array $p): void
    {
        $message = preg_replace('/\R+/', '<br>', str_replace('|', '¦', (string) ($p['message'] ?? '')));
        $line = implode('|', [$p['status'] ?? '', (int) ($p['progress'] ?? 0), (int) ($p['processed'] ?? 0), (int) ($p['total'] ?? 0), $p['eta'] ?? '—', $message]) . "\n";
        $file = self::$dir . '/' . $p['id'] . '.log';
        file_put_contents($file, $line, FILE_APPEND);
        @chmod($file, 0664);
    }
}

/** A worker in upstream's style: pushProgress merges defaults from the model, then writes a line. */
class UpstreamWorker
{
    public static array $result = [];

    public function invokeAction(string $action, UpstreamTask $task, array $options): void
    {
        $this->{'task' . ucfirst($action)}($task, $options);
    }

    public function taskRun(UpstreamTask $task, array $options): void
    {
    }

    public function taskImport(UpstreamTask $task, array $options): void
    {
        self::$result = bench_import_csv(UpstreamTask::resolveConnection(), $options['file'], function (int $done, int $total) use ($task) {
            $this->pushProgress($task, ['processed' => $done, 'total' => $total, 'progress' => intdiv($done * 100, max(1, $total))]);
        });
    }

    protected function pushProgress(UpstreamTask $task, array $delta = []): void
    {
        UpstreamProgress::write(array_merge([
            'id' => $task->id, 'identifier' => $task->identifier, 'action' => $task->action, 'status' => 'running',
            'progress' => 0, 'processed' => 0, 'total' => 0, 'eta' => '—', 'message' => $task->message, 'result' => $task->result,
        ], $delta));
    }
}

function upstream_boot(array $backend, string $dir, string $prefix): Illuminate\Database\Capsule\Manager
{
    $capsule = new Illuminate\Database\Capsule\Manager();
    $capsule->addConnection(bench_connection($backend, $dir, $prefix));
    $capsule->setEventDispatcher(new Illuminate\Events\Dispatcher($capsule->getContainer()));
    $capsule->setAsGlobal();
    $capsule->bootEloquent();
    bench_tune($capsule->getConnection()->getPdo());
    UpstreamProgress::$dir = "$dir/stask";
    @mkdir(UpstreamProgress::$dir, 0775, true);
    return $capsule;
}

/** Upstream's s_workers and s_tasks tables (its migration), and one active worker. */
function upstream_fresh(array $backend, string $dir, string $prefix): Illuminate\Database\Capsule\Manager
{
    $capsule = upstream_boot($backend, $dir, $prefix);
    upstream_create_tables($capsule->getConnection()->getSchemaBuilder());
    UpstreamWorkerRow::create(['identifier' => 'bench', 'class' => UpstreamWorker::class, 'active' => true]);
    return $capsule;
}

/** Upstream's sTask::create (a row; no progress line until the task runs). */
function upstream_createTask(string $action, array $data = []): UpstreamTask
{
    return UpstreamTask::create([
        'identifier' => 'bench', 'action' => $action, 'status' => 10, 'message' => '_Task queued..._',
        'meta' => $data, 'priority' => 'normal', 'progress' => 0, 'attempts' => 0, 'max_attempts' => 3,
    ]);
}

/** Upstream's `stask:worker` pass; returns how many tasks completed. */
function upstream_workerPass(): int
{
    $tasks = UpstreamTask::query()->where('status', 10)
        ->where(fn ($q) => $q->whereNull('start_at')->orWhere('start_at', '<=', now()))->get();
    $done = 0;
    foreach ($tasks as $task) {
        $row = UpstreamWorkerRow::query()->where('identifier', $task->identifier)->where('active', true)->first();
        if ($row === null || !class_exists($row->class)) {
            throw new RuntimeException("worker {$task->identifier} missing");
        }
        $worker = new ($row->class)();
        try {
            $task->markAsRunning();
            UpstreamProgress::write(['id' => $task->id, 'status' => 'running', 'message' => '***Starting task***']);
            $worker->invokeAction($task->action, $task, $task->meta ?? []);
            $fresh = $task->fresh();
            if (!in_array((int) $fresh->status, [80, 100], true)) {
                $fresh->markAsFinished();
                UpstreamProgress::write(['id' => $task->id, 'status' => 'completed', 'progress' => $fresh->progress, 'message' => '**Task completed**']);
            }
            $done++;
        } catch (Throwable $e) {
            $task->update(['status' => 100, 'message' => 'Failed: ' . $e->getMessage(), 'finished_at' => now()]);
            UpstreamProgress::write(['id' => $task->id, 'status' => 'failed', 'message' => '**Failed @ ' . basename($e->getFile()) . ':' . $e->getLine() . ' — ' . $e->getMessage() . '**']);
        }
    }
    return $done;
}

function upstream_create(array $backend, string $dir, string $prefix, int $n): array
{
    upstream_fresh($backend, $dir, $prefix);
    $data = ['file' => 'products.csv', 'rows' => 10000];
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        upstream_createTask('run', $data);
    }
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'Eloquent create()'];
}

function upstream_createMany(array $backend, string $dir, string $prefix, int $n): array
{
    $capsule = upstream_fresh($backend, $dir, $prefix);
    $t = hrtime(true);
    // Upstream has no batch API: create() in a loop, inside one transaction.
    $capsule->getConnection()->transaction(function () use ($n) {
        for ($i = 0; $i < $n; $i++) {
            upstream_createTask('run', ['i' => $i]);
        }
    });
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'create() loop in a transaction'];
}

function upstream_progress(array $backend, string $dir, string $prefix, int $n): array
{
    upstream_fresh($backend, $dir, $prefix);
    $task = upstream_createTask('run');
    $worker = new class extends UpstreamWorker {
        public function push(UpstreamTask $task, array $delta): void
        {
            $this->pushProgress($task, $delta);
        }
    };
    $t = hrtime(true);
    for ($i = 1; $i <= $n; $i++) {
        $worker->push($task, ['processed' => $i, 'total' => $n, 'progress' => intdiv($i * 100, $n)]);
    }
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'pushProgress: line appended to {id}.log'];
}

function upstream_log(array $backend, string $dir, string $prefix, int $n): array
{
    upstream_fresh($backend, $dir, $prefix);
    $task = upstream_createTask('run');
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        UpstreamProgress::write(['id' => $task->id, 'status' => 'running', 'message' => "Imported row $i"]);
    }
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'a progress line (no log API)'];
}

function upstream_e2e(array $backend, string $dir, string $prefix, int $n): array
{
    upstream_fresh($backend, $dir, $prefix);
    upstream_fill($n);
    $t = hrtime(true);
    $done = upstream_workerPass();
    $seconds = (hrtime(true) - $t) / 1e9;
    if ($done !== $n) {
        throw new RuntimeException("upstream completed $done of $n");
    }
    return ['value' => $n / $seconds, 'unit' => 'tasks/s', 'how' => 'stask:worker pass'];
}

function upstream_import(array $backend, string $dir, string $prefix, int $n): array
{
    $capsule = upstream_fresh($backend, $dir, $prefix);
    bench_products_table($capsule->getConnection());
    bench_write_csv("$dir/products.csv", $n);
    $t = hrtime(true);
    upstream_createTask('import', ['file' => "$dir/products.csv"]);
    upstream_workerPass();
    $seconds = (hrtime(true) - $t) / 1e9;
    if ((UpstreamWorker::$result[0] ?? 0) + (UpstreamWorker::$result[1] ?? 0) !== $n) {
        throw new RuntimeException('upstream import incomplete');
    }
    return ['value' => $seconds, 'unit' => 's', 'how' => 'pushProgress per row'];
}

/** Rows as createMany would write them, fast (the fill is not measured). */
function upstream_fill(int $n): void
{
    $now = date('Y-m-d H:i:s');
    $rows = [];
    for ($i = 0; $i < $n; $i++) {
        $rows[] = ['identifier' => 'bench', 'action' => 'run', 'status' => 10, 'message' => '_Task queued..._', 'meta' => '[]', 'priority' => 'normal', 'created_at' => $now, 'updated_at' => $now];
    }
    $db = UpstreamTask::resolveConnection();
    $db->transaction(function () use ($db, $rows) {
        foreach (array_chunk($rows, 500) as $chunk) {
            $db->table('s_tasks')->insert($chunk);
        }
    });
}

function upstream_queue(array $backend, string $dir, string $prefix, int $n): void
{
    upstream_fresh($backend, $dir, $prefix);
    upstream_fill($n);
}

function upstream_memoryWorker(array $backend, string $dir, string $prefix, int $n): array
{
    upstream_boot($backend, $dir, $prefix);
    return ['value' => upstream_workerPass(), 'unit' => 'tasks'];
}

/** One of several `stask:worker` passes at once (cron and a "Run" click, say): nothing claims. */
function upstream_parallelWorker(array $backend, string $dir, string $prefix, int $n): array
{
    upstream_boot($backend, $dir, $prefix);
    bench_ready($dir);
    return ['value' => upstream_workerPass()];
}
