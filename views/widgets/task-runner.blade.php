{{-- The default worker widget: run one of the worker's actions with options, and a file when
     the worker takes one (uploaded first, in chunks when large, then passed by its token). --}}
@php($extensions = $extensions ?? [])
<form class="space-y-3" data-run-form data-url="{{ route('sTask.worker.task.run', ['identifier' => $worker->identifier(), 'action' => '__ACTION__']) }}" data-task-url="{{ route('sTask.task.show', ['id' => '__ID__']) }}"
      @if ($extensions !== []) data-upload-url="{{ route('sTask.worker.upload', ['identifier' => $worker->identifier()]) }}" data-limits="{{ json_encode(app(\Seiger\sTask\Services\Uploads::class)->limits()) }}" @endif>
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
        @if ($extensions !== [])
            <div>
                <label class="st-label" for="run-file">{{ __('sTask::global.file') }} ({{ implode(', ', $extensions) }})</label>
                <input id="run-file" class="st-input w-full" type="file" name="file" accept="{{ implode(',', array_map(fn ($e) => '.' . $e, $extensions)) }}">
                <div class="mt-1 hidden" data-upload-progress>
                    <div class="st-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span style="width: 0%"></span></div>
                </div>
            </div>
        @endif
        <div>
            <label class="st-label" for="run-options">{{ __('sTask::global.options_json') }}</label>
            <textarea id="run-options" class="st-input h-24 w-full font-mono text-xs" name="options">{}</textarea>
        </div>
        <button class="st-btn st-btn-primary" type="submit">{{ __('sTask::global.run') }}</button>
        <span class="text-sm" data-run-result role="status"></span>
    @endif
</form>
