<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

use Carbon\Carbon;

/**
 * Worker schedules, stored in `s_workers.settings.schedule` with the keys of upstream sTask's
 * 2.x manager (`enabled`, `type`, `datetime`, `frequency`, `time`, `start_time`, `end_time`),
 * plus `days` (weekly) and `day` (monthly), which upstream's manager never saved, and 1.x's
 * `interval` (regular), which is still read.
 *
 * - `manual`: never on its own. `supervisor`: a supervised process, not a run of taskMake();
 *   the supervisor handles it and this class never gives it a run time.
 * - `once`: at `datetime`.
 * - `periodic`, by `frequency`: minutely / every_5min / every_15min / every_30min (each whole
 *   minute of the hour divisible by 1, 5, 15, 30), hourly (at minute MM of `time` "*:MM";
 *   "HH:MM" counts by its minutes), daily (at `time` "HH:MM"), weekly (at `time` on the `days`
 *   listed; on Mondays when none are), monthly (at `time` on day `day`, 1–31, the month's last
 *   day when it is shorter; the 1st when no day is set).
 * - `regular`: every `frequency` (every_5min, every_15min, every_30min, hourly; 1.x's
 *   `interval` wins when both are stored) from `start_time` to `end_time` inclusive, counted
 *   from `start_time`; after `end_time` the next run is the next day's `start_time`, and a
 *   window whose end is before its start runs across midnight.
 *
 * Times are wall-clock times in the app's timezone (the one `now()` uses), to the minute. A
 * time that a DST change skips runs shifted by the gap (03:30 → 04:30); a time that occurs
 * twice runs once, at its first occurrence; minute-of-hour schedules follow real minutes.
 *
 * One rule answers both "when is the next run" ({@see nextRun()}, which the scheduler queues)
 * and "is now a run time" ({@see isDue()}, BaseWorker::shouldRunNow()), so the two cannot
 * disagree (upstream's did). Nothing here throws on bad input: a schedule that cannot be
 * computed has no next run, and {@see problem()} / {@see describe()} say why.
 */
final class Schedule
{
    /** Types a schedule may have; `supervisor` is handled by the supervisor, not here. */
    public const TYPES = ['manual', 'once', 'periodic', 'regular', 'supervisor'];

    /** `frequency` of a periodic schedule. */
    public const FREQUENCIES = ['minutely', 'every_5min', 'every_15min', 'every_30min', 'hourly', 'daily', 'weekly', 'monthly'];

    /** `frequency` (or 1.x `interval`) of a regular schedule. */
    public const REGULAR_FREQUENCIES = ['minutely', 'every_5min', 'every_15min', 'every_30min', 'hourly'];

    /** Weekdays as stored in `days`, Monday first (the order the manager shows them). */
    public const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

    /** What an absent key reads as. Other stored keys are kept as they are. */
    public const DEFAULTS = [
        'enabled' => false,
        'type' => 'manual',
        'datetime' => '',
        'frequency' => '',
        'time' => '',
        'start_time' => '',
        'end_time' => '',
        'days' => [],
        'day' => null,
    ];

    private const MINUTES = ['minutely' => 1, 'every_5min' => 5, 'every_15min' => 15, 'every_30min' => 30, 'hourly' => 60];

    /** Weekday numbers as PHP's date('w') and cron count them: 0 (and 7) Sunday … 6 Saturday. */
    private const BY_NUMBER = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

