{{-- Files a worker generated (its getGeneratedFiles(): each {filename, url}). Reads an EvoUI field
     context — $field['files'], $field['title'], $field['open_label'] — or plain $files. Names
     are escaped; a link is shown only for a non-empty http(s) or same-site URL. --}}
@php($field = is_array($field ?? null) ? $field : [])
@php($generated = \Seiger\sTask\Support\WorkerHooks::files($field['files'] ?? ($files ?? [])))
<div class="stask-worker-files" data-stask-worker-files>
    @if (($field['title'] ?? '') !== '')
        <div class="stask-worker-files__title mb-2">{{ $field['title'] }}</div>
    @endif
    @if ($generated === [])
        <p class="stask-worker-files__empty text-sm st-muted">{{ __('sTask::global.no_generated_files') }}</p>
    @else
        <ul class="stask-worker-files__list text-sm">
            @foreach ($generated as $file)
                <li>
                    <span class="stask-worker-files__name font-mono">{{ $file['filename'] }}</span>
                    @if ($file['url'] !== '')
                        <a class="stask-worker-files__open text-blue-700 hover:underline dark:text-blue-300" href="{{ $file['url'] }}" target="_blank" rel="noopener noreferrer">{{ $field['open_label'] ?? __('sTask::global.open_file') }}</a>
                    @endif
                </li>
            @endforeach
        </ul>
    @endif
</div>
