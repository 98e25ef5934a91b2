<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use PHPUnit\Framework\TestCase;
use Seiger\sTask\Support\EngineSettings;

/** Where the engine keeps tasks, from the host's database configuration. Pure. */
final class EngineSettingsTest extends TestCase
{
    private const DB = [
        'default' => 'default',
        'connections' => [
            'default' => ['driver' => 'mysql', 'host' => 'db.local', 'port' => 3307, 'database' => 'evo site', 'username' => 'evo', 'password' => 'p@ss:w/rd', 'prefix' => 'a1b_'],
            'pg' => ['driver' => 'pgsql', 'host' => '10.0.0.5', 'database' => 'cms', 'username' => 'cms', 'password' => '', 'prefix' => 'evo_'],
            'lite' => ['driver' => 'sqlite', 'database' => '/var/www/core/database/site.sqlite', 'prefix' => 'evo_'],
            'memory' => ['driver' => 'sqlite', 'database' => ':memory:', 'prefix' => ''],
        ],
    ];

    private const ALL = ['sqlite', 'postgres', 'mysql'];

    public function testTheSiteDatabaseIsUsedWhenTheExtensionSupportsItsDriver(): void
    {
        self::assertSame(self::ALL, \STask\Engine::supportedBackends(), 'this build opens every backend');
        $s = EngineSettings::resolve([], self::DB, '/site/core/storage', self::ALL);
        self::assertSame('mysql://evo:p%40ss%3Aw%2Frd@db.local:3307/evo%20site', $s->url);
        self::assertSame('a1b_', $s->options['prefix'], 'the site prefix, never a hard-coded evo_');
        self::assertSame('/site/core/storage/stask', $s->options['storage']);
        self::assertFalse($s->embedded);
        // The models read the same database through a UTC, utf8mb4 copy of the connection.
        self::assertSame('stask', $s->connectionName);
        self::assertSame(self::DB['connections']['default'] + ['timezone' => '+00:00', 'charset' => 'utf8mb4', 'collation' => 'utf8mb4_unicode_ci'], $s->connectionConfig);

        $pg = EngineSettings::resolve(['connection' => 'pg'], self::DB, '/s', self::ALL);
        self::assertSame('postgres://cms@10.0.0.5/cms', $pg->url);
        self::assertSame('pg', $pg->connectionName, 'PostgreSQL timestamps read the same in any session');
        self::assertNull($pg->connectionConfig);

        $lite = EngineSettings::resolve(['connection' => 'lite'], self::DB, '/s', ['sqlite']);
        self::assertSame('sqlite:/var/www/core/database/site.sqlite', $lite->url);
        self::assertSame('lite', $lite->connectionName);
    }

    public function testAnUnsupportedDriverFallsBackToTheEmbeddedDatabaseWithTheSamePrefix(): void
    {
        $s = EngineSettings::resolve([], self::DB, '/site/core/storage', ['sqlite']);
        self::assertTrue($s->embedded);
        self::assertSame('sqlite:/site/core/storage/stask.sqlite', $s->url);
        self::assertSame('stask', $s->connectionName, 'models read the embedded database through their own connection');
        self::assertSame(['driver' => 'sqlite', 'database' => '/site/core/storage/stask.sqlite', 'prefix' => 'a1b_', 'foreign_key_constraints' => false], $s->connectionConfig);
        self::assertStringContainsString('"mysql" driver', $s->reason);

        self::assertTrue(EngineSettings::resolve(['connection' => 'memory'], self::DB, '/s', ['sqlite'])->embedded, 'an in-memory site database cannot be shared');
        self::assertTrue(EngineSettings::resolve(['connection' => 'nope'], self::DB, '/s', ['sqlite'])->embedded);
    }

    public function testExplicitUrlAndOptions(): void
    {
        $s = EngineSettings::resolve(
            ['url' => 'sqlite:/data/tasks.sqlite', 'storage' => '/data/files', 'lease_seconds' => 30, 'max_attempts' => 5, 'backoff' => ['base' => 2]],
            self::DB,
            '/s',
            ['sqlite']
        );
        self::assertSame('sqlite:/data/tasks.sqlite', $s->url);
        self::assertSame(['prefix' => 'a1b_', 'storage' => '/data/files', 'leaseSeconds' => 30, 'maxAttempts' => 5, 'backoff' => ['base' => 2]], $s->options);
        self::assertSame('/data/tasks.sqlite', $s->connectionConfig['database']);
    }

