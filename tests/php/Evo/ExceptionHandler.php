<?php

declare(strict_types=1);

namespace STask\Tests\Evo;

use Illuminate\Contracts\Debug\ExceptionHandler as Contract;

/** Records reported exceptions (schedule:run reports failures here). Tests only. */
final class ExceptionHandler implements Contract
{
    /** @var list<\Throwable> */
    public array $reported = [];

    public function report(\Throwable $e)
    {
        $this->reported[] = $e;
    }

    public function shouldReport(\Throwable $e)
    {
        return true;
    }

    public function render($request, \Throwable $e)
    {
        throw $e;
    }

    public function renderForConsole($output, \Throwable $e)
    {
        $output->writeln((string) $e);
    }
}
