<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use Random\Engine\Mt19937;
use Random\Randomizer;
use STask\Engine;
use STask\Exception\InvalidArgumentException;
use STask\Task;
use PHPUnit\Framework\Attributes\DataProvider;

/**
 * Fuzzes the bridge between PHP values and stored JSON: random nested data of every type
 * (ints up to PHP_INT_MIN/MAX, floats of any bit pattern including subnormals, -0.0 and huge
 * ones, Unicode and invalid UTF-8, lists and maps, empty arrays, depth up to and beyond
 * STask\Engine::MAX_DEPTH, stdClass and JsonSerializable) from a fixed seed. Each value either
 * comes back bit for bit — from create(), from find(), in a handler, as a result, and through
 * json_decode() of the stored row — or is refused with InvalidArgumentException and nothing is
 * written.
 *
 * `make test` runs a few hundred cases; `make fuzz` runs STASK_FUZZ_CASES of them (seed
 * STASK_FUZZ_SEED). A failure names its case's seed: STASK_FUZZ_SEED=<seed> STASK_FUZZ_CASES=1
 * runs that case alone.
 */
final class BridgeFuzzTest extends BackendTestCase
{
    private const SEED = 20261127;
    /** Cases per backend in `make test` (SQLite; the servers run a fifth of them). */
    private const CASES = 400;
    /** Cases created before they are run through a handler and deleted. */
    private const BATCH = 50;

    private Randomizer $rng;

    /** @return array<string, array{string}> */
    public static function backends(): array
    {
        return parent::backends();
    }

    protected function setUp(): void
    {
        parent::setUp();
        // serialize() below compares values exactly only with the shortest exact float form.
        ini_set('serialize_precision', '-1');
    }

    // ---- regression seeds: failures found before, kept fixed ----------------------------

    public function testFloatsThatOnceChangedComeBackBitForBit(): void
    {
        $floats = [926.5663804999999, 0.1 + 0.2, -0.0, 5.0e-324, 2.2250738585072009e-308,
            2.2250738585072014e-308, PHP_FLOAT_MAX, -PHP_FLOAT_MAX, PHP_FLOAT_EPSILON, 1.0e300, 1.0e20,
            9007199254740993.0, 1.0, 0.5, -1.5e-10, 123456789.12345679];
        $this->assertRoundTrip($this->engine, ['floats' => $floats, 'keyed' => ['x' => 926.5663804999999]], 'float seeds');
    }

    public function testDataUpToTheDepthLimitComesBackAsArrays(): void
    {
        foreach ([1, 2, Engine::MAX_DEPTH - 1, Engine::MAX_DEPTH] as $levels) {
            $this->assertRoundTrip($this->engine, self::nested($levels), "$levels levels");
        }
    }

    public function testDataDeeperThanTheLimitIsRefusedAndNothingIsWritten(): void
    {
        foreach ([Engine::MAX_DEPTH + 1, 128, 129, 256, 1000] as $levels) {
            $this->assertRefused($this->engine, self::nested($levels), "$levels levels");
            $this->assertRefusedAsResult($this->engine, self::nested($levels), "$levels levels");
        }
        // A JsonSerializable takes its value's place: it adds no level, and one returning
        // itself forever is refused too.
        $wrapped = new class(self::nested(Engine::MAX_DEPTH - 1)) implements \JsonSerializable {
            public function __construct(private array $inner) {}
            public function jsonSerialize(): mixed { return $this->inner; }
        };
        $task = $this->engine->create('fuzz', 'case', [$wrapped]);
        self::assertSame([self::nested(Engine::MAX_DEPTH - 1)], $this->engine->find($task->id)->data);
        $this->engine->delete([$task->id]);
        $self = new class implements \JsonSerializable {
            public function jsonSerialize(): mixed { return $this; }
        };
        $this->assertRefused($this->engine, [$self], 'jsonSerialize returning itself');
    }

