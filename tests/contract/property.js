// Property-based test of the HTTP API from its document: requests for every
// operation of docs/openapi.json and every role (none, a wrong token,
// ingest, agent, read, admin), generated from the schemas by a seeded
// generator, half of them valid and half made invalid by one mutation, sent
// to a real `recoup serve`. Every answer must be documented (status, body,
// error code), no answer may be 5xx, roles must be as documented (401, 403),
// a request the document refuses must not get a 2xx, and a valid one must
// not be called malformed (400).
//   node property.js RECOUP DOC INSTITUTION [SEED] [ROUNDS]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const { spawn } = require('child_process');
const { Contract, pointer } = require('./contract');

const [bin, docFile, institution, seedArg, roundsArg] = process.argv.slice(2);
const SEED = Number(seedArg || 21);
const ROUNDS = Number(roundsArg || 40); // requests per operation and role
const contract = new Contract(docFile);
const doc = contract.doc;
const TOKENS = { ingest: 'p-ingest', agent: 'p-agent', read: 'p-read', admin: 'p-admin' };
const ROLES = ['none', 'wrong', 'ingest', 'agent', 'read', 'admin'];

// --- a seeded generator ---------------------------------------------------
let state = SEED >>> 0;
function rand() { // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const chance = (p) => rand() < p;
const deref = (s) => contract.deref(s);

function word(min, max) {
  const n = int(min, Math.max(min, max));
  let s = '';
  for (let i = 0; i < n; i++) s += 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'[int(0, 63)];
  return s;
}

const ajvFor = new Map();
function valid(schema, value) {
  let v = ajvFor.get(schema);
  if (!v) { v = contract.ajv.compile(wrap(schema)); ajvFor.set(schema, v); }
  return v(value);
}
// Schemas taken out of the document keep their $refs into it.
function wrap(schema) {
  return JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#/g, '"$ref":"openapi#'));
}

// A value the schema accepts: drawn from its shape, its examples where a
// pattern says more than the generator knows; checked, and redrawn.
function gen(schema, depth = 0) {
  for (let i = 0; i < 20; i++) {
    const v = draw(schema, depth);
    if (v !== undefined && valid(schema, v)) return v;
  }
  const ex = examplesOf(schema);
  if (ex.length) return clone(pick(ex));
  throw new Error('cannot generate a value for ' + JSON.stringify(schema).slice(0, 200));
}
const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
function examplesOf(schema) {
  const s = deref(schema);
  const out = [...(s.examples || [])];
  for (const k of ['allOf', 'anyOf', 'oneOf']) for (const sub of s[k] || []) out.push(...examplesOf(sub));
  return out;
}
function draw(schema, depth) {
  const s = deref(schema);
  if (s.const !== undefined) return s.const;
  if (s.enum) return pick(s.enum);
  if (s.examples && chance(0.3)) return clone(pick(s.examples));
  if (s.allOf) return draw(s.allOf[0], depth);
  if (s.oneOf || s.anyOf) {
    const alts = s.oneOf || s.anyOf;
    const base = { ...s };
    delete base.oneOf; delete base.anyOf;
    const alt = deref(pick(alts));
    return draw(Object.keys(base).length > 1 && !alt.type ? { ...base, ...alt } : alt, depth);
  }
  let type = s.type;
  if (Array.isArray(type)) type = chance(0.8) ? type.find((t) => t !== 'null') || 'null' : pick(type);
  if (!type) type = depth > 2 ? 'string' : pick(['string', 'integer', 'object']);
  switch (type) {
    case 'null': return null;
    case 'boolean': return chance(0.5);
    case 'integer': {
      const lo = s.minimum ?? -1000, hi = s.maximum ?? 1000000;
      return pick([lo, Math.min(hi, lo + 1), int(lo, Math.min(hi, lo + 100000)), hi]);
    }
    case 'number': return int(-1000, 1000) / 4;
    case 'string':
      if (s.pattern) return s.examples ? pick(s.examples) : undefined;
      return word(Math.max(1, s.minLength || 0), Math.min(s.maxLength || 12, 12));
    case 'array': {
      const n = int(s.minItems || 0, Math.max(s.minItems || 0, 3));
      return Array.from({ length: n }, () => (s.items ? gen(s.items, depth + 1) : word(1, 5)));
    }
    case 'object': {
      const o = {};
      const props = s.properties || {};
      for (const k of Object.keys(props))
        if ((s.required || []).includes(k) || chance(0.5)) o[k] = gen(props[k], depth + 1);
      for (const k of s.required || []) if (!(k in o)) o[k] = word(1, 8);
      return o;
    }
  }
  return undefined;
}

// One change that the schema refuses, or undefined when none was found.
function mutate(schema, value) {
  const s = deref(schema);
  for (let i = 0; i < 20; i++) {
    let v = clone(value), raw;
    const kind = pick(['wrongType', 'dropRequired', 'outOfRange', 'notObject', 'bigNumber', 'nul', 'badJson']);
    if (kind === 'badJson') return { raw: pick(['{"a":', '{"a":1,"a":2}', '{"x": tru}', '[1,]', '{} x']), json: false };
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      if (kind === 'notObject' || kind === 'wrongType') v = pick([7, 'x', true]);
      else continue;
    } else {
      const props = s.properties || (s.oneOf && deref(s.oneOf[0]).properties) || {};
      const keys = Object.keys(props);
      if (kind === 'dropRequired') {
        const req = s.required || (s.oneOf && deref(s.oneOf[0]).required) || [];
        if (!req.length) continue;
        delete v[pick(req)];
      } else if (kind === 'wrongType' && keys.length) {
        const k = pick(keys), t = deref(props[k]);
        v[k] = t.type === 'integer' || (t.anyOf || t.allOf) ? pick(['12', 1.5, -5, true]) : t.type === 'string' || t.pattern ? pick([7, true, ['x'], {}]) : pick([7, 'x']);
      } else if (kind === 'outOfRange' && keys.length) {
        const k = pick(keys), t = deref(props[k]);
        if (t.type === 'integer') v[k] = pick([-1, (t.maximum ?? 1e15) + 1]);
        else if (t.maxLength) v[k] = 'x'.repeat(t.maxLength + 1);
        else if (t.enum) v[k] = 'not-one-of-them';
        else continue;
      } else if (kind === 'notObject') {
        v = pick([7, 'case', [], null]);
      } else if (kind === 'bigNumber' && keys.length) {
        const k = pick(keys);
        raw = JSON.stringify({ ...v, [k]: 0 }).replace(`"${k}":0`, `"${k}":123456789012345678901234`);
        return { raw, json: true, value: null };
      } else if (kind === 'nul' && keys.length) {
        const k = keys.find((x) => deref(props[x]).type === 'string' || deref(props[x]).$ref || deref(props[x]).pattern);
        if (!k) continue;
        v[k] = 'a\u0000b';
      } else continue;
    }
    if (!valid(schema, v)) return { raw: JSON.stringify(v), json: true, value: v };
  }
  return undefined;
}

