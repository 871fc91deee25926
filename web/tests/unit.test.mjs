// The page's logic without a browser: validation, percentiles, error sentences, the readings feed
// and the sending loop's retries (against a fake API client).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiClient } from '../src/api.js';
import { ReadingsFeed, sensorColor, timeLabels } from '../src/chart.js';
import { resolveBase } from '../src/config.js';
import { ApiError, describeError } from '../src/errors.js';
import { LatencyBook, percentile } from '../src/latency.js';
import { Simulation } from '../src/simulation.js';
import { isValidUsername, plannedDurationSecs, validateForm } from '../src/validate.js';

describe('validation', () => {
  test('usernames follow ^[A-Za-z0-9._-]{3,20}$', () => {
    for (const ok of ['abc', 'a.b_c-d', 'x'.repeat(20), 'User.01']) assert.ok(isValidUsername(ok), ok);
    for (const bad of ['ab', 'x'.repeat(21), 'with space', 'é-accent', '', null]) assert.ok(!isValidUsername(bad), String(bad));
  });

  test('numbers are whole and within the UI ranges', () => {
    const good = validateForm({ username: 'alice', sensors: '100', readings: '1000', intervalMs: '200' });
    assert.deepEqual(good, { ok: true, errors: {}, value: { username: 'alice', sensors: 100, readings: 1000, intervalMs: 200 } });
    const bad = validateForm({ username: 'al', sensors: '0', readings: '1.5', intervalMs: '10001' });
    assert.equal(bad.ok, false);
    assert.deepEqual(Object.keys(bad.errors).sort(), ['intervalMs', 'readings', 'sensors', 'username']);
  });

  test('the planned duration covers every reading, within the API limits', () => {
    assert.equal(plannedDurationSecs(5, 200), 1);
    assert.equal(plannedDurationSecs(1, 200), 1);
    assert.equal(plannedDurationSecs(7, 300), 3);
    assert.equal(plannedDurationSecs(1000, 10_000), 10_000);
  });
});

test('percentiles are nearest-rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 95), 95);
  assert.equal(percentile([7], 95), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  const book = new LatencyBook();
  for (const ms of [10, 20, 30, 40]) book.record('ecs', 'other', ms);
  book.record('ecs', 'ingest', 100);
  book.recordError('ecs');
  const s = book.stats('ecs');
  assert.deepEqual([s.all.count, s.all.p50, s.all.p95, s.ingest.count, s.errors], [5, 30, 100, 1, 1]);
});

test('config: "" is the page origin, null is not configured, trailing slashes go', () => {
  assert.equal(resolveBase('', 'http://h:8080'), 'http://h:8080');
  assert.equal(resolveBase(null, 'http://h'), null);
  assert.equal(resolveBase(undefined, 'http://h'), null);
  assert.equal(resolveBase('https://x.example/prod/', 'http://h'), 'https://x.example/prod');
});