    public function testStringsAndKeysThatAreNotUtf8AreRefused(): void
    {
        $this->assertRefused($this->engine, ['s' => "\xC3\x28"], 'invalid string');
        $this->assertRefused($this->engine, ["\xff" => 1], 'invalid key');
        $this->assertRefused($this->engine, ['deep' => [[['ok', "\xed\xa0\x80"]]]], 'a surrogate half');
        $this->assertRefused($this->engine, ['f' => NAN], 'NaN');
        $this->assertRefused($this->engine, ['f' => [-INF]], '-INF');
    }

    /**
     * Nothing that passes through the bridge is kept alive by it: values given to create()
     * and complete(), the task object, what a handler returns or throws. (`make memcheck`
     * cannot tell such a leak from PHP's own end-of-request noise; this can.)
     */
    public function testTheBridgeKeepsNoReferenceToWhatPassesThroughIt(): void
    {
        $refs = [];
        $std = new \stdClass();
        $std->a = [1, 2];
        $json = new class implements \JsonSerializable {
            public function jsonSerialize(): mixed { return ['j' => 1]; }
        };
        $refs['a stdClass in data'] = \WeakReference::create($std);
        $refs['a JsonSerializable in data'] = \WeakReference::create($json);
        $this->engine->create('w', 'returns', ['s' => $std, 'j' => $json]);
        $this->engine->create('w', 'throws', [], 'normal', ['maxAttempts' => 1]);
        $this->engine->create('w', 'completes');
        unset($std, $json);
        $this->engine->processPendingTasks(function (Task $t) use (&$refs) {
            $refs["the task object of '{$t->action}'"] = \WeakReference::create($t);
            if ($t->action === 'throws') {
                $e = new \RuntimeException('thrown');
                $refs['a thrown exception'] = \WeakReference::create($e);
                throw $e;
            }
            if ($t->action === 'completes') {
                $result = new \ArrayObject([1]);
                $wrapped = new class($result) implements \JsonSerializable {
                    public function __construct(private \ArrayObject $r) {}
                    public function jsonSerialize(): mixed { return $this->r->getArrayCopy(); }
                };
                $refs['a result'] = \WeakReference::create($wrapped);
                $this->engine->complete($t->id, $wrapped);
                return null;
            }
            $returned = new \ArrayObject([1]);
            $refs['a returned value'] = \WeakReference::create($returned);
            return $returned;
        });
        gc_collect_cycles();
        self::assertCount(8, $refs);
        foreach ($refs as $what => $ref) {
            self::assertNull($ref->get(), "$what is released");
        }
    }

    // ---- the fuzz target --------------------------------------------------------------

    /** @dataProvider backends */
    #[DataProvider('backends')]
    public function testRandomValuesRoundTripOrAreRefused(string $backend): void
    {
        $engine = $backend === 'sqlite' ? $this->engine : $this->engineOn($this->target($backend));
        $cases = (int) (getenv('STASK_FUZZ_CASES') ?: self::CASES);
        if ($backend !== 'sqlite') {
            $cases = max(1, intdiv($cases, 5));
        }
        $seed = (int) (getenv('STASK_FUZZ_SEED') ?: self::SEED);
        $pending = [];
        $stats = ['valid' => 0, 'refused' => 0];
        for ($i = 0; $i < $cases; $i++) {
            $caseSeed = $seed + $i;
            $this->rng = new Randomizer(new Mt19937($caseSeed));
            $case = "case $i (STASK_FUZZ_SEED=$caseSeed STASK_FUZZ_CASES=1) on $backend";
            [$value, $expected, $valid] = $this->topLevel();
            if (!$valid) {
                $this->assertRefused($engine, $value, $case);
                $stats['refused']++;
                continue;
            }
            $task = $engine->create('fuzz', 'case', $value);
            $this->assertIdentical($expected, $task->data, "$case, as created");
            $this->assertIdentical($expected, $engine->find($task->id)->data, "$case, as found");
            $pending[$task->id] = [$expected, $case];
            $stats['valid']++;
            if (count($pending) >= self::BATCH || $i === $cases - 1) {
                $this->runThroughHandler($engine, $pending);
                $pending = [];
            }
        }
        if ($pending !== []) {
            $this->runThroughHandler($engine, $pending);
        }
        self::assertGreaterThan(0, $stats['valid'] + $stats['refused']);
        if ($cases >= 100) {
            self::assertGreaterThan($cases / 2, $stats['valid'], 'most generated values are storable');
            self::assertGreaterThan(0, $stats['refused'], 'some generated values are refused');
        }
    }

