'use strict';
/*
 * The console's page loads on a big book: the requests each page makes,
 * timed from a client on loopback, against GET /health as the baseline.
 *
 * usage: node console.js RECOUP_BIN WORKDIR [CASES] [REQUESTS]
 *   (run.sh runs it; RECOUP_BENCH_CONSOLE_CASES, RECOUP_BENCH_CONSOLE_N)
 *
 * The book is the console fixture's institution (tests/fixtures/console)
 * with CASES generated loans: imported 30 days before an anchor and ticked
 * to it on a simulated clock (deliveries included), so that, as in the
 * browser tests (tests/browser/harness.js), the service then runs it on
 * the real clock with nothing coming due. A tenth of the cases each stay
 * in reminder, 3/10 sit in call (an open task in queue phone), 3/10 in
 * visit (queue field), 2/10 in legal; one in 5000 fails its escalation.
 *
 * Each route is asked REQUESTS times one after another over one keep-alive
 * connection (fewer when a route takes long: at most ~20 s a route, at
 * least 20 requests), as the user who opens the page: li.wei (agent,
 * queue phone) for My work, wang.fang (agent, queue field) for its phone
 * list with the day's areas, zhang.min (supervisor) for the others, with
 * their session cookie once POST /v1/session exists, else the agent and
 * admin tokens. A route the service does not have yet (404 "no such
 * route") is skipped with a line saying so. Prints "name value unit"
 * lines (console_*), then a table.
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const h = require('../browser/harness');

const [,, bin, work, casesArg, nArg] = process.argv;
if (!bin || !work) {
  console.error('usage: node console.js RECOUP_BIN WORKDIR [CASES] [REQUESTS]');
  process.exit(2);
}
const CASES = Number(casesArg || 1000000);
const N = Number(nArg || 1000);
const BUDGET_MS = Number(process.env.RECOUP_BENCH_CONSOLE_BUDGET_MS || 20000);

const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾';
const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀英', '霞', '平'];
const AREAS = ['浦东', '徐汇', '静安', '闵行', '黄浦', '长宁', '普陀', '杨浦'];
/* Days in reminder before the call, by i % 10: 2 stay in reminder, 3 in
 * call, 3 in visit, 2 reach legal by the anchor (the fixture's workflow). */
const REMIND = [45, 1, 8, 22, 17, 25, 19, 30, 3, 45];
const CALL = new Set([3, 5, 7]);

