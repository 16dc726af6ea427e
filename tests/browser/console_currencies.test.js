'use strict';
// A lender's book in two currencies: the fixture's yuan loans and a
// dollar loan beside them. The overview shows each currency's amounts
// apart (a column a currency, named in its heading; a chart of
// recovered money a currency): the yuan balances are the book's own,
// the dollar case's money is not added to them. On 4921bb4 the dollars
// were summed into the yuan figures and shown as yuan.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

const cells = (page, table, col) => page.$$eval(`table[data-table="${table}"] tbody tr`, (trs, c) =>
  Object.fromEntries(trs.map((tr) => [tr.dataset.key, (tr.querySelector(`td[data-col="${c}"]`) || {}).textContent])), col);
const headings = (page, table) => page.$$eval(`table[data-table="${table}"] thead th`, (ths) => ths.map((th) => th.textContent));
const yuan = (minor) => '¥' + (minor / 100).toLocaleString('en-US', { minimumFractionDigits: 2 });

async function addDollarLoan() {
  const opened = await h.api(s.book, '/v1/cases', { method: 'POST', token: 'ingest', body: {
    id: 'US001', currency: 'USD', balance: 250000, amount_due: 50000, due_date: '2026-01-01',
    borrower: { id: 'PUS001', name: 'Mary Lee', phones: ['+14155550100'] } } });
  assert.equal(opened.status, 201, opened.text);
  const paid = await h.api(s.book, '/v1/payments', { method: 'POST', token: 'ingest',
    body: { case: 'US001', amount: 12345, ref: 'US-PAY-1', currency: 'USD' } });
  assert.equal(paid.status, 201, paid.text);
  // The overview answers once the payment's figures are committed.
  await h.waitFor(async () => {
    const o = await h.api(s.book, '/v1/overview', { token: 'admin' });
    return o.status === 200 && (o.body.currencies || []).includes('USD');
  }, { message: 'the overview never named USD' });
}

test('the overview shows each currency of a two-currency book apart', async (t) => {
  const ex = h.expected(s.book);
  await addDollarLoan();
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.signIn(page, s.book, 'zhang.min');
  await page.click('button.lang[data-lang="en"]'); // the institution speaks zh-CN
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('table[data-table="by_state"] td[data-col="balance-USD"]');
  const heads = await headings(page, 'by_state');
  assert.ok(heads.includes('Balance (CNY)'), heads.join(' | '));
  assert.ok(heads.includes('Balance (USD)'), heads.join(' | '));
  // The yuan balances are the book's own: the dollar loan is not in them.
  const cny = await cells(page, 'by_state', 'balance-CNY');
  for (const st of ex.by_state.filter((x) => x.cases > 0))
    assert.equal(cny[st.state], yuan(st.balance), `yuan balance in ${st.state}`);
  const usd = Object.values(await cells(page, 'by_state', 'balance-USD'));
  assert.ok(usd.some((v) => /2,376\.55/.test(v) && /\$/.test(v)), `no $2,376.55 among ${usd.join(', ')}`);
  assert.ok((await headings(page, 'by_dpd')).includes('Balance (USD)'));
  // Money recovered: a chart and a table a currency.
  await page.waitForSelector('table[data-table="recovered-USD"]');
  await page.waitForSelector('table[data-table="recovered-CNY"]');
  const paid = Object.values(await cells(page, 'recovered-USD', 'payments'));
  assert.ok(paid.some((v) => /123\.45/.test(v)), `no $123.45 among the days: ${paid.join(', ')}`);
  assert.ok(!paid.some((v) => /¥/.test(v)), 'dollars shown as yuan');
  const sections = await page.$$eval('section h2', (hs) => hs.map((x) => x.textContent));
  assert.ok(sections.some((x) => /Recovered per day in USD/.test(x)), sections.join(' | '));
  await page.waitForSelector('.chart canvas');
  h.checkGuards(page);
  await h.screenshot(page, 'overview-two-currencies-en');
});

test('the overview names each currency in Chinese too', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.signIn(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/overview');
  await h.waitFor(async () => (await page.locator('table[data-table="by_state"] td[data-col="balance-USD"]').count()) > 0,
    { timeout: 15000, message: 'no dollar column (was the dollar loan added?)' });
  const heads = await headings(page, 'by_state');
  assert.ok(heads.includes('欠款余额（USD）'), heads.join(' | '));
  assert.ok(heads.includes('欠款余额（CNY）'), heads.join(' | '));
  const sections = await page.$$eval('section h2', (hs) => hs.map((x) => x.textContent));
  assert.ok(sections.some((x) => /每日回款 USD/.test(x)), sections.join(' | '));
  h.checkGuards(page);
  await h.screenshot(page, 'overview-two-currencies-zh-CN');
});
