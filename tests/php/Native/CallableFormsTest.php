<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use STask\Task;
use PHPUnit\Framework\Attributes\DataProvider;

final class CallableRecorder
{
    /** @var int[] */
    public static array $ids = [];

    public static function handleStatic(Task $task): void
    {
        self::$ids[] = $task->id;
    }

    public function handle(Task $task): void
    {
        self::$ids[] = $task->id;
    }

    public function __invoke(Task $task): void
    {
        self::$ids[] = $task->id;
    }

    private function secret(Task $task): void
    {
        self::$ids[] = -$task->id;
    }
}

function stask_test_handler(Task $task): void
{
    CallableRecorder::$ids[] = $task->id;
}

/** Every form of PHP callable works as a dispatcher. */
final class CallableFormsTest extends EngineTestCase
{
    /** @return array<string, array{callable}> */
    public static function forms(): array
    {
        return [
            'closure' => [static function (Task $t): void { CallableRecorder::$ids[] = $t->id; }],
            'arrow function' => [static fn (Task $t) => CallableRecorder::$ids[] = $t->id],
            'Class::method string' => [CallableRecorder::class . '::handleStatic'],
            '[Class, method]' => [[CallableRecorder::class, 'handleStatic']],
            '[$object, method]' => [[new CallableRecorder(), 'handle']],
            'invokable object' => [new CallableRecorder()],
            'function name' => ['STask\Tests\Native\stask_test_handler'],
            'first-class callable' => [(new CallableRecorder())->handle(...)],
        ];
    }

    /** @dataProvider forms */
    #[DataProvider('forms')]
    public function testForm(callable $dispatch): void
    {
        CallableRecorder::$ids = [];
        $a = $this->engine->create('w', 'a');
        $b = $this->engine->create('w', 'b');
        self::assertSame(2, $this->engine->processPendingTasks($dispatch));
        self::assertSame([$a->id, $b->id], CallableRecorder::$ids);
    }

    public function testNonCallablesAreRejectedByType(): void
    {
        $this->engine->create('w', 'a');
        $this->expectException(\TypeError::class);
        $this->engine->processPendingTasks('no_such_function_anywhere');
    }

    public function testPrivateMethodsAreNotCallableFromOutside(): void
    {
        $this->engine->create('w', 'a');
        $this->expectException(\TypeError::class);
        $this->engine->processPendingTasks([new CallableRecorder(), 'secret']);
    }
}
