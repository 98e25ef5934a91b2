@extends('sTask::layout')
@section('title', $worker->title)
@section('content')
<section class="st-card" data-worker="{{ $worker->identifier }}">
    <div class="flex flex-wrap items-start gap-3">
        <div>
            <h1 class="text-lg font-semibold">{{ $worker->title }}</h1>
            <p class="text-sm st-muted">{{ $worker->identifier }} · {{ $worker->scope }} · <span class="font-mono">{{ $worker->class }}</span></p>
            @if ($worker->description)<p class="mt-1 text-sm">{{ $worker->description }}</p>@endif
        </div>
        <span class="ml-auto st-badge {{ $worker->active ? 'st-status-completed' : 'st-status-cancelled' }}">{{ $worker->active ? __('sTask::global.active') : __('sTask::global.inactive') }}</span>
    </div>
    @if (!$worker->active)
        <p class="mt-3 rounded-md bg-amber-50 p-2 text-sm text-amber-800 dark:bg-amber-900/40 dark:text-amber-200">{{ __('sTask::global.inactive_hint') }}</p>
    @endif
</section>

<div class="grid gap-4 lg:grid-cols-2">
    <section class="st-card">
        <h2 class="mb-2 font-semibold">{{ __('sTask::global.run') }}</h2>
        {!! $widget !!}
    </section>

    @if (($supervised ?? false) && isset($supervisors) && $supervisors->isNotEmpty())
    <section class="st-card" data-supervisors>
        <h2 class="mb-2 font-semibold">{{ __('sTask::global.schedule_supervisor') }}</h2>
        <table class="w-full text-sm">
            <thead><tr class="text-left st-muted">
                <th>{{ __('sTask::global.supervisor_key') }}</th><th>{{ __('sTask::global.supervisor_state') }}</th>
                <th>{{ __('sTask::global.supervisor_pid') }}</th><th>{{ __('sTask::global.supervisor_heartbeat') }}</th>
                <th>{{ __('sTask::global.supervisor_uptime') }}</th><th>{{ __('sTask::global.supervisor_last_diagnostic') }}</th>
            </tr></thead>
            <tbody>
            @foreach ($supervisors as $sv)
                <tr data-supervisor-state="{{ $sv->state }}">
                    <td>{{ $sv->supervisor_key }}</td>
                    <td>{{ __('sTask::global.supervisor_state_' . $sv->state) }}</td>
                    <td>{{ $sv->pid ?? '—' }}</td>
                    <td>{{ $sv->heartbeat_at ? $sv->heartbeat_at->toDateTimeString() : '—' }}</td>
                    <td>{{ $sv->uptime_seconds !== null ? gmdate('H:i:s', (int) min($sv->uptime_seconds, 86399)) . ($sv->uptime_seconds >= 86400 ? ' +' . intdiv((int) $sv->uptime_seconds, 86400) . 'd' : '') : '—' }}</td>
                    <td>{{ $sv->message }}</td>
                </tr>
            @endforeach
            </tbody>
        </table>
    </section>
    @endif

    <section class="st-card">
        <h2 class="mb-2 font-semibold">{{ __('sTask::global.settings') }}</h2>
        <form method="post" action="{{ route('sTask.worker.settings.save', ['identifier' => $worker->identifier]) }}" class="space-y-3" data-settings-form>
            <input type="hidden" name="_token" value="{{ csrf_token() }}">
            @php
                $schedule = \Seiger\sTask\Support\Schedule::normalize($schedule); // a worker's own getSchedule() may skip keys
                // Schedule labels; keys the lang files lack yet fall back to English.
                $scheduleLabel = static fn (string $key, string $fallback): string => app('translator')->has('sTask::global.' . $key) ? (string) __('sTask::global.' . $key) : $fallback;
                $scheduleTypes = array_values(array_unique(array_merge(['manual', 'once', 'periodic', 'regular'], ($supervised ?? false) || $schedule['type'] === 'supervisor' ? ['supervisor'] : [])));
                $regularFrequency = $schedule['type'] === 'regular' && in_array($schedule['frequency'], ['every_5min', 'every_15min', 'every_30min', 'hourly'], true) ? $schedule['frequency'] : 'hourly';
            @endphp
            <div class="grid grid-cols-2 gap-3">
                <p class="col-span-2 text-sm st-muted" data-schedule-summary>{{ \Seiger\sTask\Support\Schedule::describe($schedule) }}</p>
                <label class="col-span-2 inline-flex items-center gap-2 text-sm"><input type="checkbox" name="schedule[enabled]" value="1" {{ $schedule['enabled'] ? 'checked' : '' }}> {{ __('sTask::global.schedule_enabled') }}</label>
                <div>
                    <label class="st-label" for="s-type">{{ __('sTask::global.schedule_type') }}</label>
                    <select id="s-type" class="st-input w-full" name="schedule[type]">
                        @foreach ($scheduleTypes as $type)
                            <option value="{{ $type }}" {{ $schedule['type'] === $type ? 'selected' : '' }}>{{ $scheduleLabel('schedule_' . $type, ucfirst($type)) }}</option>
                        @endforeach
                    </select>
                </div>
                <div>
                    <label class="st-label" for="s-datetime">{{ __('sTask::global.schedule_datetime') }}</label>
                    <input id="s-datetime" class="st-input w-full" type="datetime-local" name="schedule[datetime]" value="{{ $schedule['datetime'] ? str_replace(' ', 'T', substr((string) $schedule['datetime'], 0, 16)) : '' }}">
                </div>
                <div>
                    <label class="st-label" for="s-frequency">{{ __('sTask::global.schedule_frequency') }}</label>
                    <select id="s-frequency" class="st-input w-full" name="schedule[frequency]">
                        @foreach (\Seiger\sTask\Support\Schedule::FREQUENCIES as $f)
                            <option value="{{ $f }}" {{ $schedule['frequency'] === $f ? 'selected' : '' }}>{{ $scheduleLabel(['every_5min' => 'interval_5min', 'every_15min' => 'interval_15min', 'every_30min' => 'interval_30min'][$f] ?? 'frequency_' . $f, ['minutely' => 'Every minute', 'every_5min' => 'Every 5 minutes', 'every_15min' => 'Every 15 minutes', 'every_30min' => 'Every 30 minutes', 'monthly' => 'Monthly'][$f] ?? ucfirst($f)) }}</option>
                        @endforeach
                    </select>
                </div>
                <div>
                    <label class="st-label" for="s-time">{{ __('sTask::global.schedule_time') }}</label>
                    <input id="s-time" class="st-input w-full" name="schedule[time]" value="{{ $schedule['time'] }}" placeholder="03:30 / *:15" pattern="(\*|[0-9]{1,2}):[0-9]{2}">
                </div>
                <div>
                    <label class="st-label" for="s-day">{{ $scheduleLabel('schedule_day', 'Day of the month (monthly)') }}</label>
                    <input id="s-day" class="st-input w-full" type="number" min="1" max="31" name="schedule[day]" value="{{ is_int($schedule['day']) ? $schedule['day'] : '' }}" placeholder="1">
                </div>
                <fieldset class="col-span-2">
                    <legend class="st-label">{{ __('sTask::global.schedule_days') }}</legend>
                    <div class="flex flex-wrap gap-3 text-sm">
                        @foreach (['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as $day)
                            <label class="inline-flex items-center gap-1"><input type="checkbox" name="schedule[days][]" value="{{ $day }}" {{ in_array($day, $schedule['days'], true) ? 'checked' : '' }}> {{ __('sTask::global.day_' . $day) }}</label>
                        @endforeach
                    </div>
                </fieldset>
                <div>
                    <label class="st-label" for="s-start">{{ __('sTask::global.schedule_start') }}</label>
                    <input id="s-start" class="st-input w-full" type="time" name="schedule[start_time]" value="{{ $schedule['start_time'] }}">
                </div>
                <div>
                    <label class="st-label" for="s-end">{{ __('sTask::global.schedule_end') }}</label>
                    <input id="s-end" class="st-input w-full" type="time" name="schedule[end_time]" value="{{ $schedule['end_time'] }}">
                </div>
                <div class="col-span-2">
                    <label class="st-label" for="s-interval">{{ __('sTask::global.schedule_interval') }}</label>
                    <select id="s-interval" class="st-input w-full" name="schedule[interval]">
                        @foreach (['every_5min', 'every_15min', 'every_30min', 'hourly'] as $i)
                            <option value="{{ $i }}" {{ $regularFrequency === $i ? 'selected' : '' }}>{{ __('sTask::global.interval_' . $i) }}</option>
                        @endforeach
                    </select>
                </div>
            </div>
            <div>
                <label class="st-label" for="s-other">{{ __('sTask::global.other_settings') }}</label>
                <textarea id="s-other" class="st-input h-32 w-full font-mono text-xs" name="settings_json">{{ json_encode($otherSettings, JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) }}</textarea>
            </div>
            <button class="st-btn st-btn-primary" type="submit">{{ __('sTask::global.save') }}</button>
            @if ($saved)<span class="text-sm text-green-700 dark:text-green-300" role="status">{{ __('sTask::global.saved') }}</span>@endif
            @if ($error)<span class="text-sm text-red-700 dark:text-red-300" role="alert">{{ $error }}</span>@endif
        </form>
    </section>
</div>

@if ($settingsHtml !== '' || $generatedFiles !== [])
<div class="grid gap-4 lg:grid-cols-2">
    @if ($settingsHtml !== '')
    <section class="st-card" data-worker-settings>
        <h2 class="mb-2 font-semibold">{{ __('sTask::global.additional_settings') }}</h2>
        <p class="mb-2 text-sm st-muted">{{ __('sTask::global.additional_settings_help') }}</p>
        <form method="post" action="{{ route('sTask.worker.settings.save', ['identifier' => $worker->identifier]) }}" class="space-y-3" data-worker-settings-form>
            <input type="hidden" name="_token" value="{{ csrf_token() }}">
            <input type="hidden" name="worker_form" value="1">
            @include('sTask::fields.worker-settings', ['fieldId' => 'worker-settings-' . $worker->identifier, 'field' => ['html' => $settingsHtml]])
            <button class="st-btn st-btn-primary" type="submit">{{ __('sTask::global.save') }}</button>
        </form>
    </section>
    @endif
    @if ($generatedFiles !== [])
    <section class="st-card" data-generated-files>
        <h2 class="mb-2 font-semibold">{{ __('sTask::global.generated_files') }}</h2>
        @include('sTask::fields.worker-files', ['field' => ['files' => $generatedFiles]])
    </section>
    @endif
</div>
@endif

<section class="st-card overflow-x-auto">
    <div class="mb-2 flex items-baseline gap-3">
        <h2 class="font-semibold">{{ __('sTask::global.recent_tasks') }}</h2>
        @if ($metrics)
            <span class="text-sm st-muted">{{ __('sTask::global.last_hour') }}: {{ $metrics['completed'] }} ✓ · {{ $metrics['failed'] }} ✗ · {{ __('sTask::global.avg_wait') }} {{ \Seiger\sTask\Http\Format::duration($metrics['avg_wait_ms']) }} · {{ __('sTask::global.avg_run') }} {{ \Seiger\sTask\Http\Format::duration($metrics['avg_run_ms']) }}</span>
        @endif
        <a class="ml-auto text-sm text-blue-700 hover:underline dark:text-blue-300" href="{{ route('sTask.tasks', ['worker' => $worker->identifier]) }}">{{ __('sTask::global.all_tasks') }} →</a>
    </div>
    <table class="st-table">
        <thead><tr><th>#</th><th>{{ __('sTask::global.action') }}</th><th>{{ __('sTask::global.status') }}</th><th>{{ __('sTask::global.progress') }}</th><th>{{ __('sTask::global.created') }}</th><th>{{ __('sTask::global.message') }}</th></tr></thead>
        <tbody>
        @forelse ($recent as $task)
            <tr>
                <td><a class="text-blue-700 hover:underline dark:text-blue-300" href="{{ route('sTask.task.show', ['id' => $task->id]) }}">{{ $task->id }}</a></td>
                <td>{{ $task->action }}</td>
                <td>@include('sTask::partials.status', ['status' => $task->status_text])</td>
                <td class="w-40">@include('sTask::partials.bar', ['progress' => $task->progress])</td>
                <td class="st-muted">{{ $task->created_at?->diffForHumans() }}</td>
                <td class="max-w-xs truncate">{{ \Illuminate\Support\Str::limit((string) $task->message, 80) }}</td>
            </tr>
        @empty
            <tr><td colspan="6" class="py-4 text-center st-muted">{{ __('sTask::global.no_tasks') }}</td></tr>
        @endforelse
        </tbody>
    </table>
</section>
@endsection