    /**
     * The stored schedule (array, JSON text or anything else) in one shape: the defaults for
     * absent keys, `enabled` a bool, `type` lower case, `frequency`/`interval` in the spellings
     * above (when recognised; anything else is kept for {@see problem()} to name), `days` the
     * known weekdays (names in any case, three-letter names, or numbers 0–7), `day` an int.
     * For a regular schedule `frequency` is the one that applies (1.x's `interval` if valid).
     * Normalizing twice gives the same array.
     *
     * @return array<string, mixed>
     */
    public static function normalize(mixed $schedule): array
    {
        if (is_string($schedule) && str_starts_with(ltrim($schedule), '{')) {
            $schedule = json_decode($schedule, true);
        }
        if ($schedule instanceof \JsonSerializable) {
            $schedule = $schedule->jsonSerialize();
        }
        $raw = is_array($schedule) ? $schedule : [];
        $s = array_replace(self::DEFAULTS, $raw);
        $s['enabled'] = self::bool($s['enabled']);
        $s['type'] = strtolower(self::text($s['type'])) ?: 'manual';
        foreach (['datetime', 'time', 'start_time', 'end_time'] as $key) {
            $s[$key] = self::text($s[$key]);
        }
        $s['frequency'] = self::frequency($s['frequency']);
        if (array_key_exists('interval', $raw)) {
            $s['interval'] = self::frequency($raw['interval']);
            if ($s['type'] === 'regular' && in_array($s['interval'], self::REGULAR_FREQUENCIES, true)) {
                // Only 1.x wrote `interval`, and its form posted the (periodic) frequency too.
                $s['frequency'] = $s['interval'];
            }
        }
        $s['days'] = self::days($s['days']);
        $s['day'] = self::dayOfMonth($s['day']);
        return $s;
    }

    /**
     * The schedule to store from the manager's form, in upstream 2.x's shape (`enabled`,
     * `type`, `datetime`, `frequency`, `time`, `start_time`, `end_time`, as its manager saved
     * it) plus `days` and `day`. The form's fields: those keys, `interval` (the regular
     * schedule's select, stored as its `frequency`), `hourly_minute` (optional, 0–59) and
     * `days[]`. As upstream's manager did: an unknown type becomes manual, an unknown
     * frequency hourly, and a periodic hourly time is stored as "*:MM" (from "HH:MM" or "MM"
     * too). 1.x's `interval` is not stored again; other keys of $previous are kept.
     *
     * @param array<string, mixed> $input
     * @param array<string, mixed> $previous the schedule stored so far
     * @return array<string, mixed>
     */
    public static function fromForm(array $input, array $previous = []): array
    {
        $type = strtolower(self::text($input['type'] ?? ''));
        $type = in_array($type, self::TYPES, true) ? $type : 'manual';
        $frequency = self::frequency($input['frequency'] ?? '');
        if ($type === 'regular') {
            $interval = self::frequency($input['interval'] ?? '');
            $frequency = in_array($interval, self::REGULAR_FREQUENCIES, true) ? $interval
                : (in_array($frequency, self::REGULAR_FREQUENCIES, true) ? $frequency : 'hourly');
        } elseif (!in_array($frequency, self::FREQUENCIES, true)) {
            $frequency = 'hourly';
        }
        $time = self::text($input['time'] ?? '');
        if ($type === 'periodic' && $frequency === 'hourly') {
            $minute = self::text($input['hourly_minute'] ?? '');
            $minute = is_numeric($minute) ? max(0, min(59, (int) $minute)) : (self::minuteOf($time) ?? 0);
            $time = sprintf('*:%02d', $minute);
        } else {
            $time = self::clock($time);
        }
        $datetime = self::text($input['datetime'] ?? '');
        $parsed = $datetime === '' ? null : self::parseDateTime($datetime, new \DateTimeZone(date_default_timezone_get()));
        if ($parsed !== null) {
            $datetime = (new \DateTimeImmutable('@' . $parsed))->setTimezone(new \DateTimeZone(date_default_timezone_get()))->format('Y-m-d H:i:s');
        }
        $day = self::dayOfMonth($input['day'] ?? null);
        $schedule = [
            'enabled' => self::bool($input['enabled'] ?? false),
            'type' => $type,
            'datetime' => $datetime,
            'frequency' => $frequency,
            'time' => $time,
            'start_time' => self::clock(self::text($input['start_time'] ?? '')),
            'end_time' => self::clock(self::text($input['end_time'] ?? '')),
            'days' => self::days($input['days'] ?? []),
            'day' => is_int($day) ? max(1, min(31, $day)) : null,
        ];
        unset($previous['interval']);
        return $schedule + $previous;
    }

