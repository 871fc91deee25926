// Latency measured in the page, per backend, so ECS and Serverless can be compared side by side.

const KEEP = 2000; // samples kept per backend and kind (a ring buffer)

/** Nearest-rank percentile of an ascending array (p in 0..100); NaN when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

class Samples {
  constructor() {
    this.values = [];
    this.next = 0;
    this.count = 0;
  }

  add(ms) {
    if (this.values.length < KEEP) this.values.push(ms);
    else this.values[this.next] = ms;
    this.next = (this.next + 1) % KEEP;
    this.count += 1;
  }

  stats() {
    const sorted = [...this.values].sort((a, b) => a - b);
    return { count: this.count, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
  }
}

/**
 * Records how long each HTTP exchange took (request sent → body read), per backend. `kind` is
 * `ingest` for POSTs of readings, `other` for everything else; `all` aggregates both.
 * Network failures are counted as errors but have no latency.
 */
export class LatencyBook {
  constructor() {
    this.backends = new Map();
    this.listeners = new Set();
  }

  entry(backend) {
    let e = this.backends.get(backend);
    if (!e) {
      e = { all: new Samples(), ingest: new Samples(), errors: 0 };
      this.backends.set(backend, e);
    }
    return e;
  }

  record(backend, kind, ms) {
    const e = this.entry(backend);
    e.all.add(ms);
    if (kind === 'ingest') e.ingest.add(ms);
    this.changed();
  }

  recordError(backend) {
    this.entry(backend).errors += 1;
    this.changed();
  }

  /** `{ all: {count, p50, p95}, ingest: {…}, errors }` of a backend. */
  stats(backend) {
    const e = this.entry(backend);
    return { all: e.all.stats(), ingest: e.ingest.stats(), errors: e.errors };
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  changed() {
    for (const fn of this.listeners) fn();
  }
}
