// The page: wires the form, the backend toggle, the capacity widget, the running-runs list, the
// current run (with its live chart) and the latency table together.

import { ApiClient } from './api.js';
import { runComparison } from './compare.js';
import { LiveChart, ReadingsFeed } from './chart.js';
import { BACKENDS, loadConfig } from './config.js';
import { describeError } from './errors.js';
import { LatencyBook } from './latency.js';
import { Simulation } from './simulation.js';
import { isValidUsername, validateForm } from './validate.js';

const POLL_MS = 2000; // capacity + running list: at most one poll per 2 s, none while hidden
const CHART_POLL_MS = 1000;

const $ = (id) => document.getElementById(id);
const latency = new LatencyBook();
const state = {
  config: null,
  clients: {}, // key → ApiClient, configured backends only
  backend: 'ecs',
  capacity: null,
  running: [],
  polledAt: null,
  connection: null, // the error of the last poll, if it failed
  lastPoll: -Infinity,
  pollTimer: 0,
  polling: false,
  sim: null,
  feed: null,
  feedError: null,
};
let chart;

// ---------------------------------------------------------------- helpers

function current() {
  return state.clients[state.backend];
}

function el(tag, { dataset, ...props } = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
}

function duration(ms) {
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function millis(ms) {
  if (!Number.isFinite(ms)) return '–';
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/** Time left and fraction elapsed of a run, from its start and planned duration. */
function schedule(run, now = Date.now()) {
  const start = Date.parse(run.startedAt);
  const end = start + run.duration * 1000;
  return { remaining: end - now, fraction: Math.min(1, Math.max(0, (now - start) / (end - start))) };
}

function username() {
  return $('username').value.trim();
}

function formValues() {
  return {
    username: username(),
    sensors: $('sensors').value,
    readings: $('readings').value,
    intervalMs: $('interval').value,
  };
}

// ---------------------------------------------------------------- messages

function showMessage(text, level = 'error', hint) {
  const box = $('message');
  box.className = `notice ${level}`;
  box.replaceChildren(el('span', { textContent: text }));
  if (hint) box.append(el('span', { className: 'hint', textContent: hint }));
  box.hidden = false;
}

function clearMessage() {
  $('message').hidden = true;
}

function showError(error, client) {
  const { text, hint } = describeError(error, client.backend);
  showMessage(text, 'error', hint);
}

// ---------------------------------------------------------------- rendering

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  renderToggle();
  renderConnection();
  renderCapacity();
  renderRunning();
  renderRun();
  renderLatency();
  renderButtons();
}

function renderToggle() {
  for (const { key } of BACKENDS) {
    const button = $(`backend-${key}`);
    button.setAttribute('aria-checked', String(key === state.backend));
    button.tabIndex = key === state.backend ? 0 : -1; // one tab stop; arrow keys move within
    button.disabled = !state.clients[key];
    button.title = state.clients[key]
      ? `${state.clients[key].base}${state.sim?.active ? ' (the current run stays on its own backend)' : ''}`
      : 'not configured in config.json';
  }
  const client = current();
  $('backend-url').textContent = client ? client.base : 'no backend configured';
  $('openapi-link').href = client ? `${client.base}/api/openapi.json` : '#';
  $('cap-backend').textContent = client ? `on ${client.label}` : '';
  $('running-backend').textContent = client ? `on ${client.label}` : '';
}

function renderConnection() {
  const box = $('connection');
  if (!state.connection || !current()) {
    box.hidden = true;
    return;
  }
  const { text, hint } = describeError(state.connection, current().backend);
  box.replaceChildren(el('span', { textContent: text }));
  if (hint) box.append(el('span', { className: 'hint', textContent: hint }));
  box.hidden = false;
}

function renderCapacity() {
  const c = state.capacity;
  $('cap-running').textContent = c ? c.currentRunning : '–';
  $('cap-max').textContent = c ? c.maxAllowed : '–';
  $('cap-available').textContent = c ? c.available : '–';
  $('cap-available').classList.toggle('full', !!c && c.available === 0);
  $('cap-user').textContent =
    c && c.userRunning !== undefined ? `yours: ${c.userRunning} of ${c.userMaxAllowed}${c.canStart ? '' : ' — no start possible now'}` : '';
  $('cap-updated').textContent = state.polledAt ? `updated ${state.polledAt.toLocaleTimeString()}` : '';
}

function renderRunning() {
  const body = $('running-body');
  const me = username();
  const rows = state.running.map((run) => {
    const { remaining, fraction } = schedule(run);
    const mine = run.username === me;
    const ours = state.sim?.run?.id === run.id;
    return el(
      'tr',
      { className: ours ? 'ours' : '', dataset: { runId: run.id } },
      el('td', { textContent: mine ? `${run.username} (you)` : run.username }),
      el('td', { textContent: String(run.sensorIds.length) }),
      el('td', {}, el('progress', { max: 1, value: fraction, ariaLabel: `progress of run ${run.id.slice(0, 8)}` }), ` ${Math.round(fraction * 100)} %`),
      el('td', { textContent: remaining > 0 ? duration(remaining) : 'overdue' }),
      el('td', { textContent: new Date(run.startedAt).toLocaleTimeString() }),
      el('td', {}, el('a', { href: `#/${state.backend}/runs/${run.id}`, textContent: run.id.slice(0, 8), title: run.id })),
      el('td', {},
        ...(mine && !ours ? [el('button', { type: 'button', className: 'danger small', textContent: 'Abandon', dataset: { abandon: run.id } })] : []),
        ...(run.grafanaUrl ? [' ', el('a', { href: run.grafanaUrl, target: '_blank', rel: 'noopener', textContent: 'Grafana ↗' })] : [])),
    );
  });
  if (rows.length === 0) {
    const label = current()?.label ?? '';
    rows.push(el('tr', {}, el('td', { colSpan: 7, className: 'muted', textContent: state.connection ? '–' : `No run is running on ${label}.` })));
  }
  body.replaceChildren(...rows);
}

function renderRun() {
  const sim = state.sim;
  $('run-empty').hidden = !!sim?.run;
  $('run-details').hidden = !sim?.run;
  if (!sim?.run) return;
  const run = sim.run;
  $('run-id').textContent = run.id;
  $('run-backend').textContent = sim.api.label;
  const status = $('run-status');
  status.textContent = run.status;
  status.dataset.status = run.status;
  $('run-phase').textContent =
    { running: 'sending…', finishing: 'finishing…' }[sim.phase] ?? (sim.phase === 'done' && run.status === 'RUNNING' ? 'not finished' : '');
  $('run-progress').value = sim.total ? sim.sent / sim.total : 0;
  $('run-sent').textContent = `${sim.sent} / ${sim.total} readings (${sim.mode === 'batch' ? 'batch' : 'one POST each'})`;
  $('run-retries').textContent = String(sim.retries);
  $('finish-again').hidden = !(sim.finishError && sim.phase === 'done' && run.status === 'RUNNING');
  $('run-remaining').textContent = run.status === 'RUNNING' ? duration(schedule(run).remaining) : 'finished';
  const error = $('run-error');
  error.hidden = !run.errorMessage;
  error.textContent = run.errorMessage ? `errorMessage: ${run.errorMessage}` : '';
  const grafana = $('grafana-link');
  grafana.hidden = !run.grafanaUrl;
  if (run.grafanaUrl) grafana.href = run.grafanaUrl;
  const feed = state.feed;
  if (feed) {
    $('chart-count').textContent =
      `${feed.count} readings read back from ${sim.api.label} (GET /api/runs/{id}/readings, ${feed.pages} pages)` +
      (state.feedError ? ` — last read failed: ${describeError(state.feedError, sim.api.backend).text}` : '');
  }
}

function renderLatency() {
  const rows = BACKENDS.filter(({ key }) => state.clients[key]).map(({ key, label }) => {
    const s = latency.stats(key);
    return el(
      'tr',
      { dataset: { backend: key } },
      el('th', { textContent: label }),
      el('td', { textContent: String(s.all.count) }),
      el('td', { textContent: String(s.errors) }),
      el('td', { textContent: millis(s.all.p50) }),
      el('td', { textContent: millis(s.all.p95) }),
      el('td', { textContent: millis(s.ingest.p50) }),
      el('td', { textContent: millis(s.ingest.p95) }),
    );
  });
  $('latency-body').replaceChildren(...rows);
}

function renderFieldErrors(errors) {
  const fields = { username: 'username', sensors: 'sensors', readings: 'readings', intervalMs: 'interval' };
  for (const [field, id] of Object.entries(fields)) {
    $(`${id}-error`).textContent = errors[field] ?? '';
    $(id).setAttribute('aria-invalid', String(!!errors[field]));
  }
}

function renderButtons() {
  const busy = !!state.sim?.active;
  const full = state.capacity?.canStart === false;
  $('start').disabled = busy || !current() || full;
  $('start').title = full && !busy ? 'Capacity is full: Start is enabled again when a run ends' : '';
  $('abandon').disabled = !(state.sim?.phase === 'running');
}

// ---------------------------------------------------------------- polling

function schedulePoll() {
  clearTimeout(state.pollTimer);
  if (document.hidden || !current()) return;
  const wait = Math.max(0, state.lastPoll + POLL_MS - performance.now());
  state.pollTimer = setTimeout(poll, wait);
}

async function poll() {
  if (document.hidden || state.polling) return;
  const client = current();
  if (!client) return;
  state.polling = true;
  state.lastPoll = performance.now();
  const user = isValidUsername(username()) ? username() : undefined;
  try {
    const [capacity, running] = await Promise.all([client.canStart(user), client.running()]);
    if (client === current()) {
      state.capacity = capacity.data;
      state.running = running.data;
      state.polledAt = new Date();
      state.connection = null;
    }
  } catch (e) {
    if (client === current()) {
      state.connection = e;
      state.capacity = null;
      state.running = [];
    }
  } finally {
    state.polling = false;
    render();
    schedulePoll();
  }
}

async function followReadings(sim, feed) {
  const pause = () => new Promise((r) => setTimeout(r, CHART_POLL_MS));
  while (state.feed === feed) {
    if (document.hidden) {
      await pause();
      continue;
    }
    const last = sim.phase === 'done';
    try {
      await feed.poll();
      state.feedError = null;
    } catch (e) {
      state.feedError = e;
    }
    if (state.feed !== feed) return;
    await chart.draw(feed, sim.sensorIds, sim.kind);
    scheduleRender();
    if (last) return;
    await pause();
  }
}

// ---------------------------------------------------------------- actions

function selectBackend(key) {
  if (!state.clients[key] || key === state.backend) return;
  state.backend = key;
  localStorage.setItem('iot.backend', key);
  state.capacity = null;
  state.running = [];
  state.connection = null;
  state.polledAt = null;
  render();
  schedulePoll();
  if (runHistory.backend && runHistory.backend !== key) loadHistory();
}

async function start(event) {
  event.preventDefault();
  const check = validateForm(formValues());
  renderFieldErrors(check.errors);
  if (!check.ok) {
    showMessage('Fix the highlighted fields first.', 'error');
    return;
  }
  if (state.sim?.active) return;
  const client = current();
  const { username: user, sensors, readings, intervalMs } = check.value;
  localStorage.setItem('iot.username', user);
  const previous = { sim: state.sim, feed: state.feed };
  const sim = new Simulation({
    api: client,
    user,
    sensors,
    readingsPerSensor: readings,
    intervalMs,
    mode: $('mode').value,
    kind: $('kind').value,
  });
  sim.addEventListener('change', scheduleRender);
  state.sim = sim;
  clearMessage();
  try {
    await sim.start();
  } catch (e) {
    Object.assign(state, previous);
    if ((e.kind === 'unreachable' || e.kind === 'cors') && client === current()) {
      // The connection notice explains it (with what to do); keep this one short.
      state.connection = e;
      showMessage(`Run not started: ${describeError(e, client.backend).text}`, 'error');
    } else {
      showError(e, client);
    }
    render();
    schedulePoll();
    return;
  }
  showMessage(`Run ${sim.run.id} started on ${client.label}: sending ${sim.total} readings.`, 'info');
  state.feed = new ReadingsFeed(client, sim.run.id, () => sim.lowWatermark());
  state.feedError = null;
  chart.clear();
  followReadings(sim, state.feed);
  sim.done.then(() => reportOutcome(sim));
  render();
  schedulePoll();
}

function reportOutcome(sim) {
  const run = sim.run;
  if (sim.finishError) {
    const { text } = describeError(sim.finishError, sim.api.backend);
    const deadline = new Date(Date.parse(run.startedAt) + run.duration * 1000).toLocaleTimeString();
    showMessage(`Run ${run.id} could not be finished: ${text} The backend ends it as TIMEOUT after ${deadline} plus its grace period.`, 'error');
  } else if (sim.abandoned) {
    showMessage(`Run abandoned after ${sim.sent} of ${sim.total} readings: finished as ${run.status}.`, 'warning');
  } else if (sim.error) {
    const { text, hint } = describeError(sim.error, sim.api.backend);
    showMessage(`Sending stopped after ${sim.sent} of ${sim.total} readings: ${text} The run is ${run.status}.`, 'error', hint);
  } else {
    showMessage(`Run finished ${run.status}: ${sim.sent} readings sent to ${sim.api.label}.`, 'success');
  }
  render();
  schedulePoll();
}

async function abandon() {
  const sim = state.sim;
  if (!sim || sim.phase !== 'running') return;
  $('abandon').disabled = true;
  await sim.abandon();
}

function validateLive() {
  const check = validateForm(formValues());
  renderFieldErrors(check.errors);
}

// ---------------------------------------------------------------- export

async function exportRun(format) {
  const sim = state.sim;
  if (!sim?.run) return;
  $('export-status').textContent = `exporting ${format.toUpperCase()}…`;
  try {
    const blob = await sim.api.exportReadings(sim.run.id, format);
    const link = el('a', { href: URL.createObjectURL(blob), download: `run-${sim.run.id}.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    $('export-status').textContent = `${format.toUpperCase()} downloaded (${blob.size} bytes)`;
  } catch (e) {
    $('export-status').textContent = describeError(e, sim.api.backend).text;
  }
}

// ---------------------------------------------------------------- history and run report

const runHistory = { cursor: null, backend: null, token: 0 };
let reportChart;

async function loadHistory({ reset = true } = {}) {
  const client = current();
  if (!client) return;
  if (reset) {
    runHistory.cursor = null;
    $('history-body').replaceChildren();
    $('history-more').hidden = true;
    $('history-status-line').textContent = 'loading…';
  }
  runHistory.backend = client.key;
  $('history-backend').textContent = `on ${client.label}`;
  const user = $('history-user').value.trim();
  const params = new URLSearchParams({ limit: '10' });
  if (user) params.set('user', user);
  if ($('history-status').value) params.set('status', $('history-status').value);
  if (runHistory.cursor) params.set('cursor', runHistory.cursor);
  const token = ++runHistory.token;
  try {
    const { data } = await client.request('GET', `/api/runs?${params}`);
    if (token !== runHistory.token) return; // a newer listing was asked for meanwhile
    $('history-body').append(
      ...data.items.map((run) =>
        el('tr', { dataset: { runId: run.id } },
          el('td', {}, el('a', { href: `#/${client.key}/runs/${run.id}`, textContent: run.id.slice(0, 8), title: run.id })),
          el('td', { textContent: run.username }),
          el('td', {}, el('span', { className: 'badge', textContent: run.status, dataset: { status: run.status } })),
          el('td', { textContent: new Date(run.startedAt).toLocaleString() }),
          el('td', { textContent: String(run.sensorIds.length) }),
        )),
    );
    runHistory.cursor = data.nextCursor ?? null;
    $('history-more').hidden = !runHistory.cursor;
    const shown = $('history-body').children.length;
    $('history-status-line').textContent = shown ? `${shown} runs shown${runHistory.cursor ? '' : ' (all)'}` : 'No run matches.';
  } catch (e) {
    if (token === runHistory.token) $('history-status-line').textContent = describeError(e, client.backend).text;
  }
}

