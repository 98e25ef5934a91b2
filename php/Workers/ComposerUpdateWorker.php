<?php

declare(strict_types=1);

namespace Seiger\sTask\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Support\CommandLine;

/**
 * Runs `composer update` in the project (core/). Off unless `stask.composer_update.enabled` is
 * true: updating code from the manager is a decision for the site's owner.
 *
 * Options: `no_dev`, `optimize`, `prefer_stable`, `with_dependencies` (booleans).
 */
class ComposerUpdateWorker extends BaseWorker
{
    public function identifier(): string
    {
        return 'composer_update';
    }

    public function scope(): string
    {
        return 'sTask';
    }

    public function icon(): string
    {
        return '<i class="fa fa-sync-alt"></i>';
    }

    public function title(): string
    {
        return 'Composer update';
    }

    public function description(): string
    {
        return 'Updates the project\'s Composer packages (disabled unless enabled in the settings).';
    }

    /** A manager needs "stask_composer" (`stask.composer_update.permission`) besides "stask". */
    public function managerPermission(): ?string
    {
        return (string) config('stask.composer_update.permission', 'stask_composer');
    }

    public function taskMake(sTaskModel $task, array $options = []): void
    {
        if (!config('stask.composer_update.enabled', false)) {
            $this->markFailed($task, 'composer update from sTask is disabled; set stask.composer_update.enabled to true to allow it.');
            return;
        }
        $composer = $this->composerBinary();
        if ($composer === null) {
            $this->markFailed($task, 'composer was not found (set stask.composer_update.binary)');
            return;
        }
        $flags = ['--no-interaction', '--no-progress'];
        $flags[] = !empty($options['no_dev']) ? '--no-dev' : null;
        $flags[] = ($options['optimize'] ?? true) ? '--optimize-autoloader' : null;
        $flags[] = ($options['prefer_stable'] ?? true) ? '--prefer-stable' : null;
        $flags[] = ($options['with_dependencies'] ?? true) ? '--with-dependencies' : null;
        $home = storage_path('composer');
        @mkdir($home, 0775, true);
        $started = microtime(true);
        $run = CommandLine::run(
            array_merge($composer, ['update'], array_values(array_filter($flags))),
            base_path(),
            function (string $line) use ($task): void {
                if (trim($line) !== '') {
                    $this->appendTaskLog($task, 'info', $line);
                    $this->pushProgress($task, ['message' => mb_substr($line, 0, 200)]);
                }
            },
            (int) config('stask.composer_update.timeout', 1800),
            ['COMPOSER_HOME' => $home, 'COMPOSER_NO_INTERACTION' => '1']
        );
        $seconds = round(microtime(true) - $started, 1);
        if ($run['exit'] !== 0) {
            $this->markFailed($task, "composer update failed (exit {$run['exit']}) after {$seconds} s: " . implode(' | ', array_slice($run['tail'], -5)));
            return;
        }
        $this->markFinishedWith($task, ['exit_code' => 0, 'output' => implode("\n", $run['tail'])], "composer update done ({$seconds} s)");
    }

    /** @return list<string>|null the command to run composer */
    private function composerBinary(): ?array
    {
        $configured = config('stask.composer_update.binary');
        if (is_string($configured) && $configured !== '') {
            return str_ends_with($configured, '.phar') ? [PHP_BINARY, $configured] : [$configured];
        }
        foreach (explode(PATH_SEPARATOR, (string) getenv('PATH')) as $dir) {
            if ($dir !== '' && is_executable("$dir/composer")) {
                return ["$dir/composer"];
            }
        }
        foreach ([base_path('composer.phar'), dirname(base_path()) . '/composer.phar'] as $phar) {
            if (is_file($phar)) {
                return [PHP_BINARY, $phar];
            }
        }
        return null;
    }
}
