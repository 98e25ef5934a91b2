{{-- Upstream's legacy worker widget: @include('sTask::widgets.defaultWorkerWidget', ['identifier' => …])
     Badges (the worker's `endpoint` setting and its schedule), the progress bar #{identifier}Progress
     and the log #{identifier}Log; follows a running task on load. The Run button is the page's
     own: a #{identifier}Run element, when there is one, creates a `make` task. --}}
@php($stWorker = \Seiger\sTask\Models\sWorker::query()->where('identifier', (string) ($identifier ?? ''))->first())
@php($stSettings = $stWorker && is_array($stWorker->settings) ? $stWorker->settings : [])
@php($stSchedule = is_array($stSettings['schedule'] ?? null) ? $stSettings['schedule'] : [])
@php($stType = in_array($stSchedule['type'] ?? 'manual', ['manual', 'once', 'periodic', 'regular', 'supervisor'], true) ? ($stSchedule['type'] ?? 'manual') : 'manual')
@include('sTask::partials.worker-widget', [
    'identifier' => (string) ($identifier ?? ''),
    'description' => '',
    'renderRun' => false,
    'watch' => [30, 50],
    'badges' => [
        [__('sTask::global.endpoint'), is_scalar($stSettings['endpoint'] ?? null) && (string) $stSettings['endpoint'] !== '' ? (string) $stSettings['endpoint'] : __('sTask::global.endpoint_not_set')],
        [__('sTask::global.schedule_type'), __('sTask::global.schedule_' . $stType) . (($stSchedule['enabled'] ?? false) || $stType === 'manual' ? '' : ' (' . __('sTask::global.inactive') . ')')],
    ],
])
