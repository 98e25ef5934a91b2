<?php

declare(strict_types=1);

namespace Seiger\sTask\Exceptions;

/** The `stask` PHP extension is not loaded in this PHP (CLI or FPM). */
final class ExtensionNotLoadedException extends \RuntimeException
{
    public static function create(): self
    {
        return new self(
            'sTask needs the "stask" PHP extension, which is not loaded in this PHP (' . PHP_SAPI . ' ' . PHP_VERSION . '). '
            . 'Build it with `make build` in the sTask package (or download a release build for PHP '
            . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION . '), then enable it for both the CLI and PHP-FPM: '
            . 'add "extension=/path/to/libstask.so" to a file in ' . self::iniDirectory() . ' and restart PHP-FPM. '
            . 'Check with: php -m | grep stask'
        );
    }

    private static function iniDirectory(): string
    {
        $scanned = (string) php_ini_scanned_files();
        $first = trim(explode(',', $scanned)[0] ?? '');
        return $first !== '' ? dirname($first) : 'your php.ini\'s conf.d directory';
    }
}
