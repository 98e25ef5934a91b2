<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use PHPUnit\Framework\TestCase;
use Seiger\sTask\sTask;

/**
 * Packages built on upstream sTask require `seiger/stask ^2.0`: this package must satisfy that
 * constraint for Composer, and report a 2.x version wherever upstream did.
 */
final class VersionTest extends TestCase
{
    public function testTheVersionIsTwoPointSomethingEverywhere(): void
    {
        $composer = json_decode((string) file_get_contents(dirname(__DIR__, 3) . '/composer.json'), true);
        self::assertSame(sTask::VERSION, $composer['version'] ?? null, 'composer.json and sTask::VERSION agree');
        self::assertMatchesRegularExpression('/^2\.\d+\.\d+$/', sTask::VERSION);
        $check = require dirname(__DIR__, 3) . '/config/sTaskCheck.php';
        self::assertSame(sTask::VERSION, $check['sTaskVer']);
    }

    /** A Composer project that requires seiger/stask ^2.0 resolves to this package. */
    public function testComposerResolvesACaretTwoConstraint(): void
    {
        $composer = trim((string) shell_exec('command -v composer'));
        if ($composer === '') {
            self::markTestSkipped('SKIPPED: composer is not installed (make deps installs Debian\'s composer)');
        }
        $dir = sys_get_temp_dir() . '/stask-composer-' . getmypid() . '-' . bin2hex(random_bytes(4));
        mkdir($dir);
        try {
            file_put_contents("$dir/composer.json", json_encode([
                'name' => 'site/evo',
                'require' => ['seiger/stask' => '^2.0'],
                'repositories' => [
                    ['type' => 'path', 'url' => dirname(__DIR__, 3), 'options' => ['symlink' => false]],
                    ['packagist.org' => false],
                ],
                'config' => ['platform-check' => false],
            ], JSON_UNESCAPED_SLASHES));
            $cmd = sprintf('cd %s && COMPOSER_HOME=%s %s update --no-install --no-interaction --no-plugins --no-scripts --ignore-platform-req=ext-stask 2>&1',
                escapeshellarg($dir), escapeshellarg("$dir/.home"), escapeshellarg($composer));
            exec($cmd, $out, $code);
            self::assertSame(0, $code, implode("\n", $out));
            $lock = json_decode((string) file_get_contents("$dir/composer.lock"), true);
            $locked = array_column($lock['packages'], 'version', 'name');
            self::assertSame(sTask::VERSION, $locked['seiger/stask'] ?? null);
        } finally {
            exec('rm -rf ' . escapeshellarg($dir));
        }
    }
}
