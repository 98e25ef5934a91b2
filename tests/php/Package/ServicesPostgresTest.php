<?php

declare(strict_types=1);

namespace STask\Tests\Package;

require_once __DIR__ . '/ServicesTest.php';

/** ServicesTest on a PostgreSQL site ($STASK_TEST_PG_URL; skipped when unset). */
final class ServicesPostgresTest extends ServicesTest
{
    protected ?string $server = 'pgsql';
}
