{{-- A worker's own settings form (its renderSettings() HTML: trusted markup from the worker's code,
     placed as is). Reads an EvoUI field context — $fieldId, $field['html'], $field['serializer'],
     $field['name'] — or plain $html. Inside an EvoUI/Livewire modal, window.sTask.initWorkerSettings
     (scripts.task) keeps the modal's value in step with the form. --}}
@php($field = is_array($field ?? null) ? $field : [])
@php($settingsHtml = (string) ($field['html'] ?? ($html ?? '')))
@php($settingsId = (string) ($fieldId ?? ($field['id'] ?? ('stask-worker-settings-' . substr(md5($settingsHtml), 0, 8)))))
<div id="{{ $settingsId }}" class="stask-worker-settings" wire:ignore data-stask-worker-settings
     data-stask-serializer="{{ $field['serializer'] ?? 'serializeWorkerSettings' }}"
     data-stask-field="{{ $field['name'] ?? 'settings_payload' }}">
    {!! $settingsHtml !!}
</div>
@if (isset($controller))
    <script>
        (function (el) {
            if (el && window.sTask && typeof window.sTask.initWorkerSettings === 'function') {
                window.sTask.initWorkerSettings(el, el.closest('[wire\\:id]') && window.Livewire ? window.Livewire.find(el.closest('[wire\\:id]').getAttribute('wire:id')) : null);
            }
        })(document.getElementById({!! json_encode($settingsId, JSON_HEX_TAG | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_HEX_AMP) !!}));
    </script>
@endif