/** `#/{backend}/runs/{id}` → `{backend, id}`. */
function reportRoute(hash = location.hash) {
  const m = /^#\/(ecs|serverless)\/runs\/([0-9a-f-]{36})$/.exec(hash);
  return m ? { backend: m[1], id: m[2] } : null;
}

async function openReport({ backend, id }) {
  if (!state.clients[backend]) return;
  selectBackend(backend);
  const client = state.clients[backend];
  $('report').hidden = false;
  $('report-id').textContent = id;
  $('report-backend').textContent = client.label;
  $('report-permalink').href = `#/${backend}/runs/${id}`;
  $('report-summary').replaceChildren();
  $('report-export-status').textContent = '';
  try {
    const [{ data: run }, { data: summary }] = await Promise.all([
      client.getRun(id),
      client.request('GET', `/api/runs/${encodeURIComponent(id)}/summary`),
    ]);
    $('report-owner').textContent = run.username;
    $('report-status').textContent = run.status;
    $('report-status').dataset.status = run.status;
    const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
    $('report-duration').textContent = `${duration(end - Date.parse(run.startedAt))} (planned ${duration(run.duration * 1000)})`;
    $('report-grafana').hidden = !run.grafanaUrl;
    if (run.grafanaUrl) $('report-grafana').href = run.grafanaUrl;
    const count = summary.sensors.reduce((n, s) => n + s.count, 0);
    $('report-count').textContent = `${count} readings from ${run.sensorIds.length} sensors`;
    $('report-summary').replaceChildren(
      ...summary.sensors.map((s) =>
        el('tr', {},
          ...[s.sensorId, s.type, String(s.count), s.min.toFixed(2), s.max.toFixed(2), s.avg.toFixed(2),
            new Date(s.first).toLocaleTimeString(), new Date(s.last).toLocaleTimeString()].map((t) => el('td', { textContent: t })))),
    );
    const feed = new ReadingsFeed(client, id);
    await feed.poll();
    reportChart ??= new LiveChart($('report-chart'));
    const kinds = [...new Set(summary.sensors.map((s) => s.type))];
    await reportChart.draw(feed, run.sensorIds, kinds[0] ?? 'temperature');
    $('report').dataset.loaded = id;
  } catch (e) {
    $('report-count').textContent = describeError(e, client.backend).text;
  }
}

