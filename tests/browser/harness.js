'use strict';
/*
 * The console's browser-test harness: a fixture book served by the real
 * `recoup serve`, Debian's Chromium driven by playwright-core, and guards
 * that fail a test on an alert, a page error or a CSP violation.
 *
 * Run: `ctest -R browser_console` (or, from tests/browser, `node --test`
 * with RECOUP_BIN set). Node's built-in runner, no other packages; runs on
 * Node 18 (Debian 12). Each *.test.js file runs in a process of its own.
 *
 * ---------------------------------------------------------------- API --
 * Stable: the console's page scenarios are written on it. Add, do not
 * change.
 *
 *   const h = require('./harness');
 *   const { test, before, after } = require('node:test');
 *   let book, browser;
 *   before(async () => { book = await h.startBook(); browser = await h.launchBrowser(); });
 *   after(async () => { await h.closeBrowser(browser); await h.stopBook(book); });
 *   test('overview', async (t) => {
 *     const page = await h.newPage(t, browser, { device: 'desktop', locale: 'zh-CN' });
 *     await h.signIn(page, book, 'zhang.min');
 *     await page.goto(book.url + '/#/overview');
 *     await h.screenshot(page, 'overview-zh-CN');
 *   });
 *
 * h.startBook(opts) -> book      builds the fixture book in a temp dir and
 *     serves it on 127.0.0.1:<port 0>. opts: { setup: true (the payments
 *     and the dispute below), users: true (the five users), env: {} (more
 *     environment for the service), clock (the time it is for the service
 *     and the pages: see "the run's clock" below), edit (a function given
 *     the institution's copy, bookDir, before anything is imported: a
 *     policy of another institution) }. book = { url ('http://127.0.0.1:PORT'),
 *     port, dir (the temp dir), bookDir (the institution's copy), db,
 *     log (the service's stderr file), tokens { ingest, agent, read, admin },
 *     users (h.USERS), anchor ('2026-…T09:00:00+08:00' or T15:00: the book's "now",
 *     see below), anchorDate ('YYYY-MM-DD'), today (the Shanghai date now),
 *     dayShift (0 or 1: today minus anchorDate), shift (days the fixture's
 *     dates were moved), expected (h.expected(book)), date(ref) (a date of
 *     the fixture, 'YYYY-MM-DD' as written in data/*.csv, moved by shift),
 *     clockOffset (ms the book's clock runs ahead of the real one; 0 on
 *     the real clock), now() (the book's time, epoch ms) }.
 * h.stopBook(book)               SIGTERM, wait for exit (SIGKILL after 10 s),
 *     remove the temp dir (kept when RECOUP_KEEP=1); throws, with the
 *     service's log, when it did not exit 0 (a crash, a sanitizer's
 *     report). Safe twice and on null.
 * h.launchBrowser() -> browser   Chromium from /usr/bin/chromium (or
 *     RECOUP_CHROMIUM), headless. h.closeBrowser(browser) closes it.
 * h.newPage(t, browser, opts) -> page   a new context and page for test t:
 *     opts.device 'desktop' (1280x800) or 'phone' (390x844, isMobile,
 *     hasTouch), opts.locale (default 'zh-CN'), opts.timezone (default
 *     'Asia/Shanghai'), opts.book (the page's own book: its clock is the
 *     page's; default: the suite's book for s.browser, else the one book
 *     being served, else the books' one clock, and several books on
 *     different clocks throw: say which), opts.clockOffset (ms, instead
 *     of the book's: the page's Date runs that many ms ahead, its timers
 *     at their real pace). Guards: a dialog (alert/confirm/prompt), an uncaught
 *     page error, or a console message about the Content Security Policy
 *     fails t (checked when t ends, and at once by h.checkGuards(page));
 *     the context is closed when t ends. page.problems lists what was seen.
 * h.checkGuards(page)            throws now if a guard tripped.
 * h.signIn(page, book, name[, password])  opens book.url + '/#/signin',
 *     fills input[name="name"] and input[name="password"], submits, and
 *     waits until the hash leaves #/signin. The password defaults to
 *     h.password(name) = NAME + '-pw-2026'.
 * h.signInHere(page, name[, password])  fills the sign-in form the page
 *     shows (its #/signin?next= kept) and waits until the hash leaves it.
 * h.endSession(page, book)       ends the page's session on the service
 *     (as if it expired or was signed out elsewhere); the page finds out
 *     on its next request.
 * h.useSession(page, book, name[, password]) -> session   signs in over
 *     the API (h.session) and gives the page's context the session cookie,
 *     without the form: for tests about another page (faster). Then
 *     page.goto(book.url + '/#/work').
 * h.screenshot(page, name) -> path   a full-page PNG in the screenshots dir:
 *     RECOUP_SCREENSHOTS, else <repo>/build/screenshots.
 * h.api(book, path, opts) -> { status, headers (a Headers), body (parsed
 *     JSON, or text), text }   Node's fetch. opts: { method ('GET'), token
 *     (a role name: 'ingest'|'agent'|'read'|'admin', or a literal token),
 *     cookie ('recoup_session=…' or a session from h.session), csrf, body
 *     (an object is sent as JSON), headers }.
 * h.session(book, name[, password]) -> { cookie, csrf, user, status }
 *     POST /v1/session; cookie is 'recoup_session=…' for h.api's cookie.
 *
 * h.waitFor(fn, { timeout: 5000, interval: 50, message }) -> value
 *     polls the (async) fn until it returns a truthy value; throws the
 *     message (and the last value) after timeout ms. For answers that are
 *     queued (202) and applied a moment later.
 *
 * const s = h.suite(opts)       the opening every page-test file shared:
 *     startBook(opts) and launchBrowser() in node:test's before(), their
 *     close in after(); s.book and s.browser once before() ran.
 * h.fitsPhone(page, primary) -> measures   throws unless the page fits a
 *     phone's width (nothing past the edge outside a box that scrolls
 *     sideways, no empty form status holding room) and the primary button
 *     (a selector, optional) is shown with its whole width on screen.
 * h.openCase(t, s, id, opts) -> page   a new page (opts.device 'desktop',
 *     opts.locale 'zh-CN': 'en' is set as the switch's remembered choice),
 *     signed in over the API as opts.user ('li.wei'), on #/case/ID (or
 *     opts.hash) with its note form and timeline drawn; the page's clock
 *     is s.book's.
 *
 * RECOUP_ANCHOR=YYYY-MM-DDTHH (Shanghai, past, under a day old) forces the
 *     anchor: to replay what a run at another time of day saw.
 * RECOUP_CLOCK=HH:MM or YYYY-MM-DDTHH:MM (Shanghai) sets every book's
 *     clock (as opts.clock) for a whole run: `RECOUP_CLOCK=23:30 ctest -R
 *     browser_` runs the suite as CI does at night.
 * h.now(book) -> ms   the book's time now (Date.now() on the real clock).
 *
 * h.USERS    [{ name, role, queues, password }] the five users:
 *            li.wei agent [phone], wang.fang agent [field], zhang.min
 *            supervisor, zhao.read read, root.admin admin.
 * h.TOKENS   the machine tokens the service gets.
 * h.FIXTURE  tests/fixtures/console;  h.RECOUP_BIN the binary.
 * h.expected(book)  the fixture's known figures (data/expected.json):
 *            total_cases, by_state, by_dpd_open, queues {phone, field:
 *            {open, due_now}}, promises {kept, broken, open}, errors [ids],
 *            on_hold [ids], payments, recovered, experiment {name, arms},
 *            cases {ID: {borrower, area, state, closed, balance, amount_due,
 *            due_date, dpd, bucket, error, on_hold, arm, tasks [{id, kind,
 *            queue, priority, due, due_now}]}}; dates moved by book.shift,
 *            dpd and buckets as of book.today.
 *
 * ------------------------------------------------------ the book's time --
 * `recoup serve` runs on the real clock, so the book is built relative to
 * it: anchor = today's (Shanghai) 09:00 or 15:00, whichever is further
 * from its next occurrence (never less than 6 hours ahead), so that no
 * timer of the book comes due while tests run. The fixture's dates are
 * written for an anchor of 2026-11-20 and moved by `shift` days. Built as
 * tests/fixtures/console/README.md says: import
 * data/portfolio.csv at anchor - 30 days, tick to the anchor, import
 * data/today.csv at the anchor, add the users, serve with --real-time,
 * then (setup) a payment that keeps CN020's promise, a payment that pays
 * CN018 in full, and a dispute on CN015.
 *
 * ------------------------------------------------------ the run's clock --
 * What the guard allows (contact hours 08:00-21:00 in the borrower's
 * zone), which tasks are due, "today" and a visit's day all follow the
 * hour a run starts, and CI starts at any hour. A test that needs an hour
 * sets it: opts.clock 'HH:MM' (today's, Shanghai) or 'YYYY-MM-DDTHH:MM'
 * (Shanghai, any date: a Saturday, Dec 31). The service then runs under
 * libfaketime (Debian's libfaketime, `make browser-deps`) that far from
 * the real clock, still ticking (its monotonic clock untouched, so its
 * timers keep their pace), the anchor is chosen for that time, and each
 * page's Date (Playwright's clock, installed at newPage) runs at the same
 * offset. `recoup serve` has no clock of its own to set (a rehearsal is
 * refused a service), so the harness sets it from outside.
 */

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURE = process.env.RECOUP_FIXTURE || path.join(ROOT, 'tests', 'fixtures', 'console');
const RECOUP_BIN = process.env.RECOUP_BIN || path.join(ROOT, 'build', 'recoup');
const SCREENSHOTS = process.env.RECOUP_SCREENSHOTS || path.join(ROOT, 'build', 'screenshots');
const CHROMIUM = process.env.RECOUP_CHROMIUM || '/usr/bin/chromium';
const REFERENCE_DATE = '2026-11-20'; /* the anchor the fixture's dates are written for */
const ZONE_OFFSET_H = 8;             /* Asia/Shanghai, no daylight saving */
const ANCHOR_HOURS = [9, 15];        /* inside contact hours, 6 h apart */

