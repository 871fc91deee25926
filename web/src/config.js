// The runtime configuration: config.json next to index.html, read at every page load, so one
// build serves every deployment (app-ecs, S3 + CloudFront, the local playground).
//
//   {"backends": {"ecs": "", "serverless": "https://….lambda-url…/"}, "grafanaUrl": null, "local": false}
//
// A base URL of "" means the page's own origin (the UI served by app-ecs); null or a missing key
// means that backend is not deployed.

export const BACKENDS = [
  { key: 'ecs', label: 'ECS' },
  { key: 'serverless', label: 'Serverless' },
];

/** The absolute base URL for a configured value, or null when not configured. */
export function resolveBase(value, origin) {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (text === '') return origin;
  return text.replace(/\/+$/, '');
}

/** Loads config.json; on failure falls back to "ECS on this origin" and says why in `warning`. */
export async function loadConfig(url = 'config.json') {
  let raw = {};
  let warning;
  try {
    const response = await fetch(url, { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    raw = await response.json();
  } catch (e) {
    warning = `Could not read ${url} (${e.message}); using the ECS API of this origin only.`;
    raw = { backends: { ecs: '' } };
  }
  const backends = {};
  for (const { key } of BACKENDS) backends[key] = resolveBase(raw?.backends?.[key], location.origin);
  const grafanaUrl = typeof raw?.grafanaUrl === 'string' && raw.grafanaUrl.trim() ? raw.grafanaUrl.trim() : null;
  // `local: true` (scripts/playground writes it): the backends run on this machine, emulators
  // included, and the compare view says that its figures are local.
  const local = raw?.local === true;
  return { backends, grafanaUrl, local, warning };
}