async function exportReport(format) {
  const route = reportRoute($('report-permalink').getAttribute('href') ?? '');
  if (!route) return;
  const client = state.clients[route.backend];
  try {
    const blob = await client.exportReadings(route.id, format);
    const link = el('a', { href: URL.createObjectURL(blob), download: `run-${route.id}.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    $('report-export-status').textContent = `${format.toUpperCase()} downloaded (${blob.size} bytes)`;
  } catch (e) {
    $('report-export-status').textContent = describeError(e, client.backend).text;
  }
}

function setUpHistory() {
  $('history-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    loadHistory();
  });
  $('history-more').addEventListener('click', () => loadHistory({ reset: false }));
  $('report-csv').addEventListener('click', () => exportReport('csv'));
  $('report-ndjson').addEventListener('click', () => exportReport('ndjson'));
  window.addEventListener('hashchange', () => {
    const route = reportRoute();
    if (route) openReport(route);
  });
  const route = reportRoute();
  if (route) openReport(route);
  loadHistory();
}

// ---------------------------------------------------------------- compare view

const SPARKS = '▁▂▃▄▅▆▇█';

function sparkline(histogram) {
  const top = Math.max(1, ...histogram.map((b) => b.count));
  return histogram.map((b) => SPARKS[Math.round((b.count / top) * (SPARKS.length - 1))]).join('');
}

function money(usd) {
  return Number.isFinite(usd) ? `$${usd < 100 ? usd.toFixed(2) : Math.round(usd)}` : '–';
}

function latencyCell(stats) {
  if (!stats.count) return '–';
  return `${millis(stats.p50)} / ${millis(stats.p95)} / ${millis(stats.p99)}`;
}

function renderComparison({ results, cost }) {
  const head = el('tr', {}, el('th', { scope: 'col', textContent: '' }), ...results.map((r) => el('th', { scope: 'col', textContent: r.label })));
  $('compare-head').replaceChildren(head);
  const side = (r) => (r.key === 'serverless' ? cost?.serverless : cost?.ecs);
  const rows = [
    ['single p50 / p95 / p99', (r) => latencyCell(r.single)],
    ['single histogram', (r) => el('span', { textContent: sparkline(r.single.histogram), title: `${millis(r.single.histogram[0]?.from)} – ${millis(r.single.histogram.at(-1)?.to)}`, ariaLabel: `histogram of ${r.single.count} single requests` })],
    ['batch p50 / p95 / p99', (r) => latencyCell(r.batch)],
    ['batch histogram', (r) => el('span', { textContent: sparkline(r.batch.histogram), ariaLabel: `histogram of ${r.batch.count} batch requests` })],
    ['throughput', (r) => (r.seconds ? `${(r.readings / r.seconds).toFixed(1)} readings/s` : '–')],
    ['errors', (r) => String(r.errors + (r.problem ? 1 : 0)) + (r.problem ? ` (${r.problem})` : '')],
    ['cold starts seen', (r) => String(r.coldStarts)],
    ['store / handler time', (r) => (r.timed ? `${millis(r.storeMs / r.timed)} / ${millis(r.appMs / r.timed)} (${Math.round((100 * r.storeMs) / Math.max(r.appMs, 1e-9))} %)` : '–')],
    ['DynamoDB units / request', (r) => (r.timed && r.rcu + r.wcu > 0 ? `${(r.wcu / r.timed).toFixed(2)} WCU, ${(r.rcu / r.timed).toFixed(2)} RCU` : '–')],
    ['cost per million readings', (r) => money(side(r)?.perMillionReadings)],
    ['cost a month at the measured rate', (r) => money(side(r)?.monthly.measured)],
    ['cost a month at 1 / 10 / 100 readings/s', (r) => (side(r) ? ['1', '10', '100'].map((k) => money(side(r).monthly[k])).join(' / ') : '–')],
  ];
  $('compare-body').replaceChildren(
    ...rows.map(([name, cell]) => el('tr', { dataset: { row: name } }, el('th', { scope: 'row', textContent: name }),
      ...results.map((r) => el('td', { dataset: { backend: r.key } }, cell(r))))),
  );
  $('compare-table').hidden = false;
  $('compare-cost').textContent = cost
    ? `Prices ${cost.priceTable} (us-east-1, on-demand). Break-even: ${cost.breakEvenReadingsPerSecond === null ? 'none' : `${cost.breakEvenReadingsPerSecond.toFixed(1)} readings/s`} (below it Serverless costs less).`
    : 'The price table could not be read: no cost estimate.';
}

async function compareBackends() {
  const clients = BACKENDS.map(({ key }) => state.clients[key]).filter(Boolean);
  const check = validateForm(formValues());
  if (!isValidUsername(username())) {
    renderFieldErrors(check.errors);
    showMessage('Enter a valid username first.', 'error');
    return;
  }
  const sensors = Math.min(10, Number($('sensors').value) || 1);
  const readings = Math.min(50, Number($('readings').value) || 1);
  $('compare-run').disabled = true;
  $('compare-status').textContent = `running on ${clients.map((c) => c.label).join(' and ')}…`;
  let prices = null;
  try {
    prices = await (await fetch('src/cost/prices.json', { cache: 'no-store' })).json();
  } catch {
    prices = null;
  }
  try {
    const comparison = await runComparison(clients, { user: username(), sensors, readings }, prices);
    renderComparison(comparison);
    $('compare-status').textContent = `done: ${sensors} sensors × ${readings} readings, single then batch`;
  } catch (e) {
    $('compare-status').textContent = `failed: ${e.message}`;
  } finally {
    $('compare-run').disabled = false;
  }
}

function setUpCompare(config) {
  const configured = BACKENDS.filter(({ key }) => state.clients[key]);
  $('compare-run').disabled = configured.length < 2;
  if (configured.length < 2) $('compare-status').textContent = 'needs both backends in config.json';
  if (config.local) {
    $('compare-local').textContent =
      'These figures are local: both backends run on this machine with debug builds, and Serverless runs ' +
      'under the Lambda runtime emulator on a DynamoDB emulator. The emulator serves one request per instance ' +
      'at a time, so under concurrency Serverless looks slower here because requests queue, not because of ' +
      'Lambda. Deployed figures differ.';
    $('compare-local').hidden = false;
  }
  $('compare-run').addEventListener('click', compareBackends);
}

// ---------------------------------------------------------------- start-up

async function main() {
  chart = new LiveChart($('chart'));
  const config = await loadConfig();
  state.config = config;
  for (const { key, label } of BACKENDS) {
    const base = config.backends[key];
    if (base) state.clients[key] = new ApiClient({ key, label, base, latency });
  }
  const saved = localStorage.getItem('iot.backend');
  state.backend = state.clients[saved] ? saved : BACKENDS.find(({ key }) => state.clients[key])?.key ?? 'ecs';
  if (config.warning) showMessage(config.warning, 'warning');
  if (config.grafanaUrl) {
    $('grafana-home').href = config.grafanaUrl;
    $('grafana-home').hidden = false;
  }
  $('username').value = localStorage.getItem('iot.username') ?? `player-${Math.floor(Math.random() * 9000 + 1000)}`;

  for (const { key } of BACKENDS) $(`backend-${key}`).addEventListener('click', () => selectBackend(key));
  $('form').addEventListener('submit', start);
  $('abandon').addEventListener('click', abandon);
  $('form').addEventListener('input', validateLive);
  $('username').addEventListener('change', () => {
    if (isValidUsername(username())) localStorage.setItem('iot.username', username());
  });
  latency.onChange(scheduleRender);
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) clearTimeout(state.pollTimer);
    else schedulePoll();
  });
  // Leaving mid-run: finish it as FAILED rather than leave it RUNNING until its timeout.
  window.addEventListener('pagehide', () => state.sim?.finishOnUnload());
  setInterval(() => {
    if (!document.hidden) scheduleRender(); // remaining times tick
  }, 1000);

  setUpCompare(config);
  setUpHistory();
  // The toggle is a radio group: arrow keys select the other backend and move the focus with it.
  document.querySelector('.toggle').addEventListener('keydown', (event) => {
    if (!['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'].includes(event.key)) return;
    event.preventDefault();
    const keys = BACKENDS.map(({ key }) => key).filter((key) => state.clients[key]);
    const step = event.key === 'ArrowLeft' || event.key === 'ArrowUp' ? -1 : 1;
    const next = keys[(keys.indexOf(state.backend) + step + keys.length) % keys.length];
    selectBackend(next);
    $(`backend-${next}`).focus();
  });
  // Leaving while a run is sending: ask first (closing anyway still finishes it FAILED).
  window.addEventListener('beforeunload', (event) => {
    if (state.sim?.phase === 'running') {
      event.preventDefault();
      event.returnValue = '';
    }
  });
  $('finish-again').addEventListener('click', async () => {
    const sim = state.sim;
    if (!sim?.finishError) return;
    $('finish-again').disabled = true;
    sim.finishError = null;
    await sim.finish(sim.lastOutcome ?? { status: 'SUCCESS' });
    $('finish-again').disabled = false;
    reportOutcome(sim);
  });
  $('running-body').addEventListener('click', async (event) => {
    const id = event.target?.dataset?.abandon;
    if (!id) return;
    event.target.disabled = true;
    try {
      await current().finishRun(username(), id, { status: 'FAILED', errorMessage: 'abandoned from the running list' });
      showMessage(`Run ${id.slice(0, 8)} abandoned (FAILED).`, 'success');
    } catch (e) {
      const { text, hint } = describeError(e, current().backend);
      showMessage(text, 'error', hint);
    }
    state.lastPoll = -Infinity;
    schedulePoll();
  });
  for (const format of ['csv', 'ndjson']) $(`export-${format}`).addEventListener('click', () => exportRun(format));
  document.body.dataset.ready = 'true';
  render();
  schedulePoll();
}

main();
