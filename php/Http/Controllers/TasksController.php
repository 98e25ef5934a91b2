<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use Illuminate\Pagination\LengthAwarePaginator;
use Seiger\sTask\Models\sTaskModel;

/** The task list: filters, search, paging, and bulk retry, cancel and delete. */
final class TasksController extends Controller
{
    private const STATUSES = ['pending' => 10, 'running' => 50, 'completed' => 80, 'cancelled' => 90, 'failed' => 100];
    private const PER_PAGE = [25, 50, 100];

    public function index(Request $request): Response
    {
        $filters = [
            'q' => trim((string) $request->query('q', '')),
            'status' => (string) $request->query('status', ''),
            'worker' => (string) $request->query('worker', ''),
            'action' => trim((string) $request->query('action', '')),
            'priority' => (string) $request->query('priority', ''),
            'from' => (string) $request->query('from', ''),
            'to' => (string) $request->query('to', ''),
        ];
        $query = sTaskModel::query()->orderByDesc('id');
        if (isset(self::STATUSES[$filters['status']])) {
            $code = self::STATUSES[$filters['status']];
            $code === 50 ? $query->whereIn('status', [30, 50]) : $query->where('status', $code);
        }
        if ($filters['worker'] !== '') {
            $query->where('identifier', $filters['worker']);
        }
        if ($filters['action'] !== '') {
            $query->where('action', $filters['action']);
        }
        if (in_array($filters['priority'], ['low', 'normal', 'high'], true)) {
            $query->where('priority', $filters['priority']);
        }
        foreach (['from' => '>=', 'to' => '<='] as $key => $op) {
            if (preg_match('/^\d{4}-\d{2}-\d{2}$/', $filters[$key]) === 1) {
                $query->where('created_at', $op, $filters[$key] . ($key === 'from' ? ' 00:00:00' : ' 23:59:59.999'));
            }
        }
        if ($filters['q'] !== '') {
            $q = $filters['q'];
            $query->where(function ($w) use ($q) {
                if (ctype_digit(ltrim($q, '#'))) {
                    $w->orWhere('id', (int) ltrim($q, '#'));
                }
                $like = '%' . str_replace(['\\', '%', '_'], ['\\\\', '\\%', '\\_'], $q) . '%';
                // Case-insensitive everywhere: LIKE already is on SQLite and MySQL, not on PostgreSQL.
                $op = $w->getConnection()->getDriverName() === 'pgsql' ? 'ilike' : 'like';
                $w->orWhere('identifier', $op, $like)->orWhere('action', $op, $like)->orWhere('message', $op, $like);
            });
        }
        $perPage = in_array((int) $request->query('per_page'), self::PER_PAGE, true) ? (int) $request->query('per_page') : self::PER_PAGE[0];
        $page = max(1, (int) $request->query('page', 1));
        $total = (clone $query)->count();
        $tasks = new LengthAwarePaginator($query->forPage($page, $perPage)->get(), $total, $perPage, $page, [
            'path' => route('sTask.tasks'),
            'query' => array_filter($filters + ['per_page' => $perPage === self::PER_PAGE[0] ? null : $perPage], static fn ($v) => $v !== '' && $v !== null),
        ]);
        $identifiers = sTaskModel::query()->distinct()->orderBy('identifier')->pluck('identifier')->all();
        return $this->page('tasks.index', 'tasks', [
            'tasks' => $tasks,
            'filters' => $filters,
            'statuses' => array_keys(self::STATUSES),
            'identifiers' => $identifiers,
        ]);
    }

    /** Upstream's POST /task: identifier, action, data, priority → {success, id, task, message}. */
    public function create(Request $request): JsonResponse
    {
        $data = $request->input('data', []);
        if (is_string($data)) {
            $data = json_decode($data === '' ? '{}' : $data, true);
        }
        if (!is_array($data)) {
            return $this->error('data must be a JSON object', 422);
        }
        return $this->createTask((string) $request->input('identifier', ''), (string) $request->input('action', ''), $data,
            (string) $request->input('priority', 'normal'), true);
    }

    /** Upstream's POST /clean: deletes tasks finished more than `days` (30) ago, with their files. */
    public function clean(Request $request): JsonResponse
    {
        $days = filter_var($request->input('days', 30), FILTER_VALIDATE_INT, ['options' => ['min_range' => 0, 'max_range' => 36500]]);
        if ($days === false) {
            return $this->error('days must be a whole number from 0 to 36500', 422);
        }
        $deleted = $this->stask->cleanOldTasks($days);
        return $this->json(['success' => true, 'message' => trans('sTask::global.cleaned', ['count' => $deleted]), 'deleted_tasks' => $deleted]);
    }

    /** POST action=retry|cancel|delete, ids[]: what happened to each. */
    public function bulk(Request $request): JsonResponse
    {
        $action = (string) $request->input('action');
        if (!in_array($action, ['retry', 'cancel', 'delete'], true)) {
            return $this->error('action must be retry, cancel or delete', 422);
        }
        $ids = array_values(array_unique(array_filter(array_map('intval', (array) $request->input('ids', [])), static fn ($id) => $id > 0)));
        if ($ids === [] || count($ids) > 1000) {
            return $this->error('give between 1 and 1000 task ids', 422);
        }
        $engine = $this->stask->engine();
        $done = [];
        $skipped = [];
        if ($action === 'delete') {
            $done = $engine->delete($ids);
            $skipped = array_values(array_diff($ids, $done));
        } else {
            foreach ($ids as $id) {
                try {
                    ($action === 'retry' ? $engine->retry($id) : $engine->cancel($id)) ? $done[] = $id : $skipped[] = $id;
                } catch (\STask\Exception\NotFoundException) {
                    $skipped[] = $id;
                }
            }
        }
        return $this->json(['success' => true, 'action' => $action, 'done' => $done, 'skipped' => $skipped]);
    }
}
