<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Carbon\Carbon;
use PHPUnit\Framework\TestCase;
use Seiger\sTask\Support\Schedule;
use PHPUnit\Framework\Attributes\DataProvider;

/**
 * Worker schedules: one rule for "next run" and "due now", in the app's timezone. Pure (no
 * site): every case has a fixed "now", and the app's timezone is Europe/Kyiv (EET/EEST; DST
 * starts 2026-03-29 03:00 → 04:00 and ends 2026-10-25 04:00 → 03:00) unless a case says
 * otherwise. Expected times are printed with their zone abbreviation.
 */
final class ScheduleTest extends TestCase
{
    private const TZ = 'Europe/Kyiv';

    private string $timezone;

    protected function setUp(): void
    {
        $this->timezone = date_default_timezone_get();
        date_default_timezone_set(self::TZ);
    }

    protected function tearDown(): void
    {
        date_default_timezone_set($this->timezone);
    }

    /** "2026-11-27 10:00" in the app's timezone, or "…Z" / "…+03:00" for an exact instant. */
    private static function moment(string $time): Carbon
    {
        return Carbon::parse($time, self::TZ);
    }

    private static function next(array $schedule, string $from): ?string
    {
        return Schedule::nextRun($schedule + ['enabled' => true], self::moment($from))?->format('Y-m-d H:i T');
    }

    // --- next run, by type ------------------------------------------------------------------

    /** @return iterable<string, array{array, string, ?string}> */
    public static function onceCases(): iterable
    {
        yield 'in the future' => [['type' => 'once', 'datetime' => '2026-11-28 09:30:00'], '2026-11-27 10:00', '2026-11-28 09:30 EET'];
        yield 'this minute, later seconds' => [['type' => 'once', 'datetime' => '2026-11-27 10:00:40'], '2026-11-27 10:00:20', '2026-11-27 10:00 EET'];
        yield 'this minute, earlier seconds (still on time)' => [['type' => 'once', 'datetime' => '2026-11-27 10:00:10'], '2026-11-27 10:00:50', '2026-11-27 10:00 EET'];
        yield 'past: never again' => [['type' => 'once', 'datetime' => '2026-11-27 09:59'], '2026-11-27 10:00', null];
        yield 'long past' => [['type' => 'once', 'datetime' => '2020-01-01 00:00'], '2026-11-27 10:00', null];
        yield 'datetime-local form value' => [['type' => 'once', 'datetime' => '2026-11-28T09:30'], '2026-11-27 10:00', '2026-11-28 09:30 EET'];
        yield 'day.month.year' => [['type' => 'once', 'datetime' => '28.11.2026 09:30'], '2026-11-27 10:00', '2026-11-28 09:30 EET'];
        yield 'with its own offset' => [['type' => 'once', 'datetime' => '2026-11-28T07:30:00+00:00'], '2026-11-27 10:00', '2026-11-28 09:30 EET'];
        yield 'a Unix time' => [['type' => 'once', 'datetime' => '1795851000'], '2026-11-27 10:00', '2026-11-28 09:30 EET'];
        yield 'empty' => [['type' => 'once', 'datetime' => ''], '2026-11-27 10:00', null];
        yield 'missing' => [['type' => 'once'], '2026-11-27 10:00', null];
        yield 'relative text is no date' => [['type' => 'once', 'datetime' => 'tomorrow'], '2026-11-27 10:00', null];
        yield 'garbage' => [['type' => 'once', 'datetime' => 'soon-ish'], '2026-11-27 10:00', null];
        yield 'impossible date' => [['type' => 'once', 'datetime' => '2026-02-31 10:00'], '2026-01-27 10:00', null];
    }

    /** @dataProvider onceCases */
    #[DataProvider('onceCases')]
    public function testOnce(array $schedule, string $from, ?string $expected): void
    {
        self::assertSame($expected, self::next($schedule, $from));
    }

