/*
 * sTask — the worker widget API (view sTask::scripts.task), as upstream sTask's widgets call it:
 *
 *   widgetClearLog(root)                        empties a log box
 *   widgetLogLine(root, text, level = 'info')   appends a line (a little Markdown, HTML escaped)
 *   getWidgetButtons(id)                        ids of the buttons in #{id}Widget (and #{id}Run)
 *   disableButtons(id, ids = null, active = null), enableButtons(id, ids = null)
 *   widgetProgressBar(key, progress, eta = null) updates #{key}Progress
 *   animateCounter(element, start, end, duration)
 *   widgetWatcher(root, url, id = null)         follows a task's progress URL; returns stop()
 *   uploadFile(file, root, id, uploadUrl)       uploads whole or in chunks; resolves with the
 *                                               server's answer, or undefined when it failed
 *
 * `root` is a log element (or its id); it may be empty. Log text is always escaped before the
 * Markdown subset (**bold**, _em_, *em*, ~~strike~~, `code`) is applied; nothing is evaluated.
 * The page's settings come from window.sTaskWidgetConfig (URLs and strings, set by the view).
 */
(function (window, document) {
  'use strict';

  var config = window.sTaskWidgetConfig || {};
  var i18n = config.i18n || {};
  var LEVELS = ['info', 'success', 'warning', 'error'];
  var TERMINAL = ['completed', 'finished', 'failed', 'cancelled', 'not_found', 'error'];
  var ACTIVE = ['running', 'preparing'];
  var DEFAULT_LIMITS = { maxFileSize: 100 * 1024 * 1024, chunkSize: 1024 * 1024, singleUploadLimit: 2 * 1024 * 1024 };
  var POLL_FIRST = 0;
  var POLL_CHANGED = 400;
  var POLL_MAX_ACTIVE = 5000;
  var POLL_MAX = 25000;
  var POLL_HIDDEN = 5000;
  var MAX_FAILURES = 5;
  var saved = typeof WeakMap === 'function' ? new WeakMap() : null;

  function t(key, fallback) {
    var text = i18n[key];
    return typeof text === 'string' && text !== '' ? text : (fallback || key);
  }

  function element(target) {
    if (!target) return null;
    if (target.nodeType === 1) return target;
    if (typeof target === 'string') {
      var byId = document.getElementById(target);
      if (byId) return byId;
      try {
        return document.querySelector(target);
      } catch (e) {
        return null;
      }
    }
    return null;
  }

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;');
  }

  /** Escaped text with a Markdown subset; the tags added are fixed, the text never is HTML. */
  function renderLine(text) {
    var codes = [];
    var html = escapeHtml(String(text).replace(/\u0000/g, ''));
    html = html.replace(/`([^`\n]+)`/g, function (match, code) {
      codes.push(code);
      return '\u0000' + (codes.length - 1) + '\u0000';
    });
    html = html
      .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
      .replace(/__(?=\S)([\s\S]*?\S)__/g, '<strong>$1</strong>')
      .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>')
      .replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])/g, '$1<em>$2</em>')
      .replace(/(^|[^\w])_(?=\S)([^_\n]*?\S)_(?!\w)/g, '$1<em>$2</em>')
      .replace(/\r?\n/g, '<br>');
    return html.replace(/\u0000(\d+)\u0000/g, function (match, i) {
      return '<code>' + codes[Number(i)] + '</code>';
    });
  }

  function injectStyle() {
    if (document.getElementById('stask-widget-runtime-style') || !document.head) return;
    var style = document.createElement('style');
    style.id = 'stask-widget-runtime-style';
    style.textContent = '.stask-spinner{display:inline-block;width:.9em;height:.9em;margin-right:.35em;vertical-align:-.1em;' +
      'border:2px solid currentColor;border-right-color:transparent;border-radius:50%;animation:stask-spin .7s linear infinite}' +
      '@keyframes stask-spin{to{transform:rotate(360deg)}}' +
      '@media (prefers-reduced-motion:reduce){.stask-spinner{animation:none}}';
    document.head.appendChild(style);
  }

  /** GET/POST that never throws: {ok, status, data} with data the parsed JSON (or null). */
  function request(url, method, body) {
    var headers = { 'Accept': 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
    if (method !== 'GET') {
      var meta = document.querySelector('meta[name="csrf-token"]');
      var field = document.querySelector('input[name="_token"]');
      headers['X-CSRF-TOKEN'] = meta && meta.getAttribute('content') ? meta.getAttribute('content') : (field ? field.value : '');
    }
    return window.fetch(url, { method: method, headers: headers, body: body, credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) {
        return response.text().then(function (text) {
          var data = null;
          try {
            data = text === '' ? null : JSON.parse(text);
          } catch (e) {
            data = null;
          }
          return { ok: response.ok, status: response.status, data: data };
        });
      })
      .catch(function (error) {
        return { ok: false, status: 0, data: null, error: error };
      });
  }

  function widgetClearLog(root) {
    var box = element(root);
    if (!box) return;
    box.innerHTML = '';
    box.staskLastLine = null;
  }

  function widgetLogLine(root, text, level) {
    var box = element(root);
    if (!box || text === undefined || text === null) return;
    text = String(text);
    if (text.trim() === '' || box.staskLastLine === text) return;
    box.staskLastLine = text;
    var line = document.createElement('div');
    line.className = 'line-' + (LEVELS.indexOf(level) >= 0 ? level : 'info');
    line.staskText = text;
    line.innerHTML = renderLine(text);
    box.appendChild(line);
    box.scrollTop = box.scrollHeight;
  }

  function getWidgetButtons(widgetIdentifier) {
    var ids = [];
    var scope = document.getElementById(widgetIdentifier + 'Widget');
    if (scope) {
      var found = scope.querySelectorAll('button[id], input[type="button"][id], input[type="submit"][id], .btn[id], [role="button"][id]');
      for (var i = 0; i < found.length; i++) {
        if (ids.indexOf(found[i].id) === -1) ids.push(found[i].id);
      }
    }
    var run = document.getElementById(widgetIdentifier + 'Run');
    if (run && ids.indexOf(run.id) === -1) ids.push(run.id);
    return ids;
  }

  function setDisabled(button, disabled) {
    if ('disabled' in button) button.disabled = disabled;
    button.classList.toggle('disabled', disabled);
    if (disabled) {
      button.setAttribute('aria-disabled', 'true');
    } else {
      button.removeAttribute('aria-disabled');
      button.removeAttribute('aria-busy');
    }
  }

  function disableButtons(widgetIdentifier, buttonIds, activeButtonId) {
    injectStyle();
    var ids = Array.isArray(buttonIds) ? buttonIds : getWidgetButtons(widgetIdentifier);
    ids.forEach(function (id) {
      var button = document.getElementById(id);
      if (!button) return;
      var state = saved ? saved.get(button) : button.staskState;
      if (!state) {
        state = { html: button.innerHTML, disabled: !!button.disabled };
        if (saved) saved.set(button, state); else button.staskState = state;
      }
      setDisabled(button, true);
      if (id === activeButtonId) {
        button.innerHTML = '<span class="stask-spinner" aria-hidden="true"></span>' + state.html;
        button.setAttribute('aria-busy', 'true');
      }
    });
  }

  function enableButtons(widgetIdentifier, buttonIds) {
    var ids = Array.isArray(buttonIds) ? buttonIds : getWidgetButtons(widgetIdentifier);
    ids.forEach(function (id) {
      var button = document.getElementById(id);
      if (!button) return;
      var state = saved ? saved.get(button) : button.staskState;
      if (state) {
        button.innerHTML = state.html;
        if (saved) saved.delete(button); else button.staskState = null;
      }
      setDisabled(button, state ? state.disabled : false);
    });
  }

  function animateCounter(element, start, end, duration) {
    if (!element) return;
    start = Number(start) || 0;
    end = Number(end) || 0;
    duration = Math.max(0, Number(duration) || 0);
    if (element.staskCounter) window.cancelAnimationFrame(element.staskCounter);
    var first = null;
    function frame(now) {
      if (first === null) first = now;
      var k = duration === 0 ? 1 : Math.min(1, (now - first) / duration);
      var eased = 1 - Math.pow(1 - k, 3);
      element.textContent = Math.round(start + (end - start) * eased) + '%';
      element.staskCounter = k < 1 ? window.requestAnimationFrame(frame) : null;
    }
    if (typeof window.requestAnimationFrame !== 'function' || duration === 0 || document.hidden) {
      element.textContent = Math.round(end) + '%';
      return;
    }
    element.staskCounter = window.requestAnimationFrame(frame);
  }

  function formatEta(eta) {
    if (eta === null || eta === undefined || eta === '') return '—';
    if (typeof eta === 'number' && isFinite(eta)) {
      var s = Math.max(0, Math.round(eta));
      var h = Math.floor(s / 3600);
      var m = Math.floor((s % 3600) / 60);
      var sec = s % 60;
      return (h > 0 ? h + ':' + (m < 10 ? '0' : '') + m : String(m)) + ':' + (sec < 10 ? '0' : '') + sec;
    }
    return String(eta);
  }

  function widgetProgressBar(key, progress, eta) {
    var box = document.getElementById(key + 'Progress');
    if (!box) return;
    var pct = Math.max(0, Math.min(100, Math.round(Number(progress) || 0)));
    var before = typeof box.staskProgress === 'number' ? box.staskProgress : 0;
    box.staskProgress = pct;
    box.style.display = 'grid';
    box.setAttribute('aria-valuenow', String(pct));
    var bar = box.querySelector('.widget-progress__bar');
    if (bar) bar.style.width = pct + '%';
    var cap = box.querySelector('.widget-progress__cap');
    if (cap) cap.style.left = 'max(0px, calc(' + pct + '% - ' + (cap.offsetWidth || 6) + 'px))';
    var counter = box.querySelector('.widget-progress__pct');
    if (counter) animateCounter(counter, before, pct, 400);
    var etaBox = box.querySelector('.widget-progress__eta');
    if (etaBox) etaBox.textContent = formatEta(eta);
  }

  /** The lines of `next` that were not in `previous` (the log tail moves on). */
  function newLines(previous, next) {
    var max = Math.min(previous.length, next.length);
    for (var k = max; k > 0; k--) {
      var same = true;
      for (var i = 0; i < k; i++) {
        if (previous[previous.length - k + i] !== next[i]) {
          same = false;
          break;
        }
      }
      if (same) return next.slice(k);
    }
    return next;
  }

  function widgetWatcher(root, url, widgetIdentifier) {
    var box = element(root);
    var stopped = false;
    var timer = null;
    var delay = POLL_CHANGED;
    var failures = 0;
    var lastKey = null;
    var lastMessage = null;
    var seen = [];
    if (widgetIdentifier) disableButtons(widgetIdentifier);

    function end(data) {
      if (stopped) return;
      stopped = true;
      window.clearTimeout(timer);
      if (widgetIdentifier) enableButtons(widgetIdentifier);
      var target = box || document;
      if (typeof window.CustomEvent === 'function') {
        target.dispatchEvent(new window.CustomEvent('stask:finished', { bubbles: true, detail: data || null }));
      }
    }

    function next(wait) {
      if (stopped) return;
      if (document.hidden) wait = Math.max(wait, POLL_HIDDEN);
      timer = window.setTimeout(poll, wait);
    }

    function poll() {
      if (stopped) return;
      request(url, 'GET').then(function (res) {
        if (stopped) return;
        var data = res.data && typeof res.data === 'object' ? res.data : null;
        if (!data || (!res.ok && res.status !== 404)) {
          failures++;
          if (failures >= MAX_FAILURES || (data && Number(data.code) >= 500)) {
            widgetLogLine(box, (data && data.message) || t('error', 'Something went wrong.'), 'error');
            end(data);
            return;
          }
          delay = Math.min(POLL_MAX, Math.max(POLL_CHANGED, delay * 2));
          next(delay);
          return;
        }
        failures = 0;
        var lines = Array.isArray(data.log_lines) ? data.log_lines.map(String) : [];
        var status = String(data.status || '');
        var message = typeof data.message === 'string' ? data.message : '';
        var terminal = TERMINAL.indexOf(status) >= 0 || Number(data.code) >= 500;
        var level = status === 'completed' || status === 'finished' ? 'success' : (status === 'cancelled' ? 'warning' : 'error');
        newLines(seen, lines).forEach(function (line) {
          widgetLogLine(box, line);
        });
        seen = lines;
        if (widgetIdentifier && status !== 'not_found') widgetProgressBar(widgetIdentifier, data.progress, data.eta);
        if (terminal) {
          // The outcome, coloured: the final message's line when the log has it, else a new one.
          var styled = false;
          for (var node = box ? box.lastElementChild : null; node && message !== ''; node = node.previousElementSibling) {
            if (node.staskText === message) {
              node.className = 'line-' + level;
              styled = true;
              break;
            }
          }
          if (!styled && message !== '') widgetLogLine(box, message, level);
          else if (!styled && level === 'success') widgetLogLine(box, t('task_completed', 'Task completed'), level);
          end(data);
          return;
        }
        if (message !== '' && message !== lastMessage && lines.indexOf(message) === -1) widgetLogLine(box, message);
        lastMessage = message;
        var key = JSON.stringify([status, data.progress, data.processed, message, lines.length ? lines[lines.length - 1] : null]);
        if (key !== lastKey) {
          lastKey = key;
          delay = POLL_CHANGED;
        } else {
          delay = Math.min(ACTIVE.indexOf(status) >= 0 ? POLL_MAX_ACTIVE : POLL_MAX, Math.round(delay * 1.5));
        }
        next(delay);
      });
    }

    next(POLL_FIRST);
    return function stop() {
      if (stopped) return;
      stopped = true;
      window.clearTimeout(timer);
      if (widgetIdentifier) enableButtons(widgetIdentifier);
    };
  }

  function serverLimits() {
    if (!config.serverLimitsUrl) return Promise.resolve(DEFAULT_LIMITS);
    return request(config.serverLimitsUrl, 'GET').then(function (res) {
      var d = res.ok && res.data ? res.data : {};
      return {
        maxFileSize: Number(d.maxFileSize) > 0 ? Number(d.maxFileSize) : DEFAULT_LIMITS.maxFileSize,
        chunkSize: Number(d.chunkSize) > 0 ? Number(d.chunkSize) : DEFAULT_LIMITS.chunkSize,
        singleUploadLimit: Number(d.singleUploadLimit) > 0 ? Number(d.singleUploadLimit) : DEFAULT_LIMITS.singleUploadLimit
      };
    });
  }

  function uploadFile(file, root, widgetIdentifier, uploadUrl) {
    var box = element(root);

    function failed(reason) {
      widgetLogLine(box, t('upload_failed', 'Upload failed') + (reason ? ': ' + reason : ''), 'error');
      if (widgetIdentifier) {
        enableButtons(widgetIdentifier);
        var progress = document.getElementById(widgetIdentifier + 'Progress');
        if (progress) {
          widgetProgressBar(widgetIdentifier, 0);
          progress.style.display = 'none';
        }
      }
      return undefined;
    }

    function progress(pct) {
      if (widgetIdentifier) widgetProgressBar(widgetIdentifier, pct);
    }

    function answer(res) {
      if (res.ok && res.data && res.data.success) return res.data;
      throw new Error(res.data && res.data.message ? String(res.data.message) : (res.status ? 'HTTP ' + res.status : ''));
    }

    if (!file || typeof file.size !== 'number' || !uploadUrl) return Promise.resolve(failed(''));
    return serverLimits().then(function (limits) {
      if (file.size > limits.maxFileSize) {
        return failed(t('file_too_large', 'The file is too large') + ' (' + niceSize(file.size) + ' > ' + niceSize(limits.maxFileSize) + ')');
      }
      widgetLogLine(box, t('uploading_file', 'Uploading the file') + ' **' + file.name + '** (' + niceSize(file.size) + ')…');
      progress(0);
      if (file.size <= limits.singleUploadLimit) {
        var whole = new FormData();
        whole.append('file', file, file.name);
        return request(uploadUrl, 'POST', whole).then(answer).then(function (data) {
          progress(100);
          return data;
        });
      }
      var size = Math.max(1, Math.floor(limits.chunkSize));
      var total = Math.ceil(file.size / size);
      var session = 'upload_' + Date.now() + '_' + Math.random().toString(36).slice(2, 10);
      widgetLogLine(box, t('chunk_upload', 'Chunked upload') + ': ' + total + ' ' + t('chunks', 'chunks'));
      function send(index) {
        var part = new FormData();
        part.append('file', file.slice(index * size, Math.min(file.size, (index + 1) * size)), file.name);
        part.append('chunk_index', String(index));
        part.append('total_chunks', String(total));
        part.append('session_id', session);
        part.append('original_filename', file.name);
        return request(uploadUrl, 'POST', part).then(answer).then(function (data) {
          progress(Math.round(((index + 1) / total) * 100));
          return index + 1 < total ? send(index + 1) : data;
        });
      }
      return send(0);
    }).catch(function (error) {
      return failed(error && error.message ? error.message : '');
    });
  }

  function niceSize(bytes) {
    if (typeof window.niceSize === 'function') return window.niceSize(bytes);
    return Math.round(Number(bytes) || 0) + ' B';
  }

  /* Worker settings forms inside an EvoUI/Livewire modal (view sTask::fields.worker-settings). */

  function assign(target, name, value) {
    var path = name.replace(/\]/g, '').split('[');
    var list = path[path.length - 1] === '';
    if (list) path.pop();
    var node = target;
    for (var i = 0; i < path.length - 1; i++) {
      var key = path[i];
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') return;
      if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
      node = node[key];
    }
    var last = path[path.length - 1];
    if (last === '__proto__' || last === 'constructor' || last === 'prototype') return;
    if (list) {
      if (!Array.isArray(node[last])) node[last] = [];
      node[last].push(value);
    } else {
      node[last] = value;
    }
  }

  /** The named fields of a container as an object, the way a form post would send them. */
  function serializeWorkerSettings(container) {
    var data = {};
    var root = element(container);
    if (!root) return data;
    var fields = root.querySelectorAll('input[name], select[name], textarea[name]');
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      var type = (field.type || '').toLowerCase();
      if (field.disabled || ['button', 'submit', 'reset', 'file', 'image'].indexOf(type) >= 0) continue;
      if ((type === 'checkbox' || type === 'radio') && !field.checked) continue;
      if (field.name === '_token' || field.name === '_method') continue;
      if (field.tagName === 'SELECT' && field.multiple) {
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].selected) assign(data, field.name.replace(/\[\]$/, '') + '[]', field.options[j].value);
        }
        continue;
      }
      assign(data, field.name, field.value);
    }
    return data;
  }

  function initWorkerSettings(container, wire) {
    var root = element(container);
    if (!root || root.staskSettingsReady) return;
    root.staskSettingsReady = true;
    var name = root.getAttribute('data-stask-serializer') || 'serializeWorkerSettings';
    var field = root.getAttribute('data-stask-field') || 'settings_payload';
    function sync() {
      var custom = window[name];
      var data = typeof custom === 'function' && custom !== serializeWorkerSettings ? custom(root) : serializeWorkerSettings(root);
      if (wire && typeof wire.set === 'function') wire.set(field, JSON.stringify(data));
      if (typeof window.CustomEvent === 'function') {
        root.dispatchEvent(new window.CustomEvent('stask:worker-settings', { bubbles: true, detail: data }));
      }
    }
    root.addEventListener('input', sync);
    root.addEventListener('change', sync);
    var form = root.closest ? root.closest('form') : null;
    if (form) form.addEventListener('submit', sync, true);
  }

  var api = {
    widgetClearLog: widgetClearLog,
    widgetLogLine: widgetLogLine,
    getWidgetButtons: getWidgetButtons,
    disableButtons: disableButtons,
    enableButtons: enableButtons,
    widgetProgressBar: widgetProgressBar,
    animateCounter: animateCounter,
    widgetWatcher: widgetWatcher,
    uploadFile: uploadFile
  };
  Object.keys(api).forEach(function (key) {
    window[key] = api[key];
  });
  var ns = window.sTask = window.sTask || {};
  ns.widgets = api;
  ns.request = request;
  ns.renderLogLine = renderLine;
  ns.serializeWorkerSettings = serializeWorkerSettings;
  if (typeof ns.initWorkerSettings !== 'function') ns.initWorkerSettings = initWorkerSettings;
  if (typeof window.serializeWorkerSettings !== 'function') window.serializeWorkerSettings = serializeWorkerSettings;
})(window, document);
