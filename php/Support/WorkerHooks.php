<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

/**
 * Optional methods a worker may declare for the manager (upstream's duck-typed hooks):
 * `renderSettings(): string` (its own settings form, trusted HTML from its code),
 * `normalizeSettingsForSave(array): array` (what that form posted, cleaned before it is stored) and
 * `getGeneratedFiles(): array` (files it made, each `{filename, url}`).
 *
 * A hook that throws never breaks the manager's page: the error is logged as a warning and the
 * hook's part of the page is left out.
 */
final class WorkerHooks
{
    /** Fields of the settings form that are the page's own, never the worker's settings. */
    public const FORM_FIELDS = ['_token', '_method', 'worker_form', 'schedule', 'settings_json'];

    /** The worker's settings form, or '' when it has none (or the hook failed). */
    public static function settingsHtml(?object $worker): string
    {
        if ($worker === null || !method_exists($worker, 'renderSettings')) {
            return '';
        }
        try {
            $html = $worker->renderSettings();
            return is_string($html) || $html instanceof \Stringable ? trim((string) $html) : '';
        } catch (\Throwable $e) {
            self::warn($worker, 'renderSettings', $e);
            return '';
        }
    }

    /**
     * The worker's generated files, as `{filename, url}` with a non-empty filename; `url` is ''
     * when there is no safe link (only http(s) URLs and paths on this site are linked).
     *
     * @return list<array{filename: string, url: string}>
     */
    public static function generatedFiles(?object $worker): array
    {
        if ($worker === null || !method_exists($worker, 'getGeneratedFiles')) {
            return [];
        }
        try {
            return self::files($worker->getGeneratedFiles());
        } catch (\Throwable $e) {
            self::warn($worker, 'getGeneratedFiles', $e);
            return [];
        }
    }

    /**
     * Entries as upstream's manager took them: arrays with a non-empty `filename`; `url`
     * optional. Anything else is skipped.
     *
     * @return list<array{filename: string, url: string}>
     */
    public static function files(mixed $files): array
    {
        if (!is_iterable($files)) {
            return [];
        }
        $list = [];
        foreach ($files as $file) {
            if ($file instanceof \ArrayAccess || is_object($file)) {
                $file = (array) (method_exists($file, 'toArray') ? $file->toArray() : get_object_vars($file));
            }
            if (!is_array($file) || !is_scalar($file['filename'] ?? null) || trim((string) $file['filename']) === '') {
                continue;
            }
            $url = is_scalar($file['url'] ?? null) ? trim((string) $file['url']) : '';
            $list[] = ['filename' => trim((string) $file['filename']), 'url' => self::safeUrl($url) ? $url : ''];
        }
        return $list;
    }

    /**
     * What the worker's settings form posted, ready to merge into its settings: the page's own
     * fields removed, then passed through the worker's `normalizeSettingsForSave()` if it has one.
     *
     * @param array<array-key, mixed> $posted
     * @return array<array-key, mixed>
     * @throws \UnexpectedValueException when the hook fails or returns no array (nothing is saved)
     */
    public static function settingsToSave(?object $worker, array $posted): array
    {
        foreach (self::FORM_FIELDS as $field) {
            unset($posted[$field]);
        }
        if ($worker === null || !method_exists($worker, 'normalizeSettingsForSave')) {
            return $posted;
        }
        try {
            $normalized = $worker->normalizeSettingsForSave($posted);
        } catch (\Throwable $e) {
            self::warn($worker, 'normalizeSettingsForSave', $e);
            throw new \UnexpectedValueException($e->getMessage(), 0, $e);
        }
        if (!is_array($normalized)) {
            throw new \UnexpectedValueException(get_class($worker) . '::normalizeSettingsForSave() must return an array.');
        }
        unset($normalized['schedule']);
        return $normalized;
    }

    private static function safeUrl(string $url): bool
    {
        // Browsers drop tabs and line breaks inside a URL ("java\tscript:"): refuse them outright.
        if ($url === '' || preg_match('/[\x00-\x1F\x7F]/', $url) === 1) {
            return false;
        }
        $parts = parse_url($url);
        if ($parts === false) {
            return false;
        }
        // A path on this site, or an http(s) link; never javascript:, data: and the like.
        return !isset($parts['scheme']) ? !str_contains(explode('/', $url, 2)[0], ':') : in_array(strtolower($parts['scheme']), ['http', 'https'], true);
    }

    private static function warn(object $worker, string $hook, \Throwable $e): void
    {
        $message = sprintf('sTask: %s::%s() failed: %s: %s', get_class($worker), $hook, get_class($e), $e->getMessage());
        if (function_exists('app') && app()->bound('log')) {
            try {
                app('log')->warning($message, ['exception' => $e]);
                return;
            } catch (\Throwable) {
                // fall through to the PHP log
            }
        }
        error_log($message);
    }
}