    /** @return iterable<string, array{array, string, ?string}> */
    public static function periodicCases(): iterable
    {
        $p = ['type' => 'periodic'];
        yield 'minutely: this minute' => [$p + ['frequency' => 'minutely'], '2026-11-27 10:00:30', '2026-11-27 10:00 EET'];
        yield 'minutely ignores time' => [$p + ['frequency' => 'minutely', 'time' => '03:30'], '2026-11-27 10:07', '2026-11-27 10:07 EET'];
        yield 'every_5min: next multiple' => [$p + ['frequency' => 'every_5min'], '2026-11-27 10:01', '2026-11-27 10:05 EET'];
        yield 'every_5min: on a multiple' => [$p + ['frequency' => 'every_5min'], '2026-11-27 10:05:59', '2026-11-27 10:05 EET'];
        yield 'every_5min: over the hour' => [$p + ['frequency' => 'every_5min'], '2026-11-27 10:56', '2026-11-27 11:00 EET'];
        yield 'every_5min: over midnight' => [$p + ['frequency' => 'every_5min'], '2026-11-27 23:58', '2026-11-28 00:00 EET'];
        yield 'every_15min' => [$p + ['frequency' => 'every_15min'], '2026-11-27 10:16', '2026-11-27 10:30 EET'];
        yield 'every_15min: to the hour' => [$p + ['frequency' => 'every_15min'], '2026-11-27 10:46', '2026-11-27 11:00 EET'];
        yield 'every_30min' => [$p + ['frequency' => 'every_30min'], '2026-11-27 10:31', '2026-11-27 11:00 EET'];
        yield 'hourly *:MM, later this hour' => [$p + ['frequency' => 'hourly', 'time' => '*:15'], '2026-11-27 10:05', '2026-11-27 10:15 EET'];
        yield 'hourly *:MM, next hour' => [$p + ['frequency' => 'hourly', 'time' => '*:15'], '2026-11-27 10:16', '2026-11-27 11:15 EET'];
        yield 'hourly *:MM, over midnight' => [$p + ['frequency' => 'hourly', 'time' => '*:15'], '2026-11-27 23:30', '2026-11-28 00:15 EET'];
        yield 'hourly *:00' => [$p + ['frequency' => 'hourly', 'time' => '*:00'], '2026-11-27 10:01', '2026-11-27 11:00 EET'];
        yield 'hourly HH:MM counts by its minutes (upstream never ran it)' => [$p + ['frequency' => 'hourly', 'time' => '08:15'], '2026-11-27 10:16', '2026-11-27 11:15 EET'];
        yield 'hourly MM' => [$p + ['frequency' => 'hourly', 'time' => '45'], '2026-11-27 10:16', '2026-11-27 10:45 EET'];
        yield 'hourly minute 60' => [$p + ['frequency' => 'hourly', 'time' => '*:60'], '2026-11-27 10:16', null];
        yield 'hourly without time' => [$p + ['frequency' => 'hourly'], '2026-11-27 10:16', null];
        yield 'daily: tomorrow' => [$p + ['frequency' => 'daily', 'time' => '03:30'], '2026-11-27 10:00', '2026-11-28 03:30 EET'];
        yield 'daily: this minute' => [$p + ['frequency' => 'daily', 'time' => '03:30'], '2026-11-27 03:30:59', '2026-11-27 03:30 EET'];
        yield 'daily: a minute before' => [$p + ['frequency' => 'daily', 'time' => '03:30'], '2026-11-27 03:29:59', '2026-11-27 03:30 EET'];
        yield 'daily: H:MM' => [$p + ['frequency' => 'daily', 'time' => '3:05'], '2026-11-27 10:00', '2026-11-28 03:05 EET'];
        yield 'daily: end of year' => [$p + ['frequency' => 'daily', 'time' => '00:10'], '2026-12-31 23:00', '2027-01-01 00:10 EET'];
        yield 'daily needs an hour' => [$p + ['frequency' => 'daily', 'time' => '*:30'], '2026-11-27 10:00', null];
        yield 'daily 25:00' => [$p + ['frequency' => 'daily', 'time' => '25:00'], '2026-11-27 10:00', null];
        yield 'daily without time' => [$p + ['frequency' => 'daily', 'time' => ''], '2026-11-27 10:00', null];
        yield 'no frequency' => [$p + ['time' => '03:30'], '2026-11-27 10:00', null];
        yield 'unknown frequency' => [$p + ['frequency' => 'fortnightly', 'time' => '03:30'], '2026-11-27 10:00', null];
        // 2026-11-27 is a Friday.
        $weekly = $p + ['frequency' => 'weekly', 'time' => '08:00'];
        yield 'weekly: next listed day' => [$weekly + ['days' => ['monday', 'thursday']], '2026-11-27 10:00', '2026-11-30 08:00 EET'];
        yield 'weekly: tomorrow' => [$weekly + ['days' => ['monday', 'thursday']], '2026-11-25 23:00', '2026-11-26 08:00 EET'];
        yield 'weekly: today, on time' => [$weekly + ['days' => ['friday']], '2026-11-27 08:00', '2026-11-27 08:00 EET'];
        yield 'weekly: today, too late → next week' => [$weekly + ['days' => ['friday']], '2026-11-27 08:01', '2026-12-04 08:00 EET'];
        yield 'weekly: capitalised names' => [$weekly + ['days' => ['Sunday']], '2026-11-27 10:00', '2026-11-29 08:00 EET'];
        yield 'weekly: short names' => [$weekly + ['days' => ['Tue', 'sat']], '2026-11-27 10:00', '2026-11-28 08:00 EET'];
        yield 'weekly: numbers, 0 = Sunday' => [$weekly + ['days' => [0]], '2026-11-27 10:00', '2026-11-29 08:00 EET'];
        yield 'weekly: numbers as text, 2 = Tuesday' => [$weekly + ['days' => ['2']], '2026-11-27 10:00', '2026-12-01 08:00 EET'];
        yield 'weekly: 7 = Sunday too' => [$weekly + ['days' => [7]], '2026-11-27 10:00', '2026-11-29 08:00 EET'];
        yield 'weekly: comma-separated text' => [$weekly + ['days' => 'wed, thu'], '2026-11-27 10:00', '2026-12-02 08:00 EET'];
        yield 'weekly: checkbox map' => [$weekly + ['days' => ['monday' => '0', 'saturday' => 'on']], '2026-11-27 10:00', '2026-11-28 08:00 EET'];
        yield 'weekly without days (2.2 UI): Mondays' => [$weekly, '2026-11-27 10:00', '2026-11-30 08:00 EET'];
        yield 'weekly without days, on a Monday' => [$weekly + ['days' => []], '2026-11-30 07:59', '2026-11-30 08:00 EET'];
        yield 'weekly with only unknown days: Mondays' => [$weekly + ['days' => ['funday']], '2026-11-27 10:00', '2026-11-30 08:00 EET'];
        // Monthly, with `day` clamped to the month's last day.
        $monthly = $p + ['frequency' => 'monthly', 'time' => '02:00'];
        yield 'monthly: no day → the 1st' => [$monthly, '2026-11-27 10:00', '2026-12-01 02:00 EET'];
        yield 'monthly: the 15th, this month' => [$monthly + ['day' => 15], '2026-11-15 01:59', '2026-11-15 02:00 EET'];
        yield 'monthly: the 15th, next month' => [$monthly + ['day' => 15], '2026-11-15 02:01', '2026-12-15 02:00 EET'];
        yield 'monthly: over the year' => [$monthly + ['day' => '15'], '2026-12-31 23:00', '2027-01-15 02:00 EET'];
        yield 'monthly: 31st in February' => [$monthly + ['day' => 31], '2027-02-01 10:00', '2027-02-28 02:00 EET'];
        yield 'monthly: 31st in a leap February' => [$monthly + ['day' => 31], '2028-02-01 10:00', '2028-02-29 02:00 EET'];
        yield 'monthly: 30th in February' => [$monthly + ['day' => 30], '2027-02-28 01:00', '2027-02-28 02:00 EET'];
        yield 'monthly: after the clamped day, the 31st next' => [$monthly + ['day' => 31], '2027-02-28 03:00', '2027-03-31 02:00 EEST'];
        yield 'monthly: 31st in April → 30th' => [$monthly + ['day' => 31], '2026-04-02 10:00', '2026-04-30 02:00 EEST'];
        yield 'monthly: day 0' => [$monthly + ['day' => 0], '2026-11-27 10:00', null];
        yield 'monthly: day 32' => [$monthly + ['day' => 32], '2026-11-27 10:00', null];
        yield 'monthly: day "last"' => [$monthly + ['day' => 'last'], '2026-11-27 10:00', null];
        yield 'monthly without time' => [$p + ['frequency' => 'monthly', 'day' => 3], '2026-11-27 10:00', null];
        // Spellings other versions and hands wrote.
        yield 'frequency in capitals' => [$p + ['frequency' => 'Every_15min'], '2026-11-27 10:16', '2026-11-27 10:30 EET'];
        yield 'frequency "15min"' => [$p + ['frequency' => '15min'], '2026-11-27 10:16', '2026-11-27 10:30 EET'];
        yield 'frequency "5"' => [$p + ['frequency' => 5], '2026-11-27 10:16', '2026-11-27 10:20 EET'];
    }

