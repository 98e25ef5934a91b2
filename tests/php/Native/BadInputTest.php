<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use STask\Engine;
use STask\Exception\ConfigurationException;
use STask\Exception\InvalidArgumentException;
use STask\Exception\StaskException;
use STask\Exception\StorageException;
use PHPUnit\Framework\Attributes\DataProvider;

/** Bad input gets a clear, typed exception and changes nothing. */
final class BadInputTest extends EngineTestCase
{
    /** @return array<string, array{\Closure, string}> */
    public static function badCreates(): array
    {
        $recursive = [1];
        $recursive[] = &$recursive;
        return [
            'empty identifier' => [fn (Engine $e) => $e->create('', 'a'), 'identifier must not be empty'],
            'blank action' => [fn (Engine $e) => $e->create('w', '   '), 'action must not be empty'],
            'over-long identifier' => [fn (Engine $e) => $e->create(str_repeat('x', 191), 'a'), 'the limit is 190'],
            'identifier with spaces' => [fn (Engine $e) => $e->create('my worker', 'a'), 'contains'],
            'unknown priority' => [fn (Engine $e) => $e->create('w', 'a', [], 'urgent'), 'unknown priority "urgent"'],
            'resource in data' => [fn (Engine $e) => $e->create('w', 'a', ['h' => STDIN]), 'data[h]: a resource'],
            'NaN in data' => [fn (Engine $e) => $e->create('w', 'a', ['x' => [NAN]]), 'data[x][0]'],
            'INF in data' => [fn (Engine $e) => $e->create('w', 'a', ['x' => INF]), 'JSON has no NaN or infinity'],
            'invalid UTF-8' => [fn (Engine $e) => $e->create('w', 'a', ['s' => "\xC3\x28"]), 'not valid UTF-8'],
            'invalid UTF-8 key' => [fn (Engine $e) => $e->create('w', 'a', ["\xff" => 1]), 'key is not valid UTF-8'],
            'recursion' => [fn (Engine $e) => $e->create('w', 'a', $recursive), 'is it recursive?'],
            'plain object' => [fn (Engine $e) => $e->create('w', 'a', ['d' => new \DateTime()]), 'an object of class DateTime cannot be stored'],
            'zero attempts' => [fn (Engine $e) => $e->create('w', 'a', [], 'normal', ['maxAttempts' => 0]), 'maxAttempts must be between 1 and 1000'],
            'negative delay' => [fn (Engine $e) => $e->create('w', 'a', [], 'normal', ['delay' => -5]), 'delay must not be negative'],
            'unknown option' => [fn (Engine $e) => $e->create('w', 'a', [], 'normal', ['retries' => 5]), 'unknown task option "retries"'],
            'string attempts' => [fn (Engine $e) => $e->create('w', 'a', [], 'normal', ['maxAttempts' => '5']), 'maxAttempts must be an integer, got string'],
            'one bad task in a batch' => [fn (Engine $e) => $e->createMany([
                ['identifier' => 'w', 'action' => 'a'],
                ['identifier' => 'w', 'action' => 'a', 'data' => ['x' => NAN]],
            ]), 'tasks[1]: data[x]'],
            'batch element missing action' => [fn (Engine $e) => $e->createMany([['identifier' => 'w']]), 'tasks[0]: action is missing'],
            'batch element not an array' => [fn (Engine $e) => $e->createMany(['nope']), 'tasks[0]: must be an array, got string'],
        ];
    }

    /** @dataProvider badCreates */
    #[DataProvider('badCreates')]
    public function testBadCreatesWriteNothing(\Closure $call, string $message): void
    {
        try {
            $call($this->engine);
            self::fail('expected an InvalidArgumentException');
        } catch (InvalidArgumentException $e) {
            self::assertStringContainsString($message, $e->getMessage());
            self::assertInstanceOf(StaskException::class, $e);
            self::assertInstanceOf(\RuntimeException::class, $e);
        }
        self::assertSame(0, $this->countRows(), 'nothing was written');
    }

