<?php

declare(strict_types=1);

namespace Seiger\sTask\Http;

/** Small formatting helpers for the manager pages. */
final class Format
{
    /** 850 ms, 12.3 s, 4m 05s, 2h 10m; "—" when unknown. */
    public static function duration(int|float|null $ms): string
    {
        if ($ms === null) {
            return '—';
        }
        $s = $ms / 1000;
        return match (true) {
            $ms < 1000 => sprintf('%d ms', $ms),
            $s < 60 => sprintf('%.1f s', $s),
            $s < 3600 => sprintf('%dm %02ds', intdiv((int) $s, 60), (int) $s % 60),
            default => sprintf('%dh %02dm', intdiv((int) $s, 3600), intdiv((int) $s % 3600, 60)),
        };
    }
}
