<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Response;
use Seiger\sTask\Exceptions\ExtensionNotLoadedException;
use Seiger\sTask\Models\sTaskModel;

/** The overview: counts, throughput over the last hour, what runs now, recent failures. */
final class DashboardController extends Controller
{
    public function index(): Response
    {
        try {
            return $this->page('dashboard', 'dashboard', ['stats' => $this->stask->getStats()]);
        } catch (ExtensionNotLoadedException $e) {
            return new Response(view('sTask::missing', ['message' => $e->getMessage()])->render(), 503);
        }
    }

    /** Everything the dashboard shows, for its live refresh. */
    public function api(): JsonResponse
    {
        $engine = $this->stask->engine();
        $running = sTaskModel::query()->whereIn('status', [sTaskModel::STATUS_PREPARING, sTaskModel::STATUS_RUNNING])
            ->orderBy('id')->limit(20)->get();
        $failures = sTaskModel::query()->failed()->orderByDesc('finished_at')->limit(10)->get();
        return $this->json([
            'success' => true,
            'stats' => $this->stask->getStats(),
            'metrics' => $engine->metrics(60),
            'running' => $running->map(fn (sTaskModel $t) => [
                'id' => (int) $t->id,
                'identifier' => $t->identifier,
                'action' => $t->action,
                'progress' => $engine->progress((int) $t->id),
            ])->all(),
            'failures' => $failures->map(fn (sTaskModel $t) => [
                'id' => (int) $t->id,
                'identifier' => $t->identifier,
                'action' => $t->action,
                'finished_at' => $t->finished_at?->toIso8601String(),
                'message' => $t->message,
                'last_error' => $t->last_error,
            ])->all(),
        ]);
    }

    /** Upstream's /stask/stats: the counts as JSON. */
    public function stats(): JsonResponse
    {
        return $this->json($this->stask->getStats());
    }
}