const password = (name) => `${name}-pw-2026`;
const USERS = [
  { name: 'li.wei', role: 'agent', queues: ['phone'] },
  { name: 'wang.fang', role: 'agent', queues: ['field'] },
  { name: 'zhang.min', role: 'supervisor', queues: [] },
  { name: 'zhao.read', role: 'read', queues: [] },
  { name: 'root.admin', role: 'admin', queues: [] },
].map((u) => ({ ...u, password: password(u.name) }));
const TOKENS = {
  ingest: 'browser-ingest-token', agent: 'browser-agent-token',
  read: 'browser-read-token', admin: 'browser-admin-token',
};

/* ------------------------------------------------------------ dates -- */

const DAY = 86400000;
const pad = (n) => String(n).padStart(2, '0');
/* 'YYYY-MM-DD' of a UTC-midnight epoch day number. */
const dateOf = (days) => new Date(days * DAY).toISOString().slice(0, 10);
const daysOf = (date) => Math.floor(Date.parse(date + 'T00:00:00Z') / DAY);
const addDays = (date, n) => dateOf(daysOf(date) + n);
/* The Shanghai wall clock as epoch-ms-in-UTC fields. */
const local = (ms) => ms + ZONE_OFFSET_H * 3600000;
const stamp = (date, hour) => `${date}T${pad(hour)}:00:00+0${ZONE_OFFSET_H}:00`;

