#!/usr/bin/env node
// Takes the README's screenshot (docs/images/playground.png) with the browser tests' own set-up:
// the app-ecs binary on its in-memory store serving web/dist, Debian's headless Chromium through
// playwright-core. A run of four sensors is started and shot while the chart fills.
//
//   (cd web && npm ci && npm run build) && node scripts/readme-screenshot.mjs
//   APP_ECS_BIN=/path/to/app-ecs   the binary to run (default: $CARGO_TARGET_DIR/debug/app-ecs)

import { join } from 'node:path';
import { distDir, launchBrowser, repoRoot, sleep, startAppEcs } from '../web/tests/helpers.mjs';

const out = join(repoRoot, 'docs', 'images', 'playground.png');
const ecs = await startAppEcs({ env: { WEB_DIR: distDir } });
const browser = await launchBrowser();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${ecs.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#username', 'alice');
  await page.fill('#sensors', '4');
  await page.fill('#readings', '40');
  await page.fill('#interval', '200');
  await page.click('#start');
  await page.waitForFunction(() => Number(document.getElementById('chart-count')?.textContent.replace(/\D/g, '')) >= 60, null, { timeout: 60_000 });
  await sleep(500);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
  await page.click('#abandon').catch(() => {});
  await context.close();
} finally {
  await browser.close();
  await ecs.stop();
}
