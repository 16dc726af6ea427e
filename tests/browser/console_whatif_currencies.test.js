'use strict';
// A what-if report of a book in three currencies (`recoup simulate`'s
// JSON: `recovered` is the institution's currency's alone and
// `recovered_by_currency` has each one's): the side-by-side table shows
// a recovered row a currency, the institution's first and named, then
// the others by code, each in its own money. On b365a5a the table showed
// the yuan alone: the euro and dollars recovered were not on the page.
// The report is served to the page as the service would send it (a
// simulation's figures depend on the dice, not what is tested here).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

const day = (date, recovered, by) => ({ date, recovered, recovered_by_currency: by, payments: 2, messages: {},
  refusals: 0, replies: 0, tasks_opened: {}, tasks_done: {}, backlog: {}, legal: 0, states: {} });
const arm = (name, k) => {
  const days = [day('2026-12-07', 100000 * k, { CNY: 100000 * k, USD: 1234 * k }),
    day('2026-12-08', 50000 * k, { CNY: 50000 * k, EUR: 123456 * k })];
  return { name, days, summary: { recovered: 150000 * k, payments: 4, messages: {}, refusals: 0, replies: 0,
    recovered_by_currency: { CNY: 150000 * k, EUR: 123456 * k, USD: 1234 * k },
    tasks_opened: {}, tasks_done: {}, peak_backlog: {}, capacity: {}, backlog_rising: [], legal: 0, states: {}, held: 0 } };
};
const record = { id: 7, status: 'done', by: 'zhang.min', at: '2026-12-06T10:00:00+08:00', against: 'same_again', days: 2, runs: 1 };
const report = { ...record, report: { days: 2, runs: 1, arms: [arm('current', 1), arm('same_again', 2)], model: {} } };

async function serveReport(page) {
  await page.route(/\/v1\/simulations(\?|$)/, (r) => (r.request().method() === 'GET'
    ? r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ simulations: [record] }) })
    : r.continue()));
  await page.route(/\/v1\/simulations\/7$/, (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(report) }));
}

const rows = (page) => page.$$eval('table[data-table="whatif-summary"] tbody tr', (trs) =>
  trs.map((tr) => [tr.dataset.key, ...[...tr.querySelectorAll('td')].map((td) => td.textContent)]));

test('a what-if report shows what each currency recovered, in English and Chinese', async (t) => {
  for (const [locale, label] of [['en', (c) => `Recovered in ${c}`], ['zh-CN', (c) => `回款金额 ${c}`]]) {
    const page = await h.newPage(t, s.browser, { device: 'desktop', locale });
    await serveReport(page);
    await h.signIn(page, s.book, 'zhang.min');
    if (locale === 'en') await page.click('button.lang[data-lang="en"]');
    await page.goto(s.book.url + '/#/strategy');
    await page.click('.whatif-list button[data-open="7"]');
    await page.waitForSelector('table[data-table="whatif-summary"] tr[data-key="recovered_by_currency.USD"]');
    const got = (await rows(page)).filter((r) => /^recovered/.test(r[0]));
    assert.deepEqual(got.map((r) => r[0]), ['recovered', 'recovered_by_currency.EUR', 'recovered_by_currency.USD'],
      'the institution\'s currency first, then by code');
    assert.deepEqual(got.map((r) => r[1]), ['CNY', 'EUR', 'USD'].map(label));
    assert.match(got[0][2], /¥1,500\.00/);
    assert.match(got[0][3], /¥3,000\.00/);
    assert.match(got[1][2], /€1,234\.56/);
    assert.match(got[1][3], /€2,469\.12/);
    assert.match(got[2][2], /\$12\.34/);
    assert.match(got[2][3], /\$24\.68/);
    h.checkGuards(page);
    await h.screenshot(page, `whatif-three-currencies-${locale}`);
  }
});