    /** @dataProvider periodicCases */
    #[DataProvider('periodicCases')]
    public function testPeriodic(array $schedule, string $from, ?string $expected): void
    {
        self::assertSame($expected, self::next($schedule, $from));
    }

    /** @return iterable<string, array{array, string, ?string}> */
    public static function regularCases(): iterable
    {
        $r = ['type' => 'regular'];
        $every15 = $r + ['frequency' => 'every_15min', 'start_time' => '05:10', 'end_time' => '23:00'];
        yield 'before the window' => [$every15, '2026-11-27 04:00', '2026-11-27 05:10 EET'];
        yield 'steps from start_time' => [$every15, '2026-11-27 05:11', '2026-11-27 05:25 EET'];
        yield 'on a step' => [$every15, '2026-11-27 05:25:30', '2026-11-27 05:25 EET'];
        yield 'past the last step → tomorrow (upstream did not roll over)' => [$every15, '2026-11-27 22:56', '2026-11-28 05:10 EET'];
        yield 'after the window → tomorrow' => [$every15, '2026-11-27 23:30', '2026-11-28 05:10 EET'];
        $hours = $r + ['frequency' => 'hourly', 'start_time' => '08:00', 'end_time' => '18:00'];
        yield 'end_time is inclusive' => [$hours, '2026-11-27 17:30', '2026-11-27 18:00 EET'];
        yield 'after end_time' => [$hours, '2026-11-27 18:01', '2026-11-28 08:00 EET'];
        yield 'every_5min' => [$r + ['frequency' => 'every_5min', 'start_time' => '00:00', 'end_time' => '23:59'], '2026-11-27 10:01', '2026-11-27 10:05 EET'];
        yield 'every_30min' => [$r + ['frequency' => 'every_30min', 'start_time' => '09:10', 'end_time' => '12:00'], '2026-11-27 09:41', '2026-11-27 10:10 EET'];
        yield 'a one-minute window' => [$r + ['frequency' => 'hourly', 'start_time' => '07:00', 'end_time' => '07:00'], '2026-11-27 07:01', '2026-11-28 07:00 EET'];
        $night = $r + ['frequency' => 'hourly', 'start_time' => '22:00', 'end_time' => '02:00'];
        yield 'across midnight: after midnight' => [$night, '2026-11-28 00:30', '2026-11-28 01:00 EET'];
        yield 'across midnight: by day' => [$night, '2026-11-27 12:00', '2026-11-27 22:00 EET'];
        yield 'across midnight: its end' => [$night, '2026-11-28 01:59', '2026-11-28 02:00 EET'];
        yield 'across midnight: after its end' => [$night, '2026-11-28 02:01', '2026-11-28 22:00 EET'];
        // Schedules stored by upstream 1.x: `interval`, and the periodic select's `frequency`.
        $v1 = $r + ['start_time' => '08:00', 'end_time' => '18:00'];
        yield '1.x interval every_30min' => [$v1 + ['interval' => 'every_30min'], '2026-11-27 08:01', '2026-11-27 08:30 EET'];
        yield '1.x interval wins over the periodic frequency' => [$v1 + ['interval' => 'every_15min', 'frequency' => 'hourly'], '2026-11-27 08:01', '2026-11-27 08:15 EET'];
        yield '1.x interval with frequency daily' => [$v1 + ['interval' => 'every_5min', 'frequency' => 'daily'], '2026-11-27 08:01', '2026-11-27 08:05 EET'];
        yield 'interval "5min"' => [$v1 + ['interval' => '5min'], '2026-11-27 08:01', '2026-11-27 08:05 EET'];
        yield 'interval "15min"' => [$v1 + ['interval' => '15min'], '2026-11-27 08:01', '2026-11-27 08:15 EET'];
        yield 'interval "30min"' => [$v1 + ['interval' => '30min'], '2026-11-27 08:01', '2026-11-27 08:30 EET'];
        yield 'interval "60min"' => [$v1 + ['interval' => '60min'], '2026-11-27 08:01', '2026-11-27 09:00 EET'];
        yield 'interval "hourly"' => [$v1 + ['interval' => 'hourly'], '2026-11-27 08:01', '2026-11-27 09:00 EET'];
        yield 'interval "every_5_minutes"' => [$v1 + ['interval' => 'every_5_minutes'], '2026-11-27 08:01', '2026-11-27 08:05 EET'];
        yield 'interval "interval_15min" (a lang key)' => [$v1 + ['interval' => 'interval_15min'], '2026-11-27 08:01', '2026-11-27 08:15 EET'];
        yield 'interval 30 (a number)' => [$v1 + ['interval' => 30], '2026-11-27 08:01', '2026-11-27 08:30 EET'];
        yield 'unknown interval, usable frequency' => [$v1 + ['interval' => 'sometimes', 'frequency' => 'every_30min'], '2026-11-27 08:01', '2026-11-27 08:30 EET'];
        // Stored by upstream 2.2's manager: `frequency` only.
        yield '2.2 frequency every_15min' => [$v1 + ['frequency' => 'every_15min'], '2026-11-27 08:01', '2026-11-27 08:15 EET'];
        yield 'frequency daily is no step' => [$v1 + ['frequency' => 'daily'], '2026-11-27 08:01', null];
        yield 'no frequency, no interval' => [$v1, '2026-11-27 08:01', null];
        yield 'no start_time' => [$r + ['frequency' => 'hourly', 'end_time' => '18:00'], '2026-11-27 08:01', null];
        yield 'empty end_time (2.2 stores "")' => [$r + ['frequency' => 'hourly', 'start_time' => '08:00', 'end_time' => ''], '2026-11-27 08:01', null];
        yield 'bad start_time' => [$r + ['frequency' => 'hourly', 'start_time' => '8 am', 'end_time' => '18:00'], '2026-11-27 08:01', null];
    }

