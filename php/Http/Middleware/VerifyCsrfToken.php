<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Middleware;

use Closure;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;

/**
 * Every request that changes something carries the manager's CSRF token (the `_token` field or
 * the `X-CSRF-TOKEN` header). Checked here too, whatever the site's `mgr` middleware group
 * contains.
 */
final class VerifyCsrfToken
{
    public function handle(Request $request, Closure $next)
    {
        if (in_array($request->getMethod(), ['GET', 'HEAD', 'OPTIONS'], true)) {
            return $next($request);
        }
        $expected = function_exists('csrf_token') ? (string) csrf_token() : '';
        // The field may arrive as anything (a list, a JSON object): only a string is compared.
        $given = $request->header('X-CSRF-TOKEN') ?: $request->input('_token', '');
        if ($expected === '' || !is_string($given) || $given === '' || !hash_equals($expected, $given)) {
            return new JsonResponse(['success' => false, 'message' => (string) __('sTask::global.csrf_mismatch')], 419);
        }
        return $next($request);
    }
}
