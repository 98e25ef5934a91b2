<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use PHPUnit\Framework\TestCase;
use STask\Tests\Evo\Site;
use Symfony\Component\HttpFoundation\Response;

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

    /**
     * An hourly schedule time ("*:MM") half an hour from now, so that a schedule set in a test is
     * never due at once; also waits out 03:30, when the cleanup worker's daily run is due.
     */
    public static function minuteNotNow(): string
    {
        if (date('H:i') === '03:30') {
            sleep(61 - (int) date('s'));
        }
        return sprintf('*:%02d', ((int) date('i') + 30) % 60);
    }

    /** A manager page or endpoint, as the logged-in manager. */
    protected function get(string $path): Response
    {
        return $this->site->dispatch($this->site->request($path));
    }

    /** A JSON write, with the manager's CSRF token unless $token is false. */
    protected function post(string $path, array $data = [], bool $token = true, array $files = []): Response
    {
        $request = $this->site->request($path, 'POST', $data, $files);
        $request->headers->set('Accept', 'application/json');
        if ($token) {
            $request->headers->set('X-CSRF-TOKEN', csrf_token());
        }
        return $this->site->dispatch($request);
    }

    /** The decoded JSON answer, after checking its status. */
    protected function json(Response $response, int $status = 200): array
    {
        self::assertSame($status, $response->getStatusCode(), (string) $response->getContent());
        return json_decode((string) $response->getContent(), true);
    }
}
