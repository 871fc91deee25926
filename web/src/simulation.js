// One simulation: start a run, send its readings on schedule, finish it — never leave it RUNNING.

import { ApiError } from './errors.js';
import { plannedDurationSecs, sensorIds } from './validate.js';

/** Waits before retry n (6 attempts in all, about 8 s). */
export const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000];
/** Readings in flight at once in per-reading mode (a browser opens 6 connections per host). */
const CONCURRENCY = 6;
/** Typical value, step of the random walk, and bounds, per reading type. */
const PROFILES = {
  temperature: { base: 21, step: 0.25, min: -20, max: 50 },
  humidity: { base: 45, step: 1, min: 0, max: 100 },
  pressure: { base: 1013, step: 0.6, min: 950, max: 1060 },
};

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ApiError('aborted', 'cancelled'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    function onAbort() {
      clearTimeout(timer);
      reject(new ApiError('aborted', 'cancelled'));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function brief(error) {
  if (!(error instanceof ApiError)) return String(error?.message ?? error);
  const what = error.kind === 'http' ? `${error.status} ${error.code ?? ''}`.trim() : error.kind;
  return `${what}: ${error.message}`;
}

/**
 * Phases: `starting` → `running` → `finishing` → `done` (or back to `idle` when the start fails).
 * Emits `change` whenever something visible changes.
 */
export class Simulation extends EventTarget {
  constructor({ api, user, sensors, readingsPerSensor, intervalMs, mode = 'single', kind = 'temperature' }) {
    super();
    Object.assign(this, { api, user, readingsPerSensor, intervalMs, mode, kind });
    this.sensorIds = sensorIds(sensors);
    this.total = sensors * readingsPerSensor;
    this.sent = 0;
    this.retries = 0;
    this.phase = 'idle';
    this.run = null;
    this.error = null; // why sending stopped, if it did
    this.finishError = null; // the finish call itself failed
    this.abandoned = false;
    this.controller = new AbortController();
    this.unacked = new Set(); // client timestamps (ms) generated but not yet stored
    this.lastTs = 0;
    this.values = new Map();
    this.done = Promise.resolve();
  }

  emit() {
    this.dispatchEvent(new Event('change'));
  }

  get active() {
    return this.phase === 'starting' || this.phase === 'running' || this.phase === 'finishing';
  }

  /** Starts the run (throws ApiError when the backend refuses), then sends in the background. */
  async start() {
    this.phase = 'starting';
    this.emit();
    try {
      const { data } = await this.api.startRun(this.user, {
        sensorIds: this.sensorIds,
        duration: plannedDurationSecs(this.readingsPerSensor, this.intervalMs),
        interval: this.intervalMs / 1000,
      });
      this.run = data;
    } catch (e) {
      this.phase = 'idle';
      this.emit();
      throw e;
    }
    this.phase = 'running';
    this.emit();
    this.done = this.execute();
    return this.run;
  }

  /** Stops sending and finishes the run as FAILED. Resolves when the run is finished. */
  abandon() {
    if (this.phase === 'running') {
      this.abandoned = true;
      this.controller.abort();
    }
    return this.done;
  }

  /**
   * The page is going away: finish the run as FAILED with a request that outlives the page
   * (`keepalive`). Best effort; if even that fails the run ends as TIMEOUT on the backend.
   */
  finishOnUnload() {
    if (this.phase !== 'running' || !this.run) return;
    this.closing = true; // the loop's own abort must not finish the run with another message
    this.controller.abort();
    this.api
      .finishRun(this.user, this.run.id, { status: 'FAILED', errorMessage: 'the page was closed during the run' }, { keepalive: true })
      .catch(() => {});
  }

  /**
   * Every reading with a timestamp below this has been stored: reading the run back from here on
   * (inclusive) misses nothing. Infinity once nothing more will be sent.
   */
  lowWatermark() {
    if (this.phase === 'starting') return 0;
    if (this.phase !== 'running') return Infinity;
    if (this.unacked.size > 0) return Math.min(...this.unacked);
    return this.lastTs + 1;
  }

  async execute() {
    let outcome;
    try {
      await this.loop();
      outcome = { status: 'SUCCESS' };
    } catch (e) {
      if (this.closing) {
        // The page is closing: its keepalive finish says why ("the page was closed during the run").
      } else if (this.abandoned) {
        outcome = { status: 'FAILED', errorMessage: 'abandoned by the user' };
      } else if (e instanceof ApiError && e.code === 'run_not_running') {
        this.error = e; // ended elsewhere (timeout, interrupt-all): nothing to finish
      } else {
        this.error = e;
        outcome = { status: 'FAILED', errorMessage: `the page could not continue sending: ${brief(e)}`.slice(0, 500) };
      }
    }
    this.phase = 'finishing';
    this.emit();
    if (outcome) await this.finish(outcome);
    else await this.refresh();
    this.phase = 'done';
    this.emit();
  }

  async finish(outcome) {
    this.lastOutcome = outcome; // what "finish again" sends
    try {
      const { data } = await this.withRetry(() => this.api.finishRun(this.user, this.run.id, outcome));
      this.run = data;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'run_not_running') await this.refresh();
      else this.finishError = e;
    }
  }

  async refresh() {
    try {
      this.run = (await this.api.getRun(this.run.id)).data;
    } catch {
      // keep what we know
    }
  }

  async loop() {
    const signal = this.controller.signal;
    const t0 = performance.now();
    for (let tick = 0; tick < this.readingsPerSensor; tick += 1) {
      await sleep(t0 + tick * this.intervalMs - performance.now(), signal);
      const ts = Math.max(Date.now(), this.lastTs + 1);
      this.lastTs = ts;
      const timestamp = new Date(ts).toISOString();
      const readings = this.sensorIds.map((sensorId) => ({
        sensorId,
        type: this.kind,
        reading: this.nextValue(sensorId),
        timestamp,
      }));
      this.unacked.add(ts);
      if (this.mode === 'batch') {
        await this.withRetry(() => this.api.sendBatch(this.user, this.run.id, readings, { signal }), signal);
        this.sent += readings.length;
        this.emit();
      } else {
        await this.sendEach(readings, signal);
      }
      this.unacked.delete(ts);
    }
  }

  /** One POST /api/sensors/data per reading, like real devices, a few at a time. */
  async sendEach(readings, signal) {
    let next = 0;
    let failure = null;
    const worker = async () => {
      while (failure === null && next < readings.length) {
        const reading = readings[next];
        next += 1;
        try {
          await this.withRetry(() => this.api.sendReading(this.user, this.run.id, reading, { signal }), signal);
          this.sent += 1;
          this.emit();
        } catch (e) {
          failure ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, readings.length) }, worker));
    if (failure) throw failure;
  }

  /**
   * Retries what may succeed later (no answer, 408, 429, 5xx) with the very same body: a reading
   * carries its client timestamp, so a replay of a stored one is answered 200, never doubled.
   */
  async withRetry(call, signal) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await call();
      } catch (e) {
        if (!(e instanceof ApiError) || !e.retryable || attempt >= RETRY_DELAYS_MS.length || signal?.aborted) throw e;
        this.retries += 1;
        this.emit();
        const wait = e.status === 429 && e.retryAfter ? Math.min(e.retryAfter * 1000, 10_000) : RETRY_DELAYS_MS[attempt];
        await sleep(wait, signal);
      }
    }
  }

  nextValue(sensorId) {
    const p = PROFILES[this.kind] ?? PROFILES.temperature;
    let v = this.values.get(sensorId);
    if (v === undefined) {
      const index = this.sensorIds.indexOf(sensorId);
      v = p.base + ((index % 7) - 3) * p.step * 4;
    }
    v = Math.min(p.max, Math.max(p.min, v + (Math.random() * 2 - 1) * p.step));
    this.values.set(sensorId, v);
    return Math.round(v * 100) / 100;
  }
}
