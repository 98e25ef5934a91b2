<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use Seiger\sTask\Facades\sTask;
use Seiger\sTask\Models\sWorker;

/** Finding workers in Composer packages and the site's own code. */
final class DiscoveryTest extends PackageTestCase
{
    protected array $packages = ['acme/shop', 'acme/mail', 'acme/clash', 'acme/broken', 'noise/lib'];

    public function testFindsValidWorkersEverywhereAndLoadsNothingElse(): void
    {
        $report = sTask::discover();
        $found = array_column($report->found, 'identifier', 'class');
        ksort($found);
        self::assertSame([
            'Acme\\Mail\\NewsletterWorker' => 'newsletter',
            'Acme\\Shop\\Workers\\PriceImporter' => 'prices',
            'Acme\\Shop\\Workers\\StockSync' => 'stock_sync',
            'App\\Workers\\ReportWorker' => 'report',
            'App\\Workers\\SlowWorker' => 'slow',
            'Seiger\\sTask\\Workers\\ArtisanWorker' => 'artisan',
            'Seiger\\sTask\\Workers\\CleanupWorker' => 'cleanup',
            'Seiger\\sTask\\Workers\\ComposerUpdateWorker' => 'composer_update',
        ], $found);
        self::assertSame('acme/shop', array_column($report->found, 'package', 'class')['Acme\\Shop\\Workers\\StockSync']);
        self::assertSame('project', array_column($report->found, 'package', 'class')['App\\Workers\\ReportWorker']);
        self::assertSame(['product' => ['Acme\\Clash\\OtherProductWorker', 'Acme\\Shop\\Workers\\ProductWorker']], $report->conflicts);
        self::assertArrayHasKey('Acme\\Broken\\BadIdWorker', $report->invalid);
        self::assertStringContainsString('identifier "bad id!"', $report->invalid['Acme\\Broken\\BadIdWorker']);
        self::assertArrayHasKey('Acme\\Broken\\NeedsArgumentWorker', $report->invalid);
        self::assertFalse(class_exists('Noise\\Exploding', false), 'an unrelated class was loaded');
        self::assertFalse(class_exists('Noise\\Deep\\Thing1', false), 'an unrelated class was loaded');
        self::assertFalse(class_exists('Acme\\Shop\\Support\\Helper', false), 'an unrelated class was loaded');
        self::assertSame(6, $report->packages);
        self::assertGreaterThan(20, $report->files);
    }

    public function testAnIdentifierClaimedTwiceIsRegisteredForNeitherUntilOneIsExcluded(): void
    {
        $report = sTask::discover();
        self::assertArrayHasKey('product', $report->conflicts);
        self::assertNull(sTask::getWorker('product'));
        $this->site->app->make('config')->set('stask.discovery.exclude', ['Acme\\Clash']);
        $report = sTask::discover();
        self::assertSame([], $report->conflicts);
        self::assertSame('Acme\\Shop\\Workers\\ProductWorker', sTask::getWorker('product')->class);
        // Once registered, a new clashing class does not displace it.
        $this->site->app->make('config')->set('stask.discovery.exclude', []);
        sTask::discover();
        self::assertSame('Acme\\Shop\\Workers\\ProductWorker', sTask::getWorker('product')->class);
    }

    public function testRegistersNewWorkersInactiveOnce(): void
    {
        $this->site->app->make('config')->set('stask.discovery.exclude', ['Acme\\Clash']);
        $first = sTask::discover();
        self::assertCount(9, $first->registered);
        $product = sWorker::query()->where('identifier', 'product')->first();
        self::assertFalse($product->active, 'new workers start inactive, as upstream');
        self::assertSame('mypackage', $product->scope);
        self::assertMatchesRegularExpression('/^[0-9a-f-]{36}$/', $product->uuid);
        self::assertSame('Product Worker', $product->title);
        self::assertSame('Import and export products', $product->description);

        $again = sTask::discover();
        self::assertSame([], $again->registered, 'nothing new the second time');
        self::assertSame(9, sWorker::query()->count());
        self::assertSame([], sTask::discoverWorkers());
    }

    public function testActivationAndTheUpstreamWorkerApi(): void
    {
        $this->site->app->make('config')->set('stask.discovery.exclude', ['Acme\\Clash']);
        $registered = sTask::discoverWorkers();
        self::assertCount(9, $registered);
        self::assertTrue(sTask::activateWorker('product'));
        self::assertFalse(sTask::activateWorker('nope'));
        self::assertCount(1, sTask::getWorkers(true));
        self::assertCount(9, sTask::getWorkers());
        self::assertSame('Acme\\Shop\\Workers\\ProductWorker', sTask::getWorker('product')->class);
        self::assertTrue(sTask::deactivateWorker('product'));
        self::assertCount(0, sTask::getWorkers(true));
        self::assertSame(['newsletter'], sWorker::query()->byScope('mail')->pluck('identifier')->all());
    }

    public function testRescanRefreshesMovedClassesAndScopes(): void
    {
        $this->site->app->make('config')->set('stask.discovery.exclude', ['Acme\\Clash']);
        sTask::discover();
        sWorker::query()->where('identifier', 'product')->update(['scope' => 'old', 'class' => 'Acme\\Shop\\Gone\\ProductWorker']);
        $report = sTask::rescanWorkers();
        $product = sWorker::query()->where('identifier', 'product')->first();
        self::assertSame('Acme\\Shop\\Workers\\ProductWorker', $product->class);
        self::assertSame('mypackage', $product->scope);
        self::assertSame('product', $report->updated[0]['identifier']);
        self::assertSame(['old', 'mypackage'], $report->updated[0]['changes']['scope']);
    }

    public function testOrphansAreCleanedButTheirTasksStay(): void
    {
        sTask::discover();
        sWorker::query()->create(['identifier' => 'ghost', 'scope' => 'x', 'class' => 'Gone\\GhostWorker', 'active' => true, 'settings' => []]);
        $task = sTask::create('ghost', 'haunt');
        self::assertSame(1, sTask::cleanOrphanedWorkers());
        self::assertNull(sTask::getWorker('ghost'));
        self::assertNotNull(sTask::find((int) $task->id), 'tasks of removed workers are kept');
    }

    public function testRegisterWorkerByClass(): void
    {
        $worker = sTask::registerWorker('Acme\\Mail\\NewsletterWorker');
        self::assertSame('newsletter', $worker->identifier);
        self::assertSame($worker->id, sTask::registerWorker('Acme\\Mail\\NewsletterWorker')->id);
    }

    public function testExcludedNamespacesAreConfigurable(): void
    {
        $this->site->app->make('config')->set('stask.discovery.exclude', ['Acme\\Mail', 'Acme\\Clash']);
        $found = array_column(sTask::discover()->found, 'identifier');
        self::assertNotContains('newsletter', $found);
        self::assertContains('product', $found);
    }
}
