<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Seiger\sTask\Http\Input;

/**
 * Upstream's performance and worker-cache endpoints (`sTask.performance.*`, `sTask.cache.*`),
 * answering `{success, data}` as upstream did — with measured numbers (MetricsService).
 */
final class PerformanceController extends Controller
{
    public function summary(Request $request): JsonResponse
    {
        return $this->json(['success' => true, 'data' => $this->stask->getPerformanceMetrics($this->hours($request))]);
    }

    public function workers(Request $request): JsonResponse
    {
        $identifier = Input::text($request, 'identifier');
        $identifier = $identifier !== '' ? $identifier : null;
        return $this->json(['success' => true, 'data' => $this->stask->getWorkerStats($identifier, $this->hours($request))]);
    }

    public function alerts(): JsonResponse
    {
        return $this->json(['success' => true, 'data' => $this->stask->getPerformanceAlerts()]);
    }

    public function cacheStats(): JsonResponse
    {
        return $this->json(['success' => true, 'data' => $this->stask->getCacheStats()]);
    }

    public function cacheClear(Request $request): JsonResponse
    {
        $identifier = Input::text($request, 'identifier');
        $this->stask->clearWorkerCache($identifier !== '' ? $identifier : null);
        return $this->json(['success' => true, 'message' => (string) __('sTask::global.cache_cleared')]);
    }

    /** `hours`: 1–24 (the engine keeps per-minute metrics for a day); default 24. */
    private function hours(Request $request): int
    {
        return Input::int($request, 'hours', 24, 1, 24, true);
    }
}
