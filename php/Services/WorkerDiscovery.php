<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Seiger\sTask\Contracts\TaskInterface;
use Seiger\sTask\Models\sWorker;
use Seiger\sTask\Workers\BaseWorker;
use STask\Engine;

/**
 * Finds worker classes in every installed Composer package and in the project's own autoload.
 * The scan runs natively and reads source files only; PHP then loads just the candidates and
 * checks them by reflection, so no unrelated class is ever autoloaded (upstream autoloaded
 * every vendor class, and only saw optimised classmaps).
 */
final class WorkerDiscovery
{
    /** Namespaces never scanned for workers (upstream's list); config adds more. */
    public const EXCLUDED = [
        'Brick', 'Carbon', 'Composer', 'Doctrine', 'Dotenv', 'Egulias', 'EvolutionCMS\\Interfaces',
        'EvolutionCMS\\Legacy', 'EvolutionCMS\\Salo', 'EvolutionCMS\\Support', 'EvolutionCMS\\System',
        'EvolutionCMS\\Tracy', 'EvolutionCMS\\UserManager', 'GuzzleHttp', 'Illuminate', 'JsonSchema', 'Laravel',
        'League', 'Monolog', 'Mockery', 'Pest', 'PHPMailer', 'PHPUnit', 'PHPStan', 'Predis', 'Psr', 'React',
        'SebastianBergmann', 'Symfony', 'Tracy', 'WebPConvert', 'Webmozart', 'Wikimedia',
    ];

    /** Same rule as the engine's for task identifiers. */
    private const IDENTIFIER = '/^[A-Za-z0-9_.:\/\\\\-]{1,190}$/';

    /** @param list<string> $exclude */
    public function __construct(
        private WorkerRegistry $registry,
        private string $projectDir,
        private array $exclude = [],
        private bool $activateNew = false,
        private ?string $cacheFile = null,
    ) {
    }

    /** Scans and validates; changes nothing. */
    public function scan(): DiscoveryReport
    {
        $started = microtime(true);
        $report = new DiscoveryReport();
        $scan = Engine::discoverWorkers(
            $this->projectDir,
            [BaseWorker::class, TaskInterface::class],
            array_values(array_unique(array_merge(self::EXCLUDED, $this->exclude))),
            $this->cacheFile
        );
        $report->packages = $scan['packages'];
        $report->files = $scan['files'];
        $report->scanMs = $scan['elapsedMs'];
        $report->warnings = $scan['warnings'];
        /** @var array<string, list<array{class: string, package: string}>> $byIdentifier */
        $byIdentifier = [];
        foreach ($scan['candidates'] as $candidate) {
            $class = $candidate['class'];
            try {
                $worker = $this->registry->instantiate($class);
                $identifier = $worker->identifier();
            } catch (\Throwable $e) {
                $report->invalid[$class] = $e->getMessage();
                continue;
            }
            if (preg_match(self::IDENTIFIER, $identifier) !== 1) {
                $report->invalid[$class] = "identifier \"$identifier\" must be 1 to 190 letters, digits or _ - . : / \\";
                continue;
            }
            $byIdentifier[$identifier][] = ['class' => $class, 'package' => $candidate['package']];
        }
        foreach ($byIdentifier as $identifier => $classes) {
            if (count($classes) > 1) {
                // Which one was meant is the site owner's call: register neither, say why.
                $report->conflicts[$identifier] = array_column($classes, 'class');
                continue;
            }
            $report->found[] = ['class' => $classes[0]['class'], 'identifier' => $identifier, 'package' => $classes[0]['package']];
        }
        $report->totalMs = (microtime(true) - $started) * 1000;
        return $report;
    }

