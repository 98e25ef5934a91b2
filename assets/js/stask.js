/*
 * sTask manager pages: live progress, log tails, charts and actions, in plain JavaScript.
 * Everything shown from the server is set with textContent (never as HTML), every write sends
 * the manager's CSRF token, and polling speeds up while something runs and slows down when idle.
 */
(function () {
  'use strict';

  var main = document.querySelector('main[data-page]');
  if (!main) return;
  var i18n = JSON.parse(main.getAttribute('data-i18n') || '{}');
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var ACTIVE = ['pending', 'preparing', 'running'];

  function t(key, vars) {
    var s = i18n[key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split(':' + k).join(String(vars[k])); });
    return s;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'class') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function api(url, options) {
    options = options || {};
    var init = {
      method: options.method || 'GET',
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json', 'X-Requested-With': 'XMLHttpRequest', 'X-CSRF-TOKEN': csrf },
    };
    if (options.data !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.data);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          var error = new Error(body.message || (t('error') + ' (' + response.status + ')'));
          error.status = response.status;
          throw error;
        }
        return body;
      });
    });
  }

  var flashBox = document.querySelector('[data-flash]');
  function flash(message, kind) {
    if (!flashBox) return;
    flashBox.textContent = message;
    flashBox.className = 'rounded-md border px-3 py-2 text-sm ' + (kind === 'error'
      ? 'border-red-200 bg-red-50 text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200'
      : 'border-green-200 bg-green-50 text-green-800 dark:border-green-800 dark:bg-green-950 dark:text-green-200');
    clearTimeout(flash.timer);
    flash.timer = setTimeout(function () { flashBox.className = 'hidden'; }, 6000);
  }

  /** Calls tick() repeatedly: every `fast` ms while it reports activity, backing off to `slow`. */
  function poll(tick, fast, slow) {
    var delay = fast;
    var indicator = document.querySelector('[data-live-indicator]');
    function run() {
      if (document.hidden) { setTimeout(run, slow); return; }
      Promise.resolve().then(tick).then(function (active) {
        delay = active ? fast : Math.min(Math.round(delay * 1.5), slow);
        if (indicator) indicator.hidden = !active;
      }, function () {
        delay = Math.min(delay * 2, slow);
      }).then(function () { setTimeout(run, delay); });
    }
    run();
    return { now: function () { delay = fast; } };
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return '—';
    if (ms < 1000) return ms + ' ms';
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + String(Math.floor(s % 60)).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h ' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
  }

  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleTimeString();
  }

  /** An ISO time as the pages print times: YYYY-MM-DD HH:MM:SS, in the browser's time zone. */
  function dateTime(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    if (isNaN(d)) return String(iso);
    var p = function (n) { return String(n).padStart(2, '0'); };
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function setBadge(badge, status) {
    if (!badge) return;
    badge.className = 'st-badge st-status-' + status;
    badge.textContent = t(status);
  }

  function setBar(container, percent) {
    var bar = container && (container.matches('[role=progressbar]') ? container : container.querySelector('[role=progressbar]'));
    if (!bar) return;
    bar.setAttribute('aria-valuenow', String(percent));
    bar.firstElementChild.style.width = percent + '%';
  }

  function bar(percent) {
    var wrap = el('div', { class: 'st-bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(percent) }, [el('span')]);
    wrap.firstElementChild.style.width = percent + '%';
    return wrap;
  }

  // --- dashboard -------------------------------------------------------------------------------

  function chart(holder, perMinute) {
    var ns = 'http://www.w3.org/2000/svg';
    var max = 1;
    perMinute.forEach(function (m) { max = Math.max(max, m.completed + m.failed + m.cancelled); });
    var width = 600, height = 150, gap = 2, w = width / perMinute.length;
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('class', 'h-full w-full');
    perMinute.forEach(function (m, i) {
      var y = height;
      [['completed', '#22c55e'], ['failed', '#ef4444'], ['cancelled', '#94a3b8']].forEach(function (part) {
        var value = m[part[0]];
        if (!value) return;
        var h = Math.max(1, value / max * (height - 4));
        y -= h;
        var rect = document.createElementNS(ns, 'rect');
        rect.setAttribute('x', String(i * w + gap / 2));
        rect.setAttribute('y', String(y));
        rect.setAttribute('width', String(Math.max(1, w - gap)));
        rect.setAttribute('height', String(h));
        rect.setAttribute('fill', part[1]);
        var title = document.createElementNS(ns, 'title');
        title.textContent = clock(m.minute) + ' — ' + t(part[0]) + ': ' + value;
        rect.appendChild(title);
        svg.appendChild(rect);
      });
    });
    holder.replaceChildren(svg);
  }

  function dashboard(root) {
    var taskUrl = root.getAttribute('data-task-url');
    function link(id, text) {
      return el('a', { href: taskUrl.replace('__ID__', id), class: 'font-medium text-blue-700 hover:underline dark:text-blue-300', text: text });
    }
    poll(function () {
      return api(root.getAttribute('data-url')).then(function (d) {
        var s = d.stats;
        root.querySelectorAll('[data-stat]').forEach(function (node) {
          var key = node.getAttribute('data-stat');
          node.textContent = String((s[key] || 0) + (key === 'running' ? (s.preparing || 0) : 0));
        });
        chart(root.querySelector('[data-chart]'), d.metrics.per_minute);
        var totals = d.metrics.totals;
        root.querySelector('[data-throughput-summary]').textContent =
          (totals.completed + totals.failed + totals.cancelled) + ' ' + t('in_last_hour') + ' · ' + t('completed') + ' ' + totals.completed + ' · ' + t('failed') + ' ' + totals.failed;

        var running = root.querySelector('[data-running]');
        running.replaceChildren.apply(running, d.running.length ? d.running.map(function (r) {
          var p = r.progress;
          return el('li', { 'data-running-task': String(r.id) }, [
            el('div', { class: 'mb-1 flex items-baseline gap-2 text-sm' }, [
              link(r.id, '#' + r.id), el('span', { text: r.identifier + ':' + r.action }),
              el('span', { class: 'ml-auto tabular-nums st-muted', text: p.progress + '% · ' + t('eta') + ' ' + p.eta }),
            ]),
            bar(p.progress),
            el('div', { class: 'mt-1 truncate text-xs st-muted', text: p.message || '' }),
          ]);
        }) : [el('li', { class: 'st-muted text-sm', text: t('nothing_running') })]);

        var failures = root.querySelector('[data-failures]');
        failures.replaceChildren.apply(failures, d.failures.length ? d.failures.map(function (f) {
          return el('li', { class: 'border-b border-slate-100 pb-2 dark:border-slate-700' }, [
            el('div', { class: 'flex gap-2' }, [link(f.id, '#' + f.id), el('span', { text: f.identifier + ':' + f.action }),
              el('span', { class: 'ml-auto text-xs st-muted', text: f.finished_at ? clock(f.finished_at) : '' })]),
            el('div', { class: 'truncate text-xs text-red-700 dark:text-red-300', text: f.last_error || f.message || '' }),
          ]);
        }) : [el('li', { class: 'st-muted', text: t('no_failures') })]);

        var body = root.querySelector('[data-worker-metrics]');
        var ids = Object.keys(d.metrics.workers);
        body.replaceChildren.apply(body, ids.length ? ids.map(function (id) {
          var w = d.metrics.workers[id];
          return el('tr', {}, [el('td', { text: id }), el('td', { text: String(w.completed) }), el('td', { text: String(w.failed) }),
            el('td', { text: duration(w.avg_wait_ms) }), el('td', { text: duration(w.avg_run_ms) }), el('td', { text: duration(w.p95_run_ms) })]);
        }) : [el('tr', {}, [el('td', { colspan: '6', class: 'st-muted', text: t('no_data') })])]);
        return s.running + s.preparing + s.pending > 0;
      });
    }, 1000, 10000);
  }

  // --- one task --------------------------------------------------------------------------------

  function taskPage(root) {
    var levelSelect = root.querySelector('[data-log-level]');
    var logBox = root.querySelector('[data-log]');
    var lastLog = '';
    var retry = root.querySelector('[data-action="retry"]');
    var cancel = root.querySelector('[data-action="cancel"]');

    function renderLog(entries) {
      var key = JSON.stringify(entries.length ? entries[entries.length - 1] : null) + entries.length + levelSelect.value;
      if (key === lastLog) return;
      lastLog = key;
      var atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 20;
      logBox.replaceChildren.apply(logBox, entries.length ? entries.map(function (e) {
        var ctx = e.context && Object.keys(e.context).length ? ' ' + JSON.stringify(e.context) : '';
        return el('div', { class: 'st-log-' + e.level, 'data-log-entry': e.level }, [
          el('span', { class: 'text-slate-500', text: clock(e.time) + ' ' }),
          el('span', { class: 'font-semibold', text: e.level.toUpperCase().padEnd(8, ' ') }),
          el('span', { class: 'whitespace-pre-wrap', text: e.message }),
          el('span', { class: 'text-slate-500', text: ctx }),
        ]);
      }) : [el('div', { class: 'text-slate-500', text: t('no_log') })]);
      if (atBottom) logBox.scrollTop = logBox.scrollHeight;
    }

    function tick() {
      var level = levelSelect.value;
      var logsUrl = root.getAttribute('data-logs-url') + '?limit=500' + (level ? '&level=' + encodeURIComponent(level) : '');
      return Promise.all([api(root.getAttribute('data-progress-url')), api(logsUrl)]).then(function (r) {
        var p = r[0];
        setBar(root.querySelector('[data-progress-bar]'), p.progress);
        root.querySelector('[data-progress-percent]').textContent = p.progress + '%';
        var counts = root.querySelector('[data-progress-counts]');
        counts.hidden = !p.total;
        counts.textContent = p.processed + ' / ' + p.total;
        root.querySelector('[data-progress-eta]').textContent = p.eta;
        root.querySelector('[data-progress-message]').textContent = p.message || '';
        setBadge(root.querySelector('[data-status-holder] [data-status-badge]'), p.status);
        root.querySelector('[data-attempts]').textContent = p.attempts + ' / ' + p.max_attempts;
        root.querySelector('[data-started]').textContent = dateTime(p.started_at);
        root.querySelector('[data-finished]').textContent = dateTime(p.finished_at);
        root.querySelector('[data-duration]').textContent = p.duration === null ? '—' : p.duration.toFixed(2) + ' s';
        root.querySelector('[data-last-error]').textContent = p.last_error || '';
        root.querySelector('[data-last-error-box]').hidden = !p.last_error;
        retry.disabled = !p.can_retry;
        cancel.disabled = !p.can_cancel;
        renderLog(r[1].entries);
        return ACTIVE.indexOf(p.status) !== -1;
      });
    }

    var poller = poll(tick, 400, 5000);
    levelSelect.addEventListener('change', function () { lastLog = ''; poller.now(); tick(); });
    [[retry, 'data-retry-url'], [cancel, 'data-cancel-url']].forEach(function (pair) {
      pair[0].addEventListener('click', function () {
        pair[0].disabled = true;
        api(root.getAttribute(pair[1]), { method: 'POST', data: {} }).then(function (d) {
          flash(t(d.status || 'done'));
          poller.now();
          tick();
        }, function (e) { flash(e.message, 'error'); pair[0].disabled = false; });
      });
    });
  }

  // --- task list -------------------------------------------------------------------------------

  function taskList(form) {
    var boxes = function () { return Array.prototype.slice.call(form.querySelectorAll('[data-select]')); };
    var all = form.querySelector('[data-select-all]');
    var count = form.querySelector('[data-selected-count]');
    var buttons = form.querySelectorAll('[data-bulk-action]');
    function update() {
      var n = boxes().filter(function (b) { return b.checked; }).length;
      count.textContent = String(n);
      buttons.forEach(function (b) { b.disabled = n === 0; });
    }
    all.addEventListener('change', function () { boxes().forEach(function (b) { b.checked = all.checked; }); update(); });
    form.addEventListener('change', function (e) { if (e.target.matches('[data-select]')) update(); });
    buttons.forEach(function (button) {
      button.addEventListener('click', function () {
        var confirmText = button.getAttribute('data-confirm');
        if (confirmText && !window.confirm(confirmText)) return;
        var ids = boxes().filter(function (b) { return b.checked; }).map(function (b) { return Number(b.value); });
        api(form.getAttribute('data-url'), { method: 'POST', data: { action: button.getAttribute('data-bulk-action'), ids: ids } })
          .then(function (d) {
            flash(t('done_bulk', { done: d.done.length, skipped: d.skipped.length }));
            setTimeout(function () { window.location.reload(); }, 700);
          }, function (e) { flash(e.message, 'error'); });
      });
    });

    var table = form.querySelector('[data-task-table]');
    var progressUrl = table.getAttribute('data-progress-url');
    poll(function () {
      var rows = Array.prototype.slice.call(table.querySelectorAll('[data-task-row]')).filter(function (row) {
        return ACTIVE.indexOf(row.getAttribute('data-status')) !== -1;
      }).slice(0, 20);
      return Promise.all(rows.map(function (row) {
        return api(progressUrl.replace('__ID__', row.getAttribute('data-task-row'))).then(function (p) {
          row.setAttribute('data-status', p.status);
          setBadge(row.querySelector('[data-status-badge]'), p.status);
          setBar(row, p.progress);
          row.querySelector('[data-percent]').textContent = p.progress + '%';
          if (p.message) row.querySelector('[data-message]').textContent = p.message;
        });
      })).then(function () { return rows.length > 0; });
    }, 1000, 10000);
  }

  // --- workers ---------------------------------------------------------------------------------

  function workers(root) {
    var report = root.querySelector('[data-discover-report]');
    root.querySelectorAll('[data-discover]').forEach(function (button) {
      button.addEventListener('click', function () {
        button.disabled = true;
        api(root.getAttribute('data-discover-url'), { method: 'POST', data: { mode: button.getAttribute('data-discover') } }).then(function (d) {
          var lines = [];
          (d.registered || []).forEach(function (w) { lines.push('+ ' + w.identifier + '  ' + w.class); });
          (d.updated || []).forEach(function (w) { lines.push('~ ' + w.identifier + '  ' + JSON.stringify(w.changes)); });
          (d.removed || []).forEach(function (w) { lines.push('- ' + w.identifier + '  ' + w.class); });
          Object.keys(d.conflicts || {}).forEach(function (id) { lines.push('! ' + id + ': ' + d.conflicts[id].join(', ')); });
          Object.keys(d.invalid || {}).forEach(function (c) { lines.push('? ' + c + ': ' + d.invalid[c]); });
          if (d.files !== undefined && d.mode !== 'clean') lines.push(d.packages + ' packages, ' + d.files + ' files, ' + d.scanMs.toFixed(1) + ' ms');
          report.textContent = lines.join('\n') || t('done');
          report.classList.remove('hidden');
          button.disabled = false;
          if ((d.registered || []).length || (d.updated || []).length || (d.removed || []).length) {
            setTimeout(function () { window.location.reload(); }, 1500);
          }
        }, function (e) { flash(e.message, 'error'); button.disabled = false; });
      });
    });
    root.querySelectorAll('[data-toggle-active]').forEach(function (box) {
      box.addEventListener('change', function () {
        var url = root.getAttribute(box.checked ? 'data-activate-url' : 'data-deactivate-url');
        api(url, { method: 'POST', data: { identifier: box.value } }).then(function (d) {
          var row = box.closest('tr');
          row.classList.toggle('opacity-60', !d.active);
          box.nextElementSibling.textContent = d.active ? t('active') : t('inactive');
          flash(box.value + ': ' + (d.active ? '✓' : '✗'));
        }, function (e) { box.checked = !box.checked; flash(e.message, 'error'); });
      });
    });
  }

  function runForms() {
    document.querySelectorAll('[data-run-form]').forEach(function (form) {
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        var out = form.querySelector('[data-run-result]');
        var options;
        try {
          options = JSON.parse(form.elements.options.value || '{}');
          if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new Error();
        } catch (e) {
          out.textContent = t('invalid_json');
          return;
        }
        var url = form.getAttribute('data-url').replace('__ACTION__', encodeURIComponent(form.elements.action.value));
        api(url, { method: 'POST', data: { options: options, priority: form.elements.priority.value } }).then(function (d) {
          out.textContent = d.message + ' #' + d.id;
          window.location.href = form.getAttribute('data-task-url').replace('__ID__', d.id);
        }, function (e) { out.textContent = e.message; });
      });
    });
  }

  var dash = document.querySelector('[data-dashboard]');
  if (dash) dashboard(dash);
  var task = document.querySelector('[data-task]');
  if (task) taskPage(task);
  var bulk = document.querySelector('[data-bulk]');
  if (bulk) taskList(bulk);
  var workerList = document.querySelector('[data-workers]');
  if (workerList) workers(workerList);
  runForms();
})();
