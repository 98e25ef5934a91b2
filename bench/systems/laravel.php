<?php

declare(strict_types=1);

/*
 * Laravel's database queue, as a Laravel 8 / Evolution CMS 3.1 site runs it with
 * QUEUE_CONNECTION=database and `php artisan queue:work`: Debian's Illuminate components wired
 * the way QueueServiceProvider and WorkCommand wire them (events, bus, file cache for the
 * restart signal, failed-job provider, exception handler), jobs written like `make:job` makes
 * them, the real WorkCommand. Laravel has no task progress or per-task log: the harness uses
 * what Laravel users reach for — the cache (file store, Laravel 8's default) and the log.
 */

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;

require_once '/usr/share/php/Illuminate/autoload.php';

final class BenchLaravelApp extends Illuminate\Container\Container
{
    public string $storage;

    /** What Foundation's Application does on every worker loop: a stat of the "down" file. */
    public function isDownForMaintenance(): bool
    {
        return file_exists($this->storage . '/framework/down');
    }

    public function environment(...$environments)
    {
        return $environments === [] ? 'production' : in_array('production', is_array($environments[0]) ? $environments[0] : $environments, true);
    }

    /** Laravel 10+'s WorkCommand asks these of the application. */
    public function runningUnitTests(): bool
    {
        return false;
    }

    public function runningInConsole(): bool
    {
        return true;
    }
}

final class BenchLaravelExceptions implements Illuminate\Contracts\Debug\ExceptionHandler
{
    public function report(Throwable $e)
    {
        fwrite(STDERR, 'laravel reported: ' . $e->getMessage() . "\n");
    }

    public function shouldReport(Throwable $e)
    {
        return true;
    }

    public function render($request, Throwable $e)
    {
        throw $e;
    }

    public function renderForConsole($output, Throwable $e)
    {
        $output->writeln($e->getMessage());
    }
}

/** An empty job, as `php artisan make:job` writes it. */
final class BenchNoopJob implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable, SerializesModels;

    public static int $handled = 0;

    public function __construct(public int $i = 0)
    {
    }

    public function handle(): void
    {
        self::$handled++;
    }
}

/** The CSV import, with a progress entry in the cache after every row. */
final class BenchImportJob implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable, SerializesModels;

    public static array $result = [];

    public function __construct(public string $path)
    {
    }

    public function handle(): void
    {
        $app = BenchLaravelApp::getInstance();
        $cache = $app['cache.store'];
        $key = 'import-progress:' . $this->job->getJobId();
        self::$result = bench_import_csv($app['db']->connection(), $this->path, function (int $done, int $total) use ($cache, $key) {
            $cache->put($key, ['processed' => $done, 'total' => $total, 'progress' => intdiv($done * 100, max(1, $total))], 3600);
        });
    }
}

