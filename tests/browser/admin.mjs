// The manager pages in a real browser: Debian's Chromium driven by playwright-core, against the
// demo (examples/demo.php) serving the package on a fresh embedded-SQLite site with a real
// `stask:work` process behind it. Screenshots go to $STASK_SCREENSHOTS (default var/screenshots;
// `make screenshots` writes docs/img).
//
//   node tests/browser/admin.mjs      (needs the extension built: make build)
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const extension = process.env.STASK_EXTENSION || path.join(root, 'target/release/libstask.so');
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = path.resolve(root, process.env.STASK_SCREENSHOTS || 'var/screenshots');
const site = fs.mkdtempSync(path.join(os.tmpdir(), 'stask-browser-'));

for (const [what, file] of [['the extension (make build)', extension], ['Chromium (apt install chromium)', browserPath]]) {
  if (!fs.existsSync(file)) {
    console.error(`browser test: ${what} not found at ${file}`);
    process.exit(1);
  }
}
fs.mkdirSync(shots, { recursive: true });

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** Starts the demo in serve mode; resolves once its pages are up. */
function startDemo(port) {
  const demo = spawn('php', ['-d', `extension=${extension}`, 'examples/demo.php'], {
    cwd: root,
    env: { ...process.env, STASK_DEMO_PORT: String(port), STASK_DEMO_ROOT: site, STASK_DEMO_SERVE: '1' },
    detached: true, // its own process group: the worker and the server go down with it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the demo did not start in 120 s:\n' + output)), 120_000);
    const onData = (chunk) => {
      output += chunk;
      if (output.includes('Manager pages:')) {
        clearTimeout(timer);
        resolve();
      }
    };
    demo.stdout.on('data', onData);
    demo.stderr.on('data', onData);
    demo.on('exit', (code) => reject(new Error(`the demo exited (${code}):\n` + output)));
  });
  return { demo, ready, output: () => output };
}

