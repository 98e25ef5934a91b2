<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use PHPUnit\Framework\TestCase;

/**
 * The demo's web server (issue 11, finding 9), run for real: `examples/demo.php` serving the
 * manager pages. Its requests are manager requests (is_cli() false: the session's permissions
 * apply and a task records the manager user), its links come from the address it listens on and not from the Host header (another
 * host is refused), and SIGTERM to the demo stops every process it started, the web server's
 * forked workers included.
 */
final class DemoServerTest extends TestCase
{
    /** @var resource|null */
    private $demo = null;
    private string $root;
    private int $port;
    private string $output = '';

    protected function setUp(): void
    {
        $this->root = sys_get_temp_dir() . '/stask-demo-' . getmypid() . '-' . bin2hex(random_bytes(4));
        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $this->port = (int) substr((string) stream_socket_get_name($socket, false), strrpos((string) stream_socket_get_name($socket, false), ':') + 1);
        fclose($socket);
        $extension = realpath((string) getenv('STASK_EXTENSION')) ?: dirname(__DIR__, 3) . '/target/release/libstask.so';
        $this->demo = proc_open([PHP_BINARY, '-d', "extension=$extension", dirname(__DIR__, 3) . '/examples/demo.php'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['redirect', 1]], $pipes, dirname(__DIR__, 3),
            // A manager with "stask" only: the dangerous built-in workers are not theirs to run.
            ['STASK_DEMO_PORT' => (string) $this->port, 'STASK_DEMO_ROOT' => $this->root, 'STASK_DEMO_SERVE' => '1',
                'STASK_DEMO_PERMISSIONS' => 'stask'] + getenv());
        stream_set_blocking($pipes[1], false);
        $deadline = microtime(true) + 120;
        while (!str_contains($this->output, 'Manager pages:')) {
            $this->output .= (string) fread($pipes[1], 65536);
            if (microtime(true) > $deadline || !proc_get_status($this->demo)['running']) {
                self::fail("the demo did not start:\n" . $this->output);
            }
            usleep(100_000);
        }
        // The server's workers start with it; give them a moment to listen.
        usleep(500_000);
    }

    protected function tearDown(): void
    {
        if ($this->demo !== null && proc_get_status($this->demo)['running']) {
            proc_terminate($this->demo, SIGTERM);
            $this->waitForExit(15);
        }
        exec('rm -rf ' . escapeshellarg($this->root));
    }

    /** @return array{status: int, headers: string, body: string} */
    private function request(string $method, string $path, string $host, string $body = '', array $headers = []): array
    {
        $connection = @stream_socket_client("tcp://127.0.0.1:{$this->port}", $errno, $error, 5);
        if ($connection === false) {
            return ['status' => 0, 'headers' => '', 'body' => $error];
        }
        $lines = array_merge(["$method $path HTTP/1.0", "Host: $host", 'Content-Length: ' . strlen($body)], $headers);
        fwrite($connection, implode("\r\n", $lines) . "\r\n\r\n" . $body);
        stream_set_timeout($connection, 30);
        $response = (string) stream_get_contents($connection);
        fclose($connection);
        [$head, $content] = array_pad(explode("\r\n\r\n", $response, 2), 2, '');
        return ['status' => (int) (explode(' ', $head)[1] ?? 0), 'headers' => $head, 'body' => $content];
    }

    private function waitForExit(int $seconds): bool
    {
        $deadline = microtime(true) + $seconds;
        while (proc_get_status($this->demo)['running']) {
            if (microtime(true) > $deadline) {
                return false;
            }
            usleep(100_000);
        }
        return true;
    }

    /** @return list<int> the processes below $pid */
    private static function descendants(int $pid): array
    {
        $found = [];
        foreach (glob('/proc/[0-9]*/stat') ?: [] as $file) {
            $stat = (string) @file_get_contents($file);
            if (preg_match('/\)\s+\S+\s+(\d+)/', substr($stat, (int) strrpos($stat, ')')), $m) === 1 && (int) $m[1] === $pid) {
                $child = (int) basename(dirname($file));
                $found = array_merge($found, [$child], self::descendants($child));
            }
        }
        return $found;
    }

