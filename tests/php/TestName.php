<?php
declare(strict_types=1);

namespace STask\Tests;

use PHPUnit\Framework\TestCase;

/**
 * The running test's method name (optionally with its data set) on every PHPUnit the suite runs
 * on: 9 has getName(), 10 and later name() and nameWithDataSet() (getName() is gone there).
 */
final class TestName
{
    public static function of(TestCase $test, bool $withDataSet = false): string
    {
        if (method_exists($test, 'name')) {
            return $withDataSet ? $test->nameWithDataSet() : $test->name();
        }
        return $test->getName($withDataSet);
    }
}
