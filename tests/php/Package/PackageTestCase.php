<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use PHPUnit\Framework\TestCase;
use STask\Tests\Evo\Site;

/** A fresh Evolution CMS site per test, with the package installed and migrated. */
abstract class PackageTestCase extends TestCase
{
    protected Site $site;

    /** Fixture packages installed besides seiger/stask. */
    protected array $packages = ['acme/shop', 'acme/mail'];
    protected array $staskConfig = [];
    protected bool $migrate = true;

    protected function setUp(): void
    {
        $this->site = new Site($this->packages, $this->staskConfig);
        if ($this->migrate) {
            [$code, $out] = $this->site->call('migrate', ['--force' => true]);
            self::assertSame(0, $code, $out);
        }
    }

    protected function tearDown(): void
    {
        $this->site->destroy();
    }

    /** Runs an artisan command and asserts its exit code; returns the output. */
    protected function artisan(string $command, array $parameters = [], int $expect = 0): string
    {
        [$code, $out] = $this->site->call($command, $parameters);
        self::assertSame($expect, $code, "php artisan $command exited with $code:\n$out");
        return $out;
    }

    /** Registers and activates the fixture workers. */
    protected function discoverAndActivate(): void
    {
        $this->artisan('stask:discover', ['--activate' => ['product', 'stock_sync', 'prices', 'newsletter', 'report', 'cleanup']]);
    }
}