describe('error sentences', () => {
  const serverless = { key: 'serverless', label: 'Serverless', base: 'http://127.0.0.1:9000/lambda-url/app-lambda' };
  const ecs = { key: 'ecs', label: 'ECS', base: 'http://localhost:8080' };

  test('capacity full names its scope and when to retry', () => {
    const e = new ApiError('http', 'x', {
      status: 429,
      code: 'capacity_exhausted',
      retryAfter: 30,
      body: { error: 'capacity_exhausted', scope: 'user', currentRunning: 5, maxAllowed: 5 },
    });
    assert.equal(describeError(e, ecs).text, 'Capacity full (your per-user limit, scope “user”): 5 of 5 runs are running on ECS. Try again in 30 seconds.');
  });

  test('a 400 names its field', () => {
    const e = new ApiError('http', 'x', {
      status: 400,
      code: 'validation_failed',
      body: { error: 'validation_failed', field: 'interval', message: 'interval must be > 0' },
    });
    assert.equal(describeError(e, ecs).text, 'ECS backend rejected the field “interval” (validation_failed): interval must be > 0');
  });

  test('unreachable Serverless says how to start it; CORS names the origin', () => {
    const down = describeError(new ApiError('unreachable', 'x', { url: serverless.base }), serverless);
    assert.match(down.text, /^Serverless backend unreachable: nothing answers at http:\/\/127\.0\.0\.1:9000/);
    assert.match(down.hint, /scripts\/playground/);
    assert.equal(describeError(new ApiError('unreachable', 'x'), ecs).hint, undefined);
    const cors = describeError(new ApiError('cors', 'x', { origin: 'http://localhost:8080' }), serverless);
    assert.match(cors.text, /refused this page by CORS: .* does not allow the origin http:\/\/localhost:8080/);
  });

  test('a 503 store_unavailable tells a busy store from one that is down', () => {
    const answer = (reason) => new ApiError('http', 'x', {
      status: 503,
      code: 'store_unavailable',
      retryAfter: 1,
      requestId: 'r-2',
      body: { error: 'store_unavailable', reason },
    });
    assert.equal(describeError(answer('busy'), ecs).text, 'ECS backend: its store is busy, too many requests are waiting for it; retry in 1 second (request id r-2).');
    assert.equal(describeError(answer('unavailable'), serverless).text, 'Serverless backend: its store is unavailable; retry in 1 second (request id r-2).');
  });

  test('other statuses keep the API message and the request id', () => {
    const e = new ApiError('http', 'x', { status: 500, code: 'internal_error', requestId: 'r-1', body: { error: 'internal_error', message: 'boom' } });
    assert.equal(describeError(e, ecs).text, 'ECS backend answered 500 internal_error: boom (request id r-1)');
    const gateway = new ApiError('http', 'x', { status: 502, statusText: 'Bad Gateway', body: '<html>' });
    assert.equal(describeError(gateway, serverless).text, 'Serverless backend answered 502 Bad Gateway');
  });

  test('what is worth retrying', () => {
    assert.ok(new ApiError('unreachable', '').retryable);
    assert.ok(new ApiError('http', '', { status: 503 }).retryable);
    assert.ok(new ApiError('http', '', { status: 429 }).retryable);
    assert.ok(!new ApiError('http', '', { status: 400 }).retryable);
    assert.ok(!new ApiError('http', '', { status: 409 }).retryable);
    assert.ok(!new ApiError('aborted', '').retryable);
  });
});

/** A fake backend: stores readings by key like the API (a replay answers 200). */
function fakeApi({ failFirst = 0, failAlways = false } = {}) {
  const stored = new Map();
  const calls = { send: 0, finish: [] };
  const run = { id: 'run-1', status: 'RUNNING', startedAt: new Date().toISOString(), duration: 1 };
  const store = (r) => {
    const key = `${r.sensorId}|${r.type}|${r.timestamp}`;
    const replay = stored.has(key);
    stored.set(key, r);
    return replay ? 200 : 201;
  };
  return {
    label: 'Fake',
    backend: { key: 'ecs', label: 'Fake', base: '' },
    stored,
    calls,
    async startRun() {
      return { data: run };
    },
    async sendReading(_user, _runId, reading) {
      calls.send += 1;
      const status = store(reading); // stored even when the answer is then lost
      if (failAlways || calls.send <= failFirst) throw new ApiError('unreachable', 'lost');
      return { status, data: reading };
    },
    async sendBatch(_user, _runId, readings) {
      readings.forEach(store);
      return { status: 201, data: { accepted: readings.length, duplicates: 0 } };
    },
    async finishRun(_user, _id, body) {
      calls.finish.push(body);
      return { data: { ...run, status: body.status, errorMessage: body.errorMessage } };
    },
    async getRun() {
      return { data: run };
    },
    async readings(_runId, { from }) {
      const items = [...stored.values()]
        .filter((r) => !from || r.timestamp >= from)
        .sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.sensorId.localeCompare(b.sensorId));
      return { data: { items } };
    },
  };
}

