<?php

declare(strict_types=1);

namespace STask\Tests\Package;

require_once __DIR__ . '/SupervisorTest.php';

/** SupervisorTest on a PostgreSQL site ($STASK_TEST_PG_URL; skipped when unset). */
final class SupervisorPostgresTest extends SupervisorTest
{
    protected ?string $server = 'pgsql';
}
