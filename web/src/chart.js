// The live chart: a run's readings read back from the API (cursor paging), drawn with uPlot.

const UNITS = { temperature: '°C', humidity: '%', pressure: 'hPa' };
const LEGEND_MAX = 10; // more sensors than this: lines only, no legend

/** The vendored chart library (web/vendor, copied to web/dist/vendor by the build); null if missing. */
async function loadUPlot() {
  try {
    return (await import('../vendor/uplot/uPlot.esm.js')).default;
  } catch {
    return null;
  }
}

/**
 * Reads a run's readings incrementally. `watermark()` returns a client timestamp (ms) below which
 * every reading is already stored: the next poll starts there (`from` is inclusive) and duplicates
 * are dropped by key, so late retries are never missed and nothing is counted twice.
 */
export class ReadingsFeed {
  constructor(api, runId, watermark = () => null) {
    Object.assign(this, { api, runId, watermark });
    this.byKey = new Map();
    this.from = undefined;
    this.pages = 0;
  }

  get count() {
    return this.byKey.size;
  }

  /** Fetches what is new; returns how many readings were added. */
  async poll(opts) {
    const mark = this.watermark();
    let added = 0;
    let cursor;
    do {
      const { data } = await this.api.readings(this.runId, { from: this.from, cursor, limit: 1000 }, opts);
      this.pages += 1;
      for (const r of data.items) {
        const key = `${r.sensorId}\u0000${r.type}\u0000${r.timestamp}`;
        if (!this.byKey.has(key)) {
          this.byKey.set(key, r);
          added += 1;
        }
      }
      cursor = data.nextCursor;
    } while (cursor);
    if (Number.isFinite(mark) && mark > 0) this.from = new Date(mark).toISOString();
    return added;
  }

  /** uPlot data: `[xs (s), series per sensor…]`, aligned on timestamps. */
  table(sensorIds) {
    const column = new Map(sensorIds.map((id, i) => [id, i]));
    const rows = new Map();
    for (const r of this.byKey.values()) {
      const i = column.get(r.sensorId);
      if (i === undefined) continue;
      const x = Date.parse(r.timestamp) / 1000;
      let row = rows.get(x);
      if (!row) {
        row = new Array(sensorIds.length).fill(null);
        rows.set(x, row);
      }
      row[i] = r.reading;
    }
    const xs = [...rows.keys()].sort((a, b) => a - b);
    return [xs, ...sensorIds.map((_, i) => xs.map((x) => rows.get(x)[i]))];
  }
}

// Twenty colours that stay apart from each other (the Tableau 20 palette); past twenty sensors,
// hues spaced by the golden angle.
const PALETTE = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94', '#f7b6d2', '#c7c7c7', '#dbdb8d', '#9edae5',
];

const pad2 = (n) => String(n).padStart(2, '0');

/**
 * Labels of the time axis (ticks in seconds): a short run gets clock times down to the second
 * (and tenths when ticks are closer than a second), never the bare ":05" of a default time axis.
 */
export function timeLabels(splits) {
  const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 1;
  return splits.map((t) => {
    const d = new Date(t * 1000);
    const hms = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    return step < 1 ? `${hms}.${Math.floor(d.getMilliseconds() / 100)}` : hms;
  });
}

/** The line colour of the i-th sensor: distinct for the first twenty. */
export function sensorColor(i) {
  return PALETTE[i] ?? `hsl(${Math.round((i * 137.508) % 360)} 65% 42%)`;
}

export class LiveChart {
  constructor(container) {
    this.container = container;
    this.plot = null;
    this.key = '';
    this.lib = undefined;
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(container);
  }

  size() {
    return { width: Math.max(200, this.container.clientWidth), height: 280 };
  }

  clear() {
    this.plot?.destroy();
    this.plot = null;
    this.key = '';
    this.container.replaceChildren();
  }

  /** Draws `feed` for `sensorIds` of reading type `kind`. */
  async draw(feed, sensorIds, kind) {
    if (this.lib === undefined) this.lib = await loadUPlot();
    if (!this.lib) {
      this.container.textContent = 'Chart library missing: serve the built UI (npm run build → web/dist).';
      return;
    }
    const data = feed.table(sensorIds);
    const key = `${feed.runId}|${kind}|${sensorIds.length}`;
    if (this.plot && this.key === key) {
      this.plot.setData(data);
      return;
    }
    this.clear();
    this.key = key;
    const UPlot = this.lib;
    this.plot = new UPlot(
      {
        ...this.size(),
        scales: { x: { time: true } },
        legend: { show: sensorIds.length <= LEGEND_MAX },
        cursor: { drag: { x: false, y: false } },
        series: [
          { label: 'time' },
          ...sensorIds.map((id, i) => ({ label: id, stroke: sensorColor(i), width: 1.5, spanGaps: true, points: { size: 4 } })),
        ],
        axes: [{ values: (_, splits) => timeLabels(splits) }, { label: `${kind} (${UNITS[kind] ?? ''})`, size: 60 }],
      },
      data,
      this.container,
    );
  }
}
