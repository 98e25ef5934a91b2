{{-- Upstream's default worker widget for a worker's renderWidget():
       view('sTask::partials.defaultWorkerWidget', ['identifier' => …, 'description' => …])
     A Run button #{identifier}Run (creates a `make` task), the progress bar #{identifier}Progress
     and the log #{identifier}Log, inside #{identifier}Widget; follows the worker's newest
     unfinished task on load. Brings the scripts it needs (sTask::scripts.task). --}}
@include('sTask::partials.worker-widget', [
    'identifier' => (string) ($identifier ?? ''),
    'description' => (string) ($description ?? ''),
    'renderRun' => true,
    'watch' => [10, 30, 50],
    'badges' => [],
])
