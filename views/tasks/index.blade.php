@extends('sTask::layout')
@section('title', __('sTask::global.tasks'))
@section('content')
<form method="get" action="{{ route('sTask.tasks') }}" class="st-card grid gap-3 sm:grid-cols-3 lg:grid-cols-7" data-filters>
    <div class="lg:col-span-2">
        <label class="st-label" for="f-q">{{ __('sTask::global.search') }}</label>
        <input id="f-q" class="st-input w-full" type="search" name="q" value="{{ $filters['q'] }}" placeholder="{{ __('sTask::global.search_hint') }}">
    </div>
    <div>
        <label class="st-label" for="f-status">{{ __('sTask::global.status') }}</label>
        <select id="f-status" class="st-input w-full" name="status">
            <option value="">{{ __('sTask::global.any') }}</option>
            @foreach ($statuses as $s)
                <option value="{{ $s }}" {{ $filters['status'] === $s ? 'selected' : '' }}>{{ __('sTask::global.' . $s) }}</option>
            @endforeach
        </select>
    </div>
    <div>
        <label class="st-label" for="f-worker">{{ __('sTask::global.worker') }}</label>
        <select id="f-worker" class="st-input w-full" name="worker">
            <option value="">{{ __('sTask::global.any') }}</option>
            @foreach ($identifiers as $identifier)
                <option value="{{ $identifier }}" {{ $filters['worker'] === $identifier ? 'selected' : '' }}>{{ $identifier }}</option>
            @endforeach
        </select>
    </div>
    <div>
        <label class="st-label" for="f-action">{{ __('sTask::global.action') }}</label>
        <input id="f-action" class="st-input w-full" name="action" value="{{ $filters['action'] }}">
    </div>
    <div>
        <label class="st-label" for="f-priority">{{ __('sTask::global.priority') }}</label>
        <select id="f-priority" class="st-input w-full" name="priority">
            <option value="">{{ __('sTask::global.any') }}</option>
            @foreach (['high', 'normal', 'low'] as $p)
                <option value="{{ $p }}" {{ $filters['priority'] === $p ? 'selected' : '' }}>{{ __('sTask::global.priority_' . $p) }}</option>
            @endforeach
        </select>
    </div>
    <div class="grid grid-cols-2 gap-2 sm:col-span-2 lg:col-span-2">
        <div>
            <label class="st-label" for="f-from">{{ __('sTask::global.from') }}</label>
            <input id="f-from" class="st-input w-full" type="date" name="from" value="{{ $filters['from'] }}">
        </div>
        <div>
            <label class="st-label" for="f-to">{{ __('sTask::global.to') }}</label>
            <input id="f-to" class="st-input w-full" type="date" name="to" value="{{ $filters['to'] }}">
        </div>
    </div>
    <div class="flex items-end gap-2 lg:col-span-5">
        <button class="st-btn st-btn-primary" type="submit">{{ __('sTask::global.filter') }}</button>
        <a class="st-btn" href="{{ route('sTask.tasks') }}">{{ __('sTask::global.reset') }}</a>
    </div>
</form>

<form class="st-card overflow-x-auto" data-bulk data-url="{{ route('sTask.tasks.bulk') }}">
    <div class="mb-3 flex flex-wrap items-center gap-2">
        <span class="text-sm st-muted"><span data-selected-count>0</span> {{ __('sTask::global.selected') }}</span>
        <button class="st-btn" type="button" data-bulk-action="retry" disabled>{{ __('sTask::global.retry') }}</button>
        <button class="st-btn" type="button" data-bulk-action="cancel" disabled>{{ __('sTask::global.cancel') }}</button>
        <button class="st-btn st-btn-danger" type="button" data-bulk-action="delete" data-confirm="{{ __('sTask::global.confirm_delete') }}" disabled>{{ __('sTask::global.delete') }}</button>
        <span class="ml-auto text-sm st-muted">{{ trans('sTask::global.showing', ['from' => $tasks->firstItem() ?? 0, 'to' => $tasks->lastItem() ?? 0, 'total' => $tasks->total()]) }}</span>
    </div>
    <table class="st-table" data-task-table data-progress-url="{{ route('sTask.task.progress', ['id' => '__ID__']) }}">
        <thead><tr>
            <th><input type="checkbox" data-select-all aria-label="{{ __('sTask::global.select_all') }}"></th>
            <th>#</th><th>{{ __('sTask::global.worker') }}</th><th>{{ __('sTask::global.action') }}</th>
            <th>{{ __('sTask::global.status') }}</th><th>{{ __('sTask::global.priority') }}</th>
            <th>{{ __('sTask::global.progress') }}</th><th>{{ __('sTask::global.attempts') }}</th>
            <th>{{ __('sTask::global.created') }}</th><th>{{ __('sTask::global.message') }}</th>
        </tr></thead>
        <tbody>
        @forelse ($tasks as $task)
            <tr data-task-row="{{ $task->id }}" data-status="{{ $task->status_text }}">
                <td><input type="checkbox" name="ids[]" value="{{ $task->id }}" data-select aria-label="#{{ $task->id }}"></td>
                <td><a class="font-medium text-blue-700 hover:underline dark:text-blue-300" href="{{ route('sTask.task.show', ['id' => $task->id]) }}">{{ $task->id }}</a></td>
                <td>{{ $task->identifier }}</td>
                <td>{{ $task->action }}</td>
                <td>@include('sTask::partials.status', ['status' => $task->status_text])</td>
                <td>{{ __('sTask::global.priority_' . $task->priority) }}</td>
                <td class="w-40">@include('sTask::partials.bar', ['progress' => $task->progress])</td>
                <td class="tabular-nums">{{ $task->attempts }}/{{ $task->max_attempts }}</td>
                <td class="whitespace-nowrap st-muted" title="{{ $task->created_at }}">{{ $task->created_at?->diffForHumans() }}</td>
                <td class="max-w-xs truncate" data-message title="{{ $task->message }}">{{ \Illuminate\Support\Str::limit((string) $task->message, 80) }}</td>
            </tr>
        @empty
            <tr><td colspan="10" class="py-6 text-center st-muted">{{ __('sTask::global.no_tasks') }}</td></tr>
        @endforelse
        </tbody>
    </table>
    <nav class="mt-3 flex items-center gap-2 text-sm" aria-label="{{ __('sTask::global.pages') }}">
        @if ($tasks->previousPageUrl())
            <a class="st-btn" href="{{ $tasks->previousPageUrl() }}" rel="prev">← {{ __('sTask::global.previous') }}</a>
        @endif
        <span class="st-muted">{{ trans('sTask::global.page_of', ['page' => $tasks->currentPage(), 'pages' => max(1, $tasks->lastPage())]) }}</span>
        @if ($tasks->nextPageUrl())
            <a class="st-btn" href="{{ $tasks->nextPageUrl() }}" rel="next">{{ __('sTask::global.next') }} →</a>
        @endif
    </nav>
</form>
@endsection
