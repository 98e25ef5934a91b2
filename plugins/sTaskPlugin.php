<?php

/*
 * The Tools-menu item, for managers with the "stask" permission. Loaded by the service
 * provider (loadPluginsFrom); Evolution CMS fires evolution.OnManagerMenuPrerender and merges
 * the serialized menus its listeners return.
 */

use Illuminate\Support\Facades\Event;

Event::listen('evolution.OnManagerMenuPrerender', static function ($params) {
    if (!function_exists('evo') || !evo()->hasPermission('stask')) {
        return null;
    }
    // CLI and API boots of a real core have no request, so no URL can be built: no menu there.
    if (!app()->bound('request')) {
        return null;
    }
    $title = (string) __('sTask::global.title');
    // The logo, sized and aligned like the Font Awesome icons of the other menu items.
    $icon = '<img src="' . e(route('sTask.asset', ['file' => 'stask.svg'])) . '" alt="" width="16" height="16" style="width:1em;height:1em;vertical-align:-0.125em">';
    $menu = is_array($params['menu'] ?? null) ? $params['menu'] : [];
    $menu['stask'] = ['stask', 'tools', $icon . '<span class="menu-item-text">' . e($title) . '</span>', route('sTask.index'), e($title), '', '', 'main', 0, 10];
    return serialize($menu);
});