    /** @dataProvider regularCases */
    #[DataProvider('regularCases')]
    public function testRegular(array $schedule, string $from, ?string $expected): void
    {
        self::assertSame($expected, self::next($schedule, $from));
    }

    /**
     * DST in Kyiv: 2026-03-29 03:00 EET → 04:00 EEST (03:xx does not exist); 2026-10-25
     * 04:00 EEST → 03:00 EET (03:xx happens twice: 00:xx UTC, then 01:xx UTC).
     *
     * @return iterable<string, array{array, string, ?string}>
     */
    public static function dstCases(): iterable
    {
        $daily = ['type' => 'periodic', 'frequency' => 'daily', 'time' => '03:30'];
        yield 'spring: a skipped time runs shifted by the gap' => [$daily, '2026-03-29 01:00', '2026-03-29 04:30 EEST'];
        yield 'spring: next day as usual' => [$daily, '2026-03-29 04:31', '2026-03-30 03:30 EEST'];
        yield 'spring: the day before' => [$daily, '2026-03-28 03:31', '2026-03-29 04:30 EEST'];
        yield 'spring: 02:59 exists' => [['time' => '02:59'] + $daily, '2026-03-29 01:00', '2026-03-29 02:59 EET'];
        yield 'spring: 04:00 exists' => [['time' => '04:00'] + $daily, '2026-03-29 01:00', '2026-03-29 04:00 EEST'];
        yield 'autumn: a doubled time runs at its first occurrence' => [$daily, '2026-10-25 01:00', '2026-10-25 03:30 EEST'];
        yield 'autumn: not again at its second occurrence' => [$daily, '2026-10-25T00:31:00Z', '2026-10-26 03:30 EET'];
        yield 'autumn: between the two 03:30s' => [$daily, '2026-10-25T01:10:00Z', '2026-10-26 03:30 EET'];
        $hourly = ['type' => 'periodic', 'frequency' => 'hourly', 'time' => '*:15'];
        yield 'autumn: hourly runs in both 03:00 hours' => [$hourly, '2026-10-25T00:20:00Z', '2026-10-25 03:15 EET'];
        yield 'autumn: hourly in the first 03:00 hour' => [$hourly, '2026-10-25T00:10:00Z', '2026-10-25 03:15 EEST'];
        yield 'spring: hourly skips the missing hour' => [$hourly, '2026-03-29 02:20', '2026-03-29 04:15 EEST'];
        $every30 = ['type' => 'periodic', 'frequency' => 'every_30min'];
        yield 'spring: every_30min over the gap' => [$every30, '2026-03-29 02:45', '2026-03-29 04:00 EEST'];
        yield 'autumn: every_30min into the repeated hour' => [$every30, '2026-10-25T00:45:00Z', '2026-10-25 03:00 EET'];
        $weekly = ['type' => 'periodic', 'frequency' => 'weekly', 'time' => '03:30', 'days' => ['sunday']];
        yield 'spring: weekly on the Sunday of the change' => [$weekly, '2026-03-28 12:00', '2026-03-29 04:30 EEST'];
        yield 'autumn: weekly on the Sunday of the change' => [$weekly, '2026-10-24 12:00', '2026-10-25 03:30 EEST'];
        $monthly = ['type' => 'periodic', 'frequency' => 'monthly', 'time' => '03:30', 'day' => 29];
        yield 'spring: monthly on the day of the change' => [$monthly, '2026-03-02 12:00', '2026-03-29 04:30 EEST'];
        $regular = ['type' => 'regular', 'frequency' => 'hourly', 'start_time' => '00:00', 'end_time' => '23:59'];
        yield 'autumn: regular hourly counts real hours' => [$regular, '2026-10-25T00:30:00Z', '2026-10-25 03:00 EET'];
        yield 'autumn: regular, the hour after' => [$regular, '2026-10-25T01:30:00Z', '2026-10-25 04:00 EET'];
        yield 'spring: regular hourly over the gap' => [$regular, '2026-03-29 02:30', '2026-03-29 04:00 EEST'];
        $window = ['type' => 'regular', 'frequency' => 'every_30min', 'start_time' => '03:30', 'end_time' => '05:00'];
        yield 'spring: a window starting in the gap' => [$window, '2026-03-29 01:00', '2026-03-29 04:30 EEST'];
        $once = ['type' => 'once', 'datetime' => '2026-03-29 03:30'];
        yield 'spring: once in the gap' => [$once, '2026-03-29 01:00', '2026-03-29 04:30 EEST'];
    }

