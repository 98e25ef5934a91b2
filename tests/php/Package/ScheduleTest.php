<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Carbon\Carbon;
use PHPUnit\Framework\TestCase;
use Seiger\sTask\Support\Schedule;

/** Worker schedules: one rule for "next run" and "due now". Pure; no site needed. */
final class ScheduleTest extends TestCase
{
    private string $timezone;

    protected function setUp(): void
    {
        $this->timezone = date_default_timezone_get();
        date_default_timezone_set('Europe/Kyiv');
    }

    protected function tearDown(): void
    {
        date_default_timezone_set($this->timezone);
    }

    private static function moment(string $time): Carbon
    {
        return Carbon::parse($time, 'Europe/Kyiv');
    }

    private static function next(array $schedule, string $from): ?string
    {
        return Schedule::nextRun($schedule + ['enabled' => true], self::moment($from))?->format('Y-m-d H:i D');
    }

    public function testDisabledAndManualNeverRun(): void
    {
        self::assertNull(Schedule::nextRun(['type' => 'periodic', 'enabled' => false], self::moment('2026-11-27 10:00')));
        self::assertNull(self::next(['type' => 'manual'], '2026-11-27 10:00'));
        self::assertNull(self::next(['type' => 'bogus'], '2026-11-27 10:00'));
    }

    public function testOnceRunsAtItsTimeOnlyIfNotPast(): void
    {
        self::assertSame('2026-11-28 09:30 Sat', self::next(['type' => 'once', 'datetime' => '2026-11-28 09:30'], '2026-11-27 10:00'));
        self::assertSame('2026-11-27 10:00 Fri', self::next(['type' => 'once', 'datetime' => '2026-11-27 10:00:40'], '2026-11-27 10:00:20'));
        self::assertNull(self::next(['type' => 'once', 'datetime' => '2026-11-27 09:59'], '2026-11-27 10:00'));
    }

    public function testPeriodicHourlyDailyWeekly(): void
    {
        $hourly = ['type' => 'periodic', 'frequency' => 'hourly', 'time' => '*:15'];
        self::assertSame('2026-11-27 10:15 Fri', self::next($hourly, '2026-11-27 10:05'));
        self::assertSame('2026-11-27 11:15 Fri', self::next($hourly, '2026-11-27 10:16'));
        // The UI of upstream stored hourly times as HH:MM: the minute is what counts.
        self::assertSame('2026-11-27 11:15 Fri', self::next(['time' => '08:15'] + $hourly, '2026-11-27 10:16'));
        $daily = ['type' => 'periodic', 'frequency' => 'daily', 'time' => '03:30'];
        self::assertSame('2026-11-28 03:30 Sat', self::next($daily, '2026-11-27 10:00'));
        self::assertSame('2026-11-27 03:30 Fri', self::next($daily, '2026-11-27 03:30'));
        $weekly = ['type' => 'periodic', 'frequency' => 'weekly', 'time' => '08:00', 'days' => ['monday', 'Thursday']];
        self::assertSame('2026-11-30 08:00 Mon', self::next($weekly, '2026-11-27 10:00'));
        self::assertSame('2026-11-26 08:00 Thu', self::next($weekly, '2026-11-25 23:00'));
        self::assertNull(self::next(['days' => []] + $weekly, '2026-11-27 10:00'), 'weekly without days never runs');
        self::assertNull(self::next(['time' => '25:00'] + $daily, '2026-11-27 10:00'));
    }

    public function testRegularStepsFromTheStartOfItsWindow(): void
    {
        $every15 = ['type' => 'regular', 'interval' => 'every_15min', 'start_time' => '05:10', 'end_time' => '23:00'];
        self::assertSame('2026-11-27 05:10 Fri', self::next($every15, '2026-11-27 04:00'));
        self::assertSame('2026-11-27 05:25 Fri', self::next($every15, '2026-11-27 05:11'));
        self::assertSame('2026-11-28 05:10 Sat', self::next($every15, '2026-11-27 22:56'));
        $night = ['type' => 'regular', 'interval' => 'hourly', 'start_time' => '22:00', 'end_time' => '02:00'];
        self::assertSame('2026-11-28 01:00 Sat', self::next($night, '2026-11-28 00:30'), 'a window may cross midnight');
        self::assertSame('2026-11-27 22:00 Fri', self::next($night, '2026-11-27 12:00'));
    }

    public function testDueNowAgreesWithNextRun(): void
    {
        $every15 = ['type' => 'regular', 'enabled' => true, 'interval' => 'every_15min', 'start_time' => '05:10', 'end_time' => '23:00'];
        self::assertTrue(Schedule::isDue($every15, self::moment('2026-11-27 05:25:42')));
        self::assertFalse(Schedule::isDue($every15, self::moment('2026-11-27 05:30:00')), 'upstream said yes here (minute % 15)');
        self::assertTrue(Schedule::isDue(['type' => 'periodic', 'enabled' => true, 'frequency' => 'daily', 'time' => '03:30'], self::moment('2026-11-27 03:30:59')));
    }

    public function testNormalizeKeepsOnlyKnownDays(): void
    {
        $s = Schedule::normalize(['days' => 'Monday, funday,sunday', 'enabled' => '1']);
        self::assertSame(['monday', 'sunday'], $s['days']);
        self::assertTrue($s['enabled']);
        self::assertSame('manual', Schedule::normalize(null)['type']);
    }
}
