<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * The runner's heartbeat: `storage/logs/sTask.heartbeat`, touched by `stask:worker` on every
 * pass and by `stask:work` every half minute or so. Its age says whether a runner is alive
 * (upstream 2.2's marker; the same file and meaning). Reading never creates or touches it.
 */
final class Heartbeat
{
    public const DEFAULT_TTL = 3610;

    public static function path(): string
    {
        return storage_path('logs/sTask.heartbeat');
    }

    /** Marks the runner alive now; creates storage/logs when missing. False when it cannot. */
    public static function touch(?string $path = null): bool
    {
        $path ??= self::path();
        $dir = dirname($path);
        if (!is_dir($dir) && !@mkdir($dir, 0775, true) && !is_dir($dir)) {
            return false;
        }
        return @touch($path);
    }

    /**
     * @return array{available: bool, state: string, last_seen_at: int|null, age_seconds: int|null}
     *         state: "available" (age ≤ ttl), "expired" (older), "missing" (no marker), "error"
     *         (negative ttl, an unreadable marker or directory, or a marker dated in the future)
     */
    public static function status(int $ttl = self::DEFAULT_TTL, ?string $path = null, ?int $now = null): array
    {
        $result = static fn (string $state, ?int $seen = null, ?int $age = null): array => [
            'available' => $state === 'available',
            'state' => $state,
            'last_seen_at' => $seen,
            'age_seconds' => $age,
        ];
        if ($ttl < 0) {
            return $result('error');
        }
        $path ??= self::path();
        clearstatcache(true, $path);
        if (!file_exists($path)) {
            // Missing only when we can tell: a directory we cannot read hides the file.
            $dir = dirname($path);
            return $result(!file_exists($dir) || (is_dir($dir) && is_readable($dir)) ? 'missing' : 'error');
        }
        $mtime = @filemtime($path);
        if ($mtime === false || !is_file($path) || !is_readable($path)) {
            return $result('error');
        }
        $age = ($now ?? time()) - $mtime;
        if ($age < 0) {
            return $result('error', $mtime);
        }
        return $result($age <= $ttl ? 'available' : 'expired', $mtime, $age);
    }
}
