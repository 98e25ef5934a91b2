<?php

declare(strict_types=1);

namespace Seiger\sTask\Exceptions;

/** A registered worker's class cannot be loaded (its package was removed or renamed). */
final class WorkerClassNotFoundException extends WorkerException
{
    public readonly string $className;

    public function __construct(string $className)
    {
        $this->className = $className;
        parent::__construct(
            "Worker class not found: $className. Was its package removed? `php artisan stask:discover --clean` removes orphaned workers.",
            ['className' => $className],
            500
        );
    }
}
