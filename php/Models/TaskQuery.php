<?php

declare(strict_types=1);

namespace Seiger\sTask\Models;

use Illuminate\Database\Eloquent\Builder;
use Seiger\sTask\Facades\sTask;

/**
 * Queries of tasks. Mass updates of lifecycle columns (`sTaskModel::where(…)->update(['status'
 * => …])`) are applied task by task through the model, so they are engine transitions like a
 * model's own save; mass deletes go through the engine, which removes each task's progress and
 * log too and never deletes a running task.
 */
class TaskQuery extends Builder
{
    private const LIFECYCLE = ['status', 'message', 'result', 'progress', 'start_at', 'finished_at'];

    /** A model's own save: the engine already applied its transition. */
    private bool $plain = false;

    /** @internal used by sTaskModel for the write that follows its engine transition */
    public function plain(): static
    {
        $this->plain = true;
        return $this;
    }

    public function update(array $values)
    {
        if ($this->plain || array_intersect_key($values, array_flip(self::LIFECYCLE)) === []) {
            return parent::update($values);
        }
        $count = 0;
        foreach ($this->get() as $task) {
            $task->forceFill($values)->save();
            $count++;
        }
        return $count;
    }

    public function delete()
    {
        $ids = array_map('intval', $this->toBase()->pluck($this->model->getQualifiedKeyName())->all());
        return $ids === [] ? 0 : count(sTask::engine()->delete($ids));
    }
}
