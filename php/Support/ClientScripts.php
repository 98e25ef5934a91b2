<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * The scripts that client packages include with `@include('sTask::scripts.global')` and
 * `@include('sTask::scripts.task')`: kept as plain files under assets/js/widgets/ and placed
 * inline (a client's page may live outside sTask's routes), read once per process.
 */
final class ClientScripts
{
    private const FILES = ['global' => 'global.js', 'task' => 'task.js'];

    /** The strings task.js shows (its t('…') keys), from sTask::global. */
    public const STRINGS = ['run_task', 'done', 'task_queued', 'starting_task', 'task_completed', 'file_too_large', 'chunk_upload',
        'chunks', 'uploading_file', 'upload_failed', 'error', 'failed', 'cancelled', 'eta'];

    /** @var array<string, string> */
    private static array $sources = [];

    /** The script's source, safe to place between <script> and </script>. */
    public static function source(string $name): string
    {
        if (!isset(self::FILES[$name])) {
            throw new \InvalidArgumentException("No client script \"$name\".");
        }
        return self::$sources[$name] ??= str_ireplace(['</script', '<!--'], ['<\/script', '<\!--'],
            (string) file_get_contents(dirname(__DIR__, 2) . '/assets/js/widgets/' . self::FILES[$name]));
    }

    /**
     * What scripts.task tells its script: the server-limits URL and the strings it shows, in the
     * manager's language, as JSON safe inside a <script> element.
     */
    public static function taskConfig(): string
    {
        $i18n = [];
        foreach (self::STRINGS as $key) {
            $i18n[$key] = (string) __('sTask::global.' . $key);
        }
        $limits = '';
        try {
            $limits = route('sTask.serverLimits');
        } catch (\Throwable) {
            // Routes not loaded (a console render): uploads fall back to upstream's defaults.
        }
        return (string) json_encode(['serverLimitsUrl' => $limits, 'i18n' => $i18n],
            JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
    }
}
