{{-- Upstream's worker widget API (widgetWatcher, widgetLogLine, uploadFile, disableButtons, …)
     as globals. Brings callApi/niceSize along when the page has none yet (it never replaces a
     page's own). Source: assets/js/widgets/task.js. --}}
<script>
window.sTaskWidgetConfig = {!! \Seiger\sTask\Support\ClientScripts::taskConfig() !!};
(function (keep) {
{!! \Seiger\sTask\Support\ClientScripts::source('global') !!}
    if (typeof keep.callApi === 'function') window.callApi = keep.callApi;
    if (typeof keep.niceSize === 'function') window.niceSize = keep.niceSize;
})({ callApi: window.callApi, niceSize: window.niceSize });
{!! \Seiger\sTask\Support\ClientScripts::source('task') !!}
</script>
