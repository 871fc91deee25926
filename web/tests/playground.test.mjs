// The web UI in a real headless Chromium (playwright-core + Debian's /usr/bin/chromium) against
// the real app-ecs binary on its in-memory store. Run: node --test web/tests/ (scripts/test-browser
// installs Chromium, builds the UI and app-ecs first).
//
// The "Serverless" backend is app-lambda itself under the Lambda runtime emulator
// (`cargo lambda watch`) on the DynamoDB emulator, when scripts/test provides them (CARGO_LAMBDA,
// APP_LAMBDA_BIN, TEST_DYNAMODB_ENDPOINT; required in CI). Run alone, a second app-ecs stands in
// for it: both binaries serve the very same router (docs/api.md), so the page cannot tell them apart.
// Its CORS allow-list holds only the first instance's origin.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  allReadings,
  api,
  distDir,
  freePort,
  lambdaAvailable,
  launchBrowser,
  screenshot,
  sleep,
  startAppEcs,
  startAppLambda,
} from './helpers.mjs';

const MAX_RUNS = 2;
const T = { timeout: 90_000 };
let ecs; // serves the UI (WEB_DIR=web/dist) and the ECS API on the same origin
let standIn; // the "Serverless" backend: app-lambda, or a stand-in (see above)
let browser;

before(async () => {
  assert.ok(existsSync(join(distDir, 'index.html')), 'web/dist is missing: run npm run build in web/');
  ecs = await startAppEcs({
    env: {
      WEB_DIR: distDir,
      MAX_CONCURRENT_RUNS: String(MAX_RUNS),
      RUN_TIMEOUT_GRACE_SECS: '3',
    },
  });
  const serverlessEnv = {
    MAX_CONCURRENT_RUNS: String(MAX_RUNS),
    RUN_TIMEOUT_GRACE_SECS: '3',
    CORS_ALLOWED_ORIGINS: ecs.url,
  };
  if (lambdaAvailable()) {
    standIn = await startAppLambda({ env: serverlessEnv });
  } else {
    assert.ok(!process.env.CI, 'CI runs the Serverless side on app-lambda: CARGO_LAMBDA, APP_LAMBDA_BIN and TEST_DYNAMODB_ENDPOINT must be set');
    console.log('# app-lambda is not available here: a second app-ecs stands in for the Serverless backend');
    standIn = await startAppEcs({ env: serverlessEnv });
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await ecs?.stop();
  await standIn?.stop();
});

/**
 * Opens the page served by app-ecs. `serverless` (when given) replaces the served config.json's
 * Serverless base URL, as a deployment would by writing its own config.json.
 */
async function openPage({ serverless, origin = ecs.url } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  if (serverless !== undefined) {
    await page.route('**/config.json', (route) =>
      route.fulfill({ json: { backends: { ecs: '', serverless }, grafanaUrl: null } }),
    );
  }
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, context, problems };
}

async function fillForm(page, { user = 'alice', sensors = 2, readings = 5, interval = 200, mode = 'single' } = {}) {
  await page.fill('#username', user);
  await page.fill('#sensors', String(sensors));
  await page.fill('#readings', String(readings));
  await page.fill('#interval', String(interval));
  await page.selectOption('#mode', mode);
}

const text = (page, selector) => page.locator(selector).innerText();

async function waitForStatus(page, status, timeout = 30_000) {
  await page.waitForFunction((s) => document.getElementById('run-status')?.textContent === s, status, { timeout });
}

async function currentRunId(page) {
  return (await text(page, '#run-id')).trim();
}

async function runningRuns(base) {
  return (await api(base, 'GET', '/api/runs/running')).body;
}

