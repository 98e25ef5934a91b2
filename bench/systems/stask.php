<?php

declare(strict_types=1);

/*
 * This project as a site uses it: the extension plus the Composer package, booted in the
 * Evolution CMS stand-in the tests and the demo use (tests/php/Evo: Debian's Laravel
 * components wired as Evolution CMS wires them), the worker bench/app/Workers/BenchWorker
 * found by discovery, tasks created with sTask::create(), run by `stask:work`.
 */

use Seiger\sTask\Facades\sTask;
use STask\Tests\Evo\Site;

putenv('STASK_SITE_APP=' . BENCH_REPO . '/bench/app');
require_once BENCH_REPO . '/tests/php/Evo/autoload.php';

function stask_site(array $backend, string $dir, string $prefix, bool $fresh = true): Site
{
    if (!$fresh) {
        return Site::open("$dir/site");
    }
    $connection = $backend['driver'] === 'sqlite' ? null : bench_connection($backend, $dir, $prefix);
    $site = new Site([], [], null, $prefix, null, "$dir/site", BENCH_REPO . '/bench/app', $connection);
    foreach ([['migrate', ['--force' => true]], ['stask:discover', ['--activate' => ['bench']]]] as [$command, $args]) {
        [$code, $out] = $site->call($command, $args);
        if ($code !== 0) {
            throw new RuntimeException("$command: $out");
        }
    }
    bench_tune($site->app->make('db')->connection()->getPdo());
    return $site;
}

/** `stask:work --stop-when-empty` in this process; returns the tasks it ran. */
function stask_work(Site $site): int
{
    [$code, $out] = $site->call('stask:work', ['--stop-when-empty' => true, '--sleep' => 0]);
    if ($code !== 0 || !preg_match('/after (\d+) task/', $out, $m)) {
        throw new RuntimeException("stask:work: $out");
    }
    return (int) $m[1];
}

function stask_create(array $backend, string $dir, string $prefix, int $n): array
{
    stask_site($backend, $dir, $prefix);
    $data = ['file' => 'products.csv', 'rows' => 10000];
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        sTask::create('bench', 'run', $data);
    }
    return ['value' => (hrtime(true) - $t) / 1e3 / $n, 'unit' => 'µs', 'how' => 'sTask::create()'];
}

function stask_createMany(array $backend, string $dir, string $prefix, int $n): array
{
    stask_site($backend, $dir, $prefix);
    $tasks = [];
    for ($i = 0; $i < $n; $i++) {
        $tasks[] = ['identifier' => 'bench', 'action' => 'run', 'data' => ['i' => $i]];
    }
    $t = hrtime(true);
    $created = sTask::createMany($tasks);
    $us = (hrtime(true) - $t) / 1e3 / $n;
    if (count($created) !== $n) {
        throw new RuntimeException('createMany returned ' . count($created));
    }
    return ['value' => $us, 'unit' => 'µs', 'how' => 'sTask::createMany(), one transaction'];
}

/** Runs one task of the bench worker and returns what it measured. */
function stask_inTask(array $backend, string $dir, string $prefix, string $action, array $data): array
{
    $site = stask_site($backend, $dir, $prefix);
    sTask::create('bench', $action, $data);
    if (stask_work($site) !== 1) {
        throw new RuntimeException("the $action task did not run");
    }
    return App\Workers\BenchWorker::$result;
}

function stask_progress(array $backend, string $dir, string $prefix, int $n): array
{
    [$us] = stask_inTask($backend, $dir, $prefix, 'progress', ['n' => $n]);
    return ['value' => $us, 'unit' => 'µs', 'how' => '$this->pushProgress() in a worker'];
}

function stask_log(array $backend, string $dir, string $prefix, int $n): array
{
    [$us] = stask_inTask($backend, $dir, $prefix, 'log', ['n' => $n]);
    return ['value' => $us, 'unit' => 'µs', 'how' => '$this->appendTaskLog() in a worker'];
}

function stask_fill(int $n): void
{
    for ($i = 0; $i < $n; $i += 10_000) {
        sTask::engine()->createMany(array_fill(0, min(10_000, $n - $i), ['identifier' => 'bench', 'action' => 'run']));
    }
}

function stask_e2e(array $backend, string $dir, string $prefix, int $n): array
{
    $site = stask_site($backend, $dir, $prefix);
    stask_fill($n);
    $t = hrtime(true);
    $done = stask_work($site);
    $seconds = (hrtime(true) - $t) / 1e9;
    if ($done !== $n) {
        throw new RuntimeException("stask:work ran $done of $n");
    }
    return ['value' => $n / $seconds, 'unit' => 'tasks/s', 'how' => 'stask:work --stop-when-empty'];
}

function stask_import(array $backend, string $dir, string $prefix, int $n): array
{
    $site = stask_site($backend, $dir, $prefix);
    bench_products_table($site->app->make('db')->connection());
    bench_write_csv("$dir/products.csv", $n);
    $t = hrtime(true);
    $task = sTask::create('bench', 'import', ['file' => "$dir/products.csv"]);
    stask_work($site);
    $seconds = (hrtime(true) - $t) / 1e9;
    $progress = sTask::progress($task->id);
    if (($progress['status'] ?? '') !== 'completed' || array_sum(App\Workers\BenchWorker::$result) !== $n) {
        throw new RuntimeException('import incomplete: ' . json_encode($progress));
    }
    return ['value' => $seconds, 'unit' => 's', 'how' => 'worker task, pushProgress per row'];
}

/** A fresh site whose queue holds $n empty tasks, for worker processes to drain. */
function stask_queue(array $backend, string $dir, string $prefix, int $n): void
{
    stask_site($backend, $dir, $prefix);
    stask_fill($n);
}

/** One of several worker processes: `stask:work --stop-when-empty` on the site, from the start signal. */
function stask_parallelWorker(array $backend, string $dir, string $prefix, int $n): array
{
    $site = stask_site($backend, $dir, $prefix, false);
    sTask::engine()->stats(); // connected before the clock starts
    bench_ready($dir);
    return ['value' => stask_work($site)];
}

/** The memory workload's worker process: the real `php artisan stask:work`. */
function stask_memoryCommand(array $backend, string $dir, string $prefix, int $n): array
{
    return array_merge(Seiger\sTask\Support\PhpBinary::command(), ["$dir/site/core/artisan", 'stask:work', '--stop-when-empty', '--sleep=0']);
}
