<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;

/** Real `php artisan` processes against a test site: signals, several workers, no extension. */
final class ProcessesTest extends PackageTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->artisan('stask:discover', ['--activate' => ['slow', 'report']]);
    }

    /** @return array{0: resource, 1: array<int, resource>} */
    private function spawnArtisan(array $args, bool $withExtension = true): array
    {
        $extension = realpath((string) getenv('STASK_EXTENSION')) ?: \STask\Tests\Evo\Site::REPO . '/target/release/libstask.so';
        $cmd = array_merge([PHP_BINARY], $withExtension ? ['-d', 'extension=' . $extension] : [], [$this->site->core . '/artisan'], $args);
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $this->site->core);
        self::assertIsResource($proc);
        return [$proc, $pipes];
    }

    /** @return array{int, string} */
    private function finish(array $spawned): array
    {
        [$proc, $pipes] = $spawned;
        $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        return [proc_close($proc), $out];
    }

    private function waitFor(callable $condition, float $seconds = 20.0): void
    {
        $deadline = microtime(true) + $seconds;
        while (!$condition()) {
            if (microtime(true) > $deadline) {
                self::fail('timed out waiting');
            }
            usleep(20_000);
        }
    }

    public function testWorkStopsGracefullyOnSigtermAfterTheCurrentTask(): void
    {
        $first = sTask::create('slow', 'wait', ['seconds' => 1.5]);
        for ($i = 0; $i < 3; $i++) {
            sTask::create('slow', 'wait', ['seconds' => 0.1, 'n' => $i]);
        }
        $worker = $this->spawnArtisan(['stask:work', '--sleep=0.2']);
        $this->waitFor(fn () => sTaskModel::query()->find($first->id)->isRunning());
        proc_terminate($worker[0], SIGTERM);
        [$code, $out] = $this->finish($worker);
        self::assertSame(0, $code, $out);
        self::assertStringContainsString('Stopped (SIGTERM) after 1 task(s)', $out);
        self::assertTrue($first->fresh()->isCompleted(), 'the current task finished');
        $messages = array_column($first->fresh()->logs(), 'message');
        self::assertContains('done waiting', $messages, 'its handler was not interrupted');
        $rest = sTaskModel::pending()->get();
        self::assertCount(3, $rest, 'the others wait for the next worker');
        self::assertSame([0, 0, 0], $rest->pluck('attempts')->map(fn ($a) => (int) $a)->all(), 'none lost an attempt');
    }

    public function testSeveralWorkersShareTheQueueAndRunEachTaskOnce(): void
    {
        $file = $this->site->root . '/hits.txt';
        $tasks = array_fill(0, 300, ['identifier' => 'slow', 'action' => 'hit', 'data' => ['file' => $file]]);
        sTask::engine()->createMany($tasks);
        $workers = [];
        for ($i = 0; $i < 3; $i++) {
            $workers[] = $this->spawnArtisan(['stask:work', '--stop-when-empty', '--batch=10']);
        }
        foreach ($workers as $worker) {
            [$code, $out] = $this->finish($worker);
            self::assertSame(0, $code, $out);
        }
        $hits = array_filter(explode("\n", (string) file_get_contents($file)));
        self::assertCount(300, $hits);
        self::assertCount(300, array_unique($hits), 'no task ran twice');
        self::assertSame(300, sTaskModel::completed()->count());
    }

    public function testWithoutTheExtensionEveryEntryPointExplainsHowToInstallIt(): void
    {
        [$code, $out] = $this->finish($this->spawnArtisan(['stask:stats'], false));
        self::assertSame(1, $code, $out);
        self::assertStringContainsString('sTask needs the "stask" PHP extension', $out);
        self::assertStringContainsString('extension=/path/to/libstask.so', $out);
        [$code, $out] = $this->finish($this->spawnArtisan(['list'], false));
        self::assertSame(0, $code, 'the site itself still works: ' . $out);
        self::assertStringContainsString('stask:work', $out);
        [$code, $out] = $this->finish($this->spawnArtisan(['stask:work', '--once'], false));
        self::assertSame(1, $code);
        self::assertStringContainsString('sTask needs the "stask" PHP extension', $out);
    }
}
