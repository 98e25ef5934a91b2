<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * The command that starts a PHP like the current one. When the stask extension was loaded with
 * `-d extension=…` (a development setup) rather than from an ini file, the child gets the same
 * option, so that it has the extension too.
 */
final class PhpBinary
{
    /** @return list<string> */
    public static function command(): array
    {
        $command = [PHP_BINARY];
        $cmdline = @file_get_contents('/proc/self/cmdline');
        if ($cmdline === false) {
            return $command;
        }
        $args = explode("\0", $cmdline);
        foreach ($args as $i => $arg) {
            $value = str_starts_with($arg, '-dextension=') ? substr($arg, 2) : ($arg === '-d' ? ($args[$i + 1] ?? '') : '');
            if (str_starts_with($value, 'extension=') && str_contains($value, 'stask')) {
                // A relative path means relative to where this process started; children may
                // start elsewhere (the site's core/ directory, for artisan).
                $path = substr($value, strlen('extension='));
                $absolute = str_contains($path, '/') && $path[0] !== '/' ? realpath($path) : false;
                $command[] = '-d';
                $command[] = $absolute !== false ? 'extension=' . $absolute : $value;
            }
        }
        return $command;
    }
}