describe('simulation', () => {
  test('sends every reading once, then finishes SUCCESS; the feed reads them all back', async () => {
    const api = fakeApi();
    const sim = new Simulation({ api, user: 'alice', sensors: 3, readingsPerSensor: 4, intervalMs: 20 });
    await sim.start();
    const feed = new ReadingsFeed(api, 'run-1', () => sim.lowWatermark());
    await feed.poll();
    await sim.done;
    await feed.poll();
    assert.equal(api.stored.size, 12);
    assert.equal(sim.sent, 12);
    assert.deepEqual(api.calls.finish, [{ status: 'SUCCESS' }]);
    assert.equal(feed.count, 12);
    assert.equal(sim.lowWatermark(), Infinity);
    const table = feed.table(sim.sensorIds);
    assert.equal(table.length, 4);
    assert.equal(table[0].length, 4, 'one row per tick');
  });

  test('a lost answer is retried with the same timestamp: stored once', async () => {
    const api = fakeApi({ failFirst: 2 });
    const sim = new Simulation({ api, user: 'alice', sensors: 1, readingsPerSensor: 2, intervalMs: 10 });
    await sim.start();
    await sim.done;
    assert.equal(sim.retries, 2);
    assert.equal(api.stored.size, 2);
    assert.equal(sim.run.status, 'SUCCESS');
  });

  test('when sending cannot continue the run is finished FAILED', { timeout: 20_000 }, async () => {
    const api = fakeApi({ failAlways: true });
    const sim = new Simulation({ api, user: 'alice', sensors: 1, readingsPerSensor: 3, intervalMs: 10 });
    await sim.start();
    await sim.done;
    assert.equal(sim.retries, 5);
    assert.equal(api.calls.finish.length, 1);
    assert.equal(api.calls.finish[0].status, 'FAILED');
    assert.match(api.calls.finish[0].errorMessage, /could not continue sending: unreachable: lost/);
  });

  test('abandon stops the loop and finishes FAILED', async () => {
    const api = fakeApi();
    const sim = new Simulation({ api, user: 'alice', sensors: 2, readingsPerSensor: 1000, intervalMs: 20, mode: 'batch' });
    await sim.start();
    await new Promise((r) => setTimeout(r, 70));
    await sim.abandon();
    const sent = api.stored.size;
    assert.ok(sent > 0 && sent < 2000);
    assert.deepEqual(api.calls.finish, [{ status: 'FAILED', errorMessage: 'abandoned by the user' }]);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(api.stored.size, sent);
  });
});

