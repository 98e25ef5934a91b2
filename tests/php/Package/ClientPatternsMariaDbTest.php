<?php

declare(strict_types=1);

namespace STask\Tests\Package;

require_once __DIR__ . '/ClientPatternsTest.php';

/** ClientPatternsTest on a MariaDB/MySQL site ($STASK_TEST_MYSQL_URL; skipped when unset). */
final class ClientPatternsMariaDbTest extends ClientPatternsTest
{
    protected ?string $server = 'mysql';
}
