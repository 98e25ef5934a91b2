<?php

declare(strict_types=1);

namespace Seiger\sTask\Http\Controllers;

use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use Illuminate\Pagination\LengthAwarePaginator;
use Seiger\sTask\Http\Input;
use Seiger\sTask\Http\InvalidInput;
use Seiger\sTask\Models\sTaskModel;

/** The task list: filters, search, paging, and bulk retry, cancel and delete. */
final class TasksController extends Controller
{
    private const STATUSES = ['pending' => 10, 'running' => 50, 'completed' => 80, 'cancelled' => 90, 'failed' => 100];
    private const PER_PAGE = [25, 50, 100];
    private const MAX_PAGE = 1_000_000;

    public function index(Request $request): Response
    {
        $filters = [
            'q' => trim(Input::text($request, 'q')),
            'status' => Input::oneOf($request, 'status', ['', ...array_keys(self::STATUSES)], ''),
            'worker' => Input::text($request, 'worker'),
            'action' => trim(Input::text($request, 'action')),
            'priority' => Input::oneOf($request, 'priority', ['', 'low', 'normal', 'high'], ''),
            'from' => self::date($request, 'from'),
            'to' => self::date($request, 'to'),
        ];
        $query = sTaskModel::query()->orderByDesc('id');
        if ($filters['status'] !== '') {
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
        // Paging is forgiving: another page size is the default one, a page past the end is empty.
        $perPage = Input::int($request, 'per_page', self::PER_PAGE[0], 1, 1000, true);
        $perPage = in_array($perPage, self::PER_PAGE, true) ? $perPage : self::PER_PAGE[0];
        $page = Input::int($request, 'page', 1, 1, self::MAX_PAGE, true);
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
        $data = Input::object($request, 'data');
        return $this->createTask(Input::text($request, 'identifier'), Input::text($request, 'action'), $data,
            Input::oneOf($request, 'priority', ['low', 'normal', 'high', ''], 'normal'), true);
    }

    /** Upstream's POST /clean: deletes tasks finished more than `days` (30) ago, with their files. */
    public function clean(Request $request): JsonResponse
    {
        $days = Input::int($request, 'days', 30, 0, 36500);
        $deleted = $this->stask->cleanOldTasks($days);
        return $this->json(['success' => true, 'message' => trans('sTask::global.cleaned', ['count' => $deleted]), 'deleted_tasks' => $deleted]);
    }

    /** POST action=retry|cancel|delete, ids[]: what happened to each. */
    public function bulk(Request $request): JsonResponse
    {
        $action = Input::oneOf($request, 'action', ['retry', 'cancel', 'delete'], '');
        // Each id is checked: [["99"]] or true is refused, never read as task 1.
        $ids = Input::ids($request, 'ids', 1000);
        $engine = $this->stask->engine();
        $done = [];
        $skipped = [];
        if ($action === 'delete') {
            $done = $engine->delete($ids);
            $skipped = array_values(array_diff($ids, $done));
        } else {
            foreach ($ids as $id) {
                // A task of a worker that needs a permission the manager lacks is not re-run.
                $task = $action === 'retry' ? $engine->find($id) : null;
                if ($task !== null && $this->deniedFor($task->identifier) !== null) {
                    $skipped[] = $id;
                    continue;
                }
                try {
                    ($action === 'retry' ? $engine->retry($id) : $engine->cancel($id)) ? $done[] = $id : $skipped[] = $id;
                } catch (\STask\Exception\NotFoundException) {
                    $skipped[] = $id;
                }
            }
        }
        return $this->json(['success' => true, 'action' => $action, 'done' => $done, 'skipped' => $skipped]);
    }

    /** A day filter: '' or YYYY-MM-DD. */
    private static function date(Request $request, string $key): string
    {
        $value = Input::text($request, $key, '', 10);
        if ($value !== '' && (preg_match('/^\d{4}-\d{2}-\d{2}$/', $value) !== 1 || !checkdate((int) substr($value, 5, 2), (int) substr($value, 8, 2), (int) substr($value, 0, 4)))) {
            throw new InvalidInput("$key must be a date (YYYY-MM-DD).");
        }
        return $value;
    }
}