    /**
     * Registers workers found for the first time (inactive unless configured otherwise). An
     * identifier claimed by several classes is registered for none of them and reported, until
     * one is excluded (stask.discovery.exclude) or renamed; a row registered earlier stays.
     */
    public function discover(?bool $activate = null): DiscoveryReport
    {
        $report = $this->scan();
        $rows = sWorker::query()->get()->keyBy('identifier');
        $position = (int) sWorker::query()->max('position');
        foreach ($report->found as $found) {
            $existing = $rows->get($found['identifier']);
            if ($existing !== null) {
                if ($existing->class !== $found['class'] && class_exists((string) $existing->class)) {
                    // Another class already owns the identifier: report it, keep the registered one.
                    $report->conflicts[$found['identifier']] = array_values(array_unique(
                        array_merge($report->conflicts[$found['identifier']] ?? [], [(string) $existing->class, $found['class']])
                    ));
                }
                continue;
            }
            $worker = $this->registry->instantiate($found['class']);
            sWorker::query()->create([
                'uuid' => self::uuid(),
                'identifier' => $found['identifier'],
                'scope' => $worker->scope() ?: 'stask',
                'class' => $found['class'],
                'active' => $activate ?? $this->activateNew,
                'position' => ++$position,
                'settings' => [],
                'hidden' => 0,
            ]);
            $report->registered[] = ['class' => $found['class'], 'identifier' => $found['identifier']];
        }
        $this->registry->forget();
        return $report;
    }

    /** Brings registered rows up to date: class (when a class moved), scope and identifier. */
    public function rescan(): DiscoveryReport
    {
        $report = $this->scan();
        $byClass = [];
        $byIdentifier = [];
        foreach ($report->found as $found) {
            $byClass[$found['class']] = $found;
            $byIdentifier[$found['identifier']] = $found;
        }
        foreach (sWorker::query()->get() as $row) {
            $found = $byClass[$row->class] ?? $byIdentifier[$row->identifier] ?? null;
            if ($found === null) {
                continue;
            }
            $worker = $this->registry->instantiate($found['class']);
            $wanted = ['class' => $found['class'], 'identifier' => $found['identifier'], 'scope' => $worker->scope() ?: 'stask'];
            $changes = [];
            foreach ($wanted as $key => $value) {
                if ((string) $row->{$key} !== $value) {
                    $changes[$key] = [$row->{$key}, $value];
                }
            }
            if ($changes === []) {
                continue;
            }
            $taken = isset($changes['identifier'])
                && sWorker::query()->where('identifier', $wanted['identifier'])->where('id', '!=', $row->id)->exists();
            if ($taken) {
                $report->conflicts[$wanted['identifier']] = array_values(array_unique(array_merge(
                    $report->conflicts[$wanted['identifier']] ?? [],
                    [(string) $row->class, $found['class']]
                )));
                unset($changes['identifier'], $wanted['identifier']);
                if ($changes === []) {
                    continue;
                }
            }
            $row->fill(array_intersect_key($wanted, $changes))->save();
            $report->updated[] = ['identifier' => (string) $row->identifier, 'changes' => $changes];
        }
        $this->registry->forget();
        return $report;
    }

    /** Removes registered workers whose class no longer exists or is no longer a worker. */
    public function cleanOrphaned(): DiscoveryReport
    {
        $report = new DiscoveryReport();
        foreach (sWorker::query()->get() as $row) {
            try {
                $this->registry->instantiate((string) $row->class);
            } catch (\Throwable $e) {
                $report->removed[] = ['identifier' => (string) $row->identifier, 'class' => (string) $row->class];
                $row->delete();
            }
        }
        $this->registry->forget();
        return $report;
    }

    /** Registers one class by name. */
    public function register(string $class, ?bool $activate = null): ?sWorker
    {
        $worker = $this->registry->instantiate($class);
        $identifier = $worker->identifier();
        if (preg_match(self::IDENTIFIER, $identifier) !== 1) {
            return null;
        }
        $row = sWorker::query()->where('identifier', $identifier)->first();
        if ($row !== null) {
            return $row->class === $class ? $row : null;
        }
        $row = sWorker::query()->create([
            'uuid' => self::uuid(),
            'identifier' => $identifier,
            'scope' => $worker->scope() ?: 'stask',
            'class' => $class,
            'active' => $activate ?? $this->activateNew,
            'position' => (int) sWorker::query()->max('position') + 1,
            'settings' => [],
            'hidden' => 0,
        ]);
        $this->registry->forget();
        return $row;
    }

    private static function uuid(): string
    {
        $b = random_bytes(16);
        $b[6] = chr(ord($b[6]) & 0x0f | 0x40);
        $b[8] = chr(ord($b[8]) & 0x3f | 0x80);
        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($b), 4));
    }
}