describe('web UI in Chromium', () => {
  test('app-ecs serves the built UI, its runtime config and the vendored chart library', T, async () => {
    for (const path of ['/', '/config.json', '/src/main.js', '/vendor/uplot/uPlot.esm.js', '/style.css']) {
      const r = await fetch(`${ecs.url}${path}`);
      assert.equal(r.status, 200, path);
    }
    const served = await (await fetch(`${ecs.url}/config.json`)).json();
    assert.deepEqual(served, { backends: { ecs: '', serverless: 'http://127.0.0.1:9000/lambda-url/app-lambda' }, grafanaUrl: null });

    const { page, context, problems } = await openPage();
    assert.equal(await page.title(), 'IoT Playground');
    assert.equal(await text(page, '#backend-url'), ecs.url, '"" in config.json means the page origin');
    assert.equal(await page.getAttribute('#backend-serverless', 'title'), 'http://127.0.0.1:9000/lambda-url/app-lambda');
    await page.waitForFunction(() => document.getElementById('cap-max').textContent === '2');
    assert.equal(await text(page, '#cap-available'), '2');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the form is validated like the API, and a 400 names its field', T, async () => {
    const { page, context } = await openPage();
    await fillForm(page, { user: 'ab', sensors: 101, readings: 0, interval: 100 });
    await page.click('#start');
    assert.match(await text(page, '#username-error'), /3–20 characters/);
    assert.match(await text(page, '#sensors-error'), /between 1 and 100/);
    assert.match(await text(page, '#readings-error'), /between 1 and 1000/);
    assert.match(await text(page, '#interval-error'), /between 200 and 10000/);
    assert.match(await text(page, '#message'), /Fix the highlighted fields/);
    await fillForm(page, { user: 'bad name!' });
    assert.match(await text(page, '#username-error'), /letters, digits/);
    assert.equal((await runningRuns(ecs.url)).length, 0, 'nothing was started');

    // A 400 from the API itself: the page's request is altered on the way out.
    await fillForm(page, { user: 'valid.user' });
    assert.equal(await text(page, '#username-error'), '');
    await page.route('**/api/runs/start', (route) =>
      route.continue({ postData: JSON.stringify({ sensorIds: ['ok', 'not valid!'], duration: 5, interval: 0.2 }) }),
    );
    await page.click('#start');
    await page.waitForSelector('#message:not([hidden])');
    const message = await text(page, '#message');
    assert.match(message, /ECS backend rejected the field “sensorIds(\[1\])?”/);
    await screenshot(page, 'validation-400');
    assert.equal((await runningRuns(ecs.url)).length, 0);
    await context.close();
  });

  test('a short simulation fills the chart and finishes SUCCESS', T, async () => {
    const { page, context, problems } = await openPage();
    await fillForm(page, { user: 'alice', sensors: 2, readings: 5, interval: 200 });
    await page.click('#start');
    await waitForStatus(page, 'SUCCESS');
    await page.waitForFunction(() => document.getElementById('chart-count').textContent.startsWith('10 readings'));
    assert.equal(await page.locator('#chart canvas').count(), 1, 'uPlot drew a canvas');
    assert.match(await text(page, '#run-sent'), /^10 \/ 10 readings/);
    assert.match(await text(page, '#message'), /Run finished SUCCESS/);

    const id = await currentRunId(page);
    const run = (await api(ecs.url, 'GET', `/api/runs/${id}`)).body;
    assert.equal(run.status, 'SUCCESS');
    assert.equal(run.username, 'alice');
    assert.deepEqual(run.sensorIds, ['sensor-1', 'sensor-2']);
    const readings = await allReadings(ecs.url, id);
    assert.equal(readings.length, 10);
    assert.deepEqual(new Set(readings.map((r) => r.sensorId)), new Set(['sensor-1', 'sensor-2']));

    const ecsRow = page.locator('#latency-body tr[data-backend="ecs"] td');
    assert.ok(Number(await ecsRow.nth(0).innerText()) >= 10, 'requests were timed');
    assert.match(await ecsRow.nth(2).innerText(), /ms$/, 'p50 shown');
    await screenshot(page, 'simulation-success');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a failed POST is retried with the same timestamp and is not doubled', T, async () => {
    const { page, context } = await openPage();
    let dropped = 0;
    // The first two readings reach the server, but the page never sees the answer.
    await page.route('**/api/sensors/data', async (route) => {
      if (dropped < 2) {
        dropped += 1;
        await route.fetch();
        await route.abort('connectionreset');
      } else {
        await route.continue();
      }
    });
    await fillForm(page, { user: 'retry-user', sensors: 2, readings: 3, interval: 200 });
    await page.click('#start');
    await waitForStatus(page, 'SUCCESS');
    assert.equal(await text(page, '#run-retries'), '2');
    const readings = await allReadings(ecs.url, await currentRunId(page));
    assert.equal(readings.length, 6, 'replays answered 200 and stored nothing twice');
    await context.close();
  });

  test('a run that cannot continue is finished FAILED, not left RUNNING', T, async () => {
    const { page, context } = await openPage();
    let passed = 0;
    await page.route('**/api/sensors/data', async (route) => {
      if (passed < 2) {
        passed += 1;
        await route.continue();
      } else {
        await route.abort('connectionrefused');
      }
    });
    // 200 readings: a planned duration (40 s) that outlasts the retries, so the run cannot TIMEOUT first.
    await fillForm(page, { user: 'flaky-net', sensors: 1, readings: 200, interval: 200 });
    await page.click('#start');
    await waitForStatus(page, 'FAILED', 40_000);
    assert.match(await text(page, '#message'), /Sending stopped after 2 of 200 readings: ECS backend unreachable.*The run is FAILED/);
    const run = (await api(ecs.url, 'GET', `/api/runs/${await currentRunId(page)}`)).body;
    assert.equal(run.status, 'FAILED');
    assert.match(run.errorMessage, /could not continue sending/);
    await context.close();
  });

  test('abandon stops sending and finishes the run FAILED', T, async () => {
    const { page, context } = await openPage();
    await fillForm(page, { user: 'quitter', sensors: 2, readings: 1000, interval: 200 });
    await page.click('#start');
    await page.waitForFunction(() => parseInt(document.getElementById('run-sent').textContent, 10) >= 4);
    assert.equal(await page.isEnabled('#abandon'), true);
    await page.click('#abandon');
    await waitForStatus(page, 'FAILED');
    assert.match(await text(page, '#message'), /Run abandoned after \d+ of 2000 readings: finished as FAILED/);
    assert.match(await text(page, '#run-error'), /abandoned by the user/);

    const id = await currentRunId(page);
    const run = (await api(ecs.url, 'GET', `/api/runs/${id}`)).body;
    assert.equal(run.status, 'FAILED');
    assert.equal(run.errorMessage, 'abandoned by the user');
    const count = (await allReadings(ecs.url, id)).length;
    await sleep(800);
    assert.equal((await allReadings(ecs.url, id)).length, count, 'no reading after abandon');
    await screenshot(page, 'abandoned');
    assert.equal((await runningRuns(ecs.url)).length, 0);
    await context.close();
  });

  test('a full capacity shows running/max/available and the 429 with its scope', T, async () => {
    const started = [];
    try {
      for (const user of ['bob', 'carol']) {
        const r = await api(ecs.url, 'POST', '/api/runs/start', { user, body: { sensorIds: ['s1', 's2', 's3'], duration: 60, interval: 1 } });
        assert.equal(r.status, 201);
        started.push(r.body);
      }
      const { page, context } = await openPage();
      await page.waitForFunction(() => document.getElementById('cap-available').textContent === '0');
      assert.equal(await text(page, '#cap-running'), '2');
      assert.equal(await text(page, '#cap-max'), '2');
      // The running list: owner, sensors, progress and remaining time.
      await page.waitForSelector(`#running-body tr[data-run-id="${started[0].id}"]`);
      const row = (await text(page, `#running-body tr[data-run-id="${started[1].id}"]`)).split('\t');
      assert.equal(row[0], 'carol');
      assert.equal(row[1], '3');
      assert.match(row[2], /\d+ %/);
      assert.match(row[3], /^(\d+ s|1 min 0 s)$/);

      await page.waitForFunction(() => document.getElementById('start').disabled);
      assert.match(await page.getAttribute('#start', 'title'), /Capacity is full/);
      // A stale view of capacity (the last poll still saw room): the 429 explains itself.
      await page.route('**/api/runs/can-start*', (route) =>
        route.fulfill({ json: { canStart: true, currentRunning: 1, maxAllowed: 2, available: 1 } }),
      );
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 10_000 });
      await fillForm(page, { user: 'dave' });
      await page.click('#start');
      await page.waitForSelector('#message:not([hidden])');
      assert.match(await text(page, '#message'), /Capacity full \(global limit, scope “global”\): 2 of 2 runs are running on ECS\. Try again in \d+ seconds?\./);
      await screenshot(page, 'capacity-full');
      await context.close();
    } finally {
      for (const run of started) await api(ecs.url, 'POST', `/api/runs/${run.id}/finish`, { user: run.username, body: {} });
    }
  });

  test('the capacity poll runs at most every 2 s and pauses while the tab is hidden', T, async () => {
    const { page, context } = await openPage();
    const polls = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/runs/can-start')) polls.push(Date.now());
    });
    await sleep(6500);
    assert.ok(polls.length >= 2 && polls.length <= 4, `${polls.length} polls in 6.5 s`);
    for (let i = 1; i < polls.length; i += 1) assert.ok(polls[i] - polls[i - 1] >= 1900, 'at least 2 s apart');

    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    const hiddenAt = polls.length;
    await sleep(5000);
    assert.equal(polls.length, hiddenAt, 'no poll while hidden');

    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await sleep(1500);
    assert.equal(polls.length, hiddenAt + 1, 'polls again as soon as visible');
    await context.close();
  });

  test('an unreachable Serverless backend is explained, with how to start it locally', T, async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const { page, context } = await openPage({ serverless: closed });
    await page.click('#backend-serverless');
    assert.equal(await text(page, '#backend-url'), closed);
    await page.waitForSelector('#connection:not([hidden])', { timeout: 10_000 });
    const notice = await text(page, '#connection');
    assert.match(notice, new RegExp(`Serverless backend unreachable: nothing answers at ${closed}`));
    assert.match(notice, /scripts\/playground/);
    assert.equal(await text(page, '#cap-running'), '–');

    await fillForm(page, { user: 'erin' });
    await page.click('#start');
    await page.waitForSelector('#message:not([hidden])');
    assert.match(await text(page, '#message'), /Serverless backend unreachable/);
    await screenshot(page, 'serverless-unreachable');
    const errors = Number(await page.locator('#latency-body tr[data-backend="serverless"] td').nth(1).innerText());
    assert.ok(errors >= 2, `network errors counted (${errors})`);

    await page.click('#backend-ecs');
    await page.waitForSelector('#connection', { state: 'hidden', timeout: 5000 });
    await context.close();
  });

  test('a backend that refuses the page origin is reported as CORS, not as unreachable', T, async () => {
    // The stand-in allows only http://127.0.0.1:<port>; this page is opened as http://localhost:<port>.
    const { page, context } = await openPage({ serverless: standIn.url, origin: `http://localhost:${ecs.port}` });
    await page.click('#backend-serverless');
    await page.waitForSelector('#connection:not([hidden])', { timeout: 10_000 });
    assert.match(
      await text(page, '#connection'),
      new RegExp(`Serverless backend refused this page by CORS: ${standIn.url} answers but does not allow the origin http://localhost:${ecs.port}`),
    );
    await screenshot(page, 'cors-refused');
    await context.close();
  });

  test('toggles between ECS and Serverless and compares their latency side by side', T, async () => {
    const { page, context, problems } = await openPage({ serverless: standIn.url });
    await fillForm(page, { user: 'frank', sensors: 2, readings: 5, interval: 200 });
    await page.click('#start');
    await waitForStatus(page, 'SUCCESS');
    const ecsRun = await currentRunId(page);

    await page.click('#backend-serverless');
    assert.equal(await page.getAttribute('#backend-serverless', 'aria-checked'), 'true');
    assert.equal(await text(page, '#backend-url'), standIn.url);
    await page.waitForFunction(() => document.getElementById('cap-backend').textContent === 'on Serverless');
    await page.waitForFunction(() => document.getElementById('cap-max').textContent === '2');
    await page.selectOption('#mode', 'batch');
    await page.click('#start');
    await page.waitForFunction((id) => document.getElementById('run-id').textContent !== id, ecsRun);
    await waitForStatus(page, 'SUCCESS');
    await page.waitForFunction(() => document.getElementById('chart-count').textContent.startsWith('10 readings read back from Serverless'));
    const serverlessRun = await currentRunId(page);
    assert.match(await text(page, '#run-sent'), /10 \/ 10 readings \(batch\)/);

    // Each run lives on its own backend.
    assert.equal((await api(standIn.url, 'GET', `/api/runs/${serverlessRun}`)).body.status, 'SUCCESS');
    assert.equal((await api(ecs.url, 'GET', `/api/runs/${serverlessRun}`)).status, 404);
    assert.equal((await api(ecs.url, 'GET', `/api/runs/${ecsRun}`)).body.status, 'SUCCESS');
    assert.equal((await allReadings(standIn.url, serverlessRun)).length, 10);

    for (const backend of ['ecs', 'serverless']) {
      const cells = page.locator(`#latency-body tr[data-backend="${backend}"] td`);
      assert.ok(Number(await cells.nth(0).innerText()) > 0, `${backend} requests timed`);
      assert.match(await cells.nth(2).innerText(), /ms$/, `${backend} p50`);
      assert.match(await cells.nth(5).innerText(), /ms$/, `${backend} ingest p95`);
    }
    await screenshot(page, 'backends-compared');

    await page.click('#backend-ecs');
    assert.equal(await text(page, '#backend-url'), ecs.url);
    await page.waitForFunction(() => document.getElementById('cap-backend').textContent === 'on ECS');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the run card exports the run as CSV and NDJSON from its own backend', T, async () => {
    const { page, context, problems } = await openPage({ serverless: standIn.url });
    for (const backend of ['ecs', 'serverless']) {
      await page.click(`#backend-${backend}`);
      await fillForm(page, { user: `exporter-${backend === 'ecs' ? 'e' : 's'}`, sensors: 2, readings: 3, interval: 200 });
      const previous = await currentRunId(page);
      await page.click('#start');
      await page.waitForFunction((id) => document.getElementById('run-id').textContent.trim() !== id, previous);
      await waitForStatus(page, 'SUCCESS');
      const runId = await currentRunId(page);
      const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
      assert.equal(csv.suggestedFilename(), `run-${runId}.csv`);
      const base = backend === 'ecs' ? ecs.url : standIn.url;
      const stored = await allReadings(base, runId);
      assert.ok(stored.length > 0);
      const lines = (await readFile(await csv.path(), 'utf8')).trimEnd().split('\r\n');
      assert.equal(lines[0], 'runId,sensorId,type,reading,timestamp,user');
      assert.equal(lines.length, stored.length + 1, `${backend}: a header and every stored reading`);
      assert.deepEqual(lines.slice(1).map((l) => l.split(',')[4]), stored.map((r) => r.timestamp));
      const [ndjson] = await Promise.all([page.waitForEvent('download'), page.click('#export-ndjson')]);
      const items = (await readFile(await ndjson.path(), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(items, stored, `${backend}: the export is the listing`);
      assert.match(await text(page, '#export-status'), /NDJSON downloaded/);
    }
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('run history pages and filters on each backend; a run report re-reads the run and its permalink reopens it', T, async () => {
    for (const [backend, base] of [['ecs', ecs.url], ['serverless', standIn.url]]) {
      const user = `hist-${backend.slice(0, 3)}`;
      const ids = [];
      for (let i = 0; i < 12; i += 1) {
        const r = await api(base, 'POST', '/api/runs/start', { user, body: { sensorIds: ['s1', 's2'], duration: 60 } });
        assert.equal(r.status, 201);
        ids.push(r.body.id);
        const readings = [0, 1, 2].map((k) => ({ sensorId: k % 2 ? 's2' : 's1', type: 'temperature', reading: 20 + k, timestamp: `2026-11-30T10:00:0${k}Z` }));
        assert.equal((await api(base, 'POST', `/api/runs/${r.body.id}/readings`, { user, body: { readings } })).status, 201);
        const status = i === 0 ? 'FAILED' : 'SUCCESS';
        assert.equal((await api(base, 'POST', `/api/runs/${r.body.id}/finish`, { user, body: { status } })).status, 200);
      }
      const { page, context, problems } = await openPage({ serverless: standIn.url });
      await page.click(`#backend-${backend}`);
      await page.fill('#history-user', user);
      await page.click('#history-show');
      await page.waitForFunction(() => /runs shown/.test(document.getElementById('history-status-line').textContent));
      assert.ok((await page.locator('#history-body tr').count()) <= 10, 'pages of at most 10');
      // A page may hold fewer than its limit: only the end of the cursor ends the listing.
      for (let pages = 1; await page.locator('#history-more').isVisible(); pages += 1) {
        assert.ok(pages < 12, 'the listing ends');
        const before = await page.locator('#history-body tr').count();
        await page.click('#history-more');
        await page.waitForFunction((n) => document.querySelectorAll('#history-body tr').length > n || document.getElementById('history-more').hidden, before);
      }
      await page.waitForFunction(() => /\(all\)/.test(document.getElementById('history-status-line').textContent));
      const listed = await page.$$eval('#history-body tr', (rows) => rows.map((r) => r.dataset.runId));
      assert.deepEqual(listed, [...ids].reverse(), `${backend}: newest first, across pages`);
      await page.selectOption('#history-status', 'FAILED');
      await page.click('#history-show');
      await page.waitForFunction(() => document.querySelectorAll('#history-body tr').length === 1);
      assert.equal(await page.getAttribute('#history-body tr', 'data-run-id'), ids[0]);

      await page.click(`#history-body tr[data-run-id="${ids[0]}"] a`);
      await page.waitForFunction((id) => document.getElementById('report').dataset.loaded === id, ids[0]);
      assert.equal(await text(page, '#report-status'), 'FAILED');
      assert.match(await text(page, '#report-count'), /^3 readings from 2 sensors/);
      assert.equal(await page.locator('#report-summary tr').count(), 2, 'one row per sensor and type');
      assert.ok(await page.locator('#report-chart canvas').count() > 0, 'the chart is drawn from the API');
      const permalink = await page.getAttribute('#report-permalink', 'href');
      assert.equal(permalink, `#/${backend}/runs/${ids[0]}`);

      const again = await context.newPage();
      await again.route('**/config.json', (route) =>
        route.fulfill({ json: { backends: { ecs: '', serverless: standIn.url }, grafanaUrl: null } }),
      );
      await again.goto(`${ecs.url}/${permalink}`);
      await again.waitForFunction((id) => document.getElementById('report').dataset.loaded === id, ids[0]);
      assert.equal(await again.getAttribute(`#backend-${backend}`, 'aria-checked'), 'true', 'the permalink selects its backend');
      assert.equal(await again.locator('#report-id').innerText(), ids[0]);
      await screenshot(again, `run-report-${backend}`);
      assert.deepEqual(problems, []);
      await context.close();
    }
  });

  test('a run of mine is abandoned from the running list (FAILED)', T, async () => {
    const r = await api(ecs.url, 'POST', '/api/runs/start', { user: 'walker', body: { sensorIds: ['s1'], duration: 600 } });
    assert.equal(r.status, 201);
    const { page, context } = await openPage({ serverless: standIn.url });
    await page.fill('#username', 'walker');
    await page.waitForSelector(`#running-body button[data-abandon="${r.body.id}"]`, { timeout: 10_000 });
    await page.click(`#running-body button[data-abandon="${r.body.id}"]`);
    await page.waitForFunction(() => /abandoned/.test(document.getElementById('message').textContent));
    const run = (await api(ecs.url, 'GET', `/api/runs/${r.body.id}`)).body;
    assert.deepEqual([run.status, run.errorMessage], ['FAILED', 'abandoned from the running list']);
    await context.close();
  });

  test('page fixes: keyboard toggle, accessible names, finish again after a failed finish, a leave-page confirmation', T, async () => {
    const { page, context } = await openPage({ serverless: standIn.url });
    await page.focus('#backend-ecs');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#backend-serverless', 'aria-checked'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'backend-serverless');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.getAttribute('#backend-ecs', 'aria-checked'), 'true');
    assert.equal(await page.getAttribute('#backend-serverless', 'tabindex'), '-1', 'one tab stop for the group');
    assert.equal(await page.getAttribute('#run-progress', 'aria-label'), 'readings sent');
    assert.match(await page.getAttribute('#chart', 'aria-label'), /readings/);

    let failFinish = true;
    await page.route('**/api/runs/*/finish', (route) =>
      failFinish
        ? route.fulfill({ status: 400, json: { error: 'bad_request', message: 'refused by a proxy on the way' } })
        : route.continue(),
    );
    await fillForm(page, { user: 'finisher', sensors: 1, readings: 2, interval: 200 });
    await page.click('#start');
    await page.waitForSelector('#finish-again:not([hidden])', { timeout: 60_000 });
    const runId = await currentRunId(page);
    assert.equal((await api(ecs.url, 'GET', `/api/runs/${runId}`)).body.status, 'RUNNING');
    failFinish = false;
    await page.click('#finish-again');
    await waitForStatus(page, 'SUCCESS');
    assert.ok(await page.locator('#finish-again').isHidden());
    assert.equal((await api(ecs.url, 'GET', `/api/runs/${runId}`)).body.status, 'SUCCESS');

    await fillForm(page, { user: 'leaver', sensors: 1, readings: 100, interval: 1000 });
    await page.click('#start');
    await waitForStatus(page, 'RUNNING');
    const leaving = await currentRunId(page);
    const asked = new Promise((resolve) => page.on('dialog', (dialog) => { resolve(dialog.type()); dialog.accept(); }));
    await page.close({ runBeforeUnload: true });
    assert.equal(await asked, 'beforeunload');
    for (let i = 0; i < 50 && (await api(ecs.url, 'GET', `/api/runs/${leaving}`)).body.status === 'RUNNING'; i += 1) await sleep(200);
    const left = (await api(ecs.url, 'GET', `/api/runs/${leaving}`)).body;
    assert.deepEqual([left.status, left.errorMessage], ['FAILED', 'the page was closed during the run']);
    await context.close();
  });

  test('on a phone (390×844) the page does not scroll sideways and the selects are full width', T, async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await page.goto(`${ecs.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    assert.ok(scroll <= client, `scrollWidth ${scroll} > ${client}`);
    const [select, card] = await Promise.all([
      page.locator('#mode').boundingBox(),
      page.locator('#form').boundingBox(),
    ]);
    assert.ok(select.width >= card.width - 2, `select ${select.width} of ${card.width}`);
    await screenshot(page, 'phone');
    await context.close();
  });

  test('the compare view runs the same simulation on both backends at once and shows them side by side', T, async () => {
    const { page, context, problems } = await openPage({ serverless: standIn.url });
    assert.ok(await page.locator('#compare-local').isHidden(), 'not marked local: no local notice');
    await fillForm(page, { user: 'comparer', sensors: 2, readings: 6 });
    await page.click('#compare-run');
    await page.waitForFunction(() => document.getElementById('compare-status').textContent.startsWith('done'), null, { timeout: 60_000 });
    const cell = (row, backend) => text(page, `#compare-body tr[data-row="${row}"] td[data-backend="${backend}"]`);
    for (const backend of ['ecs', 'serverless']) {
      assert.match(await cell('single p50 / p95 / p99', backend), /ms \/ .* ms \/ .* ms$/, backend);
      assert.match(await cell('batch p50 / p95 / p99', backend), /ms$/, backend);
      assert.match(await cell('throughput', backend), /readings\/s$/, backend);
      assert.equal(await cell('errors', backend), '0', backend);
      assert.match(await cell('store / handler time', backend), /ms \/ .* ms \(\d+ %\)$/, `${backend}: Server-Timing read through CORS`);
      assert.match(await cell('cost per million readings', backend), /^\$\d/, backend);
    }
    assert.match(await text(page, '#compare-cost'), /Prices \d{4}-\d{2}-\d{2}/);
    // 2 sensors × 6 readings single, as many again in one batch, on each backend.
    for (const base of [ecs.url, standIn.url]) {
      const runs = (await api(base, 'GET', '/api/runs?user=comparer')).body.items;
      assert.equal(runs.length, 1);
      assert.equal(runs[0].status, 'SUCCESS');
      assert.equal((await allReadings(base, runs[0].id)).length, 24);
    }
    await screenshot(page, 'compare-view');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the compare view says plainly when the figures are local', T, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    await page.route('**/config.json', (route) =>
      route.fulfill({ json: { backends: { ecs: '', serverless: standIn.url }, grafanaUrl: null, local: true } }),
    );
    await page.goto(`${ecs.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.match(await text(page, '#compare-local'), /figures are local.*one request per instance at a time/s);
    await context.close();
  });

  test('no run is left RUNNING by the tests above', T, async () => {
    assert.deepEqual(await runningRuns(ecs.url), []);
    assert.deepEqual(await runningRuns(standIn.url), []);
  });
});