    /**
     * The first run time at or after the minute of $from, or null: disabled, manual,
     * supervisor, a once that is past, or a schedule that cannot be computed ({@see problem()}).
     */
    public static function nextRun(array $schedule, \DateTimeInterface $from): ?Carbon
    {
        $s = self::normalize($schedule);
        if (!$s['enabled'] || self::problem($s) !== null) {
            return null;
        }
        $tz = new \DateTimeZone(date_default_timezone_get());
        $fromTs = intdiv($from->getTimestamp(), 60) * 60;
        $at = match ($s['type']) {
            'once' => self::nextOnce($s, $fromTs, $tz),
            'periodic' => self::nextPeriodic($s, $fromTs, $tz),
            'regular' => self::nextRegular($s, $fromTs, $tz),
            default => null,
        };
        return $at === null ? null : Carbon::createFromTimestamp($at, $tz);
    }

    /** Whether the minute of $now is a run time (the rule nextRun() queues by). */
    public static function isDue(array $schedule, \DateTimeInterface $now): bool
    {
        $minute = intdiv($now->getTimestamp(), 60) * 60;
        $next = self::nextRun($schedule, $now);
        return $next !== null && $next->getTimestamp() === $minute;
    }

    /**
     * Why the schedule cannot be computed (English), or null when it can — or when there is
     * nothing to compute (manual, supervisor). Whether it is enabled does not matter here.
     */
    public static function problem(array $schedule): ?string
    {
        $s = self::normalize($schedule);
        switch ($s['type']) {
            case 'manual':
            case 'supervisor':
                return null;
            case 'once':
                if ($s['datetime'] === '') {
                    return 'a one-time schedule needs a date and time';
                }
                return self::parseDateTime($s['datetime'], new \DateTimeZone(date_default_timezone_get())) === null
                    ? sprintf('"%s" is not a date and time', $s['datetime']) : null;
            case 'periodic':
                if (!in_array($s['frequency'], self::FREQUENCIES, true)) {
                    return $s['frequency'] === ''
                        ? 'a periodic schedule needs a frequency'
                        : sprintf('unknown frequency "%s" (expected %s)', $s['frequency'], implode(', ', self::FREQUENCIES));
                }
                if (isset(self::MINUTES[$s['frequency']]) && $s['frequency'] !== 'hourly') {
                    return null;
                }
                if ($s['frequency'] === 'hourly') {
                    return self::minuteOf($s['time']) === null
                        ? ($s['time'] === '' ? 'an hourly schedule needs its minute, as *:MM' : sprintf('"%s" is not a time (*:MM or HH:MM)', $s['time']))
                        : null;
                }
                if (self::parseTime($s['time']) === null) {
                    return $s['time'] === ''
                        ? sprintf('a %s schedule needs a time, as HH:MM', $s['frequency'])
                        : sprintf('"%s" is not a time of day (HH:MM)', $s['time']);
                }
                if ($s['frequency'] === 'monthly' && $s['day'] !== null && !(is_int($s['day']) && $s['day'] >= 1 && $s['day'] <= 31)) {
                    return sprintf('"%s" is not a day of the month (1–31)', is_scalar($s['day']) ? (string) $s['day'] : gettype($s['day']));
                }
                return null;
            case 'regular':
                if (!in_array($s['frequency'], self::REGULAR_FREQUENCIES, true)) {
                    return ($s['frequency'] === '' && ($s['interval'] ?? '') === '')
                        ? 'a regular schedule needs a frequency'
                        : sprintf('unknown frequency "%s" for a regular schedule (expected every_5min, every_15min, every_30min or hourly)', $s['interval'] ?? $s['frequency']);
                }
                foreach (['start_time' => 'start', 'end_time' => 'end'] as $key => $name) {
                    if (self::parseTime($s[$key]) === null) {
                        return $s[$key] === ''
                            ? "a regular schedule needs a window $name time, as HH:MM"
                            : sprintf('window %s "%s" is not a time of day (HH:MM)', $name, $s[$key]);
                    }
                }
                return null;
            default:
                return sprintf('unknown schedule type "%s" (expected manual, once, periodic or regular)', $s['type']);
        }
    }