function stopDemo(demo) {
  try {
    process.kill(-demo.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

const steps = [];
async function step(name, fn) {
  const started = Date.now();
  await fn();
  steps.push(name);
  console.log(`  ✓ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/** Waits until the task page's status badge shows one of the statuses. */
async function waitForStatus(page, statuses, timeout = 60_000) {
  await page.waitForFunction((wanted) => {
    const badge = document.querySelector('[data-status-holder] [data-status-badge]');
    return badge && wanted.some((s) => badge.classList.contains('st-status-' + s));
  }, statuses, { timeout });
}

async function percent(page) {
  return Number(await page.getAttribute('[data-task] [data-progress-bar]', 'aria-valuenow'));
}

/** Starts an action from a worker's page through its run form; returns the new task's id. */
async function runFromWorkerPage(page, base, worker, action, options, open = true) {
  if (open) await page.goto(`${base}/worker/${worker}`);
  await page.selectOption('#run-action', action);
  await page.fill('#run-options', JSON.stringify(options));
  await Promise.all([page.waitForURL(/\/task\/\d+$/), page.click('[data-run-form] button[type=submit]')]);
  await page.waitForSelector('[data-task]');
  return Number(await page.getAttribute('[data-task]', 'data-task'));
}

async function saveWorkerSettings(page, base, worker, settings) {
  await page.goto(`${base}/worker/${worker}`);
  await page.fill('#s-other', JSON.stringify(settings));
  await Promise.all([page.waitForURL(/saved=1/), page.click('[data-settings-form] button[type=submit]')]);
  assert.ok(await page.isVisible('[data-settings-form] [role=status]'), 'the settings page confirms the save');
}

const port = await freePort();
const base = `http://127.0.0.1:${port}/manager/stask`;
const { demo, ready, output } = startDemo(port);
let browser;
let page;
let failed = false;
try {
  console.log(`browser test: demo site ${site}, ${base}`);
  await ready;
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true, colorScheme: 'light' });
  page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

  await step('dashboard shows the demo run: counts, chart, per-worker metrics', async () => {
    await page.goto(base);
    assert.equal(await page.textContent('[data-stat="completed"]'), '4');
    assert.equal(await page.textContent('[data-stat="failed"]'), '0');
    await page.waitForSelector('[data-chart] svg rect');
    await page.waitForFunction(() => document.querySelectorAll('[data-worker-metrics] tr').length >= 3);
    const workers = await page.$$eval('[data-worker-metrics] tr td:first-child', (cells) => cells.map((c) => c.textContent));
    assert.deepEqual([...workers].sort(), ['newsletter', 'product', 'sync']);
  });

  await step('workers page lists the discovered workers', async () => {
    await page.goto(`${base}/workers`);
    const ids = await page.$$eval('[data-worker-row]', (rows) => rows.map((r) => r.getAttribute('data-worker-row')));
    for (const id of ['product', 'newsletter', 'sync', 'cleanup']) {
      assert.ok(ids.includes(id), `worker ${id} listed (got ${ids})`);
    }
    await page.screenshot({ path: path.join(shots, 'workers.png'), fullPage: true });
  });

  let importId;
  await step('upload a CSV on the worker page (in chunks), start the import, watch its bar reach 100 %', async () => {
    await page.goto(`${base}/worker/product`);
    await page.setInputFiles('#run-file', path.join(site, 'products.csv'));
    const limits = JSON.parse(await page.getAttribute('[data-run-form]', 'data-limits'));
    assert.ok(fs.statSync(path.join(site, 'products.csv')).size > 2 * limits.chunkSize, 'the CSV goes in several chunks');
    const uploads = [];
    const onRequest = (r) => { if (r.url().endsWith('/worker/product/upload')) uploads.push(r); };
    page.on('request', onRequest);
    importId = await runFromWorkerPage(page, base, 'product', 'import', { pause_ms: 1 }, false);
    page.off('request', onRequest);
    assert.ok(uploads.length >= 3, `uploaded in ${uploads.length} requests`);
    assert.match(await page.textContent('[data-task-data]'), /"uploaded_file": "uploads\/\d{8}-\d{6}-[0-9a-f]{16}\.csv"/);
    assert.match(await page.textContent('[data-task-data]'), /"original_filename": "products\.csv"/);
    await page.waitForFunction(() => {
      const v = Number(document.querySelector('[data-task] [data-progress-bar]').getAttribute('aria-valuenow'));
      return v >= 15 && v < 90;
    }, null, { timeout: 60_000 });
    const mid = await percent(page);
    assert.match(await page.textContent('[data-progress-counts]'), /^\d+ \/ 10000$/);
    await page.screenshot({ path: path.join(shots, 'task.png'), fullPage: true });
    await waitForStatus(page, ['completed'], 120_000);
    assert.equal(await percent(page), 100, `the bar went from ${mid} % to 100 %`);
    assert.equal(await page.textContent('[data-progress-counts]'), '10000 / 10000');
    assert.match(await page.textContent('[data-progress-message]'), /Imported 9996 products, skipped 4/);
  });

  await step('filter the log by level', async () => {
    await page.waitForFunction(() => document.querySelectorAll('[data-log] [data-log-entry]').length >= 6);
    const all = await page.$$eval('[data-log] [data-log-entry]', (rows) => rows.map((r) => r.getAttribute('data-log-entry')));
    assert.ok(all.includes('info') && all.includes('warning'), `mixed levels before filtering: ${all}`);
    await page.selectOption('[data-log-level]', 'warning');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-log] [data-log-entry]')];
      return rows.length === 4 && rows.every((r) => r.getAttribute('data-log-entry') === 'warning');
    });
    assert.match(await page.textContent('[data-log]'), /Row 2500 skipped: price is not a number/);
    await page.screenshot({ path: path.join(shots, 'task-log-filter.png') });
  });

  await step('download the log', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-download-log]')]);
    assert.match(download.suggestedFilename(), new RegExp(`^task-${importId}-product-\\d{8}-\\d{6}\\.log$`));
    const text = fs.readFileSync(await download.path(), 'utf8');
    assert.match(text, /Row 2500 skipped: price is not a number/);
    assert.match(text, /Imported 9996 products/);
  });

  await step('cancel a running task', async () => {
    const recipients = Array.from({ length: 300 }, (_, i) => `reader${i}@example.com`);
    await runFromWorkerPage(page, base, 'newsletter', 'send', { subject: 'Browser test', recipients, pause_ms: 50 });
    await page.waitForFunction(() => Number(document.querySelector('[data-task] [data-progress-bar]').getAttribute('aria-valuenow')) > 2, null, { timeout: 60_000 });
    // Meanwhile the dashboard shows it under "running now", with its own live bar.
    const dashboard = await page.context().newPage();
    await dashboard.goto(base);
    await dashboard.waitForSelector('[data-running] [role=progressbar]');
    assert.match(await dashboard.textContent('[data-running]'), /newsletter/);
    await dashboard.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true });
    await dashboard.close();
    await page.click('[data-action="cancel"]');
    await waitForStatus(page, ['cancelled'], 30_000);
    const [done, total] = (await page.textContent('[data-progress-counts]')).split(' / ').map(Number);
    assert.equal(total, 300);
    assert.ok(done < 300, `stopped part-way (${done} of 300 sent)`);
    assert.ok(await page.isDisabled('[data-action="cancel"]'), 'cancel is disabled once cancelled');
  });

  let syncId;
  await step('a task that fails every attempt ends failed, with its errors logged', async () => {
    await saveWorkerSettings(page, base, 'sync', { supplier_down: true });
    await page.screenshot({ path: path.join(shots, 'worker.png'), fullPage: true });
    syncId = await runFromWorkerPage(page, base, 'sync', 'stock', {});
    await waitForStatus(page, ['failed'], 60_000);
    assert.equal(await page.textContent('[data-attempts]'), '3 / 3');
    await page.waitForFunction(() => document.querySelectorAll('[data-log] [data-log-entry="error"]').length === 3);
    assert.match(await page.textContent('[data-log]'), /Supplier API is down/);
    assert.ok(await page.isEnabled('[data-action="retry"]'), 'retry is offered for a failed task');
  });

  await step('retry the failed task after fixing the worker settings', async () => {
    await saveWorkerSettings(page, base, 'sync', {});
    await page.goto(`${base}/task/${syncId}`);
    await page.click('[data-action="retry"]');
    await waitForStatus(page, ['completed'], 60_000);
    assert.equal(await percent(page), 100);
    assert.match(await page.textContent('[data-progress-message]'), /Updated 312 stock levels/);
    assert.equal(await page.textContent('[data-attempts]'), '1 / 3');
  });

  await step('task list: filter by status, then bulk-delete what the filter shows', async () => {
    await page.goto(`${base}/tasks`);
    assert.equal((await page.$$('[data-task-row]')).length, 7);
    await page.screenshot({ path: path.join(shots, 'tasks.png'), fullPage: true });
    await page.selectOption('#f-status', 'cancelled');
    await Promise.all([page.waitForURL(/status=cancelled/), page.click('[data-filters] button[type=submit]')]);
    const statuses = await page.$$eval('[data-task-row]', (rows) => rows.map((r) => r.getAttribute('data-status')));
    assert.deepEqual(statuses, ['cancelled']);
    page.once('dialog', (dialog) => dialog.accept());
    await page.check('[data-select-all]');
    assert.equal(await page.textContent('[data-selected-count]'), '1');
    await Promise.all([page.waitForEvent('load'), page.click('[data-bulk-action="delete"]')]);
    assert.equal((await page.$$('[data-task-row]')).length, 0, 'the cancelled task is gone');
    await page.goto(`${base}/tasks`);
    assert.equal((await page.$$('[data-task-row]')).length, 6);
  });

  await step('a client widget (upstream\'s partial + scripts.global/scripts.task): run, watch, callApi, upload', async () => {
    await page.goto(`${base}/worker/feed_export`);
    const missing = await page.evaluate(() => ['callApi', 'niceSize', 'widgetClearLog', 'widgetLogLine', 'getWidgetButtons', 'disableButtons',
      'enableButtons', 'widgetProgressBar', 'animateCounter', 'widgetWatcher', 'uploadFile'].filter((f) => typeof window[f] !== 'function'));
    assert.deepEqual(missing, []);
    assert.ok(await page.isVisible('[data-worker-settings] select[name="format"]'), 'the worker\'s settings form');

    // The Run button: a `make` task, followed live until it completes.
    await page.click('#feed_exportRun');
    assert.ok(await page.isDisabled('#feed_exportRun'), 'buttons are disabled while the task runs');
    await page.waitForSelector('#feed_exportLog .line-success', { timeout: 60_000 });
    assert.match(await page.textContent('#feed_exportLog'), /Feed ready: 5 products/);
    assert.match(await page.textContent('#feed_exportLog'), /Title of the last product: <b>Tea & "Cakes"<\/b>/, 'log HTML shown as text');
    assert.equal(await page.$$eval('#feed_exportLog b', (b) => b.length), 0, 'no element from log text');
    assert.equal(await page.$$eval('#feed_exportLog strong', (s) => s.length), 1, '**Feed:** is bold');
    assert.equal(await page.getAttribute('#feed_exportProgress', 'aria-valuenow'), '100');
    await page.waitForFunction(() => !document.getElementById('feed_exportRun').disabled);
    await page.screenshot({ path: path.join(shots, 'client-widget.png'), fullPage: true });

    // callApi + widgetWatcher from a page script, as client widgets call them.
    const watched = await page.evaluate(async (base) => {
      const limits = await callApi(`${base}/server-limits`, null, 'GET');
      const bad = await callApi(`${base}/worker/feed_export/run/nothing`, {});
      const run = await callApi(`${base}/worker/feed_export/run/make`, { note: 'from callApi' });
      const root = document.getElementById('feed_exportLog');
      widgetClearLog(root);
      const finished = new Promise((resolve) => root.addEventListener('stask:finished', (e) => resolve(e.detail), { once: true }));
      const stop = widgetWatcher(root, `${base}/task/${run.id}/progress`, 'feed_export');
      const detail = await finished;
      return { limits, bad, run, stopType: typeof stop, status: detail.status, size: niceSize(1536) };
    }, base);
    assert.ok(watched.limits.maxFileSize > 0 && watched.limits.chunkSize > 0, JSON.stringify(watched.limits));
    assert.equal(watched.bad, null, 'callApi answers null on a 4xx');
    assert.equal(watched.run.success, true);
    assert.equal(watched.stopType, 'function');
    assert.equal(watched.status, 'completed');
    assert.equal(watched.size, '1.5 KB');

    // uploadFile: whole, then in chunks; the run endpoint takes the token as `filename`.
    const uploads = await page.evaluate(async (base) => {
      const root = document.getElementById('feed_exportLog');
      const url = `${base}/worker/feed_export/upload`;
      const results = [];
      const limits = await callApi(`${base}/server-limits`, null, 'GET');
      const big = 'sku,name\n' + 'x'.repeat(1000).concat('\n').repeat(Math.ceil((limits.singleUploadLimit + limits.chunkSize) / 1001));
      for (const [name, text] of [['small.csv', 'sku,name\n1,Tea\n2,Cake\n'], ['big.csv', big]]) {
        const up = await uploadFile(new File([text], name, { type: 'text/csv' }), root, 'feed_export', url);
        const run = await callApi(`${base}/worker/feed_export/run/import`, { filename: up.result });
        const done = new Promise((resolve) => root.addEventListener('stask:finished', (e) => resolve(e.detail), { once: true }));
        widgetWatcher(root, `${base}/task/${run.id}/progress`, 'feed_export');
        results.push({ token: up.result, chunked: up.filename === up.result, detail: await done, lines: text.trim().split('\n').length });
      }
      const refused = await uploadFile(new File(['<?php'], 'evil.php'), root, 'feed_export', url);
      results.push({ refused: refused === undefined, log: root.textContent });
      return results;
    }, base);
    for (const u of uploads.slice(0, 2)) {
      assert.match(u.token, /^\d{8}-\d{6}-[0-9a-f]{16}\.csv$/);
      assert.equal(u.detail.status, 'completed', JSON.stringify(u.detail));
      assert.match(u.detail.message, new RegExp(`Read ${u.lines} rows`));
    }
    assert.equal(uploads[2].refused, true, 'a refused upload resolves undefined');
    assert.match(uploads[2].log, /Only these file types are accepted/);
    // The two refusals asked for above (an unknown action, a .php upload) are the browser's only
    // console errors here: not JavaScript errors.
    const refusals = pageErrors.filter((e) => /status of 422/.test(e));
    assert.equal(refusals.length, 2, JSON.stringify(pageErrors));
    pageErrors.splice(0, pageErrors.length, ...pageErrors.filter((e) => !/status of 422/.test(e)));
  });

  await step('no JavaScript errors on any page', async () => {
    assert.deepEqual(pageErrors, []);
  });
} catch (error) {
  failed = true;
  console.error(`\n  ✗ after ${steps.length} steps: ${error.stack || error}`);
  if (page) {
    await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    console.error(`  page: ${page.url()} (screenshot: ${path.join(shots, 'failure.png')})`);
  }
  console.error('\n--- demo output ---\n' + output());
  for (const log of ['server.log', 'worker.log']) {
    const file = path.join(site, log);
    if (fs.existsSync(file)) console.error(`--- ${log} (tail) ---\n` + fs.readFileSync(file, 'utf8').split('\n').slice(-40).join('\n'));
  }
} finally {
  if (browser) await browser.close();
  stopDemo(demo);
}
if (failed) process.exit(1);
fs.rmSync(site, { recursive: true, force: true });
console.log(`browser test: ${steps.length} steps passed; screenshots in ${shots}`);
process.exit(0);
