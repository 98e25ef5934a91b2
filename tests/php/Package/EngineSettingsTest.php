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

    public function testTheSiteDatabaseIsUsedWhenTheExtensionSupportsItsDriver(): void
    {
        $s = EngineSettings::resolve([], self::DB, '/site/core/storage', ['sqlite', 'mysql', 'postgres']);
        self::assertSame('mysql://evo:p%40ss%3Aw%2Frd@db.local:3307/evo%20site', $s->url);
        self::assertSame('a1b_', $s->options['prefix'], 'the site prefix, never a hard-coded evo_');
        self::assertSame('/site/core/storage/stask', $s->options['storage']);
        self::assertSame('default', $s->connectionName);
        self::assertNull($s->connectionConfig);
        self::assertFalse($s->embedded);

        $pg = EngineSettings::resolve(['connection' => 'pg'], self::DB, '/s', ['sqlite', 'mysql', 'postgres']);
        self::assertSame('postgres://cms@10.0.0.5/cms', $pg->url);
        self::assertSame('pg', $pg->connectionName);

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
}
