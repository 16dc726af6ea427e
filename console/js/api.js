// The API as the console's only source of truth: same-origin requests with
// the session cookie, the CSRF token on writes, errors as ApiError.
import { ctx } from './state.js';

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status === 0 ? 'offline' : 'http_' + status);
    // The request may not have been done: a write can be sent again.
    this.unsent = status === 0 || status >= 500;
    this.field = e.field || null;
    this.retryAfter = retryAfter;
  }
  // A route the server does not have yet (the console runs ahead of it).
  get missingRoute() {
    return this.status === 404 && this.message === 'no such route';
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

// method, path ("/v1/..."), body (an object, sent as JSON), options:
// {quiet401: true} leaves a 401 to the caller (sign-in, the first /v1/me).
// A request with no answer after TIMEOUT_MS ends as code 'timeout': a
// fetch waits forever on a half-open connection (a phone between cells,
// a proxy that hangs), and a form left "saving…" with its button off
// could be neither sent again nor left.
// {slow: fn} is a write whose late answer still counts (a busy service
// saves it after 20 s): at TIMEOUT_MS fn() is called and the request goes
// on until WRITE_LIMIT_MS; {signal} ends it sooner (code 'superseded':
// the same write sent again in its place).
export const TIMEOUT_MS = 20000;
export const WRITE_LIMIT_MS = 120000;
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && ctx.csrf) headers['X-CSRF-Token'] = ctx.csrf;
  const abort = new AbortController();
  let timer = setTimeout(() => {
    if (!opts.slow) return abort.abort();
    timer = setTimeout(() => abort.abort(), WRITE_LIMIT_MS - TIMEOUT_MS);
    opts.slow();
  }, TIMEOUT_MS);
  const superseded = () => abort.abort();
  if (opts.signal) opts.signal.addEventListener('abort', superseded);
  if (opts.signal && opts.signal.aborted) abort.abort(); // ended before it began
  let res, text;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: abort.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    text = res.status === 204 ? '' : await res.text();
  } catch {
    const code = opts.signal && opts.signal.aborted ? 'superseded' : abort.signal.aborted ? 'timeout' : 'offline';
    throw new ApiError(0, { error: { code, message: code } });
  } finally {
    clearTimeout(timer);
    if (opts.signal) opts.signal.removeEventListener('abort', superseded);
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data, Number(res.headers.get('Retry-After')) || null);
    if (res.status === 401 && !opts.quiet401) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);

// Query strings from an object, skipping empty values.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
}

export const enc = encodeURIComponent;

// A case by the id a person typed (Cases, My work, a supervisor's Find),
// or null when there is none. Typed with a Chinese input method left in
// full-width (ＣＮ０１７): the id as written in half-width, when the id as
// typed is no case and that is one. "." and ".." the path would read as
// its own segments (/v1/cases/.. is /v1/): no case.
export async function findCase(id) {
  for (const x of new Set([id, id.normalize('NFKC')])) {
    if (x === '.' || x === '..') continue;
    try {
      return await get('/v1/cases/' + enc(x));
    } catch (err) {
      if (err.status !== 404) throw err;
    }
  }
  return null;
}