    private static function alive(int $pid): bool
    {
        $stat = (string) @file_get_contents("/proc/$pid/stat");
        return $stat !== '' && preg_match('/\)\s+Z/', substr($stat, (int) strrpos($stat, ')'))) !== 1;
    }

    public function testTheDemoServesManagerRequestsOnItsOwnAddressAndStopsCompletely(): void
    {
        $origin = "http://127.0.0.1:{$this->port}";
        $page = $this->request('GET', '/manager/stask/workers', "127.0.0.1:{$this->port}");
        self::assertSame(200, $page['status'], $page['body'] . "\n" . $this->output);
        self::assertStringContainsString("$origin/manager/stask/worker/", $page['body']);

        // Another name for the same address (DNS rebinding, a proxy): refused, nothing built from it.
        $evil = $this->request('GET', '/manager/stask/workers', "attacker.example:{$this->port}");
        self::assertSame(421, $evil['status']);
        self::assertStringNotContainsString('attacker.example', $evil['body']);
        self::assertStringNotContainsString('csrf-token', $evil['body']);
        $redirect = $this->request('GET', '/', "localhost:{$this->port}");
        self::assertSame(302, $redirect['status']);
        self::assertStringContainsString("Location: $origin/manager/stask", $redirect['headers']);
        self::assertStringContainsString("$origin/manager/stask", $this->request('GET', '/manager/stask', "localhost:{$this->port}")['body']);

        // The pages are manager requests (is_cli() false): the session's permissions apply, so
        // a manager without "stask_artisan" gets no run form for the artisan worker ...
        $artisan = $this->request('GET', '/manager/stask/worker/artisan', "127.0.0.1:{$this->port}");
        self::assertSame(200, $artisan['status'], $artisan['body']);
        self::assertStringContainsString('data-permission-needed', $artisan['body']);
        self::assertStringNotContainsString('data-run-form', $artisan['body']);
        // ... and a task started there is the manager user's.
        self::assertSame(1, preg_match('/<meta name="csrf-token" content="([^"]+)"/', $page['body'], $m));
        $run = $this->request('POST', '/manager/stask/worker/newsletter/run/send', "127.0.0.1:{$this->port}",
            (string) json_encode(['options' => ['subject' => 'From the test', 'recipients' => []]]),
            ['Content-Type: application/json', 'Accept: application/json', 'X-CSRF-TOKEN: ' . $m[1]]);
        self::assertSame(200, $run['status'], $run['body']);
        $id = (int) json_decode($run['body'], true)['id'];
        $pdo = new \PDO('sqlite:' . $this->root . '/core/database/evo.sqlite');
        self::assertSame(1, (int) $pdo->query("SELECT started_by FROM evo_s_tasks WHERE id = $id")->fetchColumn(), 'started by manager user 1');
        $pdo = null;

        // SIGTERM stops the demo, its worker, its web server and the server's forked workers.
        $pid = proc_get_status($this->demo)['pid'];
        $below = self::descendants($pid);
        self::assertGreaterThanOrEqual(3, count($below), 'a worker, the server and its workers');
        proc_terminate($this->demo, SIGTERM);
        self::assertTrue($this->waitForExit(15), 'the demo exits on SIGTERM');
        $deadline = microtime(true) + 10;
        while (array_filter($below, [self::class, 'alive']) !== [] && microtime(true) < $deadline) {
            usleep(100_000);
        }
        self::assertSame([], array_values(array_filter($below, [self::class, 'alive'])), 'no process of the demo is left');
        self::assertSame(0, $this->request('GET', '/manager/stask', "127.0.0.1:{$this->port}")['status'], 'nothing serves the pages');
    }
}
