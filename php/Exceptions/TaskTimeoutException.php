<?php

declare(strict_types=1);

namespace Seiger\sTask\Exceptions;

/** Thrown into a task that ran longer than `stask:work --timeout`; the attempt fails. */
final class TaskTimeoutException extends \RuntimeException
{
}
