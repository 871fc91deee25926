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
      SHUTDOWN_DRAIN_SECS: '0',
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

/** Whether app-lambda can run under the Lambda runtime emulator here (scripts/test provides it). */
export function lambdaAvailable() {
  return ['CARGO_LAMBDA', 'APP_LAMBDA_BIN', 'TEST_DYNAMODB_ENDPOINT'].every((v) => process.env[v]);
}

/**
 * Starts app-lambda for real: `cargo lambda watch --only-lambda-apis` (the Runtime API and the
 * function URL) and the built app-lambda binary as the function `app-lambda`, on fresh tables of
 * the DynamoDB emulator. Resolves once the function URL answers /health; `url` is the base URL a
 * client (the page) uses.
 */
export async function startAppLambda({ env = {} } = {}) {
  const port = await freePort();
  const processes = [];
  const output = [];
  const keep = (chunk) => output.push(String(chunk));
  const watcher = spawn(
    process.env.CARGO_LAMBDA,
    ['lambda', 'watch', '--only-lambda-apis', '--disable-cors', '--invoke-address', '127.0.0.1', '--invoke-port', String(port)],
    // cargo-lambda reads the workspace's metadata even when it builds nothing.
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  processes.push(watcher);
  watcher.stdout.on('data', keep);
  watcher.stderr.on('data', keep);
  const deadline = Date.now() + 30_000;
  // A TCP connect, not an HTTP request: the emulator holds a request to its root until a function
  // named `_` answers, which never comes.
  const listening = () =>
    new Promise((r) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        r(true);
      });
      socket.on('error', () => r(false));
    });
  while (!(await listening())) {
    if (Date.now() > deadline) throw new Error(`the Lambda emulator did not listen on ${port}:\n${output.join('')}`);
    await sleep(50);
  }
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const fn = spawn(process.env.APP_LAMBDA_BIN, [], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_LAMBDA_FUNCTION_NAME: 'app-lambda',
      AWS_LAMBDA_FUNCTION_VERSION: '1',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
      AWS_LAMBDA_RUNTIME_API: `http://127.0.0.1:${port}/.rt/app-lambda`,
      DYNAMODB_ENDPOINT: process.env.TEST_DYNAMODB_ENDPOINT,
      RUNS_TABLE: `web-runs-${suffix}`,
      READINGS_TABLE: `web-readings-${suffix}`,
      CREATE_TABLES: 'true',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.push(fn);
  fn.stderr.on('data', keep);
  fn.stdout.resume(); // EMF metric lines
  const url = `http://127.0.0.1:${port}/lambda-url/app-lambda`;
  for (;;) {
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      for (const p of processes) p.kill('SIGKILL');
      throw new Error(`app-lambda did not answer under the emulator:\n${output.join('').slice(-5000)}`);
    }
    await sleep(100);
  }
  return {
    url,
    port,
    logs: () => output.join(''),
    async stop() {
      for (const p of processes.reverse()) {
        if (p.exitCode !== null || p.signalCode !== null) continue;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
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
