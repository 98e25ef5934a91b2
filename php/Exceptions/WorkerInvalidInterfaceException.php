<?php

declare(strict_types=1);

namespace Seiger\sTask\Exceptions;

use Seiger\sTask\Contracts\TaskInterface;

/** A registered worker's class does not implement TaskInterface (or cannot be instantiated). */
final class WorkerInvalidInterfaceException extends WorkerException
{
    public readonly string $className;

    public function __construct(string $className, string $reason = '')
    {
        $this->className = $className;
        parent::__construct(
            "Worker class $className must be a concrete class implementing " . TaskInterface::class . ($reason !== '' ? ": $reason" : ''),
            ['className' => $className],
            500
        );
    }
}
