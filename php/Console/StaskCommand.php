<?php

declare(strict_types=1);

namespace Seiger\sTask\Console;

use Illuminate\Console\Command;
use Seiger\sTask\Exceptions\ExtensionNotLoadedException;
use Seiger\sTask\sTask;

/** Shared helpers of the sTask commands: the service, colours, bars, times. */
abstract class StaskCommand extends Command
{
    protected const STATUS_STYLE = [
        'pending' => 'fg=blue',
        'preparing' => 'fg=yellow',
        'running' => 'fg=yellow;options=bold',
        'completed' => 'fg=green',
        'cancelled' => 'fg=gray',
        'failed' => 'fg=red;options=bold',
    ];

    protected function stask(): sTask
    {
        return $this->laravel->make(sTask::class);
    }

    /**
     * Runs the command body, turning the missing extension and engine errors into a clear
     * message and exit code 1 instead of a stack trace.
     */
    protected function guard(callable $body, ?callable $finally = null): int
    {
        try {
            return (int) $body();
        } catch (ExtensionNotLoadedException $e) {
            $this->error($e->getMessage());
            return 1;
        } catch (\STask\Exception\StaskException $e) {
            $this->error((new \ReflectionClass($e))->getShortName() . ': ' . $e->getMessage());
            return 1;
        } finally {
            if ($finally !== null) {
                $finally();
            }
        }
    }

    protected function status(string $status): string
    {
        $style = self::STATUS_STYLE[$status] ?? 'fg=default';
        return "<$style>$status</>";
    }

    /** A text bar: ██████░░░░ 60% */
    protected function bar(int $percent, int $width = 20): string
    {
        $percent = max(0, min(100, $percent));
        $filled = (int) round($percent / 100 * $width);
        return str_repeat('█', $filled) . str_repeat('░', $width - $filled) . sprintf(' %3d%%', $percent);
    }

    protected function ago(?\DateTimeInterface $at): string
    {
        if ($at === null) {
            return '—';
        }
        $s = time() - $at->getTimestamp();
        return match (true) {
            $s < 0 => 'in ' . $this->span(-$s),
            $s < 5 => 'just now',
            default => $this->span($s) . ' ago',
        };
    }

    protected function span(float $seconds): string
    {
        return match (true) {
            $seconds < 1 => sprintf('%d ms', $seconds * 1000),
            $seconds < 60 => sprintf('%.1f s', $seconds),
            $seconds < 3600 => sprintf('%dm %02ds', $seconds / 60, (int) $seconds % 60),
            $seconds < 86400 => sprintf('%dh %02dm', $seconds / 3600, ((int) $seconds % 3600) / 60),
            default => sprintf('%dd %02dh', $seconds / 86400, ((int) $seconds % 86400) / 3600),
        };
    }

    protected function excerpt(?string $text, int $width = 60): string
    {
        $text = trim(preg_replace('/\s+/', ' ', (string) $text) ?? '');
        return mb_strlen($text) > $width ? mb_substr($text, 0, $width - 1) . '…' : $text;
    }
}
