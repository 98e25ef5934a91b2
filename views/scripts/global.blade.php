{{-- Upstream's page helpers for worker widgets: the globals callApi(url, data, method = 'POST',
     type = 'json') and niceSize(bytes). Source: assets/js/widgets/global.js. --}}
<script>
{!! \Seiger\sTask\Support\ClientScripts::source('global') !!}
</script>