function run(args, okCodes = [0]) {
  const t0 = Date.now();
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (!okCodes.includes(r.status)) throw new Error(`recoup ${args.join(' ')}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return { ...r, ms: Date.now() - t0 };
}

function writeCsv(file, t) {
  const fd = fs.openSync(file, 'w');
  let buf = 'id,borrower_id,borrower_name,phone,address,area,locale,product,principal,balance,amount_due,fees,due_date,score,remind,fail\n';
  for (let i = 0; i < CASES; i++) {
    const area = AREAS[i % AREAS.length];
    const name = SURNAMES[i % SURNAMES.length] + GIVEN[(i >> 5) % GIVEN.length];
    const dpd = 3 + (i * 7919) % 170;
    const balance = 100000 + (i * 104729) % 1900000;
    const due = Math.min(balance, 20000 + (i * 31) % 300000);
    buf += `B${String(i).padStart(7, '0')},P${String(i).padStart(7, '0')},${name},+8613${String(100000000 + i).slice(-9)},` +
      `上海市${area}区路${i % 997}号,${area},zh-CN,personal,${balance * 2},${balance},${due},${Math.floor(due / 20)},` +
      `${h.addDays(t.anchorDate, -dpd)},${500 + i % 300},${REMIND[i % 10]},${i % 5000 === 4999 ? 'always' : ''}\n`;
    if (buf.length > 1 << 20) { fs.writeSync(fd, buf); buf = ''; }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
}

function build(dir) {
  const t = h.chooseAnchor();
  const bookDir = path.join(dir, 'book');
  fs.cpSync(h.FIXTURE, bookDir, { recursive: true });
  const db = path.join(dir, 'console.db');
  const csv = path.join(dir, 'console.csv');
  writeCsv(csv, t);
  const imp = run(['import', csv, bookDir, '--db', db, '--now', h.stamp(h.addDays(t.anchorDate, -30), t.hour), '--deliver']);
  console.log(`console_build_import_s ${(imp.ms / 1000).toFixed(1)} s`);
  const tick = run(['tick', bookDir, '--db', db, '--now', t.anchor, '--deliver'], [0, 1]);
  console.log(`console_build_tick_s ${(tick.ms / 1000).toFixed(1)} s`);
  for (const u of h.USERS) {
    const args = ['user', 'add', u.name, '--role', u.role];
    if (u.queues.length) args.push('--queues', u.queues.join(','));
    const r = spawnSync(bin, [...args, bookDir, '--db', db], { input: u.password + '\n', encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`user add ${u.name}: ${r.stderr}`);
  }
  return { ...t, bookDir, db };
}

function serve(book) {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(path.join(path.dirname(book.db), 'serve.log'), 'a');
    const child = spawn(bin, ['serve', book.bookDir, '--db', book.db, '--listen', '127.0.0.1:0', '--real-time'], {
      stdio: ['ignore', 'pipe', log],
      env: { ...process.env, RECOUP_INGEST_TOKEN: h.TOKENS.ingest, RECOUP_AGENT_TOKEN: h.TOKENS.agent,
        RECOUP_READ_TOKEN: h.TOKENS.read, RECOUP_ADMIN_TOKEN: h.TOKENS.admin },
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error('serve did not listen within 120 s')), 120000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); child.stdout.resume(); resolve({ child, port: Number(m[1]) }); }
    });
    child.on('exit', (c) => { clearTimeout(timer); reject(new Error(`serve exited ${c}: ${out}`)); });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function request(port, method, p, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent, headers: {
      ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
    } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'),
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
      }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const missing = (r) => r.status === 404 && /no such route/.test(r.text);

async function signIn(port, name) {
  const r = await request(port, 'POST', '/v1/session', {}, JSON.stringify({ name, password: h.password(name) }));
  if (r.status !== 200) return null;
  const cookie = /recoup_session=[^;]*/.exec(String(r.headers['set-cookie']))[0];
  return { cookie, 'x-csrf-token': JSON.parse(r.text).csrf };
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function measure(port, route, auth) {
  const times = [];
  let bad = null, nbad = 0;
  const start = Date.now();
  for (let i = 0; i < N; i++) {
    const { method, p } = route.next(i);
    const r = await request(port, method, p, auth, route.body);
    if (i === 0 && missing(r)) return { skipped: 'not served yet (404 no such route)' };
    if (!route.ok(r)) { bad = bad || `${r.status} ${r.text.slice(0, 120)}`; nbad++; }
    times.push(r.ms);
    if (i >= 19 && Date.now() - start > BUDGET_MS) break;
  }
  times.sort((a, b) => a - b);
  return { n: times.length, p50: pct(times, 0.5), p99: pct(times, 0.99), bad, nbad };
}

(async () => {
  fs.mkdirSync(work, { recursive: true });
  console.log(`== console pages: ${CASES} cases, up to ${N} requests a route`);
  const book = build(work);
  const { child, port } = await serve(book);
  try {
    const li = await signIn(port, 'li.wei');
    const zhang = await signIn(port, 'zhang.min');
    const wang = await signIn(port, 'wang.fang');
    const agentAuth = li || { authorization: `Bearer ${h.TOKENS.agent}` };
    const supAuth = zhang || { authorization: `Bearer ${h.TOKENS.admin}` };
    const how = li ? 'session cookies (li.wei, zhang.min)' : 'tokens (agent, admin): POST /v1/session is not served yet';
    console.log(`# as ${how}`);
    /* Cases with an open phone task: li.wei may see them. */
    const callIds = [];
    for (let i = 0; callIds.length < 4096; i += 1) {
      const k = (i * 2654435761) % CASES;
      if (CALL.has(k % 10) && k % 5000 !== 4999) callIds.push(`B${String(k).padStart(7, '0')}`);
    }
    const caseId = (i) => callIds[i % callIds.length];
    const ok200 = (r) => r.status === 200;
    const routes = [
      { page: 'baseline', name: 'GET /health', auth: {}, next: () => ({ method: 'GET', p: '/health' }), ok: ok200 },
      { page: 'My work', name: 'GET /v1/work', auth: agentAuth, next: () => ({ method: 'GET', p: '/v1/work?limit=50' }), ok: ok200 },
      /* Read again on each My work load: the queues as they are now. */
      { page: 'My work', name: 'GET /v1/me', auth: agentAuth, next: () => ({ method: 'GET', p: '/v1/me' }), ok: ok200 },
      /* A field officer's phone: the day's areas and each card's call too
       * (wang.fang, queue field); the name kept from before call=1. */
      { page: 'My work', name: 'GET /v1/work?areas=1', auth: wang || agentAuth, next: () => ({ method: 'GET', p: '/v1/work?limit=100&areas=1&call=1' }), ok: ok200 },
      /* The agent token names whom it claims for; a session is the caller. */
      { page: 'My work', name: 'POST /v1/tasks/next', auth: agentAuth, next: () => ({ method: 'POST', p: '/v1/tasks/next?queue=phone' }), ok: ok200,
        body: li ? undefined : JSON.stringify({ assignee: 'li.wei' }) },
      { page: 'Case', name: 'GET /v1/cases/{id}', auth: agentAuth, next: (i) => ({ method: 'GET', p: `/v1/cases/${caseId(i)}` }), ok: ok200 },
      { page: 'Case', name: 'GET /v1/cases/{id}/journal', auth: agentAuth, next: (i) => ({ method: 'GET', p: `/v1/cases/${caseId(i)}/journal` }), ok: ok200 },
      { page: 'Case', name: 'GET /v1/cases/{id}/guard', auth: agentAuth, next: (i) => ({ method: 'GET', p: `/v1/cases/${caseId(i)}/guard` }), ok: ok200 },
      { page: 'Overview', name: 'GET /v1/overview', auth: supAuth, next: () => ({ method: 'GET', p: '/v1/overview' }), ok: ok200 },
      { page: 'Overview', name: 'GET /v1/errors', auth: supAuth, next: () => ({ method: 'GET', p: '/v1/errors' }), ok: ok200 },
      { page: 'Strategy', name: 'GET /v1/workflows', auth: supAuth, next: () => ({ method: 'GET', p: '/v1/workflows' }), ok: ok200 },
      /* What My work can use until /v1/work is there. */
      { page: '(today)', name: 'GET /v1/tasks?queue=phone', auth: agentAuth, next: () => ({ method: 'GET', p: '/v1/tasks?queue=phone&status=open&limit=50' }), ok: ok200 },
    ];
    const results = [];
    for (const route of routes) {
      const r = await measure(port, route, route.auth);
      results.push({ ...route, ...r });
      const key = route.name.toLowerCase().replace(/[{}]/g, '').replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
      if (r.skipped) console.log(`# skipped ${route.name}: ${r.skipped}`);
      else {
        console.log(`console_${key}_p50_ms ${r.p50.toFixed(3)} ms`);
        console.log(`console_${key}_p99_ms ${r.p99.toFixed(3)} ms`);
        if (r.bad) console.log(`# ${route.name}: some answers were not 200: ${r.bad}`);
      }
    }
    const base = results[0];
    console.log('');
    console.log(`console pages at ${CASES} cases (ms, client on loopback; ratio to GET /health)`);
    console.log(`${'page'.padEnd(10)} ${'request'.padEnd(30)} ${'n'.padStart(5)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'p50/h'.padStart(8)} ${'p99/h'.padStart(8)}`);
    for (const r of results) {
      if (r.skipped) { console.log(`${r.page.padEnd(10)} ${r.name.padEnd(30)} skipped: ${r.skipped}`); continue; }
      console.log(`${r.page.padEnd(10)} ${r.name.padEnd(30)} ${String(r.n).padStart(5)} ${r.p50.toFixed(2).padStart(9)} ${r.p99.toFixed(2).padStart(9)} ` +
        `${(r.p50 / base.p50).toFixed(1).padStart(8)} ${(r.p99 / base.p99).toFixed(1).padStart(8)}` +
        (r.nbad ? `  (${r.nbad} answers not 200)` : ''));
    }
  } finally {
    agent.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
})().catch((e) => { console.error(e); process.exit(1); });
