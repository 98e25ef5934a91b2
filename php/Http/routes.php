<?php

use Illuminate\Support\Facades\Route;
use Seiger\sTask\Http\Controllers\AssetController;
use Seiger\sTask\Http\Controllers\DashboardController;
use Seiger\sTask\Http\Controllers\PerformanceController;
use Seiger\sTask\Http\Controllers\TaskController;
use Seiger\sTask\Http\Controllers\TasksController;
use Seiger\sTask\Http\Controllers\UploadController;
use Seiger\sTask\Http\Controllers\WorkersController;
use Seiger\sTask\Http\Middleware\Authorize;
use Seiger\sTask\Http\Middleware\VerifyCsrfToken;

// Manager pages and endpoints: /manager/stask/…, behind the manager's middleware group, the
// "stask" permission, and a CSRF check on every write. Route names and paths follow upstream
// sTask where it had them.
Route::middleware(['mgr', Authorize::class, VerifyCsrfToken::class])->prefix('stask')->name('sTask.')->group(static function (): void {
    Route::get('/', [DashboardController::class, 'index'])->name('index');
    Route::get('api/dashboard', [DashboardController::class, 'api'])->name('api.dashboard');
    Route::get('stats', [DashboardController::class, 'stats'])->name('stats');
    Route::get('assets/{file}', [AssetController::class, 'show'])->where('file', '[a-z0-9.-]+')->name('asset');

    Route::get('tasks', [TasksController::class, 'index'])->name('tasks');
    Route::post('tasks/bulk', [TasksController::class, 'bulk'])->name('tasks.bulk');
    Route::post('task', [TasksController::class, 'create'])->name('task.create');
    Route::post('task/store', [TasksController::class, 'create'])->name('task.store');
    Route::post('clean', [TasksController::class, 'clean'])->name('clean');

    Route::get('task/{id}', [TaskController::class, 'show'])->where('id', '[0-9]+')->name('task.show');
    Route::get('task/{id}/progress', [TaskController::class, 'progress'])->where('id', '[0-9]+')->name('task.progress');
    Route::get('task/{id}/logs', [TaskController::class, 'logs'])->where('id', '[0-9]+')->name('task.logs');
    Route::get('task/{id}/logs/download', [TaskController::class, 'downloadLog'])->where('id', '[0-9]+')->name('task.logs.download');
    Route::get('task/{id}/download', [TaskController::class, 'downloadResult'])->where('id', '[0-9]+')->name('task.download');
    Route::post('task/{id}/retry', [TaskController::class, 'retry'])->where('id', '[0-9]+')->name('task.retry');
    Route::post('task/{id}/cancel', [TaskController::class, 'cancel'])->where('id', '[0-9]+')->name('task.cancel');

    Route::get('workers', [WorkersController::class, 'index'])->name('workers');
    Route::post('workers/discover', [WorkersController::class, 'discover'])->name('workers.discover');
    Route::post('worker/clean-orphaned', [WorkersController::class, 'cleanOrphaned'])->name('worker.clean');
    Route::post('worker/activate', [WorkersController::class, 'activate'])->name('worker.activate');
    Route::post('worker/deactivate', [WorkersController::class, 'deactivate'])->name('worker.deactivate');
    Route::get('worker/{identifier}', [WorkersController::class, 'show'])->where('identifier', '[A-Za-z0-9_.:\-]+')->name('worker.show');
    Route::post('worker/{identifier}/settings', [WorkersController::class, 'saveSettings'])->where('identifier', '[A-Za-z0-9_.:\-]+')->name('worker.settings.save');
    Route::post('worker/{identifier}/upload', [UploadController::class, 'store'])->where('identifier', '[A-Za-z0-9_.:\-]+')->name('worker.upload');
    Route::get('server-limits', [UploadController::class, 'limits'])->name('serverLimits');
    Route::post('task/{id}/upload', [UploadController::class, 'attach'])->where('id', '[0-9]+')->name('task.upload');
    Route::post('worker/{identifier}/run/{action}', [WorkersController::class, 'run'])
        ->where(['identifier' => '[A-Za-z0-9_.:\-]+', 'action' => '[A-Za-z0-9_.\-]+'])->name('worker.task.run');
    // The names an older revision of upstream's widgets used, for packages that still call them.
    Route::post('workers/{identifier}/tasks/{action}/run', [WorkersController::class, 'run'])
        ->where(['identifier' => '[A-Za-z0-9_.:\-]+', 'action' => '[A-Za-z0-9_.\-]+'])->name('workers.tasks.run');
    Route::post('workers/{identifier}/upload', [UploadController::class, 'store'])->where('identifier', '[A-Za-z0-9_.:\-]+')->name('workers.upload');

    Route::get('performance/summary', [PerformanceController::class, 'summary'])->name('performance.summary');
    Route::get('performance/workers', [PerformanceController::class, 'workers'])->name('performance.workers');
    Route::get('performance/alerts', [PerformanceController::class, 'alerts'])->name('performance.alerts');
    Route::get('cache/stats', [PerformanceController::class, 'cacheStats'])->name('cache.stats');
    Route::post('cache/clear', [PerformanceController::class, 'cacheClear'])->name('cache.clear');
});
