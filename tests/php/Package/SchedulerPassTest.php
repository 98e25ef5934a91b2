<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Carbon\Carbon;
use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Services\Scheduler;
use PHPUnit\Framework\Attributes\DataProvider;

/**
 * Schedules on a site: what stask:worker's pass queues for schedules stored by upstream 1.x,
 * 2.2 and our manager, with a fixed "now" in a non-UTC app timezone; one run per slot however
 * many passes; bad schedules skipped; the manager's form stores the 2.x shape.
 */
final class SchedulerPassTest extends PackageTestCase
{
    private const TZ = 'Europe/Kyiv';

    private string $timezone;

    protected function setUp(): void
    {
        parent::setUp();
        $this->timezone = date_default_timezone_get();
        date_default_timezone_set(self::TZ);
        $this->discoverAndActivate();
        sTask::deactivateWorker('cleanup'); // its own daily schedule is not under test here
    }

    protected function tearDown(): void
    {
        date_default_timezone_set($this->timezone);
        parent::tearDown();
    }

    private function setSchedule(string $identifier, mixed $schedule): void
    {
        $worker = sTask::getWorker($identifier);
        $worker->settings = ['schedule' => $schedule] + (is_array($worker->settings) ? $worker->settings : []);
        $worker->save();
        sTask::clearWorkerCache($identifier);
    }

    /** @return array<string, string> identifier => local run time queued by one pass at $now */
    private function pass(string $now): array
    {
        $queued = [];
        foreach ($this->site->app->make(Scheduler::class)->queueDueRuns(Carbon::parse($now, self::TZ)) as $run) {
            $task = sTaskModel::query()->find($run['task']);
            $queued[$run['identifier']] = Carbon::createFromTimestamp(intdiv((int) $task->available_at, 1000), self::TZ)->format('Y-m-d H:i');
        }
        return $queued;
    }

    /** @return iterable<string, array{mixed, string, ?string}> stored schedule, now, queued run */
    public static function storedSchedules(): iterable
    {
        // 2030-01-04 is a Friday.
        yield '1.x weekly with days' => [['type' => 'periodic', 'enabled' => '1', 'datetime' => '', 'time' => '08:15', 'frequency' => 'weekly', 'days' => ['monday', 'wednesday'], 'start_time' => '', 'end_time' => '', 'interval' => 'hourly'], '2030-01-04 10:00', '2030-01-07 08:15'];
        yield '1.x regular by interval' => [['type' => 'regular', 'enabled' => '1', 'datetime' => '', 'time' => '00:00', 'frequency' => 'hourly', 'start_time' => '08:00', 'end_time' => '18:00', 'interval' => 'every_15min'], '2030-01-04 10:01', '2030-01-04 10:15'];
        yield '1.x regular after its window rolls over' => [['type' => 'regular', 'enabled' => '1', 'frequency' => 'daily', 'start_time' => '08:00', 'end_time' => '18:00', 'interval' => 'every_30min'], '2030-01-04 18:01', '2030-01-05 08:00'];
        yield '1.x hourly stored as HH:MM' => [['type' => 'periodic', 'enabled' => '1', 'time' => '09:40', 'frequency' => 'hourly'], '2030-01-04 10:01', '2030-01-04 10:40'];
        yield '2.2 hourly *:MM' => [['enabled' => true, 'type' => 'periodic', 'datetime' => '', 'frequency' => 'hourly', 'time' => '*:10', 'start_time' => '', 'end_time' => ''], '2030-01-04 10:11', '2030-01-04 11:10'];
        yield '2.2 every_15min' => [['enabled' => true, 'type' => 'periodic', 'datetime' => '', 'frequency' => 'every_15min', 'time' => '', 'start_time' => '', 'end_time' => ''], '2030-01-04 10:01', '2030-01-04 10:15'];
        yield '2.2 weekly without days: Mondays' => [['enabled' => true, 'type' => 'periodic', 'datetime' => '', 'frequency' => 'weekly', 'time' => '06:00', 'start_time' => '', 'end_time' => ''], '2030-01-04 10:00', '2030-01-07 06:00'];
        yield '2.2 monthly without day: the 1st' => [['enabled' => true, 'type' => 'periodic', 'datetime' => '', 'frequency' => 'monthly', 'time' => '04:00', 'start_time' => '', 'end_time' => ''], '2030-01-04 10:00', '2030-02-01 04:00'];
        yield 'monthly on the 31st in February' => [['enabled' => true, 'type' => 'periodic', 'frequency' => 'monthly', 'time' => '04:00', 'day' => 31], '2030-02-01 10:00', '2030-02-28 04:00'];
        yield '2.2 regular' => [['enabled' => true, 'type' => 'regular', 'datetime' => '', 'frequency' => 'every_30min', 'time' => '', 'start_time' => '09:00', 'end_time' => '17:00'], '2030-01-04 09:31', '2030-01-04 10:00'];
        yield '2.2 once ahead' => [['enabled' => true, 'type' => 'once', 'datetime' => '2030-01-05 03:30:00', 'frequency' => 'hourly', 'time' => '', 'start_time' => '', 'end_time' => ''], '2030-01-04 10:00', '2030-01-05 03:30'];
        yield '2.2 once past' => [['enabled' => true, 'type' => 'once', 'datetime' => '2030-01-03 03:30:00'], '2030-01-04 10:00', null];
        yield 'daily on the day DST starts (Kyiv)' => [['enabled' => true, 'type' => 'periodic', 'frequency' => 'daily', 'time' => '03:30'], '2030-03-31 01:00', '2030-03-31 04:30'];
        yield 'disabled' => [['enabled' => false, 'type' => 'periodic', 'frequency' => 'minutely'], '2030-01-04 10:00', null];
        yield 'as JSON text' => ['{"enabled":true,"type":"periodic","frequency":"daily","time":"05:05"}', '2030-01-04 10:00', '2030-01-05 05:05'];
        yield 'garbage' => [['enabled' => true, 'type' => 'periodic', 'frequency' => ['x'], 'time' => new \stdClass()], '2030-01-04 10:00', null];
        yield 'no schedule' => [null, '2030-01-04 10:00', null];
    }