/** A site's queue: container, database, events, bus, cache, failer, worker. */
function laravel_boot(array $backend, string $dir, string $prefix): BenchLaravelApp
{
    $app = new BenchLaravelApp();
    BenchLaravelApp::setInstance($app);
    $app->instance('app', $app);
    $app->instance(Illuminate\Contracts\Container\Container::class, $app);
    $app->storage = "$dir/laravel-storage";
    @mkdir($app->storage . '/framework/cache', 0777, true);
    $app->instance('config', new Illuminate\Config\Repository([
        'queue' => [
            'default' => 'database',
            'connections' => ['database' => ['driver' => 'database', 'table' => 'jobs', 'queue' => 'default', 'retry_after' => 90, 'after_commit' => false]],
            'failed' => ['driver' => 'database-uuids', 'database' => 'default', 'table' => 'failed_jobs'],
        ],
        'cache' => ['default' => 'file', 'stores' => ['file' => ['driver' => 'file', 'path' => $app->storage . '/framework/cache']]],
    ]));
    $events = new Illuminate\Events\Dispatcher($app);
    $app->instance('events', $events);
    $app->instance(Illuminate\Contracts\Events\Dispatcher::class, $events);

    $capsule = new Illuminate\Database\Capsule\Manager($app);
    $capsule->addConnection(bench_connection($backend, $dir, $prefix));
    $capsule->setEventDispatcher($events);
    $db = $capsule->getDatabaseManager();
    $app->instance('db', $db);
    $db->connection()->getPdo(); // connect now
    bench_tune($db->connection()->getPdo());

    $bus = new Illuminate\Bus\Dispatcher($app);
    $app->instance(Illuminate\Contracts\Bus\Dispatcher::class, $bus);
    $files = new Illuminate\Filesystem\Filesystem();
    $app->instance('files', $files);
    // The cache manager too: Laravel 11+'s worker asks it whether a queue is paused.
    $app->instance('cache', new Illuminate\Cache\CacheManager($app));
    $cache = $app['cache']->store();
    $app->instance('cache.store', $cache);
    $app->instance(Illuminate\Contracts\Cache\Repository::class, $cache);
    $app->instance('queue.failer', new Illuminate\Queue\Failed\DatabaseUuidFailedJobProvider($db, 'default', 'failed_jobs'));
    $exceptions = new BenchLaravelExceptions();
    $app->instance(Illuminate\Contracts\Debug\ExceptionHandler::class, $exceptions);

    $queue = new Illuminate\Queue\Capsule\Manager($app);
    $queue->addConnection(['driver' => 'database', 'table' => 'jobs', 'queue' => 'default', 'retry_after' => 90, 'after_commit' => false], 'database');
    $app->instance('queue', $queue->getQueueManager());
    $app->instance('queue.worker', new Illuminate\Queue\Worker($queue->getQueueManager(), $events, $exceptions, fn () => $app->isDownForMaintenance()));
    return $app;
}

/** The jobs and failed_jobs tables of Laravel 8's `queue:table` / `queue:failed-table`. */
function laravel_migrate(BenchLaravelApp $app): void
{
    $schema = $app['db']->connection()->getSchemaBuilder();
    $schema->create('jobs', function (Illuminate\Database\Schema\Blueprint $table) {
        $table->bigIncrements('id');
        $table->string('queue')->index();
        $table->longText('payload');
        $table->unsignedTinyInteger('attempts');
        $table->unsignedInteger('reserved_at')->nullable();
        $table->unsignedInteger('available_at');
        $table->unsignedInteger('created_at');
    });
    $schema->create('failed_jobs', function (Illuminate\Database\Schema\Blueprint $table) {
        $table->id();
        $table->string('uuid')->unique();
        $table->text('connection');
        $table->text('queue');
        $table->longText('payload');
        $table->longText('exception');
        $table->timestamp('failed_at')->useCurrent();
    });
}

/** `php artisan queue:work database --stop-when-empty --sleep=0 --tries=1`, console lines to a file. */
function laravel_work(BenchLaravelApp $app, string $log): int
{
    $command = new Illuminate\Queue\Console\WorkCommand($app['queue.worker'], $app['cache.store']);
    $command->setLaravel($app);
    $output = new Symfony\Component\Console\Output\StreamOutput(fopen($log, 'a'));
    return $command->run(new Symfony\Component\Console\Input\ArrayInput([
        'connection' => 'database', '--stop-when-empty' => true, '--sleep' => 0, '--tries' => 1,
    ]), $output);
}

function laravel_fresh(array $backend, string $dir, string $prefix): BenchLaravelApp
{
    $app = laravel_boot($backend, $dir, $prefix);
    laravel_migrate($app);
    return $app;
}

/** Queues $n jobs through bulk() in chunks (one bulk of 10,000 passes SQLite's 32,766 bound parameters). */
function laravel_fill(BenchLaravelApp $app, int $n): void
{
    for ($i = 0; $i < $n; $i += 1000) {
        $app['queue']->connection('database')->bulk(array_map(fn ($k) => new BenchNoopJob($k), range($i, min($n, $i + 1000) - 1)));
    }
}

