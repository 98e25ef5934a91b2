<?php

declare(strict_types=1);

namespace Seiger\sTask\Http;

use Illuminate\Http\Request;

/**
 * Typed reads of request parameters for the manager's endpoints. A parameter arrives as a string
 * or an array of strings from a form or query, or as any JSON value from a JSON body; each read
 * here takes only what the parameter means and throws InvalidInput, with a message naming the
 * parameter, for anything else — a list where text is expected, a boolean for a number, an id
 * beyond PHP_INT_MAX, a NUL byte, invalid UTF-8, text longer than the parameter allows. Absent
 * (or JSON null) parameters take their default. Nothing is cast silently: `(string)` of an array
 * is a warning and `(int)` of an array is 1.
 */
final class Input
{
    /** Text up to $max characters: valid UTF-8, no NUL byte. JSON integers are taken as text. */
    public static function text(Request $request, string $key, string $default = '', int $max = 255): string
    {
        $value = $request->input($key);
        if ($value === null) {
            return $default;
        }
        if (is_int($value)) {
            $value = (string) $value;
        }
        if (!is_string($value)) {
            throw new InvalidInput("$key must be text.");
        }
        self::checkText($key, $value, $max);
        return $value;
    }

    /** One of $allowed (compared as text); $default when absent. */
    public static function oneOf(Request $request, string $key, array $allowed, string $default): string
    {
        $value = $request->input($key);
        if ($value === null) {
            return $default;
        }
        if (is_int($value)) {
            $value = (string) $value;
        }
        if (!is_string($value) || !in_array($value, array_map('strval', $allowed), true)) {
            $shown = array_map(static fn ($a) => $a === '' ? '""' : (string) $a, $allowed);
            throw new InvalidInput("$key must be one of: " . implode(', ', $shown) . '.');
        }
        return $value;
    }

    /**
     * A whole number (a JSON integer, or digits with an optional minus sign). With $clamp, a
     * number outside $min–$max is brought into it (a page past the last, a limit too high);
     * without, it is refused.
     */
    public static function int(Request $request, string $key, int $default, int $min, int $max, bool $clamp = false): int
    {
        $value = $request->input($key);
        if ($value === null || $value === '') {
            return $default;
        }
        $range = "$key must be a whole number from $min to $max.";
        if (is_string($value) && preg_match('/^\s*-?\d{1,4000}\s*$/', $value) === 1) {
            $value = trim($value);
            $negative = str_starts_with($value, '-');
            $digits = ltrim(ltrim($value, '-'), '0');
            // Compared as text first: digits beyond PHP_INT_MAX never become a float.
            if (strlen($digits) > 18 && (strlen($digits) > 19 || strcmp($digits, (string) PHP_INT_MAX) > 0)) {
                if (!$clamp) {
                    throw new InvalidInput($range);
                }
                return $negative ? $min : $max;
            }
            $value = (int) $value;
        }
        if (!is_int($value)) {
            throw new InvalidInput("$key must be a whole number.");
        }
        if ($value < $min || $value > $max) {
            if (!$clamp) {
                throw new InvalidInput($range);
            }
            return max($min, min($max, $value));
        }
        return $value;
    }

    /** A task id as the route gives it (digits), or null when no task can have it. */
    public static function id(mixed $value): ?int
    {
        if (is_int($value)) {
            return $value > 0 ? $value : null;
        }
        if (!is_string($value) || preg_match('/^\d{1,19}$/', $value) !== 1) {
            return null;
        }
        $digits = ltrim($value, '0');
        if ($digits === '' || (strlen($digits) === 19 && strcmp($digits, (string) PHP_INT_MAX) > 0)) {
            return null;
        }
        return (int) $digits;
    }

    /**
     * Task ids: a list of ids (JSON integers or digit strings), or one id. Anything else — nested
     * lists, objects, booleans, floats, ids of 0 or below or beyond PHP_INT_MAX — is refused as
     * a whole: never read as task 1.
     *
     * @return list<int> without duplicates, in the order given
     */
    public static function ids(Request $request, string $key, int $max = 1000): array
    {
        $value = $request->input($key);
        $message = "$key must be a list of 1 to $max task ids (whole numbers from 1).";
        $list = is_array($value) ? $value : ($value === null ? [] : [$value]);
        if (!array_is_list($list) || $list === [] || count($list) > $max) {
            throw new InvalidInput($message);
        }
        $ids = [];
        foreach ($list as $item) {
            $id = is_int($item) || is_string($item) ? self::id($item) : null;
            if ($id === null) {
                throw new InvalidInput($message);
            }
            $ids[$id] = $id;
        }
        return array_values($ids);
    }

    /**
     * A JSON object: an object in a JSON body, or its JSON text (a form field); absent or ''
     * is {}. Lists, scalars and text that is not a JSON object are refused.
     *
     * @return array<array-key, mixed>
     */
    public static function object(Request $request, string $key): array
    {
        $value = $request->input($key);
        if ($value === null || $value === '') {
            return [];
        }
        if (is_string($value)) {
            $value = json_decode($value, true, 512);
            // "{}" and "[]" both decode to []: an empty object either way.
        }
        if (!is_array($value) || ($value !== [] && array_is_list($value))) {
            throw new InvalidInput("$key must be a JSON object.");
        }
        return $value;
    }

    /** @throws InvalidInput */
    public static function checkText(string $key, string $value, int $max): void
    {
        if (!mb_check_encoding($value, 'UTF-8')) {
            throw new InvalidInput("$key must be UTF-8 text.");
        }
        if (str_contains($value, "\0")) {
            throw new InvalidInput("$key must not contain a NUL byte.");
        }
        if (strlen($value) > $max * 4 || mb_strlen($value) > $max) {
            throw new InvalidInput("$key must be at most $max characters long.");
        }
    }
}