    public function testBadProgressLevelsAndIds(): void
    {
        $t = $this->engine->create('w', 'a');
        $cases = [
            [fn () => $this->engine->pushProgress($t->id, ['progress' => 101]), 'progress must be between 0 and 100'],
            [fn () => $this->engine->pushProgress($t->id, ['progress' => -1]), 'progress must be between 0 and 100'],
            [fn () => $this->engine->pushProgress($t->id, ['progress' => 'half']), 'progress must be a number'],
            [fn () => $this->engine->pushProgress($t->id, ['percent' => 5]), 'unknown progress key "percent"'],
            [fn () => $this->engine->pushProgress($t->id, ['processed' => 11, 'total' => 10]), 'must not exceed total'],
            [fn () => $this->engine->log($t->id, 'debug', 'x'), 'unknown log level "debug"'],
            [fn () => $this->engine->log($t->id, 'info', 'x', ['r' => STDIN]), 'context[r]'],
            [fn () => $this->engine->logs($t->id, 'verbose'), 'unknown log level'],
            [fn () => $this->engine->logs($t->id, null, 0), 'limit must be between'],
            [fn () => $this->engine->find(0), 'task id must be a positive integer'],
            [fn () => $this->engine->cancel(-3), 'task id must be a positive integer'],
            [fn () => $this->engine->prune(-1), 'days must be between 0 and 36500'],
            [fn () => $this->engine->complete($t->id, ['x' => NAN]), 'result[x]'],
            [fn () => $this->engine->processPendingTasks(fn () => null, -1), 'limit must be between'],
            [fn () => $this->engine->processPendingTasks(fn () => null, 1, ['queue' => 'x']), 'unknown processing option'],
        ];
        foreach ($cases as $i => [$call, $message]) {
            try {
                $call();
                self::fail("case $i did not throw");
            } catch (InvalidArgumentException $e) {
                self::assertStringContainsString($message, $e->getMessage(), "case $i");
            }
        }
        $row = $this->engine->find($t->id);
        self::assertSame('pending', $row->statusText);
        self::assertSame([], $this->engine->logs($t->id), 'no log entry was written');
        self::assertFileDoesNotExist($this->storage . "/{$t->id}.json");
    }

    public function testStrictTypesAtTheBoundary(): void
    {
        $this->expectException(\TypeError::class);
        $this->engine->create(123, 'a');
    }

    /** @return array<string, array{string, array, string}> */
    public static function badEngines(): array
    {
        return [
            'no scheme' => ['stask.sqlite', [], 'has no scheme'],
            'unknown scheme' => ['redis://localhost', [], 'unknown engine URL scheme "redis"'],
            'empty path' => ['sqlite:', [], 'sqlite URL has no file path'],
            'server URL without a database' => ['postgres://localhost', [], 'names no database'],
            'unreachable server' => ['postgres://nobody@127.0.0.1:1/x', [], 'cannot connect to the PostgreSQL server'],
            'unknown option' => ['sqlite::memory:', ['leaseSecs' => 5], 'unknown option "leaseSecs"'],
            'bad prefix' => ['sqlite::memory:', ['prefix' => 'evo-; DROP'], 'prefix "evo-; DROP" is invalid'],
            'bad lease' => ['sqlite::memory:', ['leaseSeconds' => 0], 'leaseSeconds must be between 1 and 86400'],
            'bad backoff' => ['sqlite::memory:', ['backoff' => ['factor' => 0.1]], 'backoff factor must be between 1 and 10'],
            'bad backoff key' => ['sqlite::memory:', ['backoff' => ['min' => 1]], 'unknown backoff key "min"'],
            'option of the wrong type' => ['sqlite::memory:', ['maxAttempts' => 'three'], 'maxAttempts must be an integer'],
            'database in a missing directory' => ['sqlite:/nonexistent-dir/x/stask.sqlite', ['storage' => '/tmp'], 'cannot open SQLite database'],
        ];
    }

    /** @dataProvider badEngines */
    #[DataProvider('badEngines')]
    public function testBadEnginesAreConfigurationErrors(string $url, array $options, string $message): void
    {
        try {
            new Engine($url, $options);
            self::fail('expected a ConfigurationException');
        } catch (ConfigurationException $e) {
            self::assertStringContainsString($message, $e->getMessage());
            self::assertInstanceOf(InvalidArgumentException::class, $e);
        }
    }

    public function testAnUnwritableStorageDirectory(): void
    {
        $this->expectException(StorageException::class);
        $this->expectExceptionMessage('storage directory /proc/stask-nope cannot be created');
        new Engine('sqlite:' . $this->dir . '/other.sqlite', ['storage' => '/proc/stask-nope']);
    }
}