    /** @dataProvider storedSchedules */
    #[DataProvider('storedSchedules')]
    public function testStoredSchedulesOfEveryVersionQueueTheirNextRun(mixed $schedule, string $now, ?string $expected): void
    {
        $this->setSchedule('newsletter', $schedule);
        self::assertSame($expected, $this->pass($now)['newsletter'] ?? null);
        if ($expected !== null) {
            $pending = sTaskModel::query()->where('identifier', 'newsletter')->where('status', sTaskModel::STATUS_PENDING)->get();
            self::assertCount(1, $pending);
            $task = $pending[0];
            self::assertSame('make', $task->action);
            self::assertFalse($task->meta['manual']);
            self::assertSame('schedule:newsletter', $task->unique_key);
        }
    }

    public function testABadScheduleIsSkippedAndTheOthersStillQueue(): void
    {
        $this->setSchedule('newsletter', ['enabled' => true, 'type' => 'regular', 'frequency' => 'sometimes', 'start_time' => 'dawn', 'end_time' => 'dusk']);
        $this->setSchedule('prices', ['enabled' => true, 'type' => 'periodic', 'frequency' => 'daily', 'time' => '07:45']);
        self::assertSame(['prices' => '2030-01-05 07:45'], $this->pass('2030-01-04 10:00'));
    }

    /**
     * Once a slot's run finished, another pass in the same minute (another cron runner,
     * another server) queues the next slot, not the same one again; while a run waits, passes
     * add nothing.
     */
    public function testEachSlotRunsOnceHoweverManyPasses(): void
    {
        $this->setSchedule('newsletter', ['enabled' => true, 'type' => 'periodic', 'frequency' => 'minutely']);
        $now = '2026-01-05 10:00:30'; // in the past: the queued run is due at once
        self::assertSame(['newsletter' => '2026-01-05 10:00'], $this->pass($now));
        self::assertSame(['newsletter' => '2026-01-05 10:00'], $this->pass($now), 'still waiting: the same task');
        self::assertSame(1, sTaskModel::query()->where('identifier', 'newsletter')->count());
        $report = sTask::process(10, ['newsletter']);
        self::assertSame(1, $report['completed']);
        self::assertSame(['newsletter' => '2026-01-05 10:01'], $this->pass($now), 'the 10:00 run is done');
        self::assertSame(2, sTaskModel::query()->where('identifier', 'newsletter')->count());
        // The next minute's run, likewise.
        sTask::process(10, ['newsletter']);
        self::assertSame(['newsletter' => '2026-01-05 10:02'], $this->pass('2026-01-05 10:01:59'));

        $this->setSchedule('prices', ['enabled' => true, 'type' => 'once', 'datetime' => '2026-01-05 10:00:00']);
        self::assertSame('2026-01-05 10:00', $this->pass($now)['prices']);
        sTask::process(10, ['prices']);
        self::assertArrayNotHasKey('prices', $this->pass($now), 'a one-time schedule ran once');
    }

