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
    $title = (string) __('sTask::global.title');
    $icon = '<i class="fa fa-tasks"></i>';
    $menu = is_array($params['menu'] ?? null) ? $params['menu'] : [];
    $menu['stask'] = ['stask', 'tools', $icon . '<span class="menu-item-text">' . e($title) . '</span>', route('sTask.index'), e($title), '', '', 'main', 0, 10];
    return serialize($menu);
});
