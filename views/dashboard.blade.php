<!doctype html>
<html lang="{{ app()->getLocale() }}">
<head>
    <meta charset="utf-8">
    <title>{{ __('sTask::global.title') }}</title>
    <style>
        body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1f2937; }
        .cards { display: flex; gap: .75rem; flex-wrap: wrap; margin-bottom: 1.25rem; }
        .card { border: 1px solid #e5e7eb; border-radius: .5rem; padding: .75rem 1rem; min-width: 7rem; }
        .card b { display: block; font-size: 1.5rem; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #f1f5f9; }
        .status-pending { color: #2563eb } .status-running, .status-preparing { color: #d97706 }
        .status-completed { color: #16a34a } .status-failed { color: #dc2626 } .status-cancelled { color: #64748b }
        .bar { background: #f1f5f9; border-radius: 4px; width: 8rem; height: .5rem; display: inline-block; }
        .bar span { background: #2563eb; border-radius: 4px; height: 100%; display: block; }
        .error { background: #fef2f2; border: 1px solid #fecaca; padding: .75rem 1rem; border-radius: .5rem; }
    </style>
</head>
<body>
<h1>{{ __('sTask::global.title') }}</h1>
@if ($error)
    <p class="error">{{ $error }}</p>
@else
    <div class="cards">
        @foreach (['pending', 'running', 'completed', 'failed', 'cancelled', 'total'] as $key)
            <div class="card status-{{ $key }}">{{ __('sTask::global.' . $key) }}<b>{{ $stats[$key] + ($key === 'running' ? $stats['preparing'] : 0) }}</b></div>
        @endforeach
        <div class="card">{{ __('sTask::global.active_workers') }}<b>{{ $stats['active_workers'] }} / {{ $stats['total_workers'] }}</b></div>
    </div>
    <h2>{{ __('sTask::global.recent_tasks') }}</h2>
    @if ($recent->isEmpty())
        <p>{{ __('sTask::global.no_tasks') }}</p>
    @else
        <table>
            <thead><tr>
                <th>#</th><th>{{ __('sTask::global.worker') }}</th><th>{{ __('sTask::global.action') }}</th>
                <th>{{ __('sTask::global.status') }}</th><th>{{ __('sTask::global.progress') }}</th>
                <th>{{ __('sTask::global.attempts') }}</th><th>{{ __('sTask::global.created') }}</th><th>{{ __('sTask::global.message') }}</th>
            </tr></thead>
            <tbody>
            @foreach ($recent as $task)
                <tr>
                    <td>{{ $task->id }}</td>
                    <td>{{ $task->identifier }}</td>
                    <td>{{ $task->action }}</td>
                    <td class="status-{{ $task->status_text }}">{{ __('sTask::global.' . $task->status_text) }}</td>
                    <td><span class="bar"><span style="width: {{ (int) $task->progress }}%"></span></span> {{ (int) $task->progress }}%</td>
                    <td>{{ $task->attempts }}/{{ $task->max_attempts }}</td>
                    <td>{{ $task->created_at }}</td>
                    <td>{{ \Illuminate\Support\Str::limit((string) $task->message, 80) }}</td>
                </tr>
            @endforeach
            </tbody>
        </table>
    @endif
@endif
</body>
</html>
