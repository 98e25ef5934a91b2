<?php

declare(strict_types=1);

namespace Seiger\sTask\Models;

use Illuminate\Database\Eloquent\Model;
use Illuminate\Database\Eloquent\Relations\BelongsTo;
use Seiger\sTask\Facades\sTask;

/**
 * The live state of one supervised process (table `{prefix}s_supervisor_states`): what the
 * last supervisor pass saw (state, pid, heartbeat, uptime, message), the diagnostic
 * fingerprint and how many passes in a row saw it unchanged, and when a launch was last
 * requested. One row per worker and supervisor key (`key_hash`, unique).
 *
 * `locked_until` / `lock_owner` are the pass lock: a supervisor pass takes the row with an
 * atomic compare-and-set, so one pass at a time handles a key however many schedulers run.
 *
 * @property int $id
 * @property int $worker_id
 * @property string $identifier
 * @property string $supervisor_key
 * @property string $key_hash
 * @property string $state
 * @property int|null $pid
 * @property \Carbon\Carbon|null $heartbeat_at
 * @property \Carbon\Carbon|null $supervisor_started_at
 * @property int|null $uptime_seconds
 * @property string|null $message
 * @property string|null $fingerprint
 * @property \Carbon\Carbon|null $last_transition_at
 * @property \Carbon\Carbon|null $last_seen_at
 * @property int $repeat_count
 * @property \Carbon\Carbon|null $launch_requested_at
 * @property int|null $locked_until Unix time in milliseconds
 * @property string|null $lock_owner
 *
 * @since 2.2.0
 */
class sSupervisorState extends Model
{
    use UtcTimestamps;

    protected $table = 's_supervisor_states';

    protected $fillable = [
        'worker_id', 'identifier', 'supervisor_key', 'key_hash', 'state', 'pid', 'heartbeat_at',
        'supervisor_started_at', 'uptime_seconds', 'message', 'fingerprint', 'last_transition_at',
        'last_seen_at', 'repeat_count', 'launch_requested_at',
    ];

    protected $casts = [
        'id' => 'integer',
        'worker_id' => 'integer',
        'pid' => 'integer',
        'uptime_seconds' => 'integer',
        'repeat_count' => 'integer',
        'locked_until' => 'integer',
        'heartbeat_at' => 'datetime',
        'supervisor_started_at' => 'datetime',
        'last_transition_at' => 'datetime',
        'last_seen_at' => 'datetime',
        'launch_requested_at' => 'datetime',
        'created_at' => 'datetime',
        'updated_at' => 'datetime',
    ];

    protected $attributes = [
        'state' => 'stopped',
        'repeat_count' => 0,
    ];

    public function getConnectionName()
    {
        return $this->connection ?? sTask::connectionName();
    }

    public function worker(): BelongsTo
    {
        return $this->belongsTo(sWorker::class, 'worker_id');
    }
}
