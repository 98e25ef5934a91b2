{{-- The default worker widget: run one of the worker's actions with options. --}}
<form class="space-y-3" data-run-form data-url="{{ route('sTask.worker.task.run', ['identifier' => $worker->identifier(), 'action' => '__ACTION__']) }}" data-task-url="{{ route('sTask.task.show', ['id' => '__ID__']) }}">
    @if ($actions === [])
        <p class="text-sm st-muted">{{ __('sTask::global.no_actions') }}</p>
    @else
        <div class="grid grid-cols-2 gap-3">
            <div>
                <label class="st-label" for="run-action">{{ __('sTask::global.action') }}</label>
                <select id="run-action" class="st-input w-full" name="action">
                    @foreach ($actions as $action)
                        <option value="{{ $action }}">{{ $action }}</option>
                    @endforeach
                </select>
            </div>
            <div>
                <label class="st-label" for="run-priority">{{ __('sTask::global.priority') }}</label>
                <select id="run-priority" class="st-input w-full" name="priority">
                    <option value="normal">{{ __('sTask::global.priority_normal') }}</option>
                    <option value="high">{{ __('sTask::global.priority_high') }}</option>
                    <option value="low">{{ __('sTask::global.priority_low') }}</option>
                </select>
            </div>
        </div>
        <div>
            <label class="st-label" for="run-options">{{ __('sTask::global.options_json') }}</label>
            <textarea id="run-options" class="st-input h-24 w-full font-mono text-xs" name="options">{}</textarea>
        </div>
        <button class="st-btn st-btn-primary" type="submit">{{ __('sTask::global.run') }}</button>
        <span class="text-sm" data-run-result role="status"></span>
    @endif
</form>