function laravel_create(array $backend, string $dir, string $prefix, int $n): array
{
    $queue = laravel_fresh($backend, $dir, $prefix)['queue']->connection('database');
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $queue->push(new BenchNoopJob($i));
    }
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'Queue::push(new Job)'];
}

function laravel_createMany(array $backend, string $dir, string $prefix, int $n): array
{
    $app = laravel_fresh($backend, $dir, $prefix);
    $t = hrtime(true);
    laravel_fill($app, $n);
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'Queue::bulk(), 1,000 per call'];
}

function laravel_progress(array $backend, string $dir, string $prefix, int $n): array
{
    $cache = laravel_fresh($backend, $dir, $prefix)['cache.store'];
    $t = hrtime(true);
    for ($i = 1; $i <= $n; $i++) {
        $cache->put('progress:1', ['processed' => $i, 'total' => $n, 'progress' => intdiv($i * 100, $n)], 3600);
    }
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'Cache::put (file store)'];
}

function laravel_log(array $backend, string $dir, string $prefix, int $n): array
{
    laravel_fresh($backend, $dir, $prefix);
    $log = new Illuminate\Log\Logger(new Monolog\Logger('production', [new Monolog\Handler\StreamHandler("$dir/laravel.log")]));
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $log->info('Imported row', ['task' => 1, 'row' => $i]);
    }
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'Log::info (single file)'];
}

function laravel_e2e(array $backend, string $dir, string $prefix, int $n): array
{
    $app = laravel_fresh($backend, $dir, $prefix);
    laravel_fill($app, $n);
    $t = hrtime(true);
    laravel_work($app, "$dir/worker.log");
    $seconds = (hrtime(true) - $t) / 1e9;
    if (BenchNoopJob::$handled !== $n) {
        throw new RuntimeException('Laravel handled ' . BenchNoopJob::$handled . " of $n jobs");
    }
    return ['value' => $n / $seconds, 'unit' => 'tasks/s', 'how' => 'queue:work --stop-when-empty'];
}

function laravel_import(array $backend, string $dir, string $prefix, int $n): array
{
    $app = laravel_fresh($backend, $dir, $prefix);
    bench_products_table($app['db']->connection());
    bench_write_csv("$dir/products.csv", $n);
    $t = hrtime(true);
    $app['queue']->connection('database')->push(new BenchImportJob("$dir/products.csv"));
    laravel_work($app, "$dir/worker.log");
    $seconds = (hrtime(true) - $t) / 1e9;
    if ((BenchImportJob::$result[0] ?? 0) + (BenchImportJob::$result[1] ?? 0) !== $n) {
        throw new RuntimeException('Laravel import incomplete: ' . json_encode(BenchImportJob::$result));
    }
    return ['value' => $seconds, 'unit' => 's', 'how' => 'job + Cache::put per row'];
}

/** The memory workload's worker process: queue:work over the jobs already queued. */
function laravel_memoryWorker(array $backend, string $dir, string $prefix, int $n): array
{
    $app = laravel_boot($backend, $dir, $prefix);
    laravel_work($app, "$dir/worker.log");
    return ['value' => BenchNoopJob::$handled, 'unit' => 'tasks'];
}

function laravel_queue(array $backend, string $dir, string $prefix, int $n): void
{
    laravel_fill(laravel_fresh($backend, $dir, $prefix), $n);
}

/**
 * One of several worker processes. `--stop-when-empty` also stops after a failed pop (SQLite's
 * "database is locked" with two workers): started again while unreserved jobs remain, as
 * supervisor or cron would.
 */
function laravel_parallelWorker(array $backend, string $dir, string $prefix, int $n): array
{
    $app = laravel_boot($backend, $dir, $prefix);
    bench_ready($dir);
    $starts = 0;
    do {
        laravel_work($app, "$dir/worker-" . getmypid() . '.log');
        $starts++;
    } while ($starts < 1000 && $app['db']->connection()->table('jobs')->whereNull('reserved_at')->exists());
    return ['value' => BenchNoopJob::$handled, 'restarts' => $starts - 1];
}