    /** @dataProvider dstCases */
    #[DataProvider('dstCases')]
    public function testAcrossDaylightSavingChanges(array $schedule, string $from, ?string $expected): void
    {
        self::assertSame($expected, self::next($schedule, $from));
    }

    public function testTimesAreTheAppTimezonesWhateverTheZoneOfNow(): void
    {
        $daily = ['type' => 'periodic', 'enabled' => true, 'frequency' => 'daily', 'time' => '10:30'];
        $next = Schedule::nextRun($daily, Carbon::parse('2026-11-27 08:00', 'UTC')); // 10:00 in Kyiv
        self::assertSame('2026-11-27 10:30 EET', $next?->format('Y-m-d H:i T'));
        self::assertSame(self::TZ, $next?->getTimezone()->getName());
        self::assertTrue(Schedule::isDue($daily, new \DateTimeImmutable('2026-11-27 08:30:12', new \DateTimeZone('UTC'))));
    }

    public function testMinutesOfTheHourAreLocalInHalfHourZones(): void
    {
        date_default_timezone_set('Asia/Kathmandu'); // +05:45
        $from = Carbon::parse('2026-11-27 10:07', 'Asia/Kathmandu');
        $every30 = ['type' => 'periodic', 'enabled' => true, 'frequency' => 'every_30min'];
        self::assertSame('2026-11-27 10:30', Schedule::nextRun($every30, $from)?->format('Y-m-d H:i'));
        $hourly = ['type' => 'periodic', 'enabled' => true, 'frequency' => 'hourly', 'time' => '*:00'];
        self::assertSame('2026-11-27 11:00', Schedule::nextRun($hourly, $from)?->format('Y-m-d H:i'));
        self::assertSame('05:15', Schedule::nextRun($hourly, $from)?->utc()->format('H:i'));
    }

    // --- due now -----------------------------------------------------------------------------

    /** @return iterable<string, array{array, string, bool}> */
    public static function dueCases(): iterable
    {
        $every15 = ['type' => 'regular', 'frequency' => 'every_15min', 'start_time' => '05:10', 'end_time' => '23:00'];
        yield 'regular on a step' => [$every15, '2026-11-27 05:25:42', true];
        yield 'regular off its steps (upstream said yes: minute % 15)' => [$every15, '2026-11-27 05:30:00', false];
        yield 'regular before its window' => [$every15, '2026-11-27 05:00', false];
        yield 'daily, any second of its minute' => [['type' => 'periodic', 'frequency' => 'daily', 'time' => '03:30'], '2026-11-27 03:30:59', true];
        yield 'daily, the next minute' => [['type' => 'periodic', 'frequency' => 'daily', 'time' => '03:30'], '2026-11-27 03:31:00', false];
        yield 'every_5min on a multiple' => [['type' => 'periodic', 'frequency' => 'every_5min'], '2026-11-27 10:35:01', true];
        yield 'every_5min off it' => [['type' => 'periodic', 'frequency' => 'every_5min'], '2026-11-27 10:36', false];
        yield 'minutely' => [['type' => 'periodic', 'frequency' => 'minutely'], '2026-11-27 10:36:44', true];
        yield 'hourly HH:MM by its minutes' => [['type' => 'periodic', 'frequency' => 'hourly', 'time' => '08:15'], '2026-11-27 10:15', true];
        yield 'weekly without days on a Monday' => [['type' => 'periodic', 'frequency' => 'weekly', 'time' => '08:00'], '2026-11-30 08:00', true];
        yield 'weekly without days on a Tuesday' => [['type' => 'periodic', 'frequency' => 'weekly', 'time' => '08:00'], '2026-12-01 08:00', false];
        yield 'monthly on the clamped last day' => [['type' => 'periodic', 'frequency' => 'monthly', 'time' => '02:00', 'day' => 31], '2027-02-28 02:00', true];
        yield 'once in its minute (upstream: within 30 s)' => [['type' => 'once', 'datetime' => '2026-11-27 10:00:00'], '2026-11-27 10:00:45', true];
        yield 'once after it' => [['type' => 'once', 'datetime' => '2026-11-27 10:00:00'], '2026-11-27 10:01:00', false];
        yield 'disabled' => [['enabled' => false, 'type' => 'periodic', 'frequency' => 'minutely'], '2026-11-27 10:36', false];
        yield 'enabled "0"' => [['enabled' => '0', 'type' => 'periodic', 'frequency' => 'minutely'], '2026-11-27 10:36', false];
        yield 'manual' => [['type' => 'manual'], '2026-11-27 10:36', false];
        yield 'supervisor is not a run' => [['type' => 'supervisor'], '2026-11-27 10:36', false];
    }

    /** @dataProvider dueCases */
    #[DataProvider('dueCases')]
    public function testIsDue(array $schedule, string $now, bool $due): void
    {
        self::assertSame($due, Schedule::isDue($schedule + ['enabled' => true], self::moment($now)));
    }

