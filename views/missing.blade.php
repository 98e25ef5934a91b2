<!doctype html>
<html lang="{{ app()->getLocale() }}">
<head><meta charset="utf-8"><title>{{ __('sTask::global.title') }}</title></head>
<body style="font: 15px/1.5 system-ui, sans-serif; margin: 2rem; max-width: 48rem">
<h1>{{ __('sTask::global.extension_missing') }}</h1>
<p>{{ $message }}</p>
</body>
</html>