    /**
     * One line for the manager: what the schedule says and its next run, or why it has none.
     * E.g. "Weekly on Monday, Friday at 08:15 — next run 2026-11-30 08:15".
     */
    public static function describe(array $schedule, ?\DateTimeInterface $now = null): string
    {
        $s = self::normalize($schedule);
        $what = self::summary($s);
        if ($s['type'] === 'manual') {
            return $what;
        }
        if ($s['type'] === 'supervisor') {
            return $what . ($s['enabled'] ? '' : ' — off');
        }
        $problem = self::problem($s);
        if ($problem !== null) {
            return $what . ' — never runs: ' . $problem;
        }
        if (!$s['enabled']) {
            return $what . ' — off';
        }
        $next = self::nextRun($s, $now ?? Carbon::now());
        if ($next === null) {
            return $what . ' — ' . ($s['type'] === 'once' ? 'past, will not run again' : 'no run ahead');
        }
        return $what . ' — next run ' . $next->format('Y-m-d H:i');
    }

    /** The schedule in words, without its next run. */
    private static function summary(array $s): string
    {
        $time = self::parseTime($s['time']);
        $at = $time === null ? '' : sprintf(' at %02d:%02d', $time[0], $time[1]);
        switch ($s['type']) {
            case 'manual':
                return 'Manual: runs when started';
            case 'supervisor':
                return 'Supervised: kept running by the supervisor';
            case 'once':
                return 'Once' . ($s['datetime'] === '' ? '' : ' at ' . $s['datetime']);
            case 'periodic':
                switch ($s['frequency']) {
                    case 'minutely':
                        return 'Every minute';
                    case 'every_5min':
                    case 'every_15min':
                    case 'every_30min':
                        return sprintf('Every %d minutes', self::MINUTES[$s['frequency']]);
                    case 'hourly':
                        $minute = self::minuteOf($s['time']);
                        return 'Hourly' . ($minute === null ? '' : sprintf(' at :%02d', $minute));
                    case 'daily':
                        return 'Daily' . $at;
                    case 'weekly':
                        $days = $s['days'] === [] ? 'Monday (no days chosen)' : implode(', ', array_map('ucfirst', $s['days']));
                        return "Weekly on $days$at";
                    case 'monthly':
                        $day = $s['day'] ?? 1;
                        $clamped = is_int($day) && $day > 28 && $day <= 31 ? ' (the last day in shorter months)' : '';
                        return sprintf('Monthly on day %s%s%s', is_scalar($day) ? (string) $day : '?', $clamped, $at);
                    default:
                        return 'Periodic';
                }
            case 'regular':
                $every = match ($s['frequency']) {
                    'minutely' => 'Every minute',
                    'hourly' => 'Every hour',
                    'every_5min', 'every_15min', 'every_30min' => sprintf('Every %d minutes', self::MINUTES[$s['frequency']]),
                    default => 'Regularly',
                };
                $start = self::parseTime($s['start_time']);
                $end = self::parseTime($s['end_time']);
                return $start === null || $end === null
                    ? $every
                    : sprintf('%s from %02d:%02d to %02d:%02d', $every, $start[0], $start[1], $end[0], $end[1]);
            default:
                return 'Schedule "' . $s['type'] . '"';
        }
    }

    private static function nextOnce(array $s, int $fromTs, \DateTimeZone $tz): ?int
    {
        $at = self::parseDateTime($s['datetime'], $tz);
        if ($at === null) {
            return null;
        }
        $at = intdiv($at, 60) * 60;
        return $at >= $fromTs ? $at : null;
    }

    private static function nextPeriodic(array $s, int $fromTs, \DateTimeZone $tz): ?int
    {
        $frequency = $s['frequency'];
        if ($frequency === 'hourly') {
            $minute = self::minuteOf($s['time']);
            return self::scanMinutes($fromTs, $tz, static fn (int $m): bool => $m === $minute);
        }
        if (isset(self::MINUTES[$frequency])) {
            $step = self::MINUTES[$frequency];
            return self::scanMinutes($fromTs, $tz, static fn (int $m): bool => $m % $step === 0);
        }
        [$hour, $minute] = self::parseTime($s['time']);
        $today = self::localDate($fromTs, $tz);
        if ($frequency === 'monthly') {
            $wanted = is_int($s['day']) ? $s['day'] : 1;
            $first = $today->modify('first day of this month');
            for ($i = 0; $i < 3; $i++) {
                $month = $first->modify("+$i month");
                $day = min($wanted, (int) $month->format('t'));
                $at = self::wallClock($month->setDate((int) $month->format('Y'), (int) $month->format('n'), $day), $hour, $minute, $tz);
                if ($at >= $fromTs) {
                    return $at;
                }
            }
            return null;
        }
        $days = $frequency === 'weekly' ? ($s['days'] === [] ? ['monday'] : $s['days']) : self::DAYS;
        for ($i = 0; $i < 9; $i++) {
            $date = $today->modify("+$i day");
            if (!in_array(self::BY_NUMBER[(int) $date->format('w')], $days, true)) {
                continue;
            }
            $at = self::wallClock($date, $hour, $minute, $tz);
            if ($at >= $fromTs) {
                return $at;
            }
        }
        return null;
    }

