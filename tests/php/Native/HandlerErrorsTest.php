<?php
declare(strict_types=1);

namespace STask\Tests\Native;

use STask\Task;

/** What happens when a handler throws, mistypes, exits or dies. */
final class HandlerErrorsTest extends EngineTestCase
{
    public function testAnExceptionFailsTheAttemptAndRetriesWithBackoff(): void
    {
        $t = $this->engine->create('mail', 'send', [], 'normal', ['maxAttempts' => 2]);
        $report = $this->engine->process(function () { throw new \RuntimeException('SMTP is down'); });
        self::assertSame(1, $report['retried']);
        self::assertSame(0, $report['completed']);
        $row = $this->engine->find($t->id);
        self::assertSame('pending', $row->statusText);
        self::assertSame(1, $row->attempts);
        self::assertGreaterThan(time(), $row->availableAt + 1, 'next attempt is delayed');
        self::assertStringContainsString('RuntimeException: SMTP is down in ' . __FILE__, $row->lastError);
        self::assertSame(0, $this->engine->processPendingTasks(fn () => null), 'not due yet');

        $this->makeDue($t->id);
        $report = $this->engine->process(function () { throw new \LogicException('still down'); });
        self::assertSame(1, $report['failed']);
        $row = $this->engine->find($t->id);
        self::assertSame('failed', $row->statusText);
        self::assertSame(2, $row->attempts);
        self::assertStringContainsString('LogicException: still down', $row->lastError);
        $errors = $this->engine->logs($t->id, 'error');
        self::assertCount(2, $errors);
        self::assertSame('LogicException', $errors[1]['context']['exception']);
        self::assertSame(__FILE__, $errors[1]['context']['file']);
    }

    public function testErrorsAndTypeErrorsAreRecordedToo(): void
    {
        $a = $this->engine->create('w', 'a', [], 'normal', ['maxAttempts' => 1]);
        $b = $this->engine->create('w', 'b', [], 'normal', ['maxAttempts' => 1]);
        $this->engine->processPendingTasks(function (Task $t) {
            if ($t->action === 'a') {
                return intdiv(1, 0);
            }
            return strlen([]);
        });
        self::assertStringContainsString('DivisionByZeroError', $this->engine->find($a->id)->lastError);
        self::assertStringContainsString('TypeError', $this->engine->find($b->id)->lastError);
    }

    public function testAHandlerWithTheWrongSignatureFailsTheAttemptNotTheProcess(): void
    {
        $t = $this->engine->create('w', 'a', [], 'normal', ['maxAttempts' => 1]);
        $this->engine->processPendingTasks(function (int $notATask) {});
        self::assertStringContainsString('TypeError', $this->engine->find($t->id)->lastError);
    }

    public function testProcessingContinuesAfterAFailure(): void
    {
        $this->engine->create('w', 'bad', [], 'high', ['maxAttempts' => 1]);
        $good = $this->engine->create('w', 'good');
        $report = $this->engine->process(function (Task $t) {
            if ($t->action === 'bad') {
                throw new \RuntimeException('nope');
            }
        });
        self::assertSame(1, $report['failed']);
        self::assertSame(1, $report['completed']);
        self::assertTrue($this->engine->find($good->id)->isCompleted());
    }

    public function testExitInAHandlerEndsTheScriptAndLeavesTheTaskToItsLease(): void
    {
        $t = $this->engine->create('w', 'exit');
        $waiting = $this->engine->create('w', 'later');
        [$code, $out, $err] = self::runScript('exit_in_handler.php', [$this->db, $this->storage]);
        self::assertSame(3, $code, "exit(3) must end the script with code 3; stderr: $err");
        self::assertStringContainsString('handler started', $out);
        self::assertStringNotContainsString('after processing', $out);
        self::assertStringContainsString('shutdown function ran', $out);
        $row = $this->engine->find($t->id);
        self::assertSame('running', $row->statusText, 'left to its lease');
        self::assertSame('pending', $this->engine->find($waiting->id)->statusText);
    }

    public function testAFatalErrorInAHandlerLeavesTheTaskToBeRescued(): void
    {
        // Quick tasks first, so that the batch holding the fatal one also holds unstarted tasks.
        $quick = [];
        for ($i = 0; $i < 3; $i++) {
            $quick[] = $this->engine->create('w', 'quick');
        }
        $t = $this->engine->create('w', 'fatal', [], 'normal', ['maxAttempts' => 2]);
        $later = [];
        for ($i = 0; $i < 3; $i++) {
            $later[] = $this->engine->create('w', 'later');
        }
        [$code, $out, $err] = self::runScript('fatal_in_handler.php', [$this->db, $this->storage]);
        self::assertSame(255, $code, "a fatal error ends the script with 255; out: $out err: $err");
        self::assertStringContainsString('handler started', $out);
        self::assertSame('running', $this->engine->find($t->id)->statusText);
        foreach ($quick as $q) {
            self::assertSame('completed', $this->engine->find($q->id)->statusText, 'outcomes before the fatal are kept');
        }
        foreach ($later as $l) {
            $row = $this->engine->find($l->id);
            self::assertSame('pending', $row->statusText, 'claimed but unstarted tasks are handed back');
            self::assertSame(0, $row->attempts);
        }
        // The lease (2 s in the fixture) expires; the next claim rescues the task.
        $this->pdo()->exec('UPDATE evo_s_tasks SET lease_expires_at = 1');
        $report = $this->engine->process(fn () => null);
        self::assertSame(1, $report['rescued']);
        $row = $this->engine->find($t->id);
        self::assertSame('pending', $row->statusText, 'back to pending with one attempt spent');
        self::assertSame(1, $row->attempts);
        self::assertStringContainsString('lease expired', $row->message);
    }