/* The anchor: the latest 09:00 or 15:00 (Shanghai) at least 2 minutes ago
 * whose next occurrence is furthest away. */
function chooseAnchor(nowMs = Date.now(), forced = process.env.RECOUP_ANCHOR) {
  const l = local(nowMs) - 2 * 60000;
  let best = null;
  /* RECOUP_ANCHOR=YYYY-MM-DDTHH (Shanghai) forces one, to replay what a
   * run at another time of day saw: it must be past and less than a day
   * old. */
  const m = forced && /^(\d{4}-\d{2}-\d{2})T(\d{2})$/.exec(forced);
  if (forced && !m) throw new Error(`RECOUP_ANCHOR is YYYY-MM-DDTHH, not ${forced}`);
  if (m) best = { day: daysOf(m[1]), hour: Number(m[2]), next: (daysOf(m[1]) + 1) * DAY + Number(m[2]) * 3600000 };
  for (const h of m ? [] : ANCHOR_HOURS) {
    let day = Math.floor(l / DAY);
    if (l - day * DAY < h * 3600000) day -= 1;
    const next = (day + 1) * DAY + h * 3600000;
    if (!best || next > best.next) best = { day, hour: h, next };
  }
  const anchorDate = dateOf(best.day);
  const today = dateOf(Math.floor(local(nowMs) / DAY));
  return {
    anchorDate, hour: best.hour, anchor: stamp(anchorDate, best.hour), today,
    dayShift: daysOf(today) - best.day, shift: best.day - daysOf(REFERENCE_DATE),
    aheadMs: best.next - local(nowMs),
  };
}

