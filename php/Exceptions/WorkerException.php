<?php

declare(strict_types=1);

namespace Seiger\sTask\Exceptions;

/** Base of the worker errors; carries what it is about in getContext(). */
abstract class WorkerException extends \RuntimeException
{
    /** @param array<string, mixed> $context */
    public function __construct(string $message, private array $context = [], int $code = 0)
    {
        parent::__construct($message, $code);
    }

    /** @return array<string, mixed> */
    public function getContext(): array
    {
        return $this->context;
    }
}
