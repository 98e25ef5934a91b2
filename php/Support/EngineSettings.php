<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * Where the engine keeps tasks, worked out from the host's configuration: the site's own
 * database when the extension supports its driver (SQLite, MySQL/MariaDB, PostgreSQL),
 * otherwise an embedded SQLite file under storage/. Also names the Laravel connection the
 * Eloquent models read through, so models and engine always look at the same tables.
 *
 * On MySQL/MariaDB the models get a connection of their own (named "stask", a copy of the
 * site's) whose session is UTC and utf8mb4: TIMESTAMP columns are converted to the session's
 * time zone when read, and the engine writes them in UTC; the task tables are utf8mb4 whatever
 * the site's charset. The engine itself always talks utf8mb4 and UTC, so the site's `charset`,
 * `collation` and `timezone` are not part of its URL.
 */
final class EngineSettings
{
    /** Connection name registered for the embedded SQLite database (and the models' own). */
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
            if ($path !== null) {
                return new self($url, $options, self::EMBEDDED_CONNECTION, self::sqliteConnection($path, $prefix), false, 'stask.url');
            }
            $fromUrl = self::serverConnection($url, $prefix);
            return new self($url, $options, $fromUrl !== null ? self::EMBEDDED_CONNECTION : $name, $fromUrl, false, 'stask.url');
        }

        if (is_array($connection)) {
            $driver = strtolower((string) ($connection['driver'] ?? ''));
            if ($driver === 'sqlite') {
                $file = (string) ($connection['database'] ?? '');
                if ($file !== '' && $file !== ':memory:' && in_array('sqlite', $supported, true)) {
                    return new self('sqlite:' . $file, $options, $name, null, false, "connection \"$name\"");
                }
            } elseif (in_array($driver, ['mysql', 'mariadb'], true) && in_array('mysql', $supported, true)) {
                return new self(self::mysqlUrl($connection), $options, self::EMBEDDED_CONNECTION,
                    self::utcMysqlConnection($connection), false, "connection \"$name\"");
            } elseif ($driver === 'pgsql' && in_array('postgres', $supported, true)) {
                return new self(self::postgresUrl($connection), $options, $name, null, false, "connection \"$name\"");
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
        if (!empty($stask['files'])) {
            $options['files'] = (string) $stask['files'];
        }
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

    /**
     * The settings that reach the server: the `write` side of a read/write split, the first of
     * several hosts.
     *
     * @return array<string, mixed>
     */
    private static function writeSide(array $c): array
    {
        if (isset($c['write']) && is_array($c['write'])) {
            $c = array_replace($c, $c['write']);
        }
        if (is_array($c['host'] ?? null)) {
            $c['host'] = reset($c['host']) ?: '';
        }
        return $c;
    }

    /** mysql://user:password@host:port/database, or ?socket=… for a Unix socket. */
    private static function mysqlUrl(array $c): string
    {
        $c = self::writeSide($c);
        $query = [];
        $socket = (string) ($c['unix_socket'] ?? '');
        if ($socket !== '') {
            $query['socket'] = $socket;
        }
        return self::serverUrl('mysql', $c, $socket !== '' ? 'localhost' : null, $query);
    }

    /**
     * postgres://user:password@host:port/database; a socket directory as host goes to ?host=,
     * and sslmode and the schema search path come along.
     */
    private static function postgresUrl(array $c): string
    {
        $c = self::writeSide($c);
        $query = [];
        $host = (string) ($c['host'] ?? '');
        if (str_starts_with($host, '/')) {
            $query['host'] = $host;
        }
        if (($c['sslmode'] ?? '') !== '') {
            $query['sslmode'] = (string) $c['sslmode'];
        }
        // Laravel 8 calls it "schema", later versions "search_path"; a string or a list.
        $path = $c['search_path'] ?? $c['schema'] ?? null;
        if (is_string($path)) {
            $path = preg_split('/\s*,\s*/', trim($path), -1, PREG_SPLIT_NO_EMPTY);
        }
        if (is_array($path) && $path !== []) {
            $query['options[search_path]'] = implode(',', array_map(
                static fn ($s) => preg_match('/^[a-z_][a-z0-9_$]*$/', (string) $s) ? (string) $s : '"' . str_replace('"', '""', (string) $s) . '"',
                $path
            ));
        }
        return self::serverUrl('postgres', $c, isset($query['host']) ? 'localhost' : null, $query);
    }

    /** @param array<string, string> $query */
    private static function serverUrl(string $scheme, array $c, ?string $hostOverride, array $query): string
    {
        $auth = rawurlencode((string) ($c['username'] ?? ''));
        if (($c['password'] ?? '') !== '') {
            $auth .= ':' . rawurlencode((string) $c['password']);
        }
        $host = $hostOverride ?? ((string) ($c['host'] ?? '') ?: '127.0.0.1');
        if (str_contains($host, ':') && !str_starts_with($host, '[')) {
            $host = "[$host]"; // IPv6
        }
        $port = !empty($c['port']) ? ':' . (int) $c['port'] : '';
        $url = "$scheme://" . ($auth !== '' ? "$auth@" : '') . "$host$port/" . rawurlencode((string) ($c['database'] ?? ''));
        if ($query !== []) {
            $url .= '?' . implode('&', array_map(
                static fn ($k, $v) => str_replace(['%5B', '%5D'], ['[', ']'], rawurlencode($k)) . '=' . rawurlencode($v),
                array_keys($query),
                $query
            ));
        }
        return $url;
    }

    /**
     * The site's MySQL connection for the models, with a UTC utf8mb4 session.
     *
     * @return array<string, mixed>
     */
    private static function utcMysqlConnection(array $c): array
    {
        return array_replace($c, ['timezone' => '+00:00', 'charset' => 'utf8mb4', 'collation' => 'utf8mb4_unicode_ci']);
    }

    /**
     * A connection for the models from a server URL given as `stask.url`; null for a URL this
     * cannot read (the models then use the site's connection).
     *
     * @return array<string, mixed>|null
     */
    private static function serverConnection(string $url, string $prefix): ?array
    {
        $parts = parse_url($url);
        $scheme = strtolower((string) ($parts['scheme'] ?? ''));
        $driver = match ($scheme) {
            'mysql', 'mariadb' => 'mysql',
            'postgres', 'postgresql', 'pgsql' => 'pgsql',
            default => null,
        };
        if ($driver === null || !isset($parts['host'])) {
            return null;
        }
        parse_str((string) ($parts['query'] ?? ''), $query);
        $c = [
            'driver' => $driver,
            'host' => trim($parts['host'], '[]'),
            'database' => rawurldecode(ltrim((string) ($parts['path'] ?? ''), '/')),
            'username' => rawurldecode((string) ($parts['user'] ?? '')),
            'password' => rawurldecode((string) ($parts['pass'] ?? '')),
            'prefix' => $prefix,
        ];
        if (isset($parts['port'])) {
            $c['port'] = (int) $parts['port'];
        }
        if ($driver === 'mysql') {
            if (isset($query['socket'])) {
                $c['unix_socket'] = (string) $query['socket'];
            }
            return self::utcMysqlConnection($c);
        }
        if (isset($query['host'])) {
            $c['host'] = (string) $query['host'];
        }
        if (isset($query['sslmode'])) {
            $c['sslmode'] = (string) $query['sslmode'];
        }
        if (isset($query['options']['search_path'])) {
            $c['schema'] = array_map(static fn ($s) => trim($s, '"'), explode(',', (string) $query['options']['search_path']));
        }
        return $c + ['charset' => 'utf8'];
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