/* A CSV of the fixture with every YYYY-MM-DD moved by `shift` days. */
function shiftCsv(text, shift) {
  return text.replace(/(?<![\d-])(\d{4}-\d{2}-\d{2})(?!\d)/g, (d) => addDays(d, shift));
}

/* ------------------------------------------------------------ clock -- */

/* 'HH:MM' (today's in Shanghai) or 'YYYY-MM-DDTHH:MM' (Shanghai) as
 * epoch ms; null for none. */
function clockTime(spec, nowMs = Date.now()) {
  if (spec === undefined || spec === null || spec === '') return null;
  const m = /^(?:(\d{4}-\d{2}-\d{2})T)?(\d{2}):(\d{2})$/.exec(spec);
  if (!m || Number(m[2]) > 23 || Number(m[3]) > 59)
    throw new Error(`a book's clock is HH:MM or YYYY-MM-DDTHH:MM (Shanghai), not ${spec}`);
  const date = m[1] || dateOf(Math.floor(local(nowMs) / DAY));
  const ms = Date.parse(`${date}T${m[2]}:${m[3]}:00+0${ZONE_OFFSET_H}:00`);
  /* Date.parse takes 2026-02-30 as March 2nd. */
  if (!Number.isFinite(ms) || dateOf(daysOf(date)) !== date) throw new Error(`a book's clock: no such date ${spec}`);
  return ms;
}

/* Debian's libfaketime for threaded programs (RECOUP_FAKETIME names
 * another). */
function faketimeLib() {
  if (process.env.RECOUP_FAKETIME) return process.env.RECOUP_FAKETIME;
  const dirs = ['/usr/lib'];
  try {
    for (const d of fs.readdirSync('/usr/lib')) if (/-linux-gnu/.test(d)) dirs.push(path.join('/usr/lib', d));
  } catch (_) { /* none */ }
  for (const d of dirs) {
    const f = path.join(d, 'faketime', 'libfaketimeMT.so.1');
    if (fs.existsSync(f)) return f;
  }
  throw new Error('a book on a set clock needs libfaketime (Debian\'s libfaketime: make browser-deps)');
}

/* The service's environment for a clock offsetMs from the real one. */
function clockEnv(offsetMs) {
  if (!offsetMs) return {};
  const secs = Math.round(offsetMs / 1000);
  const asan = process.env.ASAN_OPTIONS;
  return {
    LD_PRELOAD: [faketimeLib(), process.env.LD_PRELOAD].filter(Boolean).join(' '),
    FAKETIME: `${secs < 0 ? '-' : '+'}${Math.abs(secs)}`,
    /* libuv's timers and the sign-in slowdown read the monotonic clock:
     * they keep real time. */
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    /* A sanitized build wants its runtime first among the libraries. */
    ASAN_OPTIONS: [asan, 'verify_asan_link_order=0'].filter(Boolean).join(':'),
  };
}

/* The book a browser's pages are of, when a suite made both (suite()):
 * newPage takes its clock. Not the last book started: a file serving
 * two books on different clocks had its pages on the later one's. */
const bookOfBrowser = new WeakMap();

const now = (book) => Date.now() + ((book && book.clockOffset) || 0);

/* ------------------------------------------------------------- book -- */

