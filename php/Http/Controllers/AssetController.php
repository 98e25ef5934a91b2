<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\Response;

/**
 * The pages' CSS, script and logo, served from the package itself: nothing to publish, and
 * only these files can be asked for.
 */
final class AssetController
{
    private const FILES = [
        'stask.css' => ['assets/dist/stask.css', 'text/css; charset=utf-8'],
        'stask.js' => ['assets/js/stask.js', 'application/javascript; charset=utf-8'],
        'stask.svg' => ['assets/img/stask.svg', 'image/svg+xml'],
    ];

    public function show(string $file): Response
    {
        if (!isset(self::FILES[$file])) {
            return new Response('No such sTask asset.', 404, ['Content-Type' => 'text/plain; charset=utf-8', 'X-Content-Type-Options' => 'nosniff']);
        }
        [$path, $type] = self::FILES[$file];
        $full = dirname(__DIR__, 3) . '/' . $path;
        return new Response((string) file_get_contents($full), 200, [
            'Content-Type' => $type,
            'Cache-Control' => 'public, max-age=31536000, immutable',
            'X-Content-Type-Options' => 'nosniff',
        ]);
    }
}
