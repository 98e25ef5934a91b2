<?php
declare(strict_types=1);

namespace STask\Tests\Native;

/**
 * stubs/stask.stubs.php (for IDEs and static analysis) declares exactly what the built
 * extension declares: classes, parents, constants, methods, parameters, defaults and types.
 * Regenerate with `make stubs`.
 */
final class StubsTest extends EngineTestCase
{
    public function testStubsMatchTheLoadedExtension(): void
    {
        $stubs = dirname(__DIR__, 3) . '/stubs/stask.stubs.php';
        self::assertFileExists($stubs);
        [$code, $fromExtension, $err] = self::runScript('describe_api.php', []);
        self::assertSame(0, $code, $err);

        $cmd = [PHP_BINARY, '-n', dirname(__DIR__) . '/fixtures/describe_api.php', $stubs];
        $proc = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        $fromStubs = stream_get_contents($pipes[1]);
        $stubErr = stream_get_contents($pipes[2]);
        self::assertSame(0, proc_close($proc), $stubErr);

        $ext = json_decode($fromExtension, true);
        $stub = json_decode($fromStubs, true);
        self::assertNotEmpty($ext['STask\\Engine']['methods'] ?? null, 'the extension declares STask\\Engine');
        self::assertSame($ext, $stub, 'stubs/stask.stubs.php drifted from the extension: run `make stubs`');
    }
}
