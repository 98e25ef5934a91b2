<?php

use Illuminate\Support\Facades\Route;
use Seiger\sTask\Http\Controllers\DashboardController;

// Manager pages: /manager/stask/…, behind the manager's middleware group and the stask permission.
Route::middleware(['mgr'])->prefix('stask')->name('sTask.')->group(static function (): void {
    Route::get('/', [DashboardController::class, 'index'])->name('index');
});
