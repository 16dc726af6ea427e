'use strict';
// The Strategy page's experiment arms in a book of two currencies: the
// fixture's yuan loans, and a tenge loan that paid 50,000.00 KZT. Each arm
// shows what it recovered in each currency, a line a currency, the yuan
// first, a zero where an arm has none, and says that currencies are
// compared apart. A book of one currency reads one amount, as before. On
// d8b7683 the arm that held the tenge loan read its tenge added to its
// yuan, as yuan (¥51,200.00 for ¥1,200.00 and ₸50,000.00).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

// Each arm's recovered cell: its lines as [currency, text], or the one
// amount of a book of one currency as [null, text].
const recovered = (page) => page.$$eval('.experiment[data-experiment="reminder_wording"] .arm', (arms) =>
  Object.fromEntries(arms.map((a) => {
    const dd = a.querySelectorAll('dd')[1];
    const lines = [...dd.querySelectorAll('[data-currency]')];
    return [a.dataset.arm, lines.length ? lines.map((x) => [x.dataset.currency, x.textContent]) : [[null, dd.textContent]]];
  })));

async function strategy(t, locale) {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale });
  await h.signIn(page, s.book, 'zhang.min');
  if (locale === 'en') await page.click('button.lang[data-lang="en"]'); // the institution speaks zh-CN
  await page.goto(s.book.url + '/#/strategy');
  await page.waitForSelector('.experiment[data-experiment="reminder_wording"] .arm[data-arm="B"]');
  return page;
}

test('a book of one currency reads one amount an arm', async (t) => {
  const page = await strategy(t, 'en');
  const got = await recovered(page);
  assert.deepEqual(got, { A: [[null, '¥1,200.00']], B: [[null, '¥500.00']] });
  assert.equal(await page.locator('[data-note="currencies"]').count(), 0);
  h.checkGuards(page);
});

test('an arm\'s tenge stay tenge beside its yuan, in English and Chinese', async (t) => {
  const opened = await h.api(s.book, '/v1/cases', { method: 'POST', token: 'ingest', body: {
    id: 'KZ001', currency: 'KZT', balance: 9000000, amount_due: 9000000, due_date: '2026-01-01',
    borrower: { id: 'PKZ001', name: 'Aigerim Nurlanovna', phones: ['+77012345678'] } } });
  assert.equal(opened.status, 201, opened.text);
  const paid = await h.api(s.book, '/v1/payments', { method: 'POST', token: 'ingest',
    body: { case: 'KZ001', amount: 5000000, ref: 'KZ-PAY-1', currency: 'KZT' } });
  assert.equal(paid.status, 201, paid.text);
  // Its arm is the case id's hash: read it back from the service.
  const arm = await h.waitFor(async () => {
    const w = await h.api(s.book, '/v1/workflows', { token: 'admin' });
    const x = w.status === 200 && w.body.workflows.find((f) => f.name === 'console').experiments
      .find((e) => e.name === 'reminder_wording');
    const a = x && x.arms.find((y) => (y.by_currency || []).some((m) => m.currency === 'KZT'));
    return a && a.arm;
  }, { message: 'no arm recovered the tenge' });
  const other = arm === 'A' ? 'B' : 'A';
  const yuan = { A: '¥1,200.00', B: '¥500.00' };
  for (const locale of ['en', 'zh-CN']) {
    const page = await strategy(t, locale);
    await page.waitForSelector('.arm [data-currency="KZT"]');
    const got = await recovered(page);
    assert.deepEqual(got[arm].map((x) => x[0]), ['CNY', 'KZT']);
    assert.equal(got[arm][0][1], yuan[arm], 'the yuan alone');
    assert.match(got[arm][1][1], /50,000\.00/);
    assert.doesNotMatch(got[arm][1][1], /¥/);
    assert.deepEqual(got[other].map((x) => x[0]), ['CNY', 'KZT'], 'every arm lists each currency');
    assert.equal(got[other][0][1], yuan[other]);
    assert.match(got[other][1][1], /0\.00/);
    const note = await page.locator('[data-note="currencies"]').textContent();
    assert.match(note, locale === 'en' ? /currency by currency/ : /按币种分别比较/);
    h.checkGuards(page);
    await h.screenshot(page, `strategy-arms-two-currencies-${locale}`);
  }
});
