@extends('sTask::layout')
@section('title', __('sTask::global.dashboard'))
@section('content')
<div data-dashboard data-url="{{ route('sTask.api.dashboard') }}" data-task-url="{{ route('sTask.task.show', ['id' => '__ID__']) }}" class="space-y-4">
    <section class="grid grid-cols-2 gap-3 sm:grid-cols-4 lg:grid-cols-7" aria-label="{{ __('sTask::global.counts') }}">
        @foreach (['pending', 'running', 'completed', 'failed', 'cancelled', 'total'] as $key)
            <div class="st-card">
                <div class="st-label">{{ __('sTask::global.' . $key) }}</div>
                <div class="text-2xl font-semibold" data-stat="{{ $key }}">{{ $stats[$key] + ($key === 'running' ? $stats['preparing'] : 0) }}</div>
            </div>
        @endforeach
        <div class="st-card">
            <div class="st-label">{{ __('sTask::global.active_workers') }}</div>
            <div class="text-2xl font-semibold"><span data-stat="active_workers">{{ $stats['active_workers'] }}</span><span class="text-base st-muted"> / <span data-stat="total_workers">{{ $stats['total_workers'] }}</span></span></div>
        </div>
    </section>

    <section class="st-card">
        <div class="mb-2 flex items-baseline justify-between">
            <h2 class="font-semibold">{{ __('sTask::global.throughput') }}</h2>
            <span class="text-xs st-muted" data-throughput-summary></span>
        </div>
        <div data-chart class="h-40 w-full" role="img" aria-label="{{ __('sTask::global.throughput') }}"></div>
        <div class="mt-2 flex gap-4 text-xs st-muted">
            <span><span class="inline-block h-2 w-2 rounded-sm bg-green-500"></span> {{ __('sTask::global.completed') }}</span>
            <span><span class="inline-block h-2 w-2 rounded-sm bg-red-500"></span> {{ __('sTask::global.failed') }}</span>
            <span><span class="inline-block h-2 w-2 rounded-sm bg-slate-400"></span> {{ __('sTask::global.cancelled') }}</span>
        </div>
    </section>

    <div class="grid gap-4 lg:grid-cols-2">
        <section class="st-card">
            <h2 class="mb-2 font-semibold">{{ __('sTask::global.running_now') }}</h2>
            <ul data-running class="space-y-3"><li class="st-muted text-sm">{{ __('sTask::global.nothing_running') }}</li></ul>
        </section>
        <section class="st-card">
            <h2 class="mb-2 font-semibold">{{ __('sTask::global.recent_failures') }}</h2>
            <ul data-failures class="space-y-2 text-sm"><li class="st-muted">{{ __('sTask::global.no_failures') }}</li></ul>
        </section>
    </div>

    <section class="st-card overflow-x-auto">
        <h2 class="mb-2 font-semibold">{{ __('sTask::global.workers_last_hour') }}</h2>
        <table class="st-table">
            <thead><tr>
                <th>{{ __('sTask::global.worker') }}</th><th>{{ __('sTask::global.completed') }}</th><th>{{ __('sTask::global.failed') }}</th>
                <th>{{ __('sTask::global.avg_wait') }}</th><th>{{ __('sTask::global.avg_run') }}</th><th>{{ __('sTask::global.p95_run') }}</th>
            </tr></thead>
            <tbody data-worker-metrics><tr><td colspan="6" class="st-muted">{{ __('sTask::global.no_data') }}</td></tr></tbody>
        </table>
    </section>
</div>
@endsection
