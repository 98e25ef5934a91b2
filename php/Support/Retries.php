<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * A worker's retry declaration, as Laravel jobs declare it: `public $tries = 3;` or
 * `tries(): int`, and `public $backoff = 30;` / `[10, 60, 300]` or `backoff(): int|array`
 * (seconds before attempt 2, 3, …; the last value repeats). Without `tries` a task runs once:
 * upstream sTask never retried, and an e-mail sent twice is worse than one reported failure.
 */
final class Retries
{
    /** Attempts the worker asks for (1–1000), or null when it declares none. */
    public static function tries(object $worker): ?int
    {
        $tries = self::declared($worker, 'tries');
        if (!is_numeric($tries)) {
            return null;
        }
        return max(1, min(1000, (int) $tries));
    }

    /** Seconds to wait after attempt $attempt failed, or null for the engine's backoff. */
    public static function backoff(object $worker, int $attempt): ?float
    {
        $backoff = self::declared($worker, 'backoff');
        if (is_numeric($backoff)) {
            return max(0.0, (float) $backoff);
        }
        if (!is_array($backoff) || $backoff === []) {
            return null;
        }
        $steps = array_values(array_filter($backoff, 'is_numeric'));
        if ($steps === []) {
            return null;
        }
        return max(0.0, (float) $steps[min(max(1, $attempt), count($steps)) - 1]);
    }

    private static function declared(object $worker, string $name): mixed
    {
        if (method_exists($worker, $name)) {
            try {
                return $worker->{$name}();
            } catch (\Throwable) {
                return null;
            }
        }
        $vars = get_object_vars($worker);
        if (array_key_exists($name, $vars)) {
            return $vars[$name];
        }
        return property_exists($worker, $name) && (new \ReflectionProperty($worker, $name))->isPublic() ? $worker->{$name} : null;
    }
}
