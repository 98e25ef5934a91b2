<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * Runs a program with an argv list — never through a shell, so no argument can inject a
 * command — streaming its output line by line, with a timeout.
 */
final class CommandLine
{
    /**
     * @param list<string> $argv program and arguments
     * @param callable(string $line): void $onLine called for each output line (stdout and stderr)
     * @param array<string, string> $env extra environment variables
     * @return array{exit: int, timedOut: bool, tail: list<string>} the exit code and the last lines
     */
    public static function run(array $argv, string $cwd, callable $onLine, int $timeout = 0, array $env = [], int $keep = 200): array
    {
        $descriptors = [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']];
        $environment = $env === [] ? null : array_merge(getenv(), $env);
        $process = proc_open($argv, $descriptors, $pipes, $cwd, $environment);
        if (!is_resource($process)) {
            throw new \RuntimeException('Cannot start ' . $argv[0]);
        }
        foreach ([1, 2] as $i) {
            stream_set_blocking($pipes[$i], false);
        }
        $buffers = [1 => '', 2 => ''];
        $tail = [];
        $emit = static function (string $line) use (&$tail, $keep, $onLine): void {
            $tail[] = $line;
            if (count($tail) > $keep) {
                array_shift($tail);
            }
            $onLine($line);
        };
        $deadline = $timeout > 0 ? microtime(true) + $timeout : null;
        $timedOut = false;
        $open = [1 => $pipes[1], 2 => $pipes[2]];
        while ($open !== []) {
            if ($deadline !== null && microtime(true) > $deadline) {
                $timedOut = true;
                proc_terminate($process, 15);
                break;
            }
            $read = array_values($open);
            $write = $except = null;
            if (@stream_select($read, $write, $except, 0, 200_000) === false) {
                break;
            }
            foreach ($open as $i => $pipe) {
                $chunk = fread($pipe, 65536);
                if ($chunk !== false && $chunk !== '') {
                    $buffers[$i] .= $chunk;
                    while (($pos = strpos($buffers[$i], "\n")) !== false) {
                        $emit(rtrim(substr($buffers[$i], 0, $pos), "\r"));
                        $buffers[$i] = substr($buffers[$i], $pos + 1);
                    }
                }
                if (feof($pipe)) {
                    if ($buffers[$i] !== '') {
                        $emit(rtrim($buffers[$i], "\r"));
                        $buffers[$i] = '';
                    }
                    fclose($pipe);
                    unset($open[$i]);
                }
            }
        }
        foreach ($open as $pipe) {
            fclose($pipe);
        }
        $code = proc_close($process);
        return ['exit' => $timedOut ? 124 : $code, 'timedOut' => $timedOut, 'tail' => $tail];
    }

    /**
     * Arguments given as a list, or as one string split on spaces (double or single quotes keep
     * spaces together). Nothing is interpreted: each piece becomes one argv entry.
     *
     * @return list<string>
     */
    public static function arguments(mixed $arguments): array
    {
        if (is_array($arguments)) {
            return array_values(array_map('strval', array_filter($arguments, static fn ($a) => is_scalar($a))));
        }
        $text = trim((string) $arguments);
        if ($text === '') {
            return [];
        }
        preg_match_all('/"((?:[^"\\\\]|\\\\.)*)"|\'([^\']*)\'|(\S+)/', $text, $m, PREG_SET_ORDER);
        return array_map(static fn ($p) => ($p[3] ?? '') !== '' ? $p[3] : (($p[2] ?? '') !== '' ? $p[2] : stripslashes($p[1])), $m);
    }
}
