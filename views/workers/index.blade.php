@extends('sTask::layout')
@section('title', __('sTask::global.workers'))
@section('content')
<section class="st-card" data-workers data-discover-url="{{ route('sTask.workers.discover') }}"
         data-activate-url="{{ route('sTask.worker.activate') }}" data-deactivate-url="{{ route('sTask.worker.deactivate') }}">
    <div class="mb-3 flex flex-wrap items-center gap-2">
        <h1 class="text-lg font-semibold">{{ __('sTask::global.workers') }}</h1>
        <div class="ml-auto flex gap-2">
            <button class="st-btn st-btn-primary" type="button" data-discover="discover">{{ __('sTask::global.discover') }}</button>
            <button class="st-btn" type="button" data-discover="rescan">{{ __('sTask::global.rescan') }}</button>
            <button class="st-btn" type="button" data-discover="clean">{{ __('sTask::global.clean_orphans') }}</button>
        </div>
    </div>
    <pre class="mb-3 hidden whitespace-pre-wrap rounded-md bg-slate-100 p-2 text-xs dark:bg-slate-900" data-discover-report></pre>
    <div class="overflow-x-auto">
    <table class="st-table">
        <thead><tr>
            <th>{{ __('sTask::global.worker') }}</th><th>{{ __('sTask::global.scope') }}</th><th>{{ __('sTask::global.class') }}</th>
            <th>{{ __('sTask::global.active') }}</th><th>{{ __('sTask::global.pending') }}</th><th>{{ __('sTask::global.running') }}</th>
            <th>{{ __('sTask::global.failed') }}</th><th>{{ __('sTask::global.last_hour') }}</th><th>{{ __('sTask::global.avg_run') }}</th>
        </tr></thead>
        <tbody>
        @forelse ($workers as $worker)
            @php($counts = $stats['identifiers'][$worker->identifier] ?? [])
            @php($m = $metrics['workers'][$worker->identifier] ?? null)
            <tr data-worker-row="{{ $worker->identifier }}" class="{{ $worker->active ? '' : 'opacity-60' }}">
                <td>
                    <a class="font-medium text-blue-700 hover:underline dark:text-blue-300" href="{{ route('sTask.worker.show', ['identifier' => $worker->identifier]) }}">{{ $worker->title }}</a>
                    <div class="text-xs st-muted">{{ $worker->identifier }}</div>
                </td>
                <td>{{ $worker->scope }}</td>
                <td class="font-mono text-xs">{{ $worker->class }} @if(!$worker->class_exists)<span class="st-badge st-status-failed">{{ __('sTask::global.missing') }}</span>@endif</td>
                <td>
                    <label class="inline-flex cursor-pointer items-center gap-2">
                        <input type="checkbox" data-toggle-active value="{{ $worker->identifier }}" {{ $worker->active ? 'checked' : '' }}>
                        <span class="text-xs">{{ $worker->active ? __('sTask::global.active') : __('sTask::global.inactive') }}</span>
                    </label>
                </td>
                <td class="tabular-nums">{{ $counts['pending'] ?? 0 }}</td>
                <td class="tabular-nums">{{ ($counts['running'] ?? 0) + ($counts['preparing'] ?? 0) }}</td>
                <td class="tabular-nums">{{ $counts['failed'] ?? 0 }}</td>
                <td class="tabular-nums">{{ $m ? $m['completed'] . ' ✓ / ' . $m['failed'] . ' ✗' : '—' }}</td>
                <td class="tabular-nums">{{ $m && $m['avg_run_ms'] !== null ? \Seiger\sTask\Http\Format::duration($m['avg_run_ms']) : '—' }}</td>
            </tr>
        @empty
            <tr><td colspan="9" class="py-6 text-center st-muted">{{ __('sTask::global.no_workers') }}</td></tr>
        @endforelse
        </tbody>
    </table>
    </div>
</section>
@endsection
