{{-- The body both default worker widgets share (internal: include sTask::partials.defaultWorkerWidget
     or sTask::widgets.defaultWorkerWidget instead). Parameters: $identifier; $description;
     $renderRun — render the Run button #{identifier}Run (else bind to the page's own);
     $watch — task statuses to follow on load; $badges — [label, value] pairs. --}}
@php($identifier = (string) ($identifier ?? ''))
@php($watchTask = $identifier === '' ? null : \Seiger\sTask\Models\sTaskModel::query()->byIdentifier($identifier)->whereIn('status', $watch)->orderByDesc('id')->first())
<style>
    .stask-worker-widget{font-size:.875rem;line-height:1.4}
    .stask-worker-widget .stask-worker-widget__description{margin:0 0 .5rem}
    .stask-worker-widget .stask-worker-widget__badges{display:flex;flex-wrap:wrap;gap:.35rem;margin:0 0 .5rem}
    .stask-worker-widget .stask-worker-widget__badge{display:inline-block;padding:.1rem .5rem;border-radius:999px;background:#e2e8f0;color:#1e293b;font-size:.75rem}
    .stask-worker-widget .stask-worker-widget__actions{margin:0 0 .5rem}
    .stask-worker-widget .stask-worker-widget__run{display:inline-flex;align-items:center;padding:.4rem .9rem;border:0;border-radius:.375rem;background:#2563eb;color:#fff;font-weight:600;cursor:pointer}
    .stask-worker-widget .stask-worker-widget__run[disabled]{opacity:.6;cursor:not-allowed}
    .stask-worker-widget .widget-progress{position:relative;display:none;grid-template-columns:1fr auto;align-items:center;gap:.5rem;height:14px;margin:.25rem 0;background:#e9eef3;border-radius:999px;overflow:hidden;color:#111827}
    .stask-worker-widget .widget-progress__bar{grid-column:1/2;display:block;height:100%;width:0;background:linear-gradient(90deg,#2563eb,#60a5fa);border-radius:999px;transition:width .4s linear}
    .stask-worker-widget .widget-progress__cap{position:absolute;left:0;top:0;width:6px;height:100%;pointer-events:none}
    .stask-worker-widget .widget-progress__meta{grid-column:2/3;display:inline-flex;gap:.4rem;margin-right:.5rem;font-size:.7rem;line-height:1}
    .stask-worker-widget .widget-progress__eta{opacity:.75;font-style:normal}
    .stask-worker-widget .widget-log{max-height:12rem;min-height:3rem;overflow-y:auto;padding:.5rem .75rem;border:1px solid #e2e8f0;border-radius:.375rem;background:#f8fafc;color:#0f172a;font-size:.8rem;white-space:normal;word-break:break-word}
    .stask-worker-widget .widget-log .line-success{color:#15803d}
    .stask-worker-widget .widget-log .line-warning{color:#b45309}
    .stask-worker-widget .widget-log .line-error{color:#b91c1c}
    .stask-worker-widget .widget-log code{font-size:.75rem}
</style>
<div class="stask-worker-widget" @if ($renderRun) id="{{ $identifier }}Widget" @endif data-stask-widget="{{ $identifier }}">
    @if (($description ?? '') !== '')
        <p class="stask-worker-widget__description">{{ $description }}</p>
    @endif
    @if (($badges ?? []) !== [])
        <div class="stask-worker-widget__badges">
            @foreach ($badges as [$label, $value])
                <span class="stask-worker-widget__badge">{{ $label }}: {{ $value }}</span>
            @endforeach
        </div>
    @endif
    @if ($renderRun)
        <div class="stask-worker-widget__actions">
            <button type="button" id="{{ $identifier }}Run" class="btn btn-primary stask-worker-widget__run">{{ __('sTask::global.run_task') }}</button>
        </div>
    @endif
    <div id="{{ $identifier }}Progress" class="widget-progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">
        <span class="widget-progress__bar"></span>
        <span class="widget-progress__cap"></span>
        <span class="widget-progress__meta"><b class="widget-progress__pct">0%</b><i class="widget-progress__eta">—</i></span>
    </div>
    <div id="{{ $identifier }}Log" class="widget-log" aria-live="polite"></div>
</div>
@include('sTask::scripts.task')
<script>
(function (w) {
    function start() {
        var root = document.getElementById(w.id + 'Log');
        var run = document.getElementById(w.id + 'Run');
        if (w.progressUrl) {
            widgetLogLine(root, '_' + w.strings.running + '…_');
            widgetWatcher(root, w.progressUrl, w.id);
        }
        if (!run || run.staskRunBound) return;
        run.staskRunBound = true;
        run.addEventListener('click', function (event) {
            event.preventDefault();
            if (run.disabled || run.getAttribute('aria-disabled') === 'true') return;
            widgetClearLog(root);
            widgetLogLine(root, '_' + w.strings.starting + '…_');
            disableButtons(w.id, null, run.id);
            window.sTask.request(w.runUrl, 'POST', null).then(function (res) {
                var d = res.data || {};
                if (res.ok && d.success && d.id) {
                    widgetLogLine(root, d.message || w.strings.queued);
                    widgetProgressBar(w.id, 0);
                    widgetWatcher(root, w.progressTemplate.replace('__ID__', encodeURIComponent(String(d.id))), w.id);
                } else {
                    widgetLogLine(root, d.message || w.strings.error, 'error');
                    enableButtons(w.id);
                }
            });
        });
    }
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})({!! json_encode([
    'id' => $identifier,
    'runUrl' => route('sTask.worker.task.run', ['identifier' => $identifier === '' ? '_' : $identifier, 'action' => 'make']),
    'progressTemplate' => route('sTask.task.progress', ['id' => '__ID__']),
    'progressUrl' => $watchTask ? route('sTask.task.progress', ['id' => $watchTask->id]) : null,
    'strings' => [
        'starting' => __('sTask::global.starting_task'),
        'queued' => __('sTask::global.task_queued'),
        'running' => __('sTask::global.running'),
        'error' => __('sTask::global.error'),
    ],
], JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE) !!});
</script>
