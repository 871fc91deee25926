// npm run build: copies the UI into dist/ with the chart library vendored, ready for app-ecs
// (WEB_DIR=web/dist) or an S3 bucket behind CloudFront. No bundler: the browser loads ES modules.
//
// dist/config.json is the default runtime configuration; deployments overwrite it (one build serves
// every deployment). Keep index.html and config.json on a short cache TTL.

import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const uplot = join(root, 'node_modules', 'uplot');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
for (const entry of ['index.html', 'style.css', 'src']) cpSync(join(root, entry), join(dist, entry), { recursive: true });

// The default runtime configuration; fails the build if it is not valid JSON.
const config = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'));
writeFileSync(join(dist, 'config.json'), `${JSON.stringify(config)}\n`);

const vendor = join(dist, 'vendor', 'uplot');
mkdirSync(vendor, { recursive: true });
for (const [from, to] of [
  ['dist/uPlot.esm.js', 'uPlot.esm.js'],
  ['dist/uPlot.min.css', 'uPlot.min.css'],
  ['LICENSE', 'LICENSE'],
]) {
  cpSync(join(uplot, from), join(vendor, to));
}
const version = JSON.parse(readFileSync(join(uplot, 'package.json'), 'utf8')).version;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}
const all = files(dist);
const bytes = all.reduce((sum, f) => sum + statSync(f).size, 0);
console.log(`built ${relative(process.cwd(), dist) || '.'}: ${all.length} files, ${(bytes / 1024).toFixed(0)} KiB (uPlot ${version} vendored)`);
