// The browsable API page app-ecs serves at /api/docs (Redoc, compiled into the binary), in a real
// headless Chromium: it renders every operation of /api/openapi.json and gets nothing from any other
// origin (no CDN at run time). Redoc's bundle asks for its vendor's logo on a CDN; the page's
// Content-Security-Policy blocks that before it leaves the browser.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, screenshot, startAppEcs } from './helpers.mjs';

const T = { timeout: 90_000 };
let ecs;
let browser;

before(async () => {
  ecs = await startAppEcs();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await ecs?.stop();
});

test('the API page renders the OpenAPI document from the server alone', T, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const requests = [];
  const answered = [];
  const blocked = [];
  const problems = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('response', (r) => answered.push(r.url()));
  page.on('requestfailed', (r) => blocked.push({ url: r.url(), error: r.failure()?.errorText }));
  page.on('pageerror', (e) => problems.push(e.message));

  await page.goto(`${ecs.url}/api/docs`);
  // Redoc renders one section per operation, titled by its summary.
  await page.locator('h2', { hasText: 'Start a run for the caller' }).waitFor({ timeout: 30_000 });
  await page.locator('h2', { hasText: 'Ingest up to 1000 readings at once' }).waitFor();
  assert.match(await page.title(), /iot-playground API/);

  const doc = await (await fetch(`${ecs.url}/api/openapi.json`)).json();
  const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item)).length;
  const rendered = await page.locator('[data-section-id^="tag/"][data-section-id*="/operation/"]').count();
  assert.equal(rendered, operations, 'every operation of the document has its section');

  const local = (u) => u.startsWith(ecs.url) || u.startsWith('data:') || u.startsWith('blob:');
  assert.deepEqual(answered.filter((u) => !local(u)), [], 'no answer from another origin');
  for (const url of requests.filter((u) => !local(u))) {
    const failure = blocked.find((b) => b.url === url);
    assert.match(failure?.error ?? 'sent', /^csp$|BLOCKED_BY_CSP/, `${url} must be blocked by the page's policy`);
  }
  assert.ok(requests.includes(`${ecs.url}/api/openapi.json`), 'the document comes from the server');
  assert.deepEqual(problems, []);
  await screenshot(page, 'api-page');
  await context.close();
});