    public function testNothingRunsWhenDisabledManualSupervisedOrUnknown(): void
    {
        $now = self::moment('2026-11-27 10:00');
        self::assertNull(Schedule::nextRun(['type' => 'periodic', 'frequency' => 'minutely', 'enabled' => false], $now));
        self::assertNull(Schedule::nextRun(['type' => 'periodic', 'frequency' => 'minutely'], $now), 'enabled defaults to false');
        foreach (['manual', 'supervisor', 'bogus', ''] as $type) {
            self::assertNull(self::next(['type' => $type, 'frequency' => 'minutely'], '2026-11-27 10:00'), $type);
        }
    }

    // --- stored shapes -----------------------------------------------------------------------

    /**
     * Schedules as each version stored them, and how they read.
     *
     * @return iterable<string, array{mixed, array<string, mixed>}>
     */
    public static function storedCases(): iterable
    {
        $blank2x = ['enabled' => false, 'type' => 'manual', 'datetime' => '', 'frequency' => 'hourly', 'time' => '', 'start_time' => '', 'end_time' => ''];
        yield '2.2 manual' => [$blank2x, ['enabled' => false, 'type' => 'manual', 'frequency' => 'hourly', 'days' => [], 'day' => null]];
        yield '2.2 once' => [['enabled' => true, 'type' => 'once', 'datetime' => '2026-07-20 03:30:00'] + $blank2x, ['enabled' => true, 'type' => 'once', 'datetime' => '2026-07-20 03:30:00']];
        yield '2.2 periodic daily' => [['enabled' => true, 'type' => 'periodic', 'frequency' => 'daily', 'time' => '02:15'] + $blank2x, ['frequency' => 'daily', 'time' => '02:15']];
        yield '2.2 periodic hourly' => [['enabled' => true, 'type' => 'periodic', 'frequency' => 'hourly', 'time' => '*:10'] + $blank2x, ['frequency' => 'hourly', 'time' => '*:10']];
        yield '2.2 regular' => [['enabled' => true, 'type' => 'regular', 'frequency' => 'every_15min', 'start_time' => '08:00', 'end_time' => '18:00'] + $blank2x, ['frequency' => 'every_15min', 'start_time' => '08:00', 'end_time' => '18:00']];
        yield '2.2 supervisor' => [['enabled' => true, 'type' => 'supervisor'] + $blank2x, ['enabled' => true, 'type' => 'supervisor']];
        yield '1.x regular' => [
            ['type' => 'regular', 'enabled' => '1', 'datetime' => '', 'time' => '08:00', 'frequency' => 'hourly', 'start_time' => '08:00', 'end_time' => '18:00', 'interval' => 'every_30min'],
            ['enabled' => true, 'frequency' => 'every_30min', 'interval' => 'every_30min'],
        ];
        yield '1.x weekly with days' => [
            ['type' => 'periodic', 'enabled' => 'on', 'time' => '08:15', 'frequency' => 'weekly', 'days' => ['Monday', 'friday'], 'interval' => 'hourly'],
            ['enabled' => true, 'frequency' => 'weekly', 'days' => ['monday', 'friday']],
        ];
        yield 'JSON text' => ['{"type":"periodic","enabled":true,"frequency":"daily","time":"03:30"}', ['type' => 'periodic', 'enabled' => true, 'frequency' => 'daily']];
        yield 'null' => [null, ['type' => 'manual', 'enabled' => false, 'days' => [], 'day' => null]];
        yield 'a number' => [42, ['type' => 'manual', 'enabled' => false]];
        yield 'junk values' => [
            ['enabled' => ['x'], 'type' => ['periodic'], 'time' => new \stdClass(), 'days' => 12, 'day' => ['x'], 'frequency' => null],
            ['enabled' => false, 'type' => 'manual', 'time' => '', 'days' => [], 'day' => null, 'frequency' => ''],
        ];
        yield 'other keys kept' => [['type' => 'periodic', 'supervisor' => ['key' => 'listener']], ['supervisor' => ['key' => 'listener']]];
        yield 'type in capitals' => [['type' => ' Periodic '], ['type' => 'periodic']];
        yield 'days in week order, each once' => [['days' => ['sun', 'Monday', 'monday', 1, 'x']], ['days' => ['monday', 'sunday']]];
    }

    /** @dataProvider storedCases */
    #[DataProvider('storedCases')]
    public function testNormalizeReadsEveryStoredShape(mixed $stored, array $expected): void
    {
        $normalized = Schedule::normalize($stored);
        foreach ($expected as $key => $value) {
            self::assertSame($value, $normalized[$key], "key $key");
        }
        foreach (array_keys(Schedule::DEFAULTS) as $key) {
            self::assertArrayHasKey($key, $normalized);
        }
        self::assertSame($normalized, Schedule::normalize($normalized), 'normalizing twice changes nothing');
        Schedule::nextRun(['enabled' => true] + $normalized, self::moment('2026-11-27 10:00'));
        self::assertIsString(Schedule::describe($normalized, self::moment('2026-11-27 10:00')));
    }

    public function testEnabledReadsTheUsualSpellings(): void
    {
        foreach ([true, 1, '1', 'true', 'on', 'yes', 'TRUE'] as $on) {
            self::assertTrue(Schedule::normalize(['enabled' => $on])['enabled'], var_export($on, true));
        }
        foreach ([false, 0, '0', 'false', 'off', '', null, 'no', []] as $off) {
            self::assertFalse(Schedule::normalize(['enabled' => $off])['enabled'], var_export($off, true));
        }
    }

