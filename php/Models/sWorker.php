<?php

declare(strict_types=1);

namespace Seiger\sTask\Models;

use Illuminate\Database\Eloquent\Builder;
use Illuminate\Database\Eloquent\Model;
use Illuminate\Database\Eloquent\Relations\HasMany;
use Seiger\sTask\Contracts\TaskInterface;
use Seiger\sTask\Facades\sTask;

/**
 * A registered worker (table `{prefix}s_workers`): its identifier, class, scope, whether it is
 * active, and its settings (JSON, including the schedule).
 *
 * @property int $id
 * @property string $identifier
 * @property string $scope
 * @property string $class
 * @property bool $active
 * @property int $position
 * @property array $settings
 * @property int $hidden
 */
class sWorker extends Model
{
    use UtcTimestamps;

    protected $table = 's_workers';

    protected $fillable = ['uuid', 'identifier', 'scope', 'class', 'active', 'position', 'settings', 'hidden'];

    protected $casts = [
        'id' => 'integer',
        'active' => 'boolean',
        'position' => 'integer',
        'hidden' => 'integer',
        'settings' => 'array',
        'created_at' => 'datetime',
        'updated_at' => 'datetime',
    ];

    /** The worker object, built once per model (upstream rebuilt it on every attribute read). */
    private TaskInterface|false|null $instance = null;

    public function getConnectionName()
    {
        return $this->connection ?? sTask::connectionName();
    }

    public function tasks(): HasMany
    {
        return $this->hasMany(sTaskModel::class, 'identifier', 'identifier');
    }

    /** The live states of the processes this worker supervises (schedule type `supervisor`). */
    public function supervisorStates(): HasMany
    {
        return $this->hasMany(sSupervisorState::class, 'worker_id');
    }

    public function scopeActive(Builder $q): Builder
    {
        return $q->where('active', true);
    }

    public function scopeVisible(Builder $q): Builder
    {
        return $q->where('hidden', 0);
    }

    public function scopeByScope(Builder $q, string $scope): Builder
    {
        return $q->where('scope', $scope);
    }

    public function scopeOrdered(Builder $q): Builder
    {
        return $q->orderBy('position')->orderBy('identifier');
    }

    /** The worker object, or null when its class is missing or invalid. */
    public function getInstance(): ?TaskInterface
    {
        if ($this->instance === null) {
            $this->instance = false;
            $class = (string) $this->class;
            if ($class !== '' && class_exists($class) && is_subclass_of($class, TaskInterface::class)) {
                try {
                    $worker = app($class);
                    $this->instance = $worker instanceof TaskInterface ? $worker : false;
                } catch (\Throwable) {
                    $this->instance = false;
                }
            }
        }
        return $this->instance ?: null;
    }

    public function getClassExistsAttribute(): bool
    {
        return $this->getInstance() !== null;
    }

    public function getTitleAttribute(): string
    {
        return $this->getInstance()?->title() ?: ucwords(str_replace(['_', '-'], ' ', (string) $this->identifier));
    }

    public function getDescriptionAttribute(): string
    {
        return $this->getInstance()?->description() ?? '';
    }

    public function getIconAttribute(): string
    {
        return $this->getInstance()?->icon() ?: '<i class="fa fa-cog"></i>';
    }

    public function renderWidget(): string
    {
        $worker = $this->getInstance();
        if ($worker === null) {
            return '<div class="alert alert-warning">' . e(sprintf('Worker class %s is not available.', $this->class)) . '</div>';
        }
        return $worker->renderWidget();
    }

    public function canBeUsed(): bool
    {
        return (bool) $this->active && $this->getInstance() !== null;
    }

    /** @return array<string, mixed> */
    public function getDefaultSettings(): array
    {
        return is_array($this->settings) ? $this->settings : [];
    }

    /** Merges into the stored settings (top-level keys). */
    public function updateSettings(array $settings): bool
    {
        $this->settings = array_merge($this->getDefaultSettings(), $settings);
        return $this->save();
    }
}