    public function testTheManagerStoresTheTwoXShapeAndReadsOlderOnes(): void
    {
        $save = function (array $schedule, string $json = '{}'): array {
            $response = $this->site->dispatch($this->site->request('stask/worker/newsletter/settings', 'POST', [
                '_token' => csrf_token(),
                'schedule' => $schedule,
                'settings_json' => $json,
            ]));
            self::assertSame(303, $response->getStatusCode());
            return sTask::getWorker('newsletter')->settings['schedule'];
        };
        $stored = $save(['enabled' => '1', 'type' => 'periodic', 'frequency' => 'hourly', 'time' => '08:15', 'interval' => 'hourly']);
        self::assertSame(['enabled' => true, 'type' => 'periodic', 'datetime' => '', 'frequency' => 'hourly', 'time' => '*:15', 'start_time' => '', 'end_time' => '', 'days' => [], 'day' => null], $stored);

        $stored = $save(['enabled' => '1', 'type' => 'periodic', 'frequency' => 'monthly', 'time' => '02:00', 'day' => '31', 'days' => ['friday']]);
        self::assertSame(31, $stored['day']);
        $page = (string) $this->get('stask/worker/newsletter')->getContent();
        self::assertStringContainsString('data-schedule-summary', $page);
        self::assertStringContainsString('Monthly on day 31 (the last day in shorter months) at 02:00 — next run', $page);
        self::assertMatchesRegularExpression('/<option value="monthly" selected>/', $page);
        self::assertStringContainsString('name="schedule[day]" value="31"', $page);

        $stored = $save(['enabled' => '1', 'type' => 'regular', 'frequency' => 'monthly', 'interval' => 'every_30min', 'start_time' => '08:00', 'end_time' => '18:00']);
        self::assertSame('every_30min', $stored['frequency']);
        self::assertArrayNotHasKey('interval', $stored);

        // A schedule saved by upstream 1.x shows as it runs: its interval selected.
        $this->setSchedule('newsletter', ['type' => 'regular', 'enabled' => '1', 'time' => '00:00', 'frequency' => 'daily', 'start_time' => '08:00', 'end_time' => '18:00', 'interval' => 'every_15min']);
        $page = (string) $this->get('stask/worker/newsletter')->getContent();
        self::assertMatchesRegularExpression('/<option value="every_15min" selected>/', $page);
        self::assertStringContainsString('Every 15 minutes from 08:00 to 18:00 — next run', $page);

        // One that cannot run says why.
        $this->setSchedule('newsletter', ['type' => 'periodic', 'enabled' => true, 'frequency' => 'daily', 'time' => '*:30']);
        self::assertStringContainsString('never runs: &quot;*:30&quot; is not a time of day (HH:MM)', (string) $this->get('stask/worker/newsletter')->getContent());
    }

    public function testSavingAChangedScheduleDropsTheRunQueuedUnderTheOldOne(): void
    {
        $this->setSchedule('newsletter', ['enabled' => true, 'type' => 'once', 'datetime' => '2099-01-01 10:00:00']);
        self::assertSame('2099-01-01 10:00', $this->pass('2098-12-31 10:00')['newsletter']);
        $post = fn (array $schedule) => $this->site->dispatch($this->site->request('stask/worker/newsletter/settings', 'POST', [
            '_token' => csrf_token(), 'schedule' => $schedule, 'settings_json' => '{"batch": 5}',
        ]));
        // Unchanged schedule, other settings changed: the queued run stays.
        $post(['enabled' => '1', 'type' => 'once', 'datetime' => '2099-01-01T10:00']);
        self::assertSame(1, sTaskModel::query()->where('identifier', 'newsletter')->where('status', sTaskModel::STATUS_PENDING)->count());
        // Switched off: the run queued for later is gone, and no pass queues another.
        $post(['type' => 'once', 'datetime' => '2099-01-01T10:00']);
        self::assertSame(0, sTaskModel::query()->where('identifier', 'newsletter')->count());
        self::assertArrayNotHasKey('newsletter', $this->pass('2098-12-31 10:00'));
        // Moved: the next pass queues the new time.
        $post(['enabled' => '1', 'type' => 'once', 'datetime' => '2099-02-01T10:00']);
        self::assertSame('2099-02-01 10:00', $this->pass('2098-12-31 10:00')['newsletter']);
    }
}
