<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Carbon\Carbon;
use PHPUnit\Framework\TestCase;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Services\Scheduler;
use STask\Tests\Evo\Site;
use PHPUnit\Framework\Attributes\DataProvider;

/**
 * The scheduler's own queries on MariaDB and PostgreSQL (upstream's time columns are
 * TIMESTAMP(3) there): a slot whose run finished is not queued again in its minute, and a run
 * queued under a schedule the manager changed is dropped. The rest of the schedule rules are
 * database-free (ScheduleTest) or run on SQLite (SchedulerPassTest).
 */
final class SchedulerServerTest extends TestCase
{
    private ?ServerDatabase $db = null;
    private ?Site $site = null;
    private string $timezone;

    /** @return array<string, array{string}> */
    public static function servers(): array
    {
        return ['mariadb' => ['mysql'], 'postgres' => ['pgsql']];
    }

    protected function setUp(): void
    {
        $this->timezone = date_default_timezone_get();
    }

    protected function tearDown(): void
    {
        $this->site?->destroy();
        $this->site = null;
        $this->db?->drop();
        $this->db = null;
        date_default_timezone_set($this->timezone);
    }

    /** @dataProvider servers */
    #[DataProvider('servers')]
    public function testOneRunPerSlotAndDroppedRunsOnTheServer(string $driver): void
    {
        $this->db = ServerDatabase::create($this, $driver);
        $this->site = new Site(['acme/shop', 'acme/mail'], [], null, 'evo_', null, null, null, $this->db->connection);
        date_default_timezone_set('Europe/Kyiv');
        foreach ([['migrate', ['--force' => true]], ['stask:discover', ['--activate' => ['newsletter']]]] as [$command, $parameters]) {
            [$code, $out] = $this->site->call($command, $parameters);
            self::assertSame(0, $code, $out);
        }
        $scheduler = $this->site->app->make(Scheduler::class);
        $pass = function (string $now) use ($scheduler): ?string {
            foreach ($scheduler->queueDueRuns(Carbon::parse($now, 'Europe/Kyiv')) as $run) {
                if ($run['identifier'] === 'newsletter') {
                    $task = sTaskModel::query()->find($run['task']);
                    return Carbon::createFromTimestamp(intdiv((int) $task->available_at, 1000), 'Europe/Kyiv')->format('Y-m-d H:i');
                }
            }
            return null;
        };
        $worker = sTask::getWorker('newsletter');
        $worker->settings = ['schedule' => ['enabled' => true, 'type' => 'periodic', 'frequency' => 'minutely']];
        $worker->save();
        sTask::clearWorkerCache('newsletter');

        self::assertSame('2026-01-05 10:00', $pass('2026-01-05 10:00:30'));
        self::assertSame(1, sTask::process(10, ['newsletter'])['completed']);
        self::assertSame('2026-01-05 10:01', $pass('2026-01-05 10:00:30'), 'the 10:00 run is done');
        self::assertSame(2, sTaskModel::query()->where('identifier', 'newsletter')->count());

        // A run queued for later under a schedule that was then switched off.
        sTask::process(10, ['newsletter']);
        $worker->settings = ['schedule' => ['enabled' => true, 'type' => 'once', 'datetime' => '2099-01-01 10:00:00']];
        $worker->save();
        sTask::clearWorkerCache('newsletter');
        self::assertSame('2099-01-01 10:00', $pass('2098-12-31 10:00'));
        self::assertSame(0, $scheduler->scheduleSaved('newsletter', ['enabled' => true, 'type' => 'once', 'datetime' => '2099-01-01 10:00:00']));
        self::assertSame(1, $scheduler->scheduleSaved('newsletter', ['enabled' => false, 'type' => 'once', 'datetime' => '2099-01-01 10:00:00']));
        self::assertSame(0, sTaskModel::query()->where('identifier', 'newsletter')->where('status', sTaskModel::STATUS_PENDING)->count());
    }
}
