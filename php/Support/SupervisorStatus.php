<?php

declare(strict_types=1);

namespace Seiger\sTask\Support;

use DateTimeInterface;
use Seiger\sTask\Enums\SupervisorState;

/**
 * One observation of a supervised process, as a SupervisorWorkerInterface hook returns it.
 *
 * The diagnostic fingerprint tells "the same situation again" from "something changed": the
 * supervisor counts repeats of an unchanged fingerprint and records an event row only when it
 * changes. By default it is made of the state and the message; a worker that knows better
 * passes its own `fingerprint` (e.g. an error code). The pid, heartbeat and uptime are not
 * part of it, so a restart that reaches the same state is not a new diagnosis.
 *
 * @since 2.2.0
 */
final readonly class SupervisorStatus
{
    public function __construct(
        public SupervisorState $state,
        public ?int $pid = null,
        public ?DateTimeInterface $heartbeatAt = null,
        public ?DateTimeInterface $startedAt = null,
        public ?int $uptimeSeconds = null,
        public string $message = '',
        public ?string $fingerprint = null,
    ) {
    }

    /** sha256 hex of the worker's fingerprint when it gave one, else of state and message. */
    public function diagnosticFingerprint(): string
    {
        $own = trim((string) $this->fingerprint);
        if ($own !== '') {
            return hash('sha256', $own);
        }
        return hash('sha256', $this->state->value . "\n" . trim($this->message));
    }
}
