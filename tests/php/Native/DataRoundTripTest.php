<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use PHPUnit\Framework\Attributes\DataProvider;

/** Task data comes back exactly as json_decode($json, true) would give it. */
final class DataRoundTripTest extends EngineTestCase
{
    /** @return array<string, array{array}> */
    public static function payloads(): array
    {
        return [
            'empty' => [[]],
            'list' => [[1, 2, 3]],
            'nested' => [['a' => ['b' => ['c' => ['d' => [1, [2, [3]]]]]]]],
            'unicode' => [['uk' => 'Привіт', 'emoji' => '🚀✓', 'cjk' => '漢字', 'nul' => "a\0b"]],
            'big ints' => [['max' => PHP_INT_MAX, 'min' => PHP_INT_MIN, 'zero' => 0, 'neg' => -42]],
            'floats' => [['pi' => 3.141592653589793, 'one' => 1.0, 'tiny' => 1.0e-300, 'neg zero' => -0.0, 'big' => 1.0e300]],
            'key order' => [['z' => 1, 'a' => 2, 'm' => 3, '10' => 4, '2' => 5]],
            'numeric string keys' => [['5' => 'five', '05' => 'zero-five', '-1' => 'minus', '1.5' => 'float-ish']],
            'sparse int keys' => [[3 => 'c', 1 => 'a', 7 => 'g']],
            'mixed keys' => [[0 => 'zero', 'k' => 'v', 1 => 'one']],
            'scalars' => [['t' => true, 'f' => false, 'n' => null, 's' => '', 'str' => '123']],
            'empty inner' => [['list' => [], 'deep' => [[]]]],
        ];
    }

    /** @dataProvider payloads */
    #[DataProvider('payloads')]
    public function testRoundTrip(array $data): void
    {
        $task = $this->engine->create('w', 'a', $data);
        $expected = json_decode(json_encode($data, JSON_PRESERVE_ZERO_FRACTION), true);
        self::assertSame($expected, $task->data, 'as created');
        self::assertSame($expected, $this->engine->find($task->id)->data, 'as read back');
        self::assertSame(array_keys($expected), array_keys($this->engine->find($task->id)->data), 'key order');
        $seen = null;
        $this->engine->processPendingTasks(function (\STask\Task $t) use (&$seen) { $seen = $t->data; });
        self::assertSame($expected, $seen, 'as handed to the handler');
    }

    public function testObjectsThatJsonCanStore(): void
    {
        $std = new \stdClass();
        $std->name = 'x';
        $std->inner = new \stdClass();
        $json = new class implements \JsonSerializable {
            public function jsonSerialize(): mixed { return ['serialized' => true, 'n' => 3]; }
        };
        $task = $this->engine->create('w', 'a', ['std' => $std, 'json' => $json]);
        self::assertSame(['std' => ['name' => 'x', 'inner' => []], 'json' => ['serialized' => true, 'n' => 3]], $task->data);
    }

    public function testStoredJsonIsReadableByOtherPrograms(): void
    {
        $task = $this->engine->create('w', 'a', ['file' => 'products.csv', 'n' => 5]);
        $meta = $this->row($task->id)['meta'];
        self::assertSame(['file' => 'products.csv', 'n' => 5], json_decode($meta, true));
    }
}
