<?php

declare(strict_types=1);

namespace STask\Tests\Evo;

/**
 * Application::maintenanceMode() (Laravel 9+) for the stand-in: Evolution CMS's Offline switch,
 * `site_status` 0. Loaded only where Laravel asks for it. Tests only.
 */
final class MaintenanceMode implements \Illuminate\Contracts\Foundation\MaintenanceMode
{
    public function __construct(private EvoCore $app)
    {
    }

    public function activate(array $payload): void
    {
        $this->app->settings['site_status'] = 0;
    }

    public function deactivate(): void
    {
        $this->app->settings['site_status'] = 1;
    }

    public function active(): bool
    {
        return $this->app->isDownForMaintenance();
    }

    public function data(): array
    {
        return [];
    }
}
