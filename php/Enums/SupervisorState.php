<?php

declare(strict_types=1);

namespace Seiger\sTask\Enums;

/**
 * What a supervised process looks like from outside, as its worker's inspectSupervisor() /
 * startSupervisor() / restartSupervisor() report it.
 *
 * - healthy: running and reporting (fresh heartbeat);
 * - starting: a launch was requested and the process is not reporting yet;
 * - degraded: it runs but does not report as it should (a stale heartbeat, a hung loop);
 * - failed: it cannot run (bad configuration, a launch that failed);
 * - stopped: no process.
 *
 * @since 2.2.0
 */
enum SupervisorState: string
{
    case Healthy = 'healthy';
    case Starting = 'starting';
    case Degraded = 'degraded';
    case Failed = 'failed';
    case Stopped = 'stopped';

    public function isHealthy(): bool
    {
        return $this === self::Healthy;
    }

    public function isStarting(): bool
    {
        return $this === self::Starting;
    }

    /** Whether the supervisor should (re)launch the process: it is stopped, degraded or failed. */
    public function requiresLaunch(): bool
    {
        return match ($this) {
            self::Stopped, self::Degraded, self::Failed => true,
            self::Healthy, self::Starting => false,
        };
    }
}
