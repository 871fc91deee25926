// Every way a call to a backend can fail, and the sentence the page shows for it.

/**
 * A failed API call. `kind` is one of:
 * - `http`: the backend answered with an error status (`status`, `code`, `body`, `requestId`);
 * - `unreachable`: nothing answered (connection refused, DNS, mixed content…);
 * - `cors`: the backend answered but did not allow this page's origin;
 * - `timeout`: no answer in time;
 * - `aborted`: the page cancelled the call itself.
 */
export class ApiError extends Error {
  constructor(kind, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    Object.assign(this, details);
  }

  /** Worth retrying with the same body (the API is idempotent for readings with timestamps). */
  get retryable() {
    if (this.kind === 'unreachable' || this.kind === 'timeout' || this.kind === 'cors') return true;
    if (this.kind !== 'http') return false;
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

const SERVERLESS_HINT =
  'To run the Serverless backend locally, start the whole playground with scripts/playground ' +
  '(app-lambda under cargo lambda watch on port 9000, on a local DynamoDB emulator).';

function seconds(n) {
  return n === 1 ? '1 second' : `${n} seconds`;
}

/**
 * The sentence for `error` (an ApiError or anything thrown), naming the backend (`{ key, label, base }`).
 * Returns `{ text, hint? }`.
 */
export function describeError(error, backend = { key: 'ecs', label: 'ECS', base: '' }) {
  const who = `${backend.label} backend`;
  if (!(error instanceof ApiError)) {
    return { text: `Unexpected error: ${error?.message ?? String(error)}` };
  }
  switch (error.kind) {
    case 'unreachable':
      return {
        text: `${who} unreachable: nothing answers at ${error.url ?? backend.base}.${error.mixedContent ? ' This https page cannot call an http backend (mixed content).' : ''}`,
        hint: backend.key === 'serverless' ? SERVERLESS_HINT : undefined,
      };
    case 'cors':
      return {
        text: `${who} refused this page by CORS: ${backend.base} answers but does not allow the origin ${error.origin}. Add it to CORS_ALLOWED_ORIGINS of that backend.`,
      };
    case 'timeout':
      return { text: `${who} did not answer within ${Math.round(error.timeoutMs / 1000)} s (${error.method} ${error.path}).` };
    case 'aborted':
      return { text: 'Request cancelled.' };
    default:
      break;
  }
  const body = error.body && typeof error.body === 'object' ? error.body : {};
  const id = error.requestId ? ` (request id ${error.requestId})` : '';
  switch (error.code) {
    case 'capacity_exhausted': {
      const scope = body.scope === 'user' ? 'your per-user limit' : 'global limit';
      const retry = error.retryAfter ?? body.retryAfterSeconds;
      return {
        text: `Capacity full (${scope}, scope “${body.scope ?? 'global'}”): ${body.currentRunning} of ${body.maxAllowed} runs are running on ${backend.label}.` +
          (retry != null ? ` Try again in ${seconds(Number(retry))}.` : ''),
      };
    }
    case 'run_not_running':
      return { text: `The run is ${body.status ?? 'finished'}, no longer RUNNING.` };
    case 'run_not_found':
      return { text: `Run not found on ${backend.label}: ${body.message ?? error.message}` };
    case 'store_unavailable': {
      const retry = error.retryAfter != null ? ` in ${seconds(Number(error.retryAfter))}` : ' later';
      return body.reason === 'busy'
        ? { text: `${who}: its store is busy, too many requests are waiting for it; retry${retry}${id}.` }
        : { text: `${who}: its store is unavailable; retry${retry}${id}.` };
    }
    case 'reading_conflict':
      return { text: `${who} rejected a retried reading as a conflict: ${body.message}` };
    default:
      break;
  }
  if (error.status === 400 && body.field) {
    return { text: `${who} rejected the field “${body.field}” (${body.error}): ${body.message}` };
  }
  if (error.status === 401) return { text: `${who} needs a username (X-User): ${body.message ?? ''}`.trim() };
  if (error.status === 413) return { text: `${who}: request too large: ${body.message ?? ''}`.trim() };
  if (body.message) return { text: `${who} answered ${error.status} ${body.error ?? ''}: ${body.message}${id}` };
  return { text: `${who} answered ${error.status} ${error.statusText ?? ''}${id}`.replace(/\s+/g, ' ').trim() };
}