    /** Whatever is stored, nothing throws: odd values in every key of every type. */
    public function testNothingThrowsOnAnyValue(): void
    {
        $values = [null, '', ' ', 'x', '*:*', '99:99', '-1', -1, 0, 1.5, 1e20, PHP_INT_MAX, true, [], ['a' => []], new \stdClass(), '2026-13-45', '31.02.2026 25:61', '@', '*:', ':', '24:00'];
        $now = self::moment('2026-11-27 10:00');
        $count = 0;
        foreach (Schedule::TYPES + [9 => 'nonsense'] as $type) {
            foreach (array_merge(Schedule::FREQUENCIES, ['', 'x']) as $frequency) {
                foreach (['datetime', 'time', 'start_time', 'end_time', 'day', 'days', 'interval', 'frequency'] as $key) {
                    foreach ($values as $value) {
                        $s = ['enabled' => true, 'type' => $type, 'frequency' => $frequency, 'time' => '03:30', 'start_time' => '08:00', 'end_time' => '18:00', $key => $value];
                        $next = Schedule::nextRun($s, $now);
                        self::assertTrue($next === null || $next->greaterThanOrEqualTo($now->copy()->second(0)));
                        Schedule::isDue($s, $now);
                        self::assertIsString(Schedule::describe($s, $now));
                        $problem = Schedule::problem($s);
                        if ($next === null && $problem === null && !in_array($type, ['manual', 'supervisor', 'once'], true)) {
                            self::fail('no run and no reason for ' . json_encode($s));
                        }
                        $count++;
                    }
                }
            }
        }
        self::assertGreaterThan(5000, $count);
    }

    // --- what the manager shows ----------------------------------------------------------------

    /** @return iterable<string, array{array, string}> */
    public static function describeCases(): iterable
    {
        yield 'manual' => [['type' => 'manual'], 'Manual: runs when started'];
        yield 'off' => [['type' => 'periodic', 'enabled' => false, 'frequency' => 'daily', 'time' => '03:30'], 'Daily at 03:30 — off'];
        yield 'daily' => [['type' => 'periodic', 'frequency' => 'daily', 'time' => '03:30'], 'Daily at 03:30 — next run 2026-11-28 03:30'];
        yield 'hourly' => [['type' => 'periodic', 'frequency' => 'hourly', 'time' => '*:15'], 'Hourly at :15 — next run 2026-11-27 10:15'];
        yield 'every 5' => [['type' => 'periodic', 'frequency' => 'every_5min'], 'Every 5 minutes — next run 2026-11-27 10:05'];
        yield 'weekly' => [['type' => 'periodic', 'frequency' => 'weekly', 'time' => '08:15', 'days' => ['friday', 'monday']], 'Weekly on Monday, Friday at 08:15 — next run 2026-11-30 08:15'];
        yield 'weekly without days' => [['type' => 'periodic', 'frequency' => 'weekly', 'time' => '08:15'], 'Weekly on Monday (no days chosen) at 08:15 — next run 2026-11-30 08:15'];
        yield 'monthly' => [['type' => 'periodic', 'frequency' => 'monthly', 'time' => '02:00', 'day' => 31], 'Monthly on day 31 (the last day in shorter months) at 02:00 — next run 2026-11-30 02:00'];
        yield 'regular' => [['type' => 'regular', 'frequency' => 'every_15min', 'start_time' => '08:00', 'end_time' => '18:00'], 'Every 15 minutes from 08:00 to 18:00 — next run 2026-11-27 10:15'];
        yield 'once ahead' => [['type' => 'once', 'datetime' => '2026-12-01 09:00:00'], 'Once at 2026-12-01 09:00:00 — next run 2026-12-01 09:00'];
        yield 'once past' => [['type' => 'once', 'datetime' => '2026-11-01 09:00:00'], 'Once at 2026-11-01 09:00:00 — past, will not run again'];
        yield 'supervisor' => [['type' => 'supervisor'], 'Supervised: kept running by the supervisor'];
        yield 'once without a date' => [['type' => 'once'], 'Once — never runs: a one-time schedule needs a date and time'];
        yield 'once, not a date' => [['type' => 'once', 'datetime' => 'next week'], 'Once at next week — never runs: "next week" is not a date and time'];
        yield 'no frequency' => [['type' => 'periodic'], 'Periodic — never runs: a periodic schedule needs a frequency'];
        yield 'unknown frequency' => [['type' => 'periodic', 'frequency' => 'yearly'], 'Periodic — never runs: unknown frequency "yearly" (expected minutely, every_5min, every_15min, every_30min, hourly, daily, weekly, monthly)'];
        yield 'hourly without minute' => [['type' => 'periodic', 'frequency' => 'hourly'], 'Hourly — never runs: an hourly schedule needs its minute, as *:MM'];
        yield 'daily at *:30' => [['type' => 'periodic', 'frequency' => 'daily', 'time' => '*:30'], 'Daily — never runs: "*:30" is not a time of day (HH:MM)'];
        yield 'weekly without time' => [['type' => 'periodic', 'frequency' => 'weekly', 'days' => ['monday']], 'Weekly on Monday — never runs: a weekly schedule needs a time, as HH:MM'];
        yield 'monthly day 40' => [['type' => 'periodic', 'frequency' => 'monthly', 'time' => '02:00', 'day' => 40], 'Monthly on day 40 at 02:00 — never runs: "40" is not a day of the month (1–31)'];
        yield 'regular without a step' => [['type' => 'regular', 'start_time' => '08:00', 'end_time' => '18:00'], 'Regularly from 08:00 to 18:00 — never runs: a regular schedule needs a frequency'];
        yield 'regular, bad interval' => [['type' => 'regular', 'interval' => 'every_7min', 'start_time' => '08:00', 'end_time' => '18:00'], 'Regularly from 08:00 to 18:00 — never runs: unknown frequency "every_7min" for a regular schedule (expected every_5min, every_15min, every_30min or hourly)'];
        yield 'regular without window' => [['type' => 'regular', 'frequency' => 'hourly', 'start_time' => '', 'end_time' => ''], 'Every hour — never runs: a regular schedule needs a window start time, as HH:MM'];
        yield 'unknown type' => [['type' => 'cron'], 'Schedule "cron" — never runs: unknown schedule type "cron" (expected manual, once, periodic or regular)'];
    }

