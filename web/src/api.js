// A small client of API v1 (docs/api.md), one per backend. Every exchange is timed into a LatencyBook.

import { ApiError } from './errors.js';

const DEFAULT_TIMEOUT_MS = 15_000;

function joinUrl(base, path) {
  return `${base.replace(/\/+$/, '')}${path}`;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A random UUID v4, also where `crypto.randomUUID` is missing (pages served over plain HTTP). */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class ApiClient {
  /**
   * @param {object} o
   * @param {string} o.key      `ecs` | `serverless`
   * @param {string} o.label    shown to people
   * @param {string} o.base     absolute base URL (no trailing slash)
   * @param {import('./latency.js').LatencyBook} [o.latency]
   */
  constructor({ key, label, base, latency }) {
    Object.assign(this, { key, label, base, latency });
    this.sameOrigin = new URL(base, location.href).origin === location.origin;
  }

  get backend() {
    return { key: this.key, label: this.label, base: this.base };
  }

  /**
   * One call. Resolves to `{ status, data, headers }` for 2xx; throws ApiError otherwise.
   * `kind` (`ingest` | `other`) only sorts the latency sample.
   */
  async request(method, path, { user, runId, idempotencyKey, body, signal, timeoutMs = DEFAULT_TIMEOUT_MS, keepalive, kind = 'other' } = {}) {
    const url = joinUrl(this.base, path);
    const headers = { Accept: 'application/json' };
    if (user) headers['X-User'] = user;
    if (runId) headers['X-Run-Id'] = runId;
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const timeout = AbortSignal.timeout(timeoutMs);
    const signals = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const started = performance.now();
    let response;
    let text;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signals,
        cache: 'no-store',
        mode: 'cors',
        credentials: 'omit',
        keepalive,
      });
      text = await response.text();
    } catch (e) {
      if (signal?.aborted) throw new ApiError('aborted', 'request cancelled', { method, path });
      if (timeout.aborted) {
        this.latency?.recordError(this.key);
        throw new ApiError('timeout', `${method} ${path} timed out`, { method, path, timeoutMs });
      }
      this.latency?.recordError(this.key);
      throw await this.diagnose(e, method, path);
    }
    this.latency?.record(this.key, kind, performance.now() - started);
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!response.ok) {
      const retryAfter = response.headers.get('Retry-After');
      throw new ApiError('http', data?.message ?? `${response.status} ${response.statusText}`, {
        status: response.status,
        statusText: response.statusText,
        code: typeof data === 'object' && data ? data.error : undefined,
        body: data,
        requestId: response.headers.get('X-Request-Id') ?? undefined,
        retryAfter: retryAfter == null ? undefined : Number(retryAfter),
        method,
        path,
      });
    }
    return { status: response.status, data, headers: response.headers };
  }

  /**
   * A fetch that failed without a response is either a backend that does not answer or one that
   * answered without allowing our origin (CORS): the browser hides which. An opaque `no-cors` probe
   * tells them apart: it succeeds whenever the server answers at all.
   */
  async diagnose(cause, method, path) {
    const details = { method, path, url: this.base, origin: location.origin, cause };
    if (location.protocol === 'https:' && this.base.startsWith('http:')) {
      return new ApiError('unreachable', 'mixed content', { ...details, mixedContent: true });
    }
    if (!this.sameOrigin) {
      try {
        await fetch(joinUrl(this.base, '/health'), { mode: 'no-cors', cache: 'no-store', signal: AbortSignal.timeout(3000) });
        return new ApiError('cors', `the backend at ${this.base} does not allow the origin ${location.origin}`, details);
      } catch {
        // nothing answers: unreachable
      }
    }
    return new ApiError('unreachable', `nothing answers at ${this.base}`, details);
  }

  canStart(user, opts) {
    return this.request('GET', '/api/runs/can-start', { user, ...opts });
  }

  running(opts) {
    return this.request('GET', '/api/runs/running', opts);
  }

  getRun(id, opts) {
    return this.request('GET', `/api/runs/${encodeURIComponent(id)}`, opts);
  }

  /**
   * Starts a run under a fresh Idempotency-Key, retried once with the same key when the answer
   * is lost (timeout, connection, 5xx): the backend then answers the run the first attempt
   * created instead of starting a second one.
   */
  async startRun(user, body, opts) {
    const send = (idempotencyKey) => this.request('POST', '/api/runs/start', { user, body, idempotencyKey, ...opts });
    const key = newIdempotencyKey();
    try {
      return await send(key);
    } catch (e) {
      const lost = e.kind === 'timeout' || e.kind === 'unreachable' || (e.kind === 'http' && e.status >= 500);
      if (!lost) throw e;
      return send(key);
    }
  }

  finishRun(user, id, body, opts) {
    return this.request('POST', `/api/runs/${encodeURIComponent(id)}/finish`, { user, body, ...opts });
  }

  sendReading(user, runId, reading, opts) {
    return this.request('POST', '/api/sensors/data', { user, runId, body: reading, kind: 'ingest', ...opts });
  }

  sendBatch(user, runId, readings, opts) {
    return this.request('POST', `/api/runs/${encodeURIComponent(runId)}/readings`, {
      user,
      body: { readings },
      kind: 'ingest',
      ...opts,
    });
  }

  /**
   * Every reading of a run as a file (`csv` or `ndjson`), streamed by the API page by page
   * (`Accept: text/csv` / `application/x-ndjson` on the readings listing). Resolves to a Blob.
   */
  async exportReadings(runId, format, { timeoutMs = 120_000 } = {}) {
    const accept = format === 'csv' ? 'text/csv' : 'application/x-ndjson';
    const path = `/api/runs/${encodeURIComponent(runId)}/readings`;
    let response;
    try {
      response = await fetch(joinUrl(this.base, path), {
        headers: { Accept: accept }, cache: 'no-store', mode: 'cors', credentials: 'omit', signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw await this.diagnose(e, 'GET', path);
    }
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new ApiError('http', data?.message ?? `${response.status} ${response.statusText}`, {
        status: response.status, code: data?.error, body: data, method: 'GET', path,
      });
    }
    return response.blob();
  }

  /** One page of a run's readings (ascending). */
  readings(runId, { from, cursor, limit = 1000 } = {}, opts) {
    return this.request('GET', `/api/runs/${encodeURIComponent(runId)}/readings${query({ from, cursor, limit })}`, opts);
  }
}
