<?php
declare(strict_types=1);

// The suite runs against the built extension: `make test` loads it with -d extension=….
if (!extension_loaded('stask')) {
    fwrite(STDERR, "The stask extension is not loaded. Run the suite with `make test` "
        . "(or php -d extension=target/release/libstask.so /usr/bin/phpunit).\n");
    exit(1);
}

require_once __DIR__ . '/TestName.php';
require_once __DIR__ . '/Native/EngineTestCase.php';
require_once __DIR__ . '/Native/BackendTestCase.php';
require_once __DIR__ . '/Evo/autoload.php';
require_once __DIR__ . '/Package/PackageTestCase.php';
require_once __DIR__ . '/Package/ServerDatabase.php';
require_once __DIR__ . '/../fixtures/upstream/schema.php';