    /** @dataProvider describeCases */
    #[DataProvider('describeCases')]
    public function testDescribeSaysWhatAndWhenOrWhyNot(array $schedule, string $expected): void
    {
        self::assertSame($expected, Schedule::describe($schedule + ['enabled' => true], self::moment('2026-11-27 10:01')));
    }

    // --- what the manager stores ---------------------------------------------------------------

    /** @return iterable<string, array{array, array, array<string, mixed>}> */
    public static function formCases(): iterable
    {
        yield 'periodic hourly from HH:MM is stored *:MM' => [['enabled' => '1', 'type' => 'periodic', 'frequency' => 'hourly', 'time' => '08:15'], [], ['enabled' => true, 'type' => 'periodic', 'frequency' => 'hourly', 'time' => '*:15']];
        yield 'periodic hourly minute field' => [['type' => 'periodic', 'frequency' => 'hourly', 'time' => '', 'hourly_minute' => '7'], [], ['time' => '*:07']];
        yield 'hourly minute clamped' => [['type' => 'periodic', 'frequency' => 'hourly', 'hourly_minute' => '75'], [], ['time' => '*:59']];
        yield 'hourly with no minute → :00' => [['type' => 'periodic', 'frequency' => 'hourly'], [], ['time' => '*:00']];
        yield 'daily time padded' => [['type' => 'periodic', 'frequency' => 'daily', 'time' => '3:05'], [], ['time' => '03:05']];
        yield 'weekly keeps its days (upstream dropped them)' => [['type' => 'periodic', 'frequency' => 'weekly', 'time' => '08:15', 'days' => ['friday', 'monday']], [], ['days' => ['monday', 'friday']]];
        yield 'monthly keeps its day' => [['type' => 'periodic', 'frequency' => 'monthly', 'time' => '02:00', 'day' => '31'], [], ['day' => 31]];
        yield 'monthly day clamped' => [['type' => 'periodic', 'frequency' => 'monthly', 'time' => '02:00', 'day' => '99'], [], ['day' => 31]];
        yield 'monthly without day' => [['type' => 'periodic', 'frequency' => 'monthly', 'time' => '02:00', 'day' => ''], [], ['day' => null]];
        yield 'unknown frequency → hourly (as upstream)' => [['type' => 'periodic', 'frequency' => 'yearly'], [], ['frequency' => 'hourly']];
        yield 'regular from its interval select' => [['type' => 'regular', 'frequency' => 'daily', 'interval' => 'every_15min', 'start_time' => '8:00', 'end_time' => '18:00'], [], ['frequency' => 'every_15min', 'start_time' => '08:00']];
        yield 'regular from frequency' => [['type' => 'regular', 'frequency' => 'every_30min'], [], ['frequency' => 'every_30min']];
        yield 'regular, nothing usable → hourly' => [['type' => 'regular', 'frequency' => 'weekly'], [], ['frequency' => 'hourly']];
        yield 'once from datetime-local' => [['type' => 'once', 'datetime' => '2026-12-01T09:30'], [], ['datetime' => '2026-12-01 09:30:00']];
        yield 'once, not a date, kept for the message' => [['type' => 'once', 'datetime' => 'soon'], [], ['datetime' => 'soon']];
        yield 'unknown type → manual' => [['type' => 'cron', 'enabled' => '1'], [], ['type' => 'manual', 'enabled' => true]];
        yield 'supervisor kept' => [['type' => 'supervisor', 'enabled' => '1'], [], ['type' => 'supervisor']];
        yield 'no enabled checkbox → off' => [['type' => 'periodic', 'frequency' => 'daily', 'time' => '03:00'], [], ['enabled' => false]];
        yield '1.x interval not stored again, other keys kept' => [['type' => 'regular', 'interval' => 'every_5min'], ['interval' => 'every_30min', 'frequency' => 'daily', 'supervisor' => ['key' => 'x']], ['frequency' => 'every_5min', 'supervisor' => ['key' => 'x']]];
    }

    /** @dataProvider formCases */
    #[DataProvider('formCases')]
    public function testTheManagersFormIsStoredInTheTwoXShape(array $input, array $previous, array $expected): void
    {
        $stored = Schedule::fromForm($input, $previous);
        foreach (['enabled', 'type', 'datetime', 'frequency', 'time', 'start_time', 'end_time', 'days', 'day'] as $key) {
            self::assertArrayHasKey($key, $stored);
        }
        self::assertArrayNotHasKey('interval', $stored);
        foreach ($expected as $key => $value) {
            self::assertSame($value, $stored[$key], "key $key");
        }
        self::assertSame(Schedule::normalize($stored), Schedule::normalize(Schedule::normalize($stored)));
    }

    public function testWhatTheFormStoresRunsAsTheFormSaid(): void
    {
        $now = self::moment('2026-11-27 10:01');
        $hourly = Schedule::fromForm(['enabled' => '1', 'type' => 'periodic', 'frequency' => 'hourly', 'time' => '08:15']);
        self::assertSame('2026-11-27 10:15', Schedule::nextRun($hourly, $now)?->format('Y-m-d H:i'));
        $weekly = Schedule::fromForm(['enabled' => '1', 'type' => 'periodic', 'frequency' => 'weekly', 'time' => '08:15', 'days' => ['wednesday']]);
        self::assertSame('2026-12-02 08:15', Schedule::nextRun($weekly, $now)?->format('Y-m-d H:i'));
        $regular = Schedule::fromForm(['enabled' => '1', 'type' => 'regular', 'interval' => 'every_30min', 'start_time' => '08:00', 'end_time' => '18:00']);
        self::assertSame('2026-11-27 10:30', Schedule::nextRun($regular, $now)?->format('Y-m-d H:i'));
    }
}
