@extends('sTask::layout')
@section('title', '#' . $task->id)
@section('content')
<div data-task="{{ $task->id }}"
     data-progress-url="{{ route('sTask.task.progress', ['id' => $task->id]) }}"
     data-logs-url="{{ route('sTask.task.logs', ['id' => $task->id]) }}"
     data-retry-url="{{ route('sTask.task.retry', ['id' => $task->id]) }}"
     data-cancel-url="{{ route('sTask.task.cancel', ['id' => $task->id]) }}"
     class="space-y-4">
    <section class="st-card">
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="text-lg font-semibold">#{{ $task->id }} <span class="st-muted">{{ $task->identifier }}:{{ $task->action }}</span></h1>
            <span data-status-holder>@include('sTask::partials.status', ['status' => $task->status_text])</span>
            <span class="st-badge bg-slate-100 text-slate-600 dark:bg-slate-700 dark:text-slate-300">{{ __('sTask::global.priority_' . $task->priority) }}</span>
            <div class="ml-auto flex gap-2">
                <button class="st-btn" type="button" data-action="retry" {{ $task->canRetry() ? '' : 'disabled' }}>{{ __('sTask::global.retry') }}</button>
                <button class="st-btn st-btn-danger" type="button" data-action="cancel" {{ $task->isFinished() ? 'disabled' : '' }}>{{ __('sTask::global.cancel') }}</button>
                <a class="st-btn" href="{{ route('sTask.task.logs.download', ['id' => $task->id]) }}" data-download-log>{{ __('sTask::global.download_log') }}</a>
                @if ($resultFile)
                    <a class="st-btn" href="{{ route('sTask.task.download', ['id' => $task->id]) }}">{{ __('sTask::global.download_result') }}</a>
                @endif
            </div>
        </div>
        <div class="mt-4">
            <div class="st-bar h-3" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="{{ (int) $progress['progress'] }}" data-progress-bar><span style="width: {{ (int) $progress['progress'] }}%"></span></div>
            <div class="mt-2 flex flex-wrap gap-x-6 gap-y-1 text-sm">
                <span><b data-progress-percent>{{ (int) $progress['progress'] }}%</b></span>
                <span data-progress-counts @if(!$progress['total']) hidden @endif>{{ $progress['processed'] }} / {{ $progress['total'] }}</span>
                <span>{{ __('sTask::global.eta') }}: <span data-progress-eta>{{ $progress['eta'] }}</span></span>
                <span class="min-w-0 flex-1 truncate st-muted" data-progress-message>{{ $progress['message'] }}</span>
            </div>
        </div>
    </section>

    <div class="grid gap-4 lg:grid-cols-3">
        <section class="st-card lg:col-span-1">
            <h2 class="mb-2 font-semibold">{{ __('sTask::global.details') }}</h2>
            <dl class="grid grid-cols-[auto,1fr] gap-x-4 gap-y-1 text-sm">
                <dt class="st-muted">{{ __('sTask::global.worker') }}</dt><dd><a class="text-blue-700 hover:underline dark:text-blue-300" href="{{ route('sTask.worker.show', ['identifier' => $task->identifier]) }}">{{ $task->identifier }}</a></dd>
                <dt class="st-muted">{{ __('sTask::global.attempts') }}</dt><dd data-attempts>{{ $task->attempts }} / {{ $task->max_attempts }}</dd>
                <dt class="st-muted">{{ __('sTask::global.created') }}</dt><dd>{{ $task->created_at }}</dd>
                <dt class="st-muted">{{ __('sTask::global.started') }}</dt><dd data-started>{{ $task->start_at?->toDateTimeString() ?? '—' }}</dd>
                <dt class="st-muted">{{ __('sTask::global.finished') }}</dt><dd data-finished>{{ $task->finished_at?->toDateTimeString() ?? '—' }}</dd>
                <dt class="st-muted">{{ __('sTask::global.duration') }}</dt><dd data-duration>{{ $task->duration !== null ? number_format($task->duration, 2, '.', '') . ' s' : '—' }}</dd>
                <dt class="st-muted">{{ __('sTask::global.user') }}</dt><dd>{{ $task->started_by ?: __('sTask::global.system') }}</dd>
            </dl>
            <div data-last-error-box {{ $task->last_error ? '' : 'hidden' }}>
                <h3 class="mt-4 st-label">{{ __('sTask::global.last_error') }}</h3>
                <pre class="whitespace-pre-wrap break-words rounded-md bg-red-50 p-2 text-xs text-red-800 dark:bg-red-950 dark:text-red-200" data-last-error>{{ $task->last_error }}</pre>
            </div>
            <h3 class="mt-4 st-label">{{ __('sTask::global.data') }}</h3>
            <pre class="max-h-64 overflow-auto rounded-md bg-slate-100 p-2 text-xs dark:bg-slate-900">{{ json_encode($task->meta, JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) }}</pre>
            @if ($task->result !== null)
                <h3 class="mt-4 st-label">{{ __('sTask::global.result') }}</h3>
                <pre class="max-h-64 overflow-auto rounded-md bg-slate-100 p-2 text-xs dark:bg-slate-900">{{ json_encode($task->result, JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) }}</pre>
            @endif
        </section>

        <section class="st-card lg:col-span-2">
            <div class="mb-2 flex items-center gap-3">
                <h2 class="font-semibold">{{ __('sTask::global.log') }}</h2>
                <label class="ml-auto text-sm st-muted" for="log-level">{{ __('sTask::global.level') }}</label>
                <select id="log-level" class="st-input" data-log-level>
                    <option value="">{{ __('sTask::global.all_levels') }}</option>
                    <option value="info">info</option>
                    <option value="warning">warning</option>
                    <option value="error">error</option>
                </select>
            </div>
            <div class="st-log" data-log aria-live="polite"><div class="st-muted">{{ __('sTask::global.loading') }}</div></div>
        </section>
    </div>
</div>
@endsection
