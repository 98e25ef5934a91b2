<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Response;
use Seiger\sTask\sTask;

/** What the sTask pages share: the layout's data and JSON answers. */
abstract class Controller
{
    /** Strings the page scripts show, in the manager's language. */
    private const I18N = [
        'pending', 'preparing', 'running', 'completed', 'cancelled', 'failed', 'nothing_running', 'no_failures',
        'no_data', 'no_log', 'loading', 'confirm_delete', 'done_bulk', 'error', 'task_created', 'saved', 'invalid_json',
        'per_minute', 'in_last_hour', 'active', 'inactive', 'eta', 'done',
    ];

    public function __construct(protected sTask $stask)
    {
    }

    /** @param array<string, mixed> $data */
    protected function page(string $view, string $section, array $data = []): Response
    {
        $i18n = [];
        foreach (self::I18N as $key) {
            $i18n[$key] = (string) __('sTask::global.' . $key);
        }
        $html = view('sTask::' . $view, $data + [
            'section' => $section,
            'i18n' => $i18n,
            'assetVersion' => sTask::VERSION . '-' . (int) @filemtime(dirname(__DIR__, 3) . '/assets/dist/stask.css'),
        ])->render();
        return new Response($html, 200, [
            'Content-Type' => 'text/html; charset=utf-8',
            'X-Frame-Options' => 'SAMEORIGIN',
            'X-Content-Type-Options' => 'nosniff',
            'Referrer-Policy' => 'same-origin',
        ]);
    }

    /** @param array<string, mixed> $data */
    protected function json(array $data, int $status = 200): JsonResponse
    {
        return new JsonResponse($data, $status, ['Cache-Control' => 'no-store'], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
    }

    protected function error(string $message, int $status): JsonResponse
    {
        return $this->json(['success' => false, 'message' => $message], $status);
    }
}
