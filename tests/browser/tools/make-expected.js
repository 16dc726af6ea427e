'use strict';
// Writes tests/fixtures/console/data/expected.json from a freshly built and
// served fixture book (node tools/make-expected.js, RECOUP_BIN set). Run it
// after changing the fixture, then read the diff: fixture.test.js checks
// the service against this file, so a change here must be meant.
const fs = require('node:fs');
const path = require('node:path');
const h = require('../harness');

const bucket = h.bucket || ((dpd) => (dpd <= 0 ? 'current' : dpd <= 30 ? '1-30' : dpd <= 60 ? '31-60' : dpd <= 90 ? '61-90' : '90+'));
const BUCKETS = ['current', '1-30', '31-60', '61-90', '90+'];
const STATES = ['reminder', 'call', 'visit', 'legal', 'resolved', 'cured'];

(async () => {
  const book = await h.startBook();
  try {
    const back = (d) => (d ? h.addDays(d.slice(0, 10), -book.shift) : d);
    const cases = {};
    const all = async (base, key) => {
      const rows = [];
      let after = '';
      for (;;) {
        const sep = base.includes('?') ? '&' : '?';
        const r = await h.api(book, `${base}${sep}limit=100${after ? '&after=' + encodeURIComponent(after) : ''}`, { token: 'admin' });
        if (r.status !== 200) throw new Error(`${base}: ${r.status} ${r.text}`);
        rows.push(...r.body[key]);
        if (r.body.next === null || r.body.next === undefined) break;
        after = String(r.body.next);
      }
      return rows;
    };
    const tasks = await all('/v1/tasks', 'tasks');
    const list = await all('/v1/cases', 'cases');
    const arms = {};
    for (const item of list) {
      const c = (await h.api(book, `/v1/cases/${item.id}`, { token: 'admin' })).body;
      const open = tasks.filter((t) => t.case === c.id && (t.status === 'open' || t.status === 'claimed'));
      const dpd = Math.max(0, h.daysBetween(back(c.due_date), h.REFERENCE_DATE));
      if (c.dpd !== Math.max(0, dpd + book.dayShift) && !c.closed) throw new Error(`${c.id}: dpd ${c.dpd}, expected ${dpd} + ${book.dayShift}`);
      cases[c.id] = {
        borrower: c.borrower.name, borrower_id: c.borrower.id, area: c.borrower.area || c.data.area || '',
        state: c.state, closed: c.closed, balance: c.balance, amount_due: c.amount_due,
        due_date: back(c.due_date), dpd, bucket: bucket(dpd), error: c.error !== null,
        on_hold: c.on_hold,
        tasks: open.map((t) => ({ id: t.id, kind: t.kind, queue: t.queue, priority: t.priority, due: back(t.due), due_now: Date.parse(t.due) <= Date.parse(book.anchor) })),
      };
    }
    const ids = Object.keys(cases).sort();
    const open = ids.filter((id) => !cases[id].closed);
    const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);
    const promises = { kept: 0, broken: 0, open: 0 };
    const messages = {};
    for (const id of ids) {
      const j = await all(`/v1/cases/${id}/journal`, 'journal');
      for (const row of j) {
        if (row.kind === 'variant') {
          arms[row.detail.arm] = (arms[row.detail.arm] || 0) + 1;
          cases[id].arm = row.detail.arm;
        }
        if (row.kind === 'event' && row.detail.type === 'promise_kept') promises.kept++;
        if (row.kind === 'event' && row.detail.type === 'promise_broken') promises.broken++;
      }
      const ended = j.filter((r) => r.kind === 'event' && /^promise_(kept|broken)$/.test(r.detail.type)).length;
      promises.open += j.filter((r) => r.kind === 'promise').length - ended;
    }
    const out = {
      '//': 'The console fixture book as served by tests/browser/harness.js (after its setup payments and dispute). Dates are as written for an anchor of reference_date; h.expected(book) moves them and adds book.dayShift to dpd. Regenerate with tests/browser/tools/make-expected.js and read the diff.',
      reference_date: h.REFERENCE_DATE,
      currency: 'CNY',
      total_cases: ids.length,
      by_state: STATES.map((s) => {
        const xs = ids.filter((id) => cases[id].state === s);
        return { state: s, cases: xs.length, balance: sum(xs, (id) => cases[id].balance) };
      }),
      by_dpd_open: BUCKETS.map((b) => {
        const xs = open.filter((id) => cases[id].bucket === b);
        return { bucket: b, cases: xs.length, balance: sum(xs, (id) => cases[id].balance) };
      }),
      queues: Object.fromEntries(['phone', 'field'].map((q) => {
        const ts = ids.flatMap((id) => cases[id].tasks).filter((t) => t.queue === q);
        return [q, { open: ts.length, due_now: ts.filter((t) => t.due_now).length }];
      })),
      promises,
      errors: ids.filter((id) => cases[id].error),
      on_hold: ids.filter((id) => cases[id].on_hold),
      payments: [{ case: 'CN020', amount: 50000 }, { case: 'CN018', amount: 120000 }],
      recovered: 170000,
      experiment: { name: 'reminder_wording', arms },
      cases,
    };
    fs.writeFileSync(path.join(h.FIXTURE, 'data', 'expected.json'), JSON.stringify(out, null, 1) + '\n');
    console.log('wrote', path.join(h.FIXTURE, 'data', 'expected.json'));
  } finally {
    await h.stopBook(book);
  }
})().catch((e) => { console.error(e); process.exit(1); });
