<?php

declare(strict_types=1);

namespace Seiger\sTask\Exceptions;

/** The worker has no public task{Action}() method for the task's action. */
final class ActionNotFoundException extends \BadMethodCallException
{
    public static function for(string $class, string $action, string $method): self
    {
        return new self("Worker $class has no public method $method() for action \"$action\"");
    }
}
