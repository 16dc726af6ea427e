// Checks every answer the integration tests got (RECOUP_HTTP_TRACE lines)
// against docs/openapi.json: status documented for the route, body of the
// documented schema, error codes with their statuses, Allow on 405,
// Retry-After on 503, and no 2xx for a request the document refuses.
//   node validate_trace.js docs/openapi.json TRACE.jsonl
'use strict';
const fs = require('fs');
const { Contract } = require('./contract');

const [docFile, traceFile] = process.argv.slice(2);
const contract = new Contract(docFile);
if (!fs.existsSync(traceFile)) {
  console.error(`${traceFile}: no trace (did the integration tests run?)`);
  process.exit(1);
}
// A service SIGKILLed in the middle of its one write() of a line (the
// crash tests kill it while answering; Linux stops a file write between
// pages for a fatal signal) leaves the start of a line, and the next
// service's line is appended right after it. Every line starts with
// {"status": and that text cannot occur unescaped inside one, so a line
// holding it again past its start is cut there: the pieces before the last
// are torn writes, counted apart; so is a last line the file does not end.
const text = fs.readFileSync(traceFile, 'utf8');
const rawLines = text.split('\n');
const unended = rawLines.pop();
const lines = [];
let torn = 0;
const START = '{"status":';
for (const raw of rawLines) {
  const at = raw.lastIndexOf(START);
  if (at > 0 && !parses(raw)) {
    const head = raw.slice(0, at);
    torn += head.split(START).length - (head.startsWith(START) ? 1 : 0);
    lines.push(raw.slice(at));
  } else if (raw) lines.push(raw);
}
if (unended) torn++;
function parses(s) {
  try { JSON.parse(s); return true; } catch (e) { return false; }
}
let violations = 0;
const seen = new Map();
lines.forEach((line, i) => {
  let t;
  try { t = JSON.parse(line); } catch (e) {
    violations++;
    console.log(`line ${i + 1}: not JSON (${e.message})`);
    return;
  }
  const found = t.url ? contract.find(t.method, t.url) : {};
  const key = found.op ? `${t.method} ${found.route.path} ${t.status}` : `(other) ${t.status}`;
  seen.set(key, (seen.get(key) || 0) + 1);
  for (const p of contract.checkAnswer(t)) {
    violations++;
    if (violations <= 50) console.log(`line ${i + 1}: ${t.method || '-'} ${(t.url || '-').slice(0, 120)} -> ${t.status}: ${p}`);
  }
});
for (const [k, n] of [...seen.entries()].sort()) console.log(`  ${String(n).padStart(6)}  ${k}`);
// Documented answers of a route's own (not the shared transport and auth
// answers) that no test provoked: not a failure, a list to look at.
const unseen = [];
for (const [p, item] of Object.entries(contract.doc.paths))
  for (const [m, op] of Object.entries(item))
    for (const [st, r] of Object.entries(op.responses || {}))
      if (!r.$ref && !seen.has(`${m.toUpperCase()} ${p} ${st}`)) unseen.push(`${m.toUpperCase()} ${p} ${st}`);
console.log(`documented answers not seen in this trace: ${unseen.length}` + (unseen.length ? ` (${unseen.slice(0, 60).join('; ')}${unseen.length > 60 ? '; ...' : ''})` : ''));
if (torn) console.log(`lines torn by a killed service (not checked): ${torn}`);
console.log(`${lines.length} answers checked against ${docFile}: ${violations} violations`);
console.log(`${lines.length - violations} passed, ${violations} failed`);
process.exit(violations || !lines.length ? 1 : 0);