    /**
     * Hands every pending task to a handler that checks its data and stores it back as the
     * result; then compares the result and the row's JSON as another program reads it, and
     * deletes the tasks.
     *
     * @param array<int, array{mixed, string}> $pending id => [expected data, case]
     */
    private function runThroughHandler(Engine $engine, array $pending): void
    {
        $seen = [];
        $engine->processPendingTasks(function (Task $t) use ($engine, &$seen) {
            $seen[$t->id] = $t->data;
            $engine->complete($t->id, $t->data);
        }, count($pending) + 10, ['ids' => array_keys($pending)]);
        foreach ($pending as $id => [$expected, $case]) {
            self::assertArrayHasKey($id, $seen, "$case: the handler ran");
            $this->assertIdentical($expected, $seen[$id], "$case, in the handler");
            $done = $engine->find($id);
            self::assertSame('completed', $done->statusText, $case);
            $this->assertIdentical($expected, $done->result, "$case, as the result");
        }
        $engine->delete(array_keys($pending));
    }

    // ---- generator --------------------------------------------------------------------

    /**
     * A task's data: [value, what reads back, storable?]. Most values are storable; some have
     * one defect (invalid UTF-8, NaN/INF, too deep, a resource, an unsupported object).
     *
     * @return array{array, array, bool}
     */
    private function topLevel(): array
    {
        $roll = $this->rng->getInt(0, 99);
        if ($roll < 8) {
            // Around the depth limit, with a random scalar at the bottom.
            $levels = $this->rng->getInt(Engine::MAX_DEPTH - 3, Engine::MAX_DEPTH + 3);
            [$leaf, $leafExpected] = $this->scalar();
            $value = self::nested($levels, $leaf);
            return [$value, self::nested($levels, $leafExpected), $levels <= Engine::MAX_DEPTH];
        }
        [$value, $expected] = $this->arrayOf($this->rng->getInt(0, 6), $this->rng->getInt(0, 8));
        if ($roll < 85) {
            return [$value, $expected, true];
        }
        // One defect somewhere inside.
        [$key, $defect] = match ($this->rng->getInt(0, 5)) {
            0 => ['bad', $this->invalidUtf8()],
            1 => [$this->invalidUtf8(), 'bad key'],
            2 => ['f', [NAN, INF, -INF][$this->rng->getInt(0, 2)]],
            3 => ['deep', self::nested(Engine::MAX_DEPTH + $this->rng->getInt(0, 20))],
            4 => ['r', fopen('php://memory', 'r')],
            default => ['o', new \ArrayObject([1])],
        };
        return [$this->plant($value, $key, $defect), $expected, false];
    }

    /** Puts $defect under a new key into a random array inside $value (or $value itself). */
    private function plant(array $value, string $key, mixed $defect): array
    {
        $keys = array_keys($value);
        if ($keys !== [] && $this->rng->getInt(0, 2) > 0) {
            $k = $keys[$this->rng->getInt(0, count($keys) - 1)];
            if (is_array($value[$k])) {
                $value[$k] = $this->plant($value[$k], $key, $defect);
                return $value;
            }
        }
        while (array_key_exists($key, $value)) {
            $key .= '!';
        }
        $value[$key] = $defect;
        return $value;
    }

    /** @return array{mixed, mixed} a value and what reads back */
    private function value(int $depth): array
    {
        $roll = $this->rng->getInt(0, 99);
        if ($depth > 0 && $roll < 25) {
            return $this->arrayOf($depth - 1, $this->rng->getInt(0, 6));
        }
        if ($depth > 0 && $roll < 28) {
            return $this->object($depth - 1);
        }
        return $this->scalar();
    }

