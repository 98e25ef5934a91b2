<?php

declare(strict_types=1);

namespace Seiger\sTask\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Support\CommandLine;
use Seiger\sTask\Support\PhpBinary;

/**
 * Runs an allow-listed artisan command (`stask.artisan.allowed`) in a separate PHP process.
 * Arguments are passed as an argv list — never through a shell — and creating such a task from
 * the manager needs its own permission (`stask.artisan.permission`, default "stask_artisan").
 *
 * Options: `command` (e.g. "cache:clear"), `arguments` (a list, or a string split on spaces).
 */
class ArtisanWorker extends BaseWorker
{
    public function identifier(): string
    {
        return 'artisan';
    }

    public function scope(): string
    {
        return 'sTask';
    }

    public function icon(): string
    {
        return '<i class="fa fa-terminal"></i>';
    }

    public function title(): string
    {
        return 'Artisan';
    }

    public function description(): string
    {
        return 'Runs allow-listed artisan commands and shows their output.';
    }

    /** A manager needs "stask_artisan" (`stask.artisan.permission`) besides "stask". */
    public function managerPermission(): ?string
    {
        return (string) config('stask.artisan.permission', 'stask_artisan');
    }

    public function taskMake(sTaskModel $task, array $options = []): void
    {
        $command = trim((string) ($options['command'] ?? 'list'));
        $arguments = CommandLine::arguments($options['arguments'] ?? []);
        if (!self::isAllowed($command, (array) config('stask.artisan.allowed', []))) {
            $this->markFailed($task, "The artisan command \"$command\" is not allowed (stask.artisan.allowed).");
            return;
        }
        if (($refusal = self::refusal($command, $arguments)) !== null) {
            $this->markFailed($task, $refusal);
            return;
        }
        $artisan = base_path('artisan');
        if (!is_file($artisan)) {
            $this->markFailed($task, "artisan not found at $artisan");
            return;
        }
        $this->appendTaskLog($task, 'info', 'php artisan ' . implode(' ', array_map('escapeshellarg', array_merge([$command], $arguments))));
        $started = microtime(true);
        $lines = 0;
        $run = CommandLine::run(
            array_merge(PhpBinary::command(), [$artisan, $command], $arguments, ["--no-interaction"]),
            dirname($artisan),
            function (string $line) use ($task, &$lines): void {
                $lines++;
                if (trim($line) !== '') {
                    $this->appendTaskLog($task, 'info', $line);
                    $this->pushProgress($task, ['message' => mb_substr($line, 0, 200)]);
                }
            },
            (int) config('stask.artisan.timeout', 600)
        );
        $seconds = round(microtime(true) - $started, 1);
        $result = ['command' => $command, 'arguments' => $arguments, 'exit_code' => $run['exit'], 'output' => implode("\n", $run['tail'])];
        if ($run['exit'] !== 0) {
            $why = $run['timedOut'] ? 'timed out' : "exited with code {$run['exit']}";
            $this->markFailed($task, "artisan $command $why after {$seconds} s: " . implode(' | ', array_slice($run['tail'], -5)));
            return;
        }
        $this->markFinishedWith($task, $result, "Artisan executed: $command ({$seconds} s)");
    }

    /**
     * Why an allowed command may not run with these arguments through this worker, or null.
     * `stask:prune` needs `--days` of 1 or more (or none: the configured default): with 0 it
     * deletes every finished task and every uploaded file, and a manager's typo should not do
     * that. The CLI still takes `--days=0`, and the manager's own clean action asks for its days.
     *
     * @param list<string> $arguments
     */
    public static function refusal(string $command, array $arguments): ?string
    {
        if ($command !== 'stask:prune') {
            return null;
        }
        $days = null;
        foreach ($arguments as $i => $argument) {
            if ($argument === '--') {
                break;
            }
            if (preg_match('/^--days(?:=(.*))?$/s', $argument, $m) === 1) {
                // The last one counts, as for Symfony Console.
                $days = array_key_exists(1, $m) ? $m[1] : (string) ($arguments[$i + 1] ?? '');
            }
        }
        if ($days !== null && (preg_match('/^\d+$/', $days) !== 1 || (int) $days < 1)) {
            return 'stask:prune from sTask needs --days of 1 or more (0 would delete every finished task and every upload).';
        }
        return null;
    }

    /** Exact names, or prefixes ending in "*" ("cache:*" allows "cache:clear"). */
    public static function isAllowed(string $command, array $allowed): bool
    {
        if (preg_match('/^[a-z0-9][a-z0-9:_-]*$/i', $command) !== 1) {
            return false;
        }
        foreach ($allowed as $pattern) {
            $pattern = (string) $pattern;
            if ($pattern === $command || (str_ends_with($pattern, '*') && str_starts_with($command, substr($pattern, 0, -1)))) {
                return true;
            }
        }
        return false;
    }
}
