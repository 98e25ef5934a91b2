<?php

declare(strict_types=1);

namespace STask\Tests\Package;

require_once __DIR__ . '/SupervisorTest.php';

/** SupervisorTest on a MariaDB/MySQL site ($STASK_TEST_MYSQL_URL; skipped when unset). */
final class SupervisorMariaDbTest extends SupervisorTest
{
    protected ?string $server = 'mysql';
}
