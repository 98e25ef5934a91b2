<?php

declare(strict_types=1);

namespace Seiger\sTask\Contracts;

use Seiger\sTask\Support\SupervisorStatus;

/**
 * A worker that keeps a long-lived process alive (a bot, a socket listener, a sync daemon).
 * Implemented next to TaskInterface (normally by a BaseWorker subclass) and chosen with the
 * schedule type `supervisor`: every scheduler pass (`stask:worker`, and `stask:work`
 * periodically) then inspects the process and starts or restarts it when it is down.
 *
 * The hooks must return quickly: start and restart spawn a detached process and return,
 * normally reporting `starting`; the process proves it runs by its own heartbeat, which
 * inspectSupervisor() reads on a later pass.
 *
 * @since 2.2.0
 */
interface SupervisorWorkerInterface
{
    /** Stable identity of the supervised process (e.g. an account or session); trimmed, never empty. */
    public function supervisorKey(): string;

    /** Read-only health probe: must not launch or change anything. */
    public function inspectSupervisor(): SupervisorStatus;

    /** Requests a detached first launch and returns at once (normally with state `starting`). */
    public function startSupervisor(): SupervisorStatus;

    /** Requests a detached restart (stop what is left, launch again) and returns at once. */
    public function restartSupervisor(): SupervisorStatus;

    /** Seconds after a launch request during which no further launch is requested (at least 1). */
    public function supervisorStartupGraceSeconds(): int;
}
