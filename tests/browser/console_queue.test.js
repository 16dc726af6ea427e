'use strict';
// A book of 2,000 more cases: a supervisor browses all of them from the
// Cases page, a page at a time, each case once.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const EXTRA = 2000;
let book, browser;
before(async () => {
  book = await h.startBook();
  browser = await h.launchBrowser();
  const head = 'id,borrower_id,borrower_name,phone,address,area,locale,product,principal,balance,amount_due,fees,due_date';
  const lines = [head];
  for (let i = 0; i < EXTRA; i++) {
    const n = String(i).padStart(4, '0');
    lines.push(`QX${n},QB${n},借款人${n},+86138${String(10000000 + i)},上海市徐汇区漕溪路${i}号,徐汇,zh-CN,personal,500000,300000,50000,0,${book.date('2026-11-01')}`);
  }
  const r = await h.api(book, '/v1/import', { method: 'POST', token: 'ingest', body: lines.join('\n') + '\n', headers: { 'content-type': 'text/csv' } });
  if (r.status !== 200) throw new Error(`import: ${r.status} ${r.text.slice(0, 500)}`);
});
after(async () => {
  await h.closeBrowser(browser);
  await h.stopBook(book);
});

test('a supervisor reaches every case of a 2,000-case book from the Cases page', async (t) => {
  const page = await h.newPage(t, browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, book, 'zhang.min');
  await page.goto(book.url + '/#/cases');
  await page.waitForSelector('table[data-table="cases"] tbody tr');
  const count = () => page.locator('table[data-table="cases"] tbody tr').count();
  assert.equal(await count(), 50, 'the first page');
  const total = EXTRA + h.expected(book).total_cases;
  for (let clicks = 0; clicks < 100 && (await page.locator('button.more').count()); clicks++) {
    const before_ = await count();
    await page.click('button.more');
    await page.waitForFunction((n) => document.querySelectorAll('table[data-table="cases"] tbody tr').length > n
      || !document.querySelector('button.more'), before_);
  }
  const ids = await page.$$eval('table[data-table="cases"] tbody tr', (trs) => trs.map((tr) => tr.dataset.key));
  assert.equal(new Set(ids).size, ids.length, 'each case once');
  assert.equal(ids.length, total, 'every case of the book');
  assert.ok(ids.includes('QX1999') && ids.includes('CN001'));
  assert.match(await page.textContent('[data-shown]'), new RegExp(`已显示 ${total.toLocaleString('en')} 个案件`));
});