    /** @return array{array, array} a list or a map of $size values */
    private function arrayOf(int $depth, int $size): array
    {
        $value = [];
        $expected = [];
        $kind = $this->rng->getInt(0, 3);
        for ($i = 0; $i < $size; $i++) {
            [$v, $e] = $this->value($depth);
            if ($kind === 0) {
                $value[] = $v;
                $expected[] = $e;
            } else {
                $key = $this->key();
                $value[$key] = $v;
                $expected[$key] = $e;
            }
        }
        return [$value, $expected];
    }

    /** stdClass becomes an array; a JsonSerializable becomes what it returns. */
    private function object(int $depth): array
    {
        [$array, $expected] = $this->arrayOf($depth, $this->rng->getInt(0, 4));
        if ($this->rng->getInt(0, 1) === 0) {
            // Integer-like property names are strings on an object and integer keys once back.
            return [(object) $array, $expected];
        }
        $json = new class($array) implements \JsonSerializable {
            public function __construct(private array $value) {}
            public function jsonSerialize(): mixed { return $this->value; }
        };
        return [$json, $expected];
    }

    /** A key: ints (negative, huge), numeric strings PHP turns into ints, or other strings. */
    private function key(): int|string
    {
        return match ($this->rng->getInt(0, 7)) {
            0 => $this->rng->getInt(-5, 50),
            1 => [PHP_INT_MAX, PHP_INT_MIN, -1, 0][$this->rng->getInt(0, 3)],
            2 => (string) $this->rng->getInt(0, 99),
            3 => ['05', '-0', '1.5', '1e3', ' 1', '', '0x1A', '9223372036854775808'][$this->rng->getInt(0, 7)],
            default => $this->text(12),
        };
    }

    /** @return array{mixed, mixed} */
    private function scalar(): array
    {
        $v = match ($this->rng->getInt(0, 9)) {
            0 => null,
            1 => $this->rng->getInt(0, 1) === 1,
            2 => $this->integer(),
            3, 4 => $this->float(),
            default => $this->text(40),
        };
        return [$v, $v];
    }

    private function integer(): int
    {
        return match ($this->rng->getInt(0, 3)) {
            0 => [0, 1, -1, PHP_INT_MAX, PHP_INT_MIN, PHP_INT_MAX - 1, PHP_INT_MIN + 1, 9007199254740993][$this->rng->getInt(0, 7)],
            1 => $this->rng->getInt(-1000, 1000),
            default => unpack('q', $this->rng->getBytes(8))[1],
        };
    }

    /** Any finite double: random bit patterns (subnormals included) and known hard cases. */
    private function float(): float
    {
        if ($this->rng->getInt(0, 3) === 0) {
            $special = [-0.0, 0.0, 5.0e-324, -5.0e-324, 2.2250738585072009e-308, PHP_FLOAT_MIN, PHP_FLOAT_MAX,
                -PHP_FLOAT_MAX, PHP_FLOAT_EPSILON, 926.5663804999999, 0.1, 1.0, -1.0, 1.0e20, 1.0e300, 1.5e-300,
                9007199254740993.0, 9.223372036854775807e18, -9.223372036854775808e18];
            return $special[$this->rng->getInt(0, count($special) - 1)];
        }
        do {
            $f = unpack('e', $this->rng->getBytes(8))[1];
        } while (!is_finite($f));
        if ($this->rng->getInt(0, 1) === 0) {
            // Also floats of everyday sizes, with many digits.
            $f = fmod($f, 1.0e6);
            if (!is_finite($f)) {
                $f = 0.5;
            }
        }
        return $f;
    }

    /** Valid UTF-8: ASCII (with control characters and NUL), Cyrillic, CJK, emoji, any code point. */
    private function text(int $max): string
    {
        $length = $this->rng->getInt(0, $max);
        $out = '';
        for ($i = 0; $i < $length; $i++) {
            $out .= match ($this->rng->getInt(0, 6)) {
                0, 1 => chr($this->rng->getInt(0x20, 0x7e)),
                2 => chr($this->rng->getInt(0, 0x1f)),
                3 => mb_chr($this->rng->getInt(0x400, 0x4ff), 'UTF-8'),
                4 => ['漢', '字', '🚀', '✓', "\u{FEFF}", "\u{10FFFF}", '"', '\\', '/'][$this->rng->getInt(0, 8)],
                default => $this->codePoint(),
            };
        }
        return $out;
    }

