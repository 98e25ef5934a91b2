<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Middleware;

use Closure;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;

/** Every sTask page and endpoint needs the manager permission "stask". */
final class Authorize
{
    public function handle(Request $request, Closure $next, string $permission = 'stask')
    {
        if (!function_exists('evo') || !evo()->hasPermission($permission)) {
            $message = (string) __('sTask::global.access_denied');
            return $request->expectsJson() || $request->isMethod('POST')
                ? new JsonResponse(['success' => false, 'message' => $message], 403)
                : new Response(e($message), 403);
        }
        return $next($request);
    }
}
