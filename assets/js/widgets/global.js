/*
 * sTask — page helpers for worker widgets (view sTask::scripts.global).
 *
 *   callApi(url, data, method = 'POST', type = 'json') → Promise of the answer, or null
 *   niceSize(bytes) → "1.5 MB"
 *
 * Both are globals, as upstream sTask's widgets expect. Nothing here evaluates strings as code.
 */
(function (window, document) {
  'use strict';

  /** The manager's CSRF token: <meta name="csrf-token">, else a form's _token field. */
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.getAttribute('content')) return meta.getAttribute('content');
    var field = document.querySelector('input[name="_token"]');
    return field ? field.value : '';
  }

  function isPlainObject(value) {
    if (value === null || typeof value !== 'object') return false;
    var proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
  }

  function withQuery(url, data) {
    var params = new URLSearchParams();
    Object.keys(data).forEach(function (key) {
      var value = data[key];
      if (value === undefined || value === null) return;
      params.append(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
    });
    var query = params.toString();
    return query === '' ? url : url + (url.indexOf('?') === -1 ? '?' : '&') + query;
  }

  /**
   * fetch() with the manager's headers. A plain object is sent as JSON (as query parameters for
   * GET); FormData, URLSearchParams, Blob and strings are sent as they are. `type` is how the
   * answer is read: json (default), text, blob, formData or arrayBuffer. Resolves with null on
   * any failure — a network error, an answer that is not 2xx, or one that cannot be read.
   */
  function callApi(url, data, method, type) {
    method = String(method || 'POST').toUpperCase();
    type = type || 'json';
    var headers = { 'X-Requested-With': 'XMLHttpRequest', 'X-CSRF-TOKEN': csrfToken() };
    if (type === 'json') headers.Accept = 'application/json';
    var init = { method: method, headers: headers, credentials: 'same-origin' };
    if (data !== undefined && data !== null) {
      if (method === 'GET' || method === 'HEAD') {
        if (isPlainObject(data)) url = withQuery(url, data);
      } else if (isPlainObject(data) || Array.isArray(data)) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(data);
      } else {
        init.body = data;
      }
    }
    return window.fetch(url, init).then(function (response) {
      if (!response.ok) return null;
      switch (type) {
        case 'text': return response.text();
        case 'blob': return response.blob();
        case 'formData': return response.formData();
        case 'arrayBuffer': return response.arrayBuffer();
        default: return response.json();
      }
    }).catch(function () {
      return null;
    });
  }

  /** Bytes as B, KB, MB, GB or TB, rounded to two decimals. */
  function niceSize(bytes) {
    var size = Number(bytes);
    if (!isFinite(size) || size < 0) size = 0;
    var units = ['B', 'KB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (size >= 1024 && i < units.length - 1) {
      size /= 1024;
      i++;
    }
    return Math.round(size * 100) / 100 + ' ' + units[i];
  }

  window.callApi = callApi;
  window.niceSize = niceSize;
})(window, document);