// --- the service ----------------------------------------------------------
function startServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recoup-property-'));
  const env = { ...process.env, P_INGEST: TOKENS.ingest, P_AGENT: TOKENS.agent, P_READ: TOKENS.read, P_ADMIN: TOKENS.admin };
  const child = spawn(bin, ['serve', institution, '--listen', '127.0.0.1:0', '--db', path.join(dir, 'p.db')],
    { env, stdio: ['ignore', 'pipe', fs.openSync(path.join(dir, 'server.log'), 'a')] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), dir });
    });
    child.on('exit', (code) => reject(new Error(`recoup serve exited ${code}: ${fs.readFileSync(path.join(dir, 'server.log'), 'utf8').slice(-2000)}`)));
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function send(port, method, url, { token, body, contentType }) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      headers['Content-Type'] = contentType || 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request({ host: '127.0.0.1', port, method, path: url, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        content_type: res.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
        headers: ['allow', 'retry-after'].filter((h) => res.headers[h] !== undefined)
          .map((h) => `${h === 'allow' ? 'Allow' : 'Retry-After'}: ${res.headers[h]}\r\n`).join(''),
      }));
    });
    req.setTimeout(20000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// --- requests -------------------------------------------------------------
const known = { cases: ['P0001', 'P0002'], tasks: [1, 2], messages: [1] };

function operations() {
  const ops = [];
  for (const [p, item] of Object.entries(doc.paths))
    for (const m of ['get', 'post'])
      if (item[m]) ops.push({ path: p, method: m, op: item[m], ptr: pointer('', 'paths', p, m) });
  return ops;
}

function paramValue(p) {
  const s = deref(p.schema);
  if (p.in === 'path') {
    if (s.type === 'integer') return String(chance(0.8) ? pick(known[/tasks/.test(p._path) ? 'tasks' : 'messages']) : int(1, 1000));
    return chance(0.8) ? pick(known.cases) : gen(p.schema);
  }
  return String(gen(p.schema));
}

function badParam(p) {
  const s = deref(p.schema);
  const choices = s.type === 'integer'
    ? ['0', '-1', 'abc', '1.5', '', '99999999999999999999', String((s.maximum ?? 1e18) + 1), '1e3']
    : s.enum ? ['bogus', ''] : s.maxLength ? ['x'.repeat(s.maxLength + 1), ''] : [];
  const bad = choices.filter((c) => {
    if (s.type === 'integer') return !/^[0-9]+$/.test(c) || !valid(p.schema, Number(c));
    return !valid(p.schema, c);
  });
  return bad.length ? pick(bad) : undefined;
}

function csv() {
  const n = int(1, 3), lines = ['id,borrower_id,balance,amount_due'];
  for (let i = 0; i < n; i++) {
    const bal = int(0, 100000);
    lines.push(`I${int(1, 40)},BI${int(1, 40)},${bal},${int(0, bal)}`);
  }
  return lines.join('\n') + '\n';
}

function build(o, mode) {
  // mode: 'valid' or 'invalid'; returns { url, body, contentType, invalid }
  let url = o.path, invalid = false;
  const query = [];
  const params = o.op.parameters || [];
  const bodyDef = o.op.requestBody;
  const mutable = [];
  for (const p of params) p._path = o.path;
  if (mode === 'invalid') {
    for (const p of params) if (p.in === 'query' && badParam(p) !== undefined) mutable.push('query:' + p.name);
    if (bodyDef && bodyDef.content['application/json']) mutable.push('body');
  }
  const target = mutable.length ? pick(mutable) : null;
  for (const p of params) {
    if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(paramValue(p)));
    else if (p.in === 'query') {
      if (target === 'query:' + p.name) { query.push(`${p.name}=${encodeURIComponent(badParam(p))}`); invalid = true; }
      else if (chance(0.4)) query.push(`${p.name}=${encodeURIComponent(paramValue(p))}`);
    }
  }
  if (query.length) url += '?' + query.join('&');
  let body, contentType;
  if (bodyDef) {
    if (bodyDef.content['application/json']) {
      const schema = bodyDef.content['application/json'].schema;
      let value = gen(schema);
      if (o.path === '/v1/cases' && chance(0.7)) value = caseLike();
      if (o.path === '/v1/payments' && chance(0.7)) value = { case: pick(known.cases), amount: int(1, 5000), ref: 'R' + int(1, 200) };
      if (/complete$/.test(o.path) && chance(0.7)) value = pick([{ outcome: 'no_answer' }, { outcome: 'promise', amount: int(0, 9000), by: '2027-01-10' }, { outcome: 'met', whom: 'spouse' }]);
      body = JSON.stringify(value);
      if (target === 'body') {
        const m = mutate(schema, value);
        if (m) { body = m.raw; invalid = true; }
      }
    } else {
      contentType = 'text/csv';
      body = chance(0.8) ? csv() : 'id,borrower_id,balance\nX1,B1,-5\n';
    }
  }
  return { url, body, contentType, invalid };
}

