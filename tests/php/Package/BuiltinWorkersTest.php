<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Support\CommandLine;
use Seiger\sTask\Workers\ArtisanWorker;
use STask\Tests\Evo\EvoCore;

/** The artisan, composer_update and cleanup workers. */
final class BuiltinWorkersTest extends PackageTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->artisan('stask:discover', ['--activate' => ['artisan', 'composer_update', 'cleanup', 'report']]);
    }

    public function testArtisanRunsAllowListedCommandsInAChildProcess(): void
    {
        sTask::create('report', 'build');
        $task = sTask::create('artisan', 'make', ['command' => 'stask:stats']);
        sTask::processPendingTasks();
        $row = $task->fresh();
        self::assertTrue($row->isCompleted(), (string) $row->message);
        self::assertStringStartsWith('Artisan executed: stask:stats', $row->message);
        self::assertSame(0, $row->result['exit_code']);
        self::assertStringContainsString('Workers: 9 registered, 4 active.', $row->result['output']);
        self::assertStringContainsString('php artisan', sTask::logs($task)[1]['message']);
    }

    public function testArtisanRefusesOtherCommandsAndNeverUsesAShell(): void
    {
        $forbidden = sTask::create('artisan', 'make', ['command' => 'migrate:fresh']);
        $injection = sTask::create('artisan', 'make', ['command' => 'list; touch /tmp/stask-pwned']);
        $marker = $this->site->root . '/pwned';
        $arguments = sTask::create('artisan', 'make', ['command' => 'list', 'arguments' => "--format=txt; touch $marker"]);
        sTask::processPendingTasks();
        self::assertSame('failed', $forbidden->fresh()->status_text);
        self::assertSame('The artisan command "migrate:fresh" is not allowed (stask.artisan.allowed).', $forbidden->fresh()->message);
        self::assertSame('failed', $injection->fresh()->status_text);
        self::assertFileDoesNotExist('/tmp/stask-pwned');
        self::assertFileDoesNotExist($marker, 'arguments are argv entries, not shell text');
        self::assertSame(['--format=txt;', 'touch', $marker], $arguments->fresh()->result['arguments'] ?? CommandLine::arguments("--format=txt; touch $marker"));
    }

    public function testArtisanAllowListPatterns(): void
    {
        self::assertTrue(ArtisanWorker::isAllowed('cache:clear', ['cache:*']));
        self::assertTrue(ArtisanWorker::isAllowed('list', ['list']));
        self::assertFalse(ArtisanWorker::isAllowed('migrate:fresh', ['migrate']));
        self::assertFalse(ArtisanWorker::isAllowed('cache:clear --force', ['cache:*']));
        self::assertFalse(ArtisanWorker::isAllowed("cache:clear\nrm", ['cache:*']));
        self::assertSame(['a b', 'c', "d'e"], CommandLine::arguments('"a b" c "d\'e"'));
        self::assertSame(['x', '1'], CommandLine::arguments(['x', 1, ['nested']]));
    }

    public function testCreatingArtisanTasksFromTheManagerNeedsItsPermission(): void
    {
        EvoCore::$cli = false;
        try {
            $this->site->app->permissions = ['stask' => 1];
            try {
                (new ArtisanWorker())->createTask('make', ['command' => 'list']);
                self::fail('expected the permission to be required');
            } catch (\RuntimeException $e) {
                self::assertStringContainsString('"stask_artisan" permission', $e->getMessage());
            }
            $this->site->app->permissions = ['stask' => 1, 'stask_artisan' => 1];
            $task = (new ArtisanWorker())->createTask('make', ['command' => 'list']);
            self::assertSame(1, $task->started_by, 'created by the logged-in manager user');
        } finally {
            EvoCore::$cli = true;
        }
    }

    public function testComposerUpdateIsOffUnlessEnabled(): void
    {
        $task = sTask::create('composer_update', 'make');
        sTask::processPendingTasks();
        self::assertStringContainsString('disabled', $task->fresh()->message);
        self::assertTrue($task->fresh()->isFailed());
    }

    public function testCleanupPrunesOldTasksAndFiles(): void
    {
        $old = sTask::create('report', 'build');
        sTask::log($old, 'info', 'old');
        sTask::processPendingTasks();
        $this->site->pdo()->exec("UPDATE evo_s_tasks SET finished_at = '2001-01-01 00:00:00'");
        $uploads = app(\Seiger\sTask\Services\Uploads::class)->dir();
        @mkdir($uploads, 0777, true);
        touch("$uploads/20010101-000000-0123456789abcdef.csv", strtotime('2001-01-01'));
        touch("$uploads/20991231-000000-0123456789abcdef.csv");
        $cleanup = sTask::create('cleanup', 'prune', ['days' => 30]);
        sTask::processPendingTasks();
        self::assertNull(sTask::find((int) $old->id));
        self::assertSame(['tasks' => 1, 'files' => 0, 'uploads' => 1, 'days' => 30], $cleanup->fresh()->result);
        self::assertSame(['20991231-000000-0123456789abcdef.csv'], array_values(array_diff(scandir($uploads), ['.', '..'])));
    }
}
