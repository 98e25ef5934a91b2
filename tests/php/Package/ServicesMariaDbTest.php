<?php

declare(strict_types=1);

namespace STask\Tests\Package;

require_once __DIR__ . '/ServicesTest.php';

/** ServicesTest on a MariaDB/MySQL site ($STASK_TEST_MYSQL_URL; skipped when unset). */
final class ServicesMariaDbTest extends ServicesTest
{
    protected ?string $server = 'mysql';
}