describe('cost model', async () => {
  const { readFileSync } = await import('node:fs');
  const cost = await import('../src/cost.js');
  const read = (name) => JSON.parse(readFileSync(new URL(`../src/cost/${name}`, import.meta.url), 'utf8'));
  const prices = read('prices.json');
  const worked = read('examples.json');

  test('every price names its region, date and source page', () => {
    assert.equal(prices.region, 'us-east-1');
    for (const [name, p] of Object.entries(prices.prices)) {
      assert.ok(p.usd > 0 && /^\d{4}-\d{2}-\d{2}$/.test(p.date) && p.source.startsWith('https://aws.amazon.com/'), name);
    }
    assert.equal(worked.priceTable, prices.version);
  });

  for (const example of worked.examples) {
    test(`worked example: ${example.name}`, () => {
      const w = example.workload;
      const r = example.readingsPerSecond;
      const sls = cost.serverlessMonthly(prices, w, r);
      const ecs = cost.ecsMonthly(prices, w, r);
      const got = {
        serverlessMonthly: sls,
        ecsMonthly: ecs,
        serverlessPerMillionReadings: cost.perMillionReadings(prices, sls, r),
        ecsPerMillionReadings: cost.perMillionReadings(prices, ecs, r),
        breakEvenReadingsPerSecond: cost.breakEven(prices, w),
      };
      for (const [key, want] of Object.entries(example.expected)) {
        assert.ok(Math.abs(got[key] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${key}: ${got[key]} ≠ ${want}`);
      }
    });
  }

  test('estimate gives both sides at the measured rate and at 1, 10, 100 readings/s', () => {
    const { workload } = worked.examples[0];
    const e = cost.estimate(prices, workload, 10);
    assert.deepEqual(Object.keys(e.ecs.monthly), ['1', '10', '100', 'measured']);
    assert.equal(e.serverless.monthly.measured, e.serverless.monthly['10']);
    assert.ok(e.serverless.monthly['100'] > e.ecs.monthly['100'], 'past the break-even, ECS is cheaper');
    assert.ok(e.serverless.monthly['1'] < e.ecs.monthly['1'], 'below it, Serverless is');
  });
});

describe('compare view', async () => {
  const { latencyStats, measureBackend, parseServerTiming } = await import('../src/compare.js');

  test('Server-Timing entries are read, unknown ones ignored', () => {
    assert.deepEqual(parseServerTiming('app;dur=3.5, store;dur=1.25, rcu;dur=0.5, wcu;dur=2, cold;dur=80, cdn;desc=hit'), {
      app: 3.5, store: 1.25, rcu: 0.5, wcu: 2, cold: 80,
    });
    assert.deepEqual(parseServerTiming(null), { app: null, store: null, rcu: 0, wcu: 0, cold: null });
  });

  test('latency stats give nearest-rank percentiles and a histogram holding every sample', () => {
    const s = latencyStats(Array.from({ length: 100 }, (_, i) => i + 1));
    assert.deepEqual([s.count, s.p50, s.p95, s.p99], [100, 50, 95, 99]);
    assert.equal(s.histogram.reduce((n, b) => n + b.count, 0), 100);
  });

  test('a backend is measured single then batch, from Server-Timing, and its run finished', async () => {
    const sent = { single: 0, batch: [], finished: null };
    const headers = (value) => ({ get: (name) => (name === 'Server-Timing' ? value : null) });
    let first = true;
    const client = {
      key: 'serverless', label: 'Serverless',
      startRun: async (user, body) => ({ data: { id: 'run-1', sensorIds: body.sensorIds } }),
      sendReading: async () => {
        sent.single += 1;
        const cold = first ? ', cold;dur=90' : '';
        first = false;
        return { headers: headers(`app;dur=2.2, store;dur=1.1, rcu;dur=1, wcu;dur=1${cold}`) };
      },
      sendBatch: async (user, runId, readings) => {
        sent.batch.push(readings.length);
        return { headers: headers('app;dur=10, store;dur=8, wcu;dur=25') };
      },
      finishRun: async (user, id, body) => {
        sent.finished = body;
        return { data: { status: 'SUCCESS' } };
      },
    };
    let clock = 0;
    const r = await measureBackend(client, { user: 'alice', sensors: 2, readings: 30, batchSize: 50, now: () => (clock += 5) });
    assert.equal(sent.single, 60);
    assert.deepEqual(sent.batch, [50, 10]);
    assert.deepEqual(sent.finished, {});
    assert.deepEqual([r.status, r.readings, r.requests, r.errors, r.coldStarts], ['SUCCESS', 120, 62, 0, 1]);
    assert.equal(r.single.count, 60);
    assert.equal(r.batch.count, 2);
    assert.equal(r.billedMs, 60 * 3 + 2 * 10);
    assert.equal(r.wcu, 60 + 50);
  });
});

/** What the client reads of the page it runs in (Node has no `location`). */
function onPage(t) {
  globalThis.location = new URL('http://localhost:8080/');
  t.after(() => delete globalThis.location);
}

describe('starting a run', () => {
  test('sends an Idempotency-Key and retries a lost answer under the same key', async (t) => {
    onPage(t);
    const keys = [];
    t.mock.method(globalThis, 'fetch', async (_url, init) => {
      keys.push(init.headers['Idempotency-Key']);
      if (keys.length === 1) throw new TypeError('connection reset');
      return new Response(JSON.stringify({ id: 'run-1' }), { status: 201 });
    });
    const api = new ApiClient({ key: 'ecs', label: 'ECS', base: 'http://localhost:8080' });
    const { status, data } = await api.startRun('alice', { sensorIds: ['s1'] });
    assert.equal(status, 201);
    assert.equal(data.id, 'run-1');
    assert.equal(keys.length, 2);
    assert.match(keys[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(keys[1], keys[0]);
  });

  test('does not retry a refusal, and the next start has a new key', async (t) => {
    onPage(t);
    const keys = [];
    t.mock.method(globalThis, 'fetch', async (_url, init) => {
      keys.push(init.headers['Idempotency-Key']);
      return new Response(JSON.stringify({ error: 'capacity_exhausted', message: 'full' }), { status: 429 });
    });
    const api = new ApiClient({ key: 'ecs', label: 'ECS', base: 'http://localhost:8080' });
    await assert.rejects(api.startRun('alice', { sensorIds: ['s1'] }), { status: 429 });
    await assert.rejects(api.startRun('alice', { sensorIds: ['s1'] }), { status: 429 });
    assert.equal(keys.length, 2);
    assert.notEqual(keys[0], keys[1]);
  });
});

test('the chart gives up to 20 sensors 20 different colours', () => {
  const colours = Array.from({ length: 20 }, (_, i) => sensorColor(i));
  assert.equal(new Set(colours).size, 20);
  assert.ok(sensorColor(20) && !colours.includes(sensorColor(20)));
});

test('the time axis of a short run reads as clock times, to the tenth when ticks are closer than a second', () => {
  const t0 = new Date(2026, 10, 30, 14, 5, 7).getTime() / 1000;
  assert.deepEqual(timeLabels([t0, t0 + 5, t0 + 10]), ['14:05:07', '14:05:12', '14:05:17']);
  assert.deepEqual(timeLabels([t0, t0 + 0.2]), ['14:05:07.0', '14:05:07.2']);
});
