<?php

declare(strict_types=1);

namespace STask\Tests\Package;

require_once __DIR__ . '/ClientPatternsTest.php';

/** ClientPatternsTest on a PostgreSQL site ($STASK_TEST_PG_URL; skipped when unset). */
final class ClientPatternsPostgresTest extends ClientPatternsTest
{
    protected ?string $server = 'pgsql';
}
