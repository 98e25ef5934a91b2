<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Services\DiscoveryReport;

/** Finds workers in installed packages and the project, registers new ones, shows them all. */
final class DiscoverCommand extends StaskCommand
{
    protected $signature = 'stask:discover
        {--rescan : Also refresh class, scope and identifier of registered workers}
        {--clean : Also remove registered workers whose class is gone}
        {--activate=* : Activate these workers (identifiers)}
        {--deactivate=* : Deactivate these workers (identifiers)}';

    protected $description = 'Discover workers in Composer packages and register new ones';

    public function handle(): int
    {
        return $this->guard(function (): int {
            $stask = $this->stask();
            $report = $stask->discover();
            $this->line(sprintf(
                'Scanned %d package(s), %d file(s) in %.1f ms (%.1f ms with validation).',
                $report->packages,
                $report->files,
                $report->scanMs,
                $report->totalMs
            ));
            if ($this->option('rescan')) {
                $rescan = $stask->rescanWorkers();
                foreach ($rescan->updated as $u) {
                    $changes = implode(', ', array_map(fn ($k, $v) => "$k: {$v[0]} → {$v[1]}", array_keys($u['changes']), $u['changes']));
                    $this->line("Updated <info>{$u['identifier']}</info>: $changes");
                }
                $report->conflicts += $rescan->conflicts;
            }
            if ($this->option('clean')) {
                foreach ($this->clean() as $removed) {
                    $this->line("Removed <comment>{$removed['identifier']}</comment> ({$removed['class']} no longer exists)");
                }
            }
            $exit = 0;
            foreach ((array) $this->option('activate') as $identifier) {
                $exit |= $this->toggle($identifier, true);
            }
            foreach ((array) $this->option('deactivate') as $identifier) {
                $exit |= $this->toggle($identifier, false);
            }
            $this->report($report);
            return $exit;
        });
    }

    /** @return list<array{identifier: string, class: string}> */
    private function clean(): array
    {
        return $this->laravel->make(\Seiger\sTask\Services\WorkerDiscovery::class)->cleanOrphaned()->removed;
    }

    private function toggle(string $identifier, bool $active): int
    {
        $ok = $active ? $this->stask()->activateWorker($identifier) : $this->stask()->deactivateWorker($identifier);
        if (!$ok) {
            $this->error("No worker \"$identifier\" is registered.");
            return 1;
        }
        $this->line(($active ? 'Activated' : 'Deactivated') . " <info>$identifier</info>");
        return 0;
    }

    private function report(DiscoveryReport $report): void
    {
        $new = array_column($report->registered, 'identifier');
        $packages = array_column($report->found, 'package', 'class');
        $rows = [];
        foreach (sWorker::query()->ordered()->get() as $worker) {
            $rows[] = [
                $worker->identifier,
                $worker->class,
                $packages[$worker->class] ?? ($worker->class_exists ? '' : '<fg=red>missing</>'),
                $worker->scope,
                $worker->active ? '<fg=green>active</>' : '<fg=gray>inactive</>',
                in_array($worker->identifier, $new, true) ? '<info>new</info>' : '',
            ];
        }
        if ($rows === []) {
            $this->line('No workers found. Workers extend Seiger\\sTask\\Workers\\BaseWorker (or implement TaskInterface) in an autoloaded package.');
        } else {
            $this->table(['identifier', 'class', 'package', 'scope', 'state', ''], $rows);
        }
        foreach ($report->conflicts as $identifier => $classes) {
            $this->warn("Identifier \"$identifier\" is claimed by several classes: " . implode(', ', $classes) . ' — only the first is registered.');
        }
        foreach ($report->invalid as $class => $reason) {
            $this->warn("Skipped $class: $reason");
        }
        foreach ($report->warnings as $warning) {
            $this->warn($warning);
        }
        if ($new !== []) {
            $this->line(sprintf('Registered %d new worker(s)%s.', count($new),
                $this->laravel->make('config')->get('stask.discovery.activate_new') ? '' : ' (inactive: activate with --activate=identifier or in the manager)'));
        }
    }
}
