<?php

declare(strict_types=1);

namespace STask\Tests\Package;

final class SmokeTest extends PackageTestCase
{
    public function testTheSiteBootsAndMigrates(): void
    {
        $tables = $this->site->pdo()->query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")->fetchAll(\PDO::FETCH_COLUMN);
        self::assertContains('evo_s_tasks', $tables);
        self::assertContains('evo_s_workers', $tables);
        self::assertContains('evo_migrations', $tables);
    }
}