    /** Every part of a Laravel connection that decides where the server is, and only those. */
    public function testServerConnectionsMapToEngineUrls(): void
    {
        $url = fn (array $c) => EngineSettings::resolve([], ['default' => 'x', 'connections' => ['x' => $c]], '/s', self::ALL)->url;
        $mysql = ['driver' => 'mysql', 'host' => '127.0.0.1', 'port' => '3306', 'database' => 'evo', 'username' => 'root', 'password' => '', 'charset' => 'utf8', 'collation' => 'utf8_general_ci', 'prefix' => 'evo_', 'timezone' => '+02:00'];
        self::assertSame('mysql://root@127.0.0.1:3306/evo', $url($mysql), 'charset, collation and timezone are the models\' business');
        self::assertSame('mysql://root@127.0.0.1:3306/evo', $url(['driver' => 'mariadb'] + $mysql));
        self::assertSame('mysql://root@localhost/evo?socket=%2Frun%2Fmysqld%2Fmysqld.sock', $url(['unix_socket' => '/run/mysqld/mysqld.sock', 'port' => ''] + $mysql));
        self::assertSame('mysql://root@[::1]:3306/evo', $url(['host' => '::1'] + $mysql));
        self::assertSame('mysql://root@db-write:3306/evo', $url(['read' => ['host' => ['db-read']], 'write' => ['host' => ['db-write', 'db-write-2']]] + $mysql), 'tasks are written: the write side');
        self::assertSame('mysql://u%20s%3Ar:p%40%3A%2F%3F%23%25%20%C3%BC@127.0.0.1:3306/my-db_1', $url(['username' => 'u s:r', 'password' => "p@:/?#% ü", 'database' => 'my-db_1'] + $mysql));

        $pg = ['driver' => 'pgsql', 'host' => 'db', 'port' => 5432, 'database' => 'evo', 'username' => 'evo', 'password' => 's3cr3t', 'charset' => 'utf8', 'prefix' => 'evo_', 'schema' => 'public', 'sslmode' => 'prefer'];
        self::assertSame('postgres://evo:s3cr3t@db:5432/evo?sslmode=prefer&options[search_path]=public', $url($pg));
        self::assertSame('postgres://evo:s3cr3t@localhost:5432/evo?host=%2Fvar%2Frun%2Fpostgresql&options[search_path]=site%2Cpublic', $url(['host' => '/var/run/postgresql', 'sslmode' => '', 'schema' => ['site', 'public']] + $pg));
        self::assertSame('postgres://evo:s3cr3t@db:5432/evo?sslmode=require&options[search_path]=%22My%20Schema%22', $url(['search_path' => 'My Schema', 'sslmode' => 'require'] + $pg), 'Laravel 9+ name; quoted when not a plain name');
        self::assertSame('postgres://evo:s3cr3t@db:5432/evo', $url(['schema' => null, 'sslmode' => null] + $pg));
    }

    /** What the map produces, the engine accepts: it gets as far as connecting. */
    public function testTheEngineAcceptsTheUrls(): void
    {
        foreach (['mysql://root@127.0.0.1:1/evo', 'mysql://root@localhost/evo?socket=%2Fnonexistent%2Fmysqld.sock',
            'mysql://root@[::1]:1/evo', 'postgres://evo:s3cr3t@127.0.0.1:1/evo?sslmode=prefer&options[search_path]=site%2Cpublic',
            'postgres://evo@localhost:1/evo?host=%2Fnonexistent'] as $url) {
            try {
                new \STask\Engine($url, ['storage' => sys_get_temp_dir() . '/stask-settings-test']);
                self::fail("connected to $url");
            } catch (\STask\Exception\ConfigurationException $e) {
                self::assertStringContainsString('cannot connect to the', $e->getMessage(), "$url: " . $e->getMessage());
            }
        }
    }

    /** An explicit server URL: the models read that database through a connection made from it. */
    public function testAnExplicitServerUrlGivesTheModelsAMatchingConnection(): void
    {
        $s = EngineSettings::resolve(['url' => 'mysql://tasks:p%40ss@queue.db:3307/jobs?socket=%2Frun%2Fm.sock', 'files' => 'database'], self::DB, '/s', self::ALL);
        self::assertSame('stask', $s->connectionName);
        self::assertSame(['driver' => 'mysql', 'host' => 'queue.db', 'database' => 'jobs', 'username' => 'tasks', 'password' => 'p@ss', 'prefix' => 'a1b_', 'port' => 3307, 'unix_socket' => '/run/m.sock', 'timezone' => '+00:00', 'charset' => 'utf8mb4', 'collation' => 'utf8mb4_unicode_ci'], $s->connectionConfig);
        self::assertSame('database', $s->options['files']);
        $pg = EngineSettings::resolve(['url' => 'postgres://evo@localhost/cms?host=%2Fvar%2Frun%2Fpostgresql&options[search_path]=site,public'], self::DB, '/s', self::ALL);
        self::assertSame(['driver' => 'pgsql', 'host' => '/var/run/postgresql', 'database' => 'cms', 'username' => 'evo', 'password' => '', 'prefix' => 'a1b_', 'schema' => ['site', 'public'], 'charset' => 'utf8'], $pg->connectionConfig);
    }
}