    private function codePoint(): string
    {
        do {
            $cp = $this->rng->getInt(0, 0x10FFFF);
        } while ($cp >= 0xD800 && $cp <= 0xDFFF);
        return mb_chr($cp, 'UTF-8');
    }

    /** A string that is not UTF-8: stray bytes, overlong forms, surrogates, cut sequences. */
    private function invalidUtf8(): string
    {
        $bad = ["\xff", "\xc3\x28", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\x80"];
        return $this->text(5) . $bad[$this->rng->getInt(0, count($bad) - 1)] . $this->text(5);
    }

    /** $levels arrays, one inside the other: [[…[$leaf]…]]. */
    private static function nested(int $levels, mixed $leaf = 'bottom'): array
    {
        $value = [$leaf];
        for ($i = 1; $i < $levels; $i++) {
            $value = $i % 2 === 0 ? [$value] : ['k' => $value];
        }
        return $value;
    }

    // ---- assertions -------------------------------------------------------------------

    private function assertRoundTrip(Engine $engine, array $data, string $case): void
    {
        $task = $engine->create('fuzz', 'case', $data);
        $this->assertIdentical($data, $task->data, "$case, as created");
        $this->assertIdentical($data, $engine->find($task->id)->data, "$case, as found");
        $this->runThroughHandler($engine, [$task->id => [$data, $case]]);
    }

    private function assertRefused(Engine $engine, array $data, string $case): void
    {
        $before = self::taskCount($engine);
        try {
            $engine->create('fuzz', 'case', $data);
            self::fail("$case: create() accepted it");
        } catch (InvalidArgumentException $e) {
            self::assertNotSame('', $e->getMessage());
        }
        try {
            $engine->createMany([['identifier' => 'fuzz', 'action' => 'ok'],
                ['identifier' => 'fuzz', 'action' => 'case', 'data' => $data]]);
            self::fail("$case: createMany() accepted it");
        } catch (InvalidArgumentException $e) {
            self::assertNotSame('', $e->getMessage());
        }
        self::assertSame($before, self::taskCount($engine), "$case: nothing was written");
    }

    private function assertRefusedAsResult(Engine $engine, array $data, string $case): void
    {
        $task = $engine->create('fuzz', 'result');
        $thrown = null;
        $engine->processPendingTasks(function (Task $t) use ($engine, $data, &$thrown) {
            try {
                $engine->complete($t->id, $data);
            } catch (InvalidArgumentException $e) {
                $thrown = $e;
            }
        }, 1, ['ids' => [$task->id]]);
        self::assertInstanceOf(InvalidArgumentException::class, $thrown, "$case: complete() refused the result");
        self::assertNull($engine->find($task->id)->result, "$case: no result was written");
        $engine->delete([$task->id]);
    }

    private static function taskCount(Engine $engine): int
    {
        return $engine->stats()['total'];
    }

    /** Same types, same keys in the same order, same bytes, floats to the bit (-0.0 too). */
    private function assertIdentical(mixed $expected, mixed $actual, string $case): void
    {
        if (serialize($expected) === serialize($actual)) {
            $this->addToAssertionCount(1);
            return;
        }
        self::fail("$case: differs at " . self::firstDifference($expected, $actual, 'data'));
    }

    private static function firstDifference(mixed $a, mixed $b, string $path): string
    {
        if (is_array($a) && is_array($b)) {
            if (array_keys($a) !== array_keys($b)) {
                return "$path: keys " . json_encode(array_keys($a)) . ' became ' . json_encode(array_keys($b));
            }
            foreach ($a as $k => $v) {
                if (serialize($v) !== serialize($b[$k])) {
                    return self::firstDifference($v, $b[$k], "{$path}[$k]");
                }
            }
        }
        return "$path: " . var_export($a, true) . ' became ' . var_export($b, true);
    }
}
