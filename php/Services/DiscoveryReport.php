<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

/** What a discovery, rescan or cleanup found and changed. */
final class DiscoveryReport
{
    /** @var list<array{class: string, identifier: string, package: string}> valid workers found */
    public array $found = [];
    /** @var list<array{class: string, identifier: string}> newly registered */
    public array $registered = [];
    /** @var list<array{identifier: string, changes: array<string, array{0: mixed, 1: mixed}>}> rows refreshed by a rescan */
    public array $updated = [];
    /** @var array<string, list<string>> identifier → classes claiming it (only the first is registered) */
    public array $conflicts = [];
    /** @var array<string, string> class → why it is not a usable worker */
    public array $invalid = [];
    /** @var list<array{identifier: string, class: string}> rows removed because their class is gone */
    public array $removed = [];
    /** @var list<string> */
    public array $warnings = [];
    public int $packages = 0;
    public int $files = 0;
    public float $scanMs = 0.0;
    public float $totalMs = 0.0;

    /** @return array<string, mixed> */
    public function toArray(): array
    {
        return get_object_vars($this);
    }
}
