<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

use Carbon\Carbon;
use Carbon\CarbonInterface;

/**
 * Worker schedules, stored in `s_workers.settings.schedule` (upstream's keys):
 *
 * - `manual`: never on its own;
 * - `once`: at `datetime`;
 * - `periodic`: `frequency` hourly (at minute MM of `time` "*:MM" or "HH:MM"), daily (at
 *   `time` "HH:MM") or weekly (at `time` on the listed `days`, "monday" … "sunday");
 * - `regular`: every `interval` (every_5min, every_15min, every_30min, hourly) between
 *   `start_time` and `end_time`, counted from `start_time`; a window may cross midnight.
 *
 * One rule decides both when the next run is queued and whether "now" is a run time, so the
 * two can no longer disagree (upstream's could), and times are read in the app's timezone.
 */
final class Schedule
{
    public const DEFAULTS = [
        'type' => 'manual',
        'enabled' => false,
        'datetime' => null,
        'time' => '00:00',
        'frequency' => 'daily',
        'days' => [],
        'start_time' => '00:00',
        'end_time' => '23:59',
        'interval' => 'hourly',
    ];

    private const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
    private const INTERVALS = ['every_5min' => 5, 'every_15min' => 15, 'every_30min' => 30, 'hourly' => 60];

    /** @return array<string, mixed> */
    public static function normalize(mixed $schedule): array
    {
        $s = array_merge(self::DEFAULTS, is_array($schedule) ? $schedule : []);
        $s['enabled'] = filter_var($s['enabled'], FILTER_VALIDATE_BOOLEAN);
        $s['days'] = array_values(array_filter(array_map(
            static fn ($d) => strtolower(trim((string) $d)),
            is_array($s['days']) ? $s['days'] : explode(',', (string) $s['days'])
        ), static fn ($d) => in_array($d, self::DAYS, true)));
        return $s;
    }

    /** The first run time at or after $from (whole minutes), or null when none is due. */
    public static function nextRun(array $schedule, \DateTimeInterface $from): ?CarbonInterface
    {
        $s = self::normalize($schedule);
        if (!$s['enabled']) {
            return null;
        }
        $from = Carbon::instance($from)->setTimezone(date_default_timezone_get())->second(0)->micro(0);
        switch ($s['type']) {
            case 'once':
                if (empty($s['datetime'])) {
                    return null;
                }
                $at = Carbon::parse((string) $s['datetime'], date_default_timezone_get())->second(0)->micro(0);
                return $at->greaterThanOrEqualTo($from) ? $at : null;
            case 'periodic':
                return self::nextPeriodic($s, $from);
            case 'regular':
                return self::nextRegular($s, $from);
            default:
                return null;
        }
    }

    /** Whether $now (to the minute) is a run time. */
    public static function isDue(array $schedule, \DateTimeInterface $now): bool
    {
        $minute = Carbon::instance($now)->setTimezone(date_default_timezone_get())->second(0)->micro(0);
        $next = self::nextRun($schedule, $minute);
        return $next !== null && $next->equalTo($minute);
    }

    private static function nextPeriodic(array $s, Carbon $from): ?CarbonInterface
    {
        [$hour, $minute] = self::parseTime((string) $s['time']);
        if ($minute === null) {
            return null;
        }
        if ($s['frequency'] === 'hourly' || $hour === null) {
            $at = $from->copy()->minute($minute);
            return $at->lessThan($from) ? $at->addHour() : $at;
        }
        $at = $from->copy()->setTime($hour, $minute);
        if ($s['frequency'] === 'weekly') {
            if ($s['days'] === []) {
                return null;
            }
            for ($i = 0; $i < 8; $i++) {
                $candidate = $at->copy()->addDays($i);
                if ($candidate->greaterThanOrEqualTo($from) && in_array(self::DAYS[$candidate->dayOfWeek], $s['days'], true)) {
                    return $candidate;
                }
            }
            return null;
        }
        return $at->lessThan($from) ? $at->addDay() : $at;
    }

    private static function nextRegular(array $s, Carbon $from): ?CarbonInterface
    {
        $step = self::INTERVALS[$s['interval']] ?? null;
        [$sh, $sm] = self::parseTime((string) $s['start_time']);
        [$eh, $em] = self::parseTime((string) $s['end_time']);
        if ($step === null || $sh === null || $sm === null || $eh === null || $em === null) {
            return null;
        }
        // Windows start on the previous day too, for windows that cross midnight.
        foreach ([-1, 0, 1] as $dayOffset) {
            $start = $from->copy()->addDays($dayOffset)->setTime($sh, $sm);
            $end = $start->copy()->setTime($eh, $em);
            if ($end->lessThan($start)) {
                $end->addDay();
            }
            if ($end->lessThan($from)) {
                continue;
            }
            $elapsed = max(0, intdiv($from->getTimestamp() - $start->getTimestamp(), 60));
            $steps = intdiv($elapsed + $step - 1, $step);
            $at = $start->copy()->addMinutes($steps * $step);
            if ($at->lessThan($from)) {
                $at->addMinutes($step);
            }
            if ($at->lessThanOrEqualTo($end)) {
                return $at;
            }
        }
        return null;
    }

    /** "HH:MM" → [h, m]; "*:MM" → [null, m]; anything else → [null, null]. */
    private static function parseTime(string $time): array
    {
        if (preg_match('/^\s*(\*|\d{1,2}):(\d{2})\s*$/', $time, $m) !== 1) {
            return [null, null];
        }
        $minute = (int) $m[2];
        $hour = $m[1] === '*' ? null : (int) $m[1];
        if ($minute > 59 || ($hour !== null && $hour > 23)) {
            return [null, null];
        }
        return [$hour, $minute];
    }
}