function caseLike() {
  const id = chance(0.5) ? pick(known.cases) : 'P' + String(int(1, 60)).padStart(4, '0');
  const balance = int(0, 1000000);
  const c = { id, balance, amount_due: int(0, balance), borrower: { id: 'B' + id, name: word(1, 10) } };
  if (chance(0.3)) c.due_date = pick(['2026-01-01', '0001-01-01', '9999-12-31', '3000-02-28']);
  if (chance(0.3)) c.tags = [word(1, 5)];
  return chance(0.2) ? [c, { ...c, id: c.id + 'x', borrower: { id: 'B2' } }] : c;
}

// --- the property ---------------------------------------------------------
async function main() {
  const started = Date.now();
  const { child, port, dir } = await startServer();
  let failures = 0, checks = 0;
  const fail = (msg) => { failures++; if (failures <= 40) console.log('FAIL ' + msg); };
  try {
    for (const c of known.cases)
      await send(port, 'POST', '/v1/cases', { token: TOKENS.ingest, body: JSON.stringify({ id: c, balance: 100000, amount_due: 5000, due_date: '2026-01-01', borrower: { id: 'B' + c } }) });
    const ops = operations();
    for (let round = 0; round < ROUNDS; round++) {
      for (const o of ops) {
        for (const role of ROLES) {
          const mode = chance(0.5) ? 'valid' : 'invalid';
          const r = build(o, mode);
          const token = role === 'none' ? undefined : role === 'wrong' ? 'not-a-token' : TOKENS[role];
          const res = await send(port, o.method.toUpperCase(), r.url, { token, body: r.body, contentType: r.contentType });
          checks++;
          if (process.env.PROPERTY_DEBUG) console.log(`${res.status} ${o.method} ${o.path} ${role} ${r.invalid ? "invalid" : "valid"}`);
          const what = `${o.method.toUpperCase()} ${r.url.slice(0, 100)} as ${role} (${r.invalid ? 'invalid' : 'valid'}) ${r.body ? r.body.slice(0, 120) : ''} -> ${res.status} ${res.body.slice(0, 200)}`;
          if (res.status >= 500) fail(`5xx: ${what}`);
          const problems = contract.checkAnswer({ method: o.method.toUpperCase(), url: r.url, status: res.status, content_type: res.content_type, body: res.body, headers: res.headers, request_body: r.body });
          for (const p of problems) fail(`${p}: ${what}`);
          const roles = (o.op.security || []).map((s) => Object.keys(s)[0]);
          if (roles.length) {
            if ((role === 'none' || role === 'wrong') && res.status !== 401) fail(`wanted 401: ${what}`);
            else if (TOKENS[role] && !roles.includes(role) && res.status !== 403) fail(`wanted 403: ${what}`);
          }
          const allowed = !roles.length || roles.includes(role);
          // An open route may refuse with 401 or 403 only where it documents
          // its own (sign-in: a wrong password, another site's Origin).
          const own = (st) => o.op.responses[String(st)] && !o.op.responses[String(st)].$ref;
          if (allowed) {
            if ([401, 403].includes(res.status) && !(!roles.length && own(res.status))) fail(`role refused: ${what}`);
            if (r.invalid && res.status < 400) fail(`invalid input accepted: ${what}`);
            if (!r.invalid && res.status === 400) fail(`valid input called malformed: ${what}`);
          }
          if (res.status < 300 && /^\/v1\/cases$/.test(o.path) && o.method === 'post') {
            for (const c of JSON.parse(res.body).cases) if (!known.cases.includes(c.id)) known.cases.push(c.id);
          }
        }
      }
      // every path with a method it does not take: 405 and its Allow
      for (const p of Object.keys(doc.paths)) {
        const url = p.replace(/\{id\}/g, '1');
        const method = pick(['DELETE', 'PUT', 'PATCH', 'GET', 'POST'].filter((m) => !doc.paths[p][m.toLowerCase()]));
        const res = await send(port, method, url, { token: TOKENS.admin, body: method === 'GET' ? undefined : '{}' });
        checks++;
        if (res.status !== 405) fail(`wanted 405: ${method} ${url} -> ${res.status}`);
        for (const pr of contract.checkAnswer({ method, url, status: res.status, content_type: res.content_type, body: res.body, headers: res.headers }))
          fail(`${pr}: ${method} ${url}`);
      }
      {
        const url = '/v1/' + word(1, 12);
        const res = await send(port, 'GET', url, { token: TOKENS.admin });
        checks++;
        if (res.status !== 404) fail(`wanted 404: GET ${url} -> ${res.status}`);
        for (const pr of contract.checkAnswer({ method: 'GET', url, status: res.status, content_type: res.content_type, body: res.body, headers: res.headers }))
          fail(`${pr}: GET ${url}`);
      }
      // tasks made by the workflow since, for claim and complete
      const t = await send(port, 'GET', '/v1/tasks?limit=1000', { token: TOKENS.admin });
      known.tasks = JSON.parse(t.body).tasks.map((x) => x.id).concat([1]);
    }
  } finally {
    child.kill('SIGTERM');
    agent.destroy();
  }
  await new Promise((r) => child.on('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`seed ${SEED}: ${checks} requests over ${operations().length} operations and ${ROLES.length} roles in ${secs}s, ${failures} failures`);
  console.log(`${checks - failures} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(1); });
