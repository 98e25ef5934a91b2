<?php

declare(strict_types=1);

namespace STask\Tests\Package;

use PDO;
use PHPUnit\Framework\TestCase;
use STask\Tests\Native\BackendTestCase;

/**
 * A throwaway place for one test's site on a database server: a database on MariaDB/MySQL, a
 * schema on PostgreSQL, made from STASK_TEST_MYSQL_URL / STASK_TEST_PG_URL (`make test` sets
 * both) and dropped afterwards. A server that is not configured skips the test, and says so.
 */
final class ServerDatabase
{
    /** @var list<string> statements that undo what was made, run in order by drop() */
    private array $undo = [];

    /**
     * @param string $driver "mysql" or "pgsql"
     * @param array<string, mixed> $connection the site's Laravel connection (without prefix)
     */
    private function __construct(
        public readonly string $driver,
        public readonly string $name,
        public array $connection,
        public readonly PDO $admin,
    ) {
    }

    public static function create(TestCase $test, string $driver): self
    {
        $u = parse_url(BackendTestCase::serverUrl($test, $driver === 'pgsql' ? 'postgres' : 'mysql'));
        $host = $u['host'] ?? '127.0.0.1';
        $user = rawurldecode($u['user'] ?? ($driver === 'pgsql' ? 'postgres' : 'root'));
        $pass = rawurldecode($u['pass'] ?? '');
        $name = 'stask_site_' . bin2hex(random_bytes(4));
        if ($driver === 'pgsql') {
            $port = (int) ($u['port'] ?? 5432);
            $database = ltrim($u['path'] ?? '', '/');
            $admin = new PDO("pgsql:host=$host;port=$port;dbname=$database", $user, $pass);
            $admin->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
            $admin->exec("CREATE SCHEMA $name");
            $db = new self($driver, $name, [
                'driver' => 'pgsql', 'host' => $host, 'port' => $port, 'database' => $database,
                'username' => $user, 'password' => $pass, 'charset' => 'utf8', 'schema' => $name, 'sslmode' => 'prefer',
            ], $admin);
            $db->undo[] = "DROP SCHEMA IF EXISTS $name CASCADE";
            return $db;
        }
        $port = (int) ($u['port'] ?? 3306);
        $admin = new PDO("mysql:host=$host;port=$port", $user, $pass);
        $admin->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        $admin->exec("CREATE DATABASE `$name` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
        $db = new self($driver, $name, [
            'driver' => 'mysql', 'host' => $host, 'port' => $port, 'database' => $name,
            'username' => $user, 'password' => $pass, 'charset' => 'utf8mb4', 'collation' => 'utf8mb4_unicode_ci',
        ], $admin);
        $db->undo[] = "DROP DATABASE IF EXISTS `$name`";
        return $db;
    }

    /**
     * A user of its own with this password, allowed into this database or schema only; the
     * connection uses it from now on.
     */
    public function useNewUser(string $password): void
    {
        $user = $this->name . '_u';
        $quoted = $this->admin->quote($password);
        if ($this->driver === 'pgsql') {
            $this->admin->exec("CREATE ROLE $user LOGIN PASSWORD $quoted");
            $this->admin->exec("GRANT USAGE, CREATE ON SCHEMA {$this->name} TO $user");
            array_unshift($this->undo, "DROP OWNED BY $user CASCADE");
            $this->undo[] = "DROP ROLE IF EXISTS $user";
        } else {
            foreach (['localhost', '127.0.0.1'] as $from) {
                $this->admin->exec("CREATE USER '$user'@'$from' IDENTIFIED BY $quoted");
                $this->admin->exec("GRANT ALL ON `{$this->name}`.* TO '$user'@'$from'");
                $this->undo[] = "DROP USER IF EXISTS '$user'@'$from'";
            }
        }
        $this->connection['username'] = $user;
        $this->connection['password'] = $password;
    }

    /** Connects through the server's Unix socket instead of TCP. */
    public function useUnixSocket(): void
    {
        if ($this->driver === 'pgsql') {
            $dir = '/var/run/postgresql';
            if (!file_exists("$dir/.s.PGSQL." . $this->connection['port'])) {
                TestCase::markTestSkipped("no PostgreSQL socket in $dir");
            }
            $this->connection['host'] = $dir;
            return;
        }
        $socket = (string) $this->admin->query('SELECT @@socket')->fetchColumn();
        if ($socket === '' || !file_exists($socket)) {
            TestCase::markTestSkipped('the MySQL server has no Unix socket here');
        }
        $this->connection = ['unix_socket' => $socket, 'host' => 'localhost', 'port' => ''] + $this->connection;
    }

    /** Runs a query in this database or schema; returns all rows. */
    public function query(string $sql, array $params = []): array
    {
        $this->admin->exec($this->driver === 'pgsql' ? "SET search_path TO {$this->name}" : "USE `{$this->name}`");
        $stmt = $this->admin->prepare($sql);
        $stmt->execute($params);
        return $stmt->fetchAll(PDO::FETCH_ASSOC);
    }

    /** @return list<string> the tables in this database or schema */
    public function tables(): array
    {
        $rows = $this->query('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name', [$this->name]);
        return array_map('strval', array_column($rows, 't'));
    }

    public function drop(): void
    {
        foreach ($this->undo as $sql) {
            try {
                $this->admin->exec($sql);
            } catch (\PDOException $e) {
                fwrite(STDERR, "cleanup failed: $sql: {$e->getMessage()}\n");
            }
        }
        $this->undo = [];
    }
}