    private static function nextRegular(array $s, int $fromTs, \DateTimeZone $tz): ?int
    {
        $step = self::MINUTES[$s['frequency']] * 60;
        [$sh, $sm] = self::parseTime($s['start_time']);
        [$eh, $em] = self::parseTime($s['end_time']);
        $crossesMidnight = $eh * 60 + $em < $sh * 60 + $sm;
        $today = self::localDate($fromTs, $tz);
        // Yesterday's window may still be open (it crosses midnight); tomorrow's is the roll-over.
        for ($i = -1; $i <= 2; $i++) {
            $date = $today->modify(($i < 0 ? '' : '+') . "$i day");
            $start = self::wallClock($date, $sh, $sm, $tz);
            $end = self::wallClock($crossesMidnight ? $date->modify('+1 day') : $date, $eh, $em, $tz);
            if ($end < $fromTs) {
                continue;
            }
            $at = $start + max(0, (int) ceil(($fromTs - $start) / $step)) * $step;
            if ($at <= $end) {
                return $at;
            }
        }
        return null;
    }

    /** The first minute at or after $fromTs whose minute of the hour (local) matches. */
    private static function scanMinutes(int $fromTs, \DateTimeZone $tz, \Closure $matches): ?int
    {
        // Real minutes (timestamps): PHP's wall-clock arithmetic stumbles in a repeated hour.
        for ($ts = $fromTs, $end = $fromTs + 7200; $ts <= $end; $ts += 60) {
            if ($matches((int) (new \DateTimeImmutable('@' . $ts))->setTimezone($tz)->format('i'))) {
                return $ts;
            }
        }
        return null;
    }

    /** Midnight (local) of the day $ts falls on. */
    private static function localDate(int $ts, \DateTimeZone $tz): \DateTimeImmutable
    {
        return (new \DateTimeImmutable('@' . $ts))->setTimezone($tz)->setTime(0, 0);
    }

    /**
     * The instant of $hour:$minute on $date in $tz. A time skipped by a DST change is shifted
     * by the gap (PHP's reading); a time that occurs twice is taken at its first occurrence.
     */
    private static function wallClock(\DateTimeInterface $date, int $hour, int $minute, \DateTimeZone $tz): int
    {
        $wall = sprintf('%s %02d:%02d', $date->format('Y-m-d'), $hour, $minute);
        $ts = (new \DateTimeImmutable($wall . ':00', $tz))->getTimestamp();
        foreach ([3600, 1800] as $back) {
            if ((new \DateTimeImmutable('@' . ($ts - $back)))->setTimezone($tz)->format('Y-m-d H:i') === $wall) {
                return $ts - $back;
            }
        }
        return $ts;
    }

    /** An absolute date and time ("2026-11-28 09:30", "…T09:30", "28.11.2026 09:30", a Unix time). */
    private static function parseDateTime(string $value, \DateTimeZone $tz): ?int
    {
        if (preg_match('/^\d{9,11}$/', $value) === 1) {
            return (int) $value;
        }
        $parts = date_parse($value);
        if ($parts['error_count'] > 0 || $parts['warning_count'] > 0 || isset($parts['relative']) || $parts['year'] === false
            || $parts['month'] === false || $parts['day'] === false) {
            return null;
        }
        try {
            return (new \DateTimeImmutable($value, $tz))->getTimestamp();
        } catch (\Exception) {
            return null;
        }
    }

