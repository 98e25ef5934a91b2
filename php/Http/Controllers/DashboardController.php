<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\Response;
use Seiger\sTask\Exceptions\ExtensionNotLoadedException;
use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\sTask;

/** The manager's task overview: counts per status and the latest tasks. */
final class DashboardController
{
    public function index(sTask $stask): Response
    {
        if (!function_exists('evo') || !evo()->hasPermission('stask')) {
            return new Response(e(__('sTask::global.access_denied')), 403);
        }
        try {
            $stats = $stask->getStats();
            $recent = sTaskModel::query()->orderByDesc('id')->limit(20)->get();
            $error = null;
        } catch (ExtensionNotLoadedException $e) {
            $stats = null;
            $recent = collect();
            $error = $e->getMessage();
        }
        return new Response(view('sTask::dashboard', ['stats' => $stats, 'recent' => $recent, 'error' => $error])->render());
    }
}
