<?php

declare(strict_types=1);

namespace Seiger\sTask\Contracts;

/**
 * A worker: a class with a stable identifier and public task{Action}() methods, e.g.
 * `taskImport(sTaskModel $task, array $options = []): void` for the action "import".
 * Extend {@see \Seiger\sTask\Workers\BaseWorker} to get progress, logs and settings helpers;
 * implementing this interface alone is enough for a worker to run.
 */
interface TaskInterface
{
    /** Unique and URL-safe, e.g. "product" or "sync_stock". */
    public function identifier(): string;

    /** The module or package it belongs to, e.g. "scommerce". */
    public function scope(): string;

    /** An HTML snippet (e.g. a Font Awesome <i>) shown next to the title. */
    public function icon(): string;

    public function title(): string;

    public function description(): string;

    /** HTML shown on the worker's page in the manager. */
    public function renderWidget(): string;

    /** @return array<string, mixed> */
    public function settings(): array;
}
