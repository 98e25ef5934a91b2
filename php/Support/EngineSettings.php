<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * Where the engine keeps tasks, worked out from the host's configuration: the site's own
 * database when the extension supports its driver, otherwise an embedded SQLite file under
 * storage/. Also names the Laravel connection the Eloquent models read through, so models and
 * engine always look at the same tables.
 */
final class EngineSettings
{
    /** Connection name registered for the embedded SQLite database. */
    public const EMBEDDED_CONNECTION = 'stask';

    /**
     * @param array<string, mixed> $options engine options
     * @param array<string, mixed>|null $connectionConfig a connection to register, or null when
     *        the models use an existing one
     */
    private function __construct(
        public readonly string $url,
        public readonly array $options,
        public readonly string $connectionName,
        public readonly ?array $connectionConfig,
        public readonly bool $embedded,
        public readonly string $reason,
    ) {
    }

    /**
     * @param array<string, mixed> $stask the `stask` config
     * @param array<string, mixed> $database the `database` config
     * @param list<string> $supported URL schemes the extension supports
     */
    public static function resolve(array $stask, array $database, string $storagePath, array $supported): self
    {
        $storage = (string) ($stask['storage'] ?? '') ?: $storagePath . DIRECTORY_SEPARATOR . 'stask';
        $name = (string) (($stask['connection'] ?? null) ?: ($database['default'] ?? 'default'));
        $connection = $database['connections'][$name] ?? null;
        $prefix = is_array($connection) ? (string) ($connection['prefix'] ?? '') : '';
        $options = self::engineOptions($stask, $storage, $prefix);

        if (!empty($stask['url'])) {
            $url = (string) $stask['url'];
            $path = self::sqlitePath($url);
            return new self($url, $options, $path !== null ? self::EMBEDDED_CONNECTION : $name,
                $path !== null ? self::sqliteConnection($path, $prefix) : null, false, 'stask.url');
        }

        if (is_array($connection)) {
            $driver = strtolower((string) ($connection['driver'] ?? ''));
            if ($driver === 'sqlite') {
                $file = (string) ($connection['database'] ?? '');
                if ($file !== '' && $file !== ':memory:' && in_array('sqlite', $supported, true)) {
                    return new self('sqlite:' . $file, $options, $name, null, false, "connection \"$name\"");
                }
            } elseif (in_array($driver, ['mysql', 'mariadb', 'pgsql'], true)) {
                $scheme = $driver === 'pgsql' ? 'postgres' : 'mysql';
                if (in_array($scheme, $supported, true)) {
                    return new self(self::networkUrl($scheme, $connection), $options, $name, null, false, "connection \"$name\"");
                }
            }
        }

        $file = $storagePath . DIRECTORY_SEPARATOR . 'stask.sqlite';
        $why = is_array($connection)
            ? 'the "' . ($connection['driver'] ?? '?') . "\" driver of connection \"$name\" is not supported by this build of the extension"
            : "connection \"$name\" is not configured";
        return new self('sqlite:' . $file, $options, self::EMBEDDED_CONNECTION, self::sqliteConnection($file, $prefix), true,
            "embedded SQLite ($why)");
    }

    /** @return array<string, mixed> */
    private static function engineOptions(array $stask, string $storage, string $prefix): array
    {
        $options = ['prefix' => $prefix, 'storage' => $storage];
        if (isset($stask['lease_seconds'])) {
            $options['leaseSeconds'] = $stask['lease_seconds'] + 0;
        }
        if (isset($stask['max_attempts'])) {
            $options['maxAttempts'] = (int) $stask['max_attempts'];
        }
        if (isset($stask['backoff'])) {
            $options['backoff'] = $stask['backoff'];
        }
        return $options;
    }

    private static function networkUrl(string $scheme, array $c): string
    {
        $auth = rawurlencode((string) ($c['username'] ?? ''));
        if (($c['password'] ?? '') !== '') {
            $auth .= ':' . rawurlencode((string) $c['password']);
        }
        $host = (string) ($c['host'] ?? '127.0.0.1');
        $port = !empty($c['port']) ? ':' . (int) $c['port'] : '';
        return "$scheme://" . ($auth !== '' ? "$auth@" : '') . "$host$port/" . rawurlencode((string) ($c['database'] ?? ''));
    }

    private static function sqlitePath(string $url): ?string
    {
        if (!preg_match('~^sqlite3?:(?://)?(.+)$~i', $url, $m) || $m[1] === ':memory:') {
            return null;
        }
        return $m[1];
    }

    /** @return array<string, mixed> */
    private static function sqliteConnection(string $file, string $prefix): array
    {
        return ['driver' => 'sqlite', 'database' => $file, 'prefix' => $prefix, 'foreign_key_constraints' => false];
    }
}
