<?php

declare(strict_types=1);

namespace Seiger\sTask\Exceptions;

/** No active worker is registered under this identifier. */
final class WorkerNotFoundException extends WorkerException
{
    public readonly string $identifier;

    public function __construct(string $identifier)
    {
        $this->identifier = $identifier;
        parent::__construct(
            "Worker not found or inactive: $identifier. Run `php artisan stask:discover` and activate it in the manager (or `php artisan stask:discover --activate=$identifier`).",
            ['identifier' => $identifier],
            404
        );
    }
}
