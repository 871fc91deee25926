// Shared by the browser tests: free ports, app-ecs processes, Chromium, API calls, screenshots.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(webDir, '..');
export const distDir = join(webDir, 'dist');
export const screenshotsDir = join(repoRoot, 'artifacts', 'screenshots');
export const appEcsBin =
  process.env.APP_ECS_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(repoRoot, 'target'), 'debug', 'app-ecs');
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on right now (app-ecs has no PORT=0). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts the built app-ecs binary on the in-memory store on a free port; resolves once /health
 * answers. `env` adds or overrides variables (MAX_CONCURRENT_RUNS, WEB_DIR, CORS…).
 */
export async function startAppEcs({ env = {}, cwd = tmpdir() } = {}) {
  if (!existsSync(appEcsBin)) throw new Error(`${appEcsBin} is missing: run cargo build -p app-ecs (or set APP_ECS_BIN)`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const base = { ...process.env };
  for (const name of ['DATABASE_URL', 'WEB_DIR', 'GRAFANA_URL', 'ADMIN_USERS', 'CORS_ALLOWED_ORIGINS']) delete base[name];
  const child = spawn(appEcsBin, [], {
    cwd, // not the repository: without WEB_DIR no UI is found and served
    env: {
      ...base,
      BIND_ADDRESS: '127.0.0.1',
      PORT: String(port),
      SHUTDOWN_TIMEOUT_SECS: '2',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let gone = null;
  exited.then((e) => {
    gone = e;
  });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`app-ecs exited during start-up (${JSON.stringify(gone)}):\n${output}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`app-ecs not healthy on ${url} after 30 s:\n${output}`);
    }
    await sleep(100);
  }
  return {
    url,
    port,
    logs: () => output,
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function launchBrowser() {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install chromium (scripts/test-browser does)`);
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
}

/** Calls the API from the test (Node's fetch): `{ status, body }`. */
export async function api(base, method, path, { user, runId, body } = {}) {
  const headers = {};
  if (user) headers['X-User'] = user;
  if (runId) headers['X-Run-Id'] = runId;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** All readings of a run, following nextCursor. */
export async function allReadings(base, runId) {
  const items = [];
  let cursor;
  do {
    const q = new URLSearchParams({ limit: '1000' });
    if (cursor) q.set('cursor', cursor);
    const { status, body } = await api(base, 'GET', `/api/runs/${runId}/readings?${q}`);
    if (status !== 200) throw new Error(`readings: ${status} ${JSON.stringify(body)}`);
    items.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return items;
}

export async function screenshot(page, name) {
  mkdirSync(screenshotsDir, { recursive: true });
  const path = join(screenshotsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
