<!doctype html>
<html lang="{{ app()->getLocale() }}">
<head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="csrf-token" content="{{ csrf_token() }}">
    <title>@yield('title') — {{ __('sTask::global.title') }}</title>
    <link rel="stylesheet" href="{{ route('sTask.asset', ['file' => 'stask.css']) }}?v={{ $assetVersion }}">
    <link rel="icon" href="{{ route('sTask.asset', ['file' => 'stask.svg']) }}">
    <script src="{{ route('sTask.asset', ['file' => 'stask.js']) }}?v={{ $assetVersion }}" defer></script>
</head>
<body class="min-h-screen bg-slate-50 text-slate-800 antialiased dark:bg-slate-900 dark:text-slate-100">
<header class="border-b border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-800">
    <div class="mx-auto flex max-w-7xl flex-wrap items-center gap-4 px-4 py-3">
        <a href="{{ route('sTask.index') }}" class="flex items-center gap-2 font-semibold">
            <img src="{{ route('sTask.asset', ['file' => 'stask.svg']) }}" alt="" class="h-7 w-7">
            <span>{{ __('sTask::global.title') }}</span>
        </a>
        <nav class="st-nav flex gap-1" aria-label="{{ __('sTask::global.title') }}">
            <a href="{{ route('sTask.index') }}" @if($section === 'dashboard') aria-current="page" @endif>{{ __('sTask::global.dashboard') }}</a>
            <a href="{{ route('sTask.tasks') }}" @if($section === 'tasks') aria-current="page" @endif>{{ __('sTask::global.tasks') }}</a>
            <a href="{{ route('sTask.workers') }}" @if($section === 'workers') aria-current="page" @endif>{{ __('sTask::global.workers') }}</a>
        </nav>
        <span class="ml-auto text-xs st-muted" data-live-indicator hidden>● {{ __('sTask::global.live') }}</span>
    </div>
</header>
<main class="mx-auto max-w-7xl space-y-4 p-4" data-page="{{ $section }}" data-i18n="{{ json_encode($i18n, JSON_UNESCAPED_UNICODE) }}">
    <div data-flash class="hidden rounded-md border px-3 py-2 text-sm" role="status"></div>
    @yield('content')
</main>
</body>
</html>