function run(args, { input, okCodes = [0], env } = {}) {
  const r = spawnSync(RECOUP_BIN, args, {
    input, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60000,
  });
  if (r.error) throw new Error(`recoup ${args.join(' ')}: ${r.error.message}`);
  if (!okCodes.includes(r.status))
    throw new Error(`recoup ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return r;
}

/* Builds the book (no service) in dir: returns the time facts. */
function buildBook(dir, { users = true, nowMs, edit } = {}) {
  const t = chooseAnchor(nowMs);
  const bookDir = path.join(dir, 'book');
  fs.cpSync(FIXTURE, bookDir, { recursive: true, filter: (src) => !/[\\/]var([\\/]|$)/.test(src.slice(FIXTURE.length)) });
  if (edit) edit(bookDir);
  const db = path.join(dir, 'book.db');
  for (const f of ['portfolio.csv', 'today.csv'])
    fs.writeFileSync(path.join(dir, f), shiftCsv(fs.readFileSync(path.join(FIXTURE, 'data', f), 'utf8'), t.shift));
  const start = stamp(addDays(t.anchorDate, -30), t.hour);
  run(['import', path.join(dir, 'portfolio.csv'), bookDir, '--db', db, '--now', start]);
  /* Two handlers fail on purpose (CN025, CN026): tick then exits 1. */
  run(['tick', bookDir, '--db', db, '--now', t.anchor], { okCodes: [0, 1] });
  run(['import', path.join(dir, 'today.csv'), bookDir, '--db', db, '--now', t.anchor]);
  if (users)
    for (const u of USERS) {
      const args = ['user', 'add', u.name, '--role', u.role];
      if (u.queues.length) args.push('--queues', u.queues.join(','));
      run([...args, bookDir, '--db', db], { input: u.password + '\n' });
    }
  return { ...t, bookDir, db };
}

/* Services still running when the process ends (a test that never
 * reached its after hook, Ctrl-C) are killed and their dirs removed. */
const live = new Set();
function reap() {
  for (const b of live) {
    try { if (b.child) b.child.kill('SIGKILL'); } catch (_) {}
    try { if (b.dir && process.env.RECOUP_KEEP !== '1') fs.rmSync(b.dir, { recursive: true, force: true }); } catch (_) {}
  }
  live.clear();
}
process.on('exit', reap);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.once(sig, () => { reap(); process.exit(128 + os.constants.signals[sig]); });

function waitListening(child, logFile) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('recoup serve did not say "listening" within 20 s')), 20000);
    const fail = (e) => {
      clearTimeout(timer);
      let log = '';
      try { log = fs.readFileSync(logFile, 'utf8').slice(-4000); } catch (_) {}
      reject(new Error(`${e.message}\nstdout: ${out}\nstderr (tail): ${log}`));
    };
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    child.on('exit', (code, sig) => fail(new Error(`recoup serve exited (${code ?? sig}) before listening`)));
    child.on('error', fail);
  });
}

async function startBook(opts = {}) {
  const { setup = true, users = true, env = {} } = opts;
  const at = clockTime(opts.clock !== undefined ? opts.clock : process.env.RECOUP_CLOCK);
  const clockOffset = at === null ? 0 : at - Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recoup-browser-'));
  const book = { dir, tokens: { ...TOKENS }, users: USERS, child: null, clockOffset };
  book.now = () => now(book);
  live.add(book);
  try {
    Object.assign(book, buildBook(dir, { users, nowMs: book.now(), edit: opts.edit }));
    book.log = path.join(dir, 'serve.log');
    const logFd = fs.openSync(book.log, 'a');
    const child = spawn(RECOUP_BIN, ['serve', book.bookDir, '--db', book.db,
      '--listen', '127.0.0.1:0', '--real-time'], {
      stdio: ['ignore', 'pipe', logFd],
      env: {
        ...process.env,
        RECOUP_INGEST_TOKEN: TOKENS.ingest, RECOUP_AGENT_TOKEN: TOKENS.agent,
        RECOUP_READ_TOKEN: TOKENS.read, RECOUP_ADMIN_TOKEN: TOKENS.admin,
        ...clockEnv(clockOffset), ...env,
      },
    });
    fs.closeSync(logFd);
    book.child = child;
    book.exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
    book.url = await waitListening(child, book.log);
    child.stdout.resume();
    book.port = Number(new URL(book.url).port);
    book.date = (ref) => addDays(ref, book.shift);
    if (setup) await setupBook(book);
    book.expected = expected(book);
    return book;
  } catch (e) {
    await stopBook(book).catch(() => {});
    throw e;
  }
}

/* What the book gets over HTTP once served (data/expected.json counts it). */
async function setupBook(book) {
  const at = book.anchor;
  const steps = [
    ['/v1/payments', { case: 'CN020', amount: 50000, ref: 'fixture-CN020-1', at }],
    ['/v1/payments', { case: 'CN018', amount: 120000, ref: 'fixture-CN018-1', at }],
    ['/v1/cases/CN015/events', { type: 'dispute', data: { reason: '金额有误' }, key: 'fixture-CN015-dispute' }],
  ];
  for (const [p, body] of steps) {
    const r = await api(book, p, { method: 'POST', token: 'ingest', body });
    if (r.status >= 300) throw new Error(`setup POST ${p}: ${r.status} ${r.text}`);
  }
}

async function stopBook(book) {
  if (!book) return;
  let problem = null;
  if (book.child) {
    const running = book.child.exitCode === null && book.child.signalCode === null;
    let killed = false;
    if (running) {
      book.child.kill('SIGTERM');
      const killer = setTimeout(() => { killed = true; book.child.kill('SIGKILL'); }, 10000);
      await book.exited;
      clearTimeout(killer);
    }
    const { code, sig } = await book.exited;
    /* SIGTERM drains and exits 0: anything else (a crash, a sanitizer's
     * report, a hang) fails the file, with the log's tail. */
    if (killed) problem = 'did not stop within 10 s of SIGTERM';
    else if (code !== 0) problem = `exited ${code ?? sig}`;
    if (problem) {
      let log = '';
      try { log = fs.readFileSync(book.log, 'utf8').slice(-6000); } catch (_) {}
      problem = `recoup serve ${problem}; its log ends:\n${log}`;
    }
    book.child = null;
  }
  live.delete(book);
  if (book.dir && process.env.RECOUP_KEEP !== '1') fs.rmSync(book.dir, { recursive: true, force: true });
  book.dir = null;
  if (problem) throw new Error(problem);
}

/* ------------------------------------------------------------- HTTP -- */

async function api(book, p, opts = {}) {
  const { method = 'GET', token, cookie, csrf, body, headers = {} } = opts;
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${TOKENS[token] || token}`;
  if (cookie) h.cookie = typeof cookie === 'string' ? cookie : cookie.cookie;
  const c = csrf || (cookie && typeof cookie === 'object' ? cookie.csrf : undefined);
  if (c) h['x-csrf-token'] = c;
  let payload = body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    payload = JSON.stringify(body);
    h['content-type'] = h['content-type'] || 'application/json';
  }
  const res = await fetch(book.url + p, { method, headers: h, body: payload, redirect: 'manual' });
  const text = await res.text();
  let parsed = text;
  if ((res.headers.get('content-type') || '').includes('json')) {
    try { parsed = JSON.parse(text); } catch (_) { /* left as text */ }
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

async function session(book, name, pw = password(name)) {
  const r = await api(book, '/v1/session', { method: 'POST', body: { name, password: pw } });
  const set = r.headers.get('set-cookie') || '';
  const m = /recoup_session=[^;]*/.exec(set);
  return {
    status: r.status, cookie: m ? m[0] : null,
    csrf: r.body && r.body.csrf, user: r.body && r.body.user, setCookie: set,
  };
}

/* ---------------------------------------------------------- browser -- */

let playwright;
function pw() {
  if (!playwright) playwright = require('playwright-core');
  return playwright;
}

async function launchBrowser() {
  return pw().chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function closeBrowser(browser) {
  if (browser) await browser.close().catch(() => {});
}

const DEVICES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};

function isCspMessage(text) {
  return /Content[- ]Security[- ]Policy|violates the following/i.test(text);
}

/* The clock a new page runs on: given, or its book's (newPage). */
function pageClock(browser, opts) {
  if (opts.clockOffset !== undefined) return opts.clockOffset;
  const book = opts.book || bookOfBrowser.get(browser);
  if (book) return book.clockOffset || 0;
  const offsets = new Set([...live].map((b) => b.clockOffset || 0));
  if (offsets.size > 1)
    throw new Error(`newPage: ${live.size} books are served on different clocks: give the page's own book (opts.book)`);
  return offsets.size ? [...offsets][0] : 0;
}

async function newPage(t, browser, opts = {}) {
  const { device = 'desktop', locale = 'zh-CN', timezone = 'Asia/Shanghai' } = opts;
  const clockOffset = pageClock(browser, opts);
  if (!DEVICES[device]) throw new Error(`newPage: device is desktop or phone, not ${device}`);
  const context = await browser.newContext({ ...DEVICES[device], locale, timezoneId: timezone });
  /* The page's Date at the book's time; its timers keep their pace. */
  if (clockOffset) await context.clock.install({ time: Date.now() + clockOffset });
  const page = await context.newPage();
  const problems = [];
  page.problems = problems;
  page.on('dialog', (d) => {
    problems.push(`dialog (${d.type()}): ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e && e.message}`));
  page.on('console', (m) => {
    if (isCspMessage(m.text())) problems.push(`CSP violation: ${m.text()}`);
  });
  /* A CSP report from the document itself, for violations the console
   * message misses (a blocked inline handler). */
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  if (t && typeof t.after === 'function') {
    t.after(async () => {
      // A route handler still awaiting its fetch when the page closes
      // (the console polls a case it routes) would reject after the test
      // ended and fail the file: its errors are let go with the page.
      await page.unrouteAll({ behavior: 'ignoreErrors' }).catch(() => {});
      await context.close().catch(() => {});
      if (problems.length) throw new Error(`the page tripped a guard:\n  ${problems.join('\n  ')}`);
    });
  }
  return page;
}

function checkGuards(page) {
  if (page.problems && page.problems.length)
    throw new Error(`the page tripped a guard:\n  ${page.problems.join('\n  ')}`);
}

async function signIn(page, book, name, pw_ = password(name)) {
  await page.goto(book.url + '/#/signin');
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="password"]', pw_);
  await Promise.all([
    page.waitForFunction(() => !/^#\/signin/.test(location.hash) && location.hash !== '', null, { timeout: 10000 }),
    page.click('form button[type="submit"], form input[type="submit"], button[type="submit"]'),
  ]);
  // The page after sign-in draws its navigation from /v1/me: a test that
  // reads it at once raced the drawing on a slow (sanitizer) build.
  await page.waitForSelector('nav a[data-nav]', { timeout: 10000 });
  checkGuards(page);
}

async function signInHere(page, name, pw_ = password(name)) {
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="password"]', pw_);
  await page.click('button[type="submit"]');
  await page.waitForFunction(() => !/^#\/signin/.test(location.hash));
}

async function endSession(page, book) {
  const cookie = (await page.context().cookies()).find((c) => c.name === 'recoup_session');
  const me = await api(book, '/v1/me', { cookie: `recoup_session=${cookie.value}` });
  await api(book, '/v1/session', { method: 'DELETE', cookie: `recoup_session=${cookie.value}`, csrf: me.body.csrf });
}

async function useSession(page, book, name, pw_ = password(name)) {
  const s = await session(book, name, pw_);
  if (s.status !== 200 || !s.cookie) throw new Error(`sign-in of ${name} over the API: ${s.status}`);
  const [cname, value] = s.cookie.split(/=(.*)/s);
  await page.context().addCookies([{ name: cname, value, url: book.url, httpOnly: true, sameSite: 'Strict' }]);
  return s;
}

async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function waitFor(fn, { timeout = 5000, interval = 50, message = 'waitFor timed out' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`${message} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/* --------------------------------------------------------- expected -- */

const daysBetween = (from, to) => daysOf(to) - daysOf(from);
const BUCKETS = ['current', '1-30', '31-60', '61-90', '90+'];
const bucket = (dpd) => (dpd <= 0 ? 'current' : dpd <= 30 ? '1-30' : dpd <= 60 ? '31-60' : dpd <= 90 ? '61-90' : '90+');

/* data/expected.json for this book: dates moved by book.shift, dpd and
 * buckets as of book.today (the fixture keeps its cases two days or more
 * away from a bucket's edge, so the buckets' figures never move). */
function expected(book) {
  const raw = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'data', 'expected.json'), 'utf8'));
  const shift = book ? book.shift : 0;
  const today = book ? book.today : REFERENCE_DATE;
  const move = (v) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? addDays(v, shift) : v);
  const cases = {};
  for (const [id, c] of Object.entries(raw.cases || {})) {
    const copy = {};
    for (const [k, v] of Object.entries(c)) copy[k] = move(v);
    copy.tasks = (c.tasks || []).map((t) => ({ ...t, due: move(t.due) }));
    copy.dpd = Math.max(0, daysBetween(copy.due_date, today));
    copy.bucket = bucket(copy.dpd);
    cases[id] = copy;
  }
  const open = Object.keys(cases).filter((id) => !cases[id].closed);
  const by_dpd_open = BUCKETS.map((b) => {
    const xs = open.filter((id) => cases[id].bucket === b);
    return { bucket: b, cases: xs.length, balance: xs.reduce((a, id) => a + cases[id].balance, 0) };
  });
  return { ...raw, by_dpd_open, cases };
}

/* ------------------------------------------------- a test file's opening -- */

function suite(opts) {
  const { before, after } = require('node:test');
  const s = { book: null, browser: null };
  before(async () => {
    s.book = await startBook(opts);
    s.browser = await launchBrowser();
    bookOfBrowser.set(s.browser, s.book);
  });
  after(async () => {
    await closeBrowser(s.browser);
    await stopBook(s.book);
  });
  return s;
}

async function openCase(t, s, id, opts = {}) {
  const page = await newPage(t, s.browser, { device: opts.device || 'desktop', locale: opts.locale || 'zh-CN', clockOffset: s.book.clockOffset });
  // The console starts in the institution's language (zh-CN); English is
  // the switch's, remembered by the browser.
  if (opts.locale === 'en') await page.addInitScript(() => localStorage.setItem('recoup.locale', 'en'));
  await useSession(page, s.book, opts.user || 'li.wei');
  await page.goto(`${s.book.url}/${opts.hash || '#/case/' + encodeURIComponent(id)}`);
  await page.waitForSelector('.note-form textarea');
  await page.waitForSelector('.timeline-box .timeline, .timeline-box .state.empty');
  return page;
}

// The field officer's visit record on the case shown: Arrived, met the
// borrower, what was said and the next step, saved.
async function recordVisit(page) {
  await page.click('.task-form.visit button.arrived');
  await page.selectOption('.task-form.visit select[name="outcome"]', 'met');
  await page.selectOption('.task-form.visit select[name="whom"]', 'borrower');
  await page.fill('.task-form.visit [name="said"]', '本人说周五还款');
  await page.fill('.task-form.visit [name="next_step"]', '周五电话确认');
  await page.click('.task-form.visit button[type="submit"]');
}

// A page at a phone's width: nothing reaches past the screen's edge
// (a box that scrolls sideways, the navigation or a wide table, keeps
// its content), the primary button (a selector) is shown with its whole
// width on screen, and no empty form status holds room (a 12rem basis
// made each one 190 px of blank under its Save). Throws naming what is
// wrong; answers what it measured.
async function fitsPhone(page, primary) {
  const got = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const scrolls = (el) => {
      for (let p = el.parentElement; p; p = p.parentElement)
        if (/auto|scroll|hidden/.test(getComputedStyle(p).overflowX)) return true;
      return false;
    };
    const name = (el) => `${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).split(' ').join('.') : ''}`;
    const out = [...document.querySelectorAll('body *')].filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && (r.right > width + 1 || r.left < -1) && !scrolls(el);
    }).slice(0, 5).map((el) => `${name(el)} ${Math.round(el.getBoundingClientRect().left)}..${Math.round(el.getBoundingClientRect().right)}`);
    const blank = [...document.querySelectorAll('.form-status')].filter((el) => !el.textContent.trim() && el.getBoundingClientRect().height > 8)
      .map((el) => `${name(el.closest('form') || el)} status ${Math.round(el.getBoundingClientRect().height)} px`);
    return { width, scrollWidth: document.documentElement.scrollWidth, out, blank };
  });
  if (got.scrollWidth > got.width) throw new Error(`the page is ${got.scrollWidth} px wide on a ${got.width} px screen: ${got.out.join(', ')}`);
  if (got.out.length) throw new Error(`past the screen's edge (${got.width} px): ${got.out.join(', ')}`);
  if (got.blank.length) throw new Error(`empty statuses holding room: ${got.blank.join(', ')}`);
  if (primary) {
    const button = page.locator(primary).first();
    await button.scrollIntoViewIfNeeded();
    if (!(await button.isVisible())) throw new Error(`${primary} is not shown`);
    const box = await button.boundingBox();
    if (box.x < 0 || box.x + box.width > got.width + 1) throw new Error(`${primary} reaches ${Math.round(box.x)}..${Math.round(box.x + box.width)} on a ${got.width} px screen`);
  }
  return got;
}

module.exports = {
  suite, openCase, fitsPhone, recordVisit,
  FIXTURE, RECOUP_BIN, SCREENSHOTS, CHROMIUM, USERS, TOKENS, REFERENCE_DATE,
  password, waitFor, startBook, stopBook, buildBook, api, session,
  launchBrowser, closeBrowser, newPage, checkGuards, signIn, signInHere, endSession, useSession, screenshot,
  expected, chooseAnchor, shiftCsv, addDays, daysBetween, bucket, BUCKETS, stamp,
  now, clockTime,
};