    /** "HH:MM" (or "H:MM", seconds ignored) → [h, m]; anything else → null. */
    private static function parseTime(string $time): ?array
    {
        if (preg_match('/^(\d{1,2}):(\d{2})(?::\d{2})?$/', $time, $m) !== 1 || (int) $m[1] > 23 || (int) $m[2] > 59) {
            return null;
        }
        return [(int) $m[1], (int) $m[2]];
    }

    /** "8:05" → "08:05"; anything that is not a time of day stays as it is. */
    private static function clock(string $time): string
    {
        $hm = self::parseTime($time);
        return $hm === null ? $time : sprintf('%02d:%02d', $hm[0], $hm[1]);
    }

    /** The minute of an hourly `time`: "*:MM", "HH:MM" (its minutes) or "MM". */
    private static function minuteOf(string $time): ?int
    {
        if (preg_match('/^(?:\*|(\d{1,2}))?:(\d{2})(?::\d{2})?$|^(\d{1,2})$/', $time, $m) !== 1) {
            return null;
        }
        if (($m[1] ?? '') !== '' && (int) $m[1] > 23) {
            return null;
        }
        $minute = (int) (($m[2] ?? '') !== '' ? $m[2] : $m[3]);
        return $minute <= 59 ? $minute : null;
    }

    /** A frequency in its canonical spelling when recognised, else as given (trimmed). */
    private static function frequency(mixed $value): string
    {
        $text = strtolower(self::text($value));
        $key = preg_replace(['/^(?:frequency|interval)_/', '/[\s\-]+/'], ['', '_'], $text);
        $minutes = match (true) {
            in_array($key, ['daily', 'day', 'every_day'], true) => 'daily',
            in_array($key, ['weekly', 'week', 'every_week'], true) => 'weekly',
            in_array($key, ['monthly', 'month', 'every_month'], true) => 'monthly',
            in_array($key, ['minutely', 'minute', 'every_minute'], true) => 1,
            in_array($key, ['hourly', 'hour', 'every_hour', '1h'], true) => 60,
            preg_match('/^(?:every_?)?(\d+)_?(?:m|min|mins|minute|minutes)?$/', $key, $m) === 1 => (int) $m[1],
            default => null,
        };
        if (is_string($minutes)) {
            return $minutes;
        }
        $canonical = $minutes === null ? false : array_search($minutes, self::MINUTES, true);
        return $canonical === false ? $text : $canonical;
    }

    /** @return list<string> the known weekdays in $value, Monday first, each once */
    private static function days(mixed $value): array
    {
        if (is_string($value) || is_int($value)) {
            $value = preg_split('/[\s,;]+/', (string) $value, -1, PREG_SPLIT_NO_EMPTY);
        }
        if (!is_array($value)) {
            return [];
        }
        if (!array_is_list($value)) {
            // {"monday": true, "friday": "on"}: the checked keys.
            $value = array_keys(array_filter($value, static fn ($on) => self::bool($on)));
        }
        $found = [];
        foreach ($value as $day) {
            if (!is_scalar($day)) {
                continue;
            }
            $day = strtolower(trim((string) $day));
            if (preg_match('/^[0-7]$/', $day) === 1) {
                $found[] = self::BY_NUMBER[(int) $day];
                continue;
            }
            foreach (self::DAYS as $name) {
                if ($day !== '' && strlen($day) >= 2 && str_starts_with($name, $day)) {
                    $found[] = $name;
                    break;
                }
            }
        }
        return array_values(array_intersect(self::DAYS, $found));
    }

    /** `day`: an int when numeric, null when empty, otherwise as given (a problem, if monthly). */
    private static function dayOfMonth(mixed $value): mixed
    {
        if ($value === null || $value === '' || $value === []) {
            return null;
        }
        if (is_int($value)) {
            return $value;
        }
        if (is_string($value) && preg_match('/^\s*\d+\s*$/', $value) === 1) {
            return (int) $value;
        }
        if (is_float($value) && floor($value) === $value) {
            return (int) $value;
        }
        return is_scalar($value) ? trim((string) $value) : null;
    }

    private static function bool(mixed $value): bool
    {
        return is_scalar($value) && filter_var($value, FILTER_VALIDATE_BOOLEAN);
    }

    private static function text(mixed $value): string
    {
        return is_scalar($value) ? trim((string) $value) : '';
    }
}
