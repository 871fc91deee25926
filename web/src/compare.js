// The compare view's measurement: the same small simulation on every configured backend at once,
// first one reading per request, then the same number of readings in batches, timed in the page
// and read from each answer's Server-Timing header (handler and store time, DynamoDB units, Lambda
// cold starts); then the cost model (cost.js) on what was measured.

import { estimate } from './cost.js';

/** The entries of a Server-Timing header value that the view uses. */
export function parseServerTiming(value) {
  const out = { app: null, store: null, rcu: 0, wcu: 0, cold: null };
  for (const entry of String(value ?? '').split(',')) {
    const [name, ...params] = entry.split(';').map((s) => s.trim());
    const dur = params.find((p) => p.startsWith('dur='));
    const n = dur === undefined ? NaN : Number(dur.slice(4));
    if (!Number.isFinite(n) || n < 0) continue;
    if (name === 'app' || name === 'store' || name === 'cold') out[name] = n;
    if (name === 'rcu' || name === 'wcu') out[name] += n;
  }
  return out;
}

/** Nearest-rank percentile of a sorted array. */
function rank(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** p50/p95/p99 and a histogram (8 bins from the fastest to the slowest sample). */
export function latencyStats(samples, bins = 8) {
  const sorted = [...samples].sort((a, b) => a - b);
  const stats = { count: sorted.length, p50: rank(sorted, 50), p95: rank(sorted, 95), p99: rank(sorted, 99), histogram: [] };
  if (!sorted.length) return stats;
  const lo = sorted[0];
  const width = Math.max((sorted[sorted.length - 1] - lo) / bins, 1e-9);
  stats.histogram = Array.from({ length: bins }, (_, i) => ({ from: lo + i * width, to: lo + (i + 1) * width, count: 0 }));
  for (const ms of sorted) stats.histogram[Math.min(bins - 1, Math.floor((ms - lo) / width))].count += 1;
  return stats;
}

/** Sends `jobs` (async functions) with at most `concurrency` in flight. */
async function pool(jobs, concurrency) {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
}

/**
 * Runs the comparison workload on one backend: a run of `sensors` sensors; `readings` readings per
 * sensor sent one per request (4 at a time), then as many again in batches of `batchSize`; finish.
 */
export async function measureBackend(client, { user, sensors, readings, batchSize = 50, now = () => performance.now() }) {
  const sensorIds = Array.from({ length: sensors }, (_, i) => `sensor-${i + 1}`);
  const result = {
    key: client.key, label: client.label, runId: null, status: 'UNKNOWN', errors: 0, requests: 0, readings: 0,
    seconds: 0, coldStarts: 0, appMs: 0, storeMs: 0, billedMs: 0, rcu: 0, wcu: 0, timed: 0, problem: null,
    single: latencyStats([]), batch: latencyStats([]),
  };
  let run;
  try {
    run = (await client.startRun(user, { sensorIds, duration: 600, interval: 1 })).data;
  } catch (e) {
    result.problem = e.message;
    return result;
  }
  result.runId = run.id;
  const base = Date.now();
  const make = (offset) => sensorIds.flatMap((sensorId, s) =>
    Array.from({ length: readings }, (_, i) => ({
      sensorId, type: 'temperature', reading: 18 + ((i + s * 7) % 80) / 10,
      timestamp: new Date(base + (offset + i) * 1000).toISOString().replace('Z', '000Z'),
    })));
  const record = (samples, count) => async (send) => {
    const t0 = now();
    try {
      const answer = await send();
      samples.push(now() - t0);
      result.readings += count;
      const t = parseServerTiming(answer.headers?.get?.('Server-Timing'));
      if (t.app !== null) {
        result.timed += 1;
        result.appMs += t.app;
        result.billedMs += Math.max(1, Math.ceil(t.app));
      }
      result.storeMs += t.store ?? 0;
      result.rcu += t.rcu;
      result.wcu += t.wcu;
      if (t.cold !== null) result.coldStarts += 1;
    } catch {
      result.errors += 1;
    }
    result.requests += 1;
  };
  const single = [];
  const batch = [];
  const started = now();
  const singles = make(0).map((reading) => () => record(single, 1)(() => client.sendReading(user, run.id, reading)));
  await pool(singles, 4);
  const rest = make(readings);
  const batches = [];
  for (let i = 0; i < rest.length; i += batchSize) {
    const chunk = rest.slice(i, i + batchSize);
    batches.push(() => record(batch, chunk.length)(() => client.sendBatch(user, run.id, chunk)));
  }
  await pool(batches, 2);
  result.seconds = (now() - started) / 1000;
  result.single = latencyStats(single);
  result.batch = latencyStats(batch);
  try {
    const finished = await client.finishRun(user, run.id, result.errors ? { status: 'FAILED', errorMessage: 'the comparison saw errors' } : {});
    result.status = finished.data.status;
  } catch (e) {
    result.problem = `finish: ${e.message}`;
  }
  return result;
}

/** The cost model's workload from a comparison's results (see cost.js), at batch size 1. */
export function costWorkload(results, { sensors }) {
  const sls = results.find((r) => r.key === 'serverless') ?? results[0];
  const ecs = results.find((r) => r.key === 'ecs') ?? results[0];
  const per = (r, v) => (r.timed ? v / r.timed : 0);
  return {
    readingsPerRequest: 1,
    serverless: {
      memoryMb: 256, architecture: 'x86_64',
      billedMsPerRequest: Math.max(1, per(sls, sls.billedMs)),
      wcuPerRequest: per(sls, sls.wcu), rcuPerRequest: per(sls, sls.rcu),
      logBytesPerRequest: 700,
      metricSeriesPerRun: 2 * sensors, runHours: sls.seconds / 3600, runsPerMonth: 1000, alwaysOnMetricSeries: 0,
    },
    ecs: {
      taskVcpu: 0.25, taskMemoryGb: 0.5,
      taskReadingsPerSecond: Math.max(1, ecs.seconds ? ecs.readings / ecs.seconds : 1),
      rdsStorageGb: 20, albNewConnectionsPerRequest: 0, albBytesPerRequest: 600,
    },
  };
}

/** Every backend at once, then the cost of each architecture for what was measured. */
export async function runComparison(clients, params, prices) {
  const results = await Promise.all(clients.map((c) => measureBackend(c, params)));
  const rate = Math.max(...results.map((r) => (r.seconds ? r.readings / r.seconds : 0)), 0.001);
  const cost = prices ? estimate(prices, costWorkload(results, params), rate) : null;
  return { results, cost };
}