    /** A value whose destructor throws, as a handler might return by accident. */
    private static function throwsWhenReleased(string $message): object
    {
        return new class($message) {
            public function __construct(private string $message) {}

            public function __destruct()
            {
                throw new \RuntimeException($this->message);
            }
        };
    }

    public function testAnExceptionFromReleasingWhatAHandlerReturnedFailsThatTaskOnly(): void
    {
        $a = $this->engine->create('w', 'a', [], 'high', ['maxAttempts' => 1]);
        $b = $this->engine->create('w', 'b', [], 'normal', ['maxAttempts' => 1]);
        $ran = [];
        $report = $this->engine->process(function (Task $t) use (&$ran) {
            $ran[] = $t->action;
            return $t->action === 'a' ? self::throwsWhenReleased('destructor of a') : null;
        });
        self::assertSame(['a', 'b'], $ran, 'the next handler runs');
        self::assertSame(1, $report['failed']);
        self::assertSame(1, $report['completed']);
        $rowA = $this->engine->find($a->id);
        self::assertSame('failed', $rowA->statusText);
        self::assertStringContainsString('RuntimeException: destructor of a', (string) $rowA->lastError);
        $rowB = $this->engine->find($b->id);
        self::assertSame('completed', $rowB->statusText);
        self::assertNull($rowB->lastError);
    }

    public function testAnExceptionFromReleasingTheLastReturnValueDoesNotEscapeProcessing(): void
    {
        $t = $this->engine->create('w', 'a', [], 'normal', ['maxAttempts' => 2]);
        $report = $this->engine->process(fn () => self::throwsWhenReleased('released last'));
        self::assertSame(1, $report['retried'], 'the attempt failed and is retried');
        self::assertStringContainsString('released last', (string) $this->engine->find($t->id)->lastError);
        // Nothing is left pending for the next call into the extension.
        self::assertSame(1, $this->engine->find($t->id)->attempts);
    }

    public function testMessagesThatAreNotUtf8AreKeptWithReplacementCharacters(): void
    {
        $t = $this->engine->create('w', 'a', [], 'normal', ['maxAttempts' => 1]);
        $this->engine->process(function () { throw new \RuntimeException("bad \xC3\x28 bytes \xff end"); });
        $row = $this->engine->find($t->id);
        self::assertStringContainsString("RuntimeException: bad \u{FFFD}( bytes \u{FFFD} end", (string) $row->lastError);
        self::assertStringContainsString("bad \u{FFFD}( bytes \u{FFFD} end", (string) $row->message);
        $errors = $this->engine->logs($t->id, 'error');
        self::assertCount(1, $errors);
        self::assertStringContainsString("bad \u{FFFD}( bytes \u{FFFD} end", $errors[0]['message']);
    }

    public function testHugeMessagesAreCutToABoundedSizeOnACharacterBoundary(): void
    {
        $retried = $this->engine->create('w', 'retried', [], 'high', ['maxAttempts' => 2]);
        $failed = $this->engine->create('w', 'failed', [], 'normal', ['maxAttempts' => 1]);
        // 5 MB of two-byte characters after one byte, so a cut by bytes would split one.
        $huge = 'x' . str_repeat('ж', 2_621_440);
        $this->engine->process(function () use ($huge) { throw new \RuntimeException($huge); });
        foreach ([$retried, $failed] as $task) {
            $row = $this->engine->find($task->id);
            $stored = $this->row($task->id);
            $log = $this->engine->logs($task->id, 'error');
            self::assertCount(1, $log);
            foreach (['lastError' => $row->lastError, 'message' => $row->message, 'log' => $log[0]['message'],
                      'message column' => $stored['message'], 'last_error column' => $stored['last_error']] as $what => $text) {
                self::assertIsString($text, $what);
                self::assertLessThan(65_536, strlen($text), "$what fits 64 KiB");
                self::assertGreaterThan(60_000, strlen($text), "$what keeps the start of the message");
                self::assertTrue(mb_check_encoding($text, 'UTF-8'), "$what is valid UTF-8");
                self::assertStringContainsString('… [cut: 5242881 bytes in all]', $text, $what);
                self::assertStringContainsString('xжжж', $text, $what);
            }
        }
    }
}
