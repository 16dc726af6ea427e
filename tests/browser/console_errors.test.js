'use strict';
// A book with more cases in error than the overview lists at once (150
// more than the fixture's two): the supervisor's button says how many
// there are, the list says it shows the newest 100 of them and reaches
// the rest with More. The button said "100+" and the list stopped at
// 100 without a word.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const EXTRA = 150;
let book, browser, total;
before(async () => {
  book = await h.startBook();
  browser = await h.launchBrowser();
  // Cases whose escalation fails every time (the fixture's column `fail`).
  const head = 'id,borrower_id,borrower_name,phone,address,area,locale,product,principal,balance,amount_due,fees,due_date,fail';
  const lines = [head];
  for (let i = 0; i < EXTRA; i++) {
    const n = String(i).padStart(4, '0');
    lines.push(`QE${n},QB${n},借款人${n},+86138${String(20000000 + i)},上海市徐汇区漕溪路${i}号,徐汇,zh-CN,personal,500000,300000,50000,0,${book.date('2026-11-01')},always`);
  }
  const r = await h.api(book, '/v1/import', { method: 'POST', token: 'ingest', body: lines.join('\n') + '\n', headers: { 'content-type': 'text/csv' } });
  if (r.status !== 200) throw new Error(`import: ${r.status} ${r.text.slice(0, 500)}`);
  for (let i = 0; i < EXTRA; i++) {
    const n = String(i).padStart(4, '0');
    const e = await h.api(book, `/v1/cases/QE${n}/events`, { method: 'POST', token: 'ingest', body: { type: 'escalate', key: `escalate-QE${n}` } });
    if (e.status !== 202) throw new Error(`escalate QE${n}: ${e.status} ${e.text}`);
  }
  total = EXTRA + h.expected(book).errors.length;
  await h.waitFor(async () => (await h.api(book, '/v1/overview', { token: 'admin' })).body.errors === total,
    { timeout: 60000, message: `${total} cases in error` });
});
after(async () => {
  await h.closeBrowser(browser);
  await h.stopBook(book);
});

const count = (page) => page.locator('table[data-table="errors"] tbody tr').count();

test('the overview says how many cases are in error past a page and lists them all', async (t) => {
  for (const [locale, device, shown] of [
    ['en', 'desktop', new RegExp(`The newest 100 of ${total} cases in error`)],
    ['zh-CN', 'phone', new RegExp(`共 ${total} 个出错案件，此处为最新的 100 个`)]]) {
    const page = await h.newPage(t, browser, { device, locale });
    await h.useSession(page, book, 'zhang.min');
    await page.goto(book.url + '/#/overview');
    if (locale === 'en') await page.click('button.lang[data-lang="en"]');
    const jump = page.locator('.ov-jump .jump-errors .count');
    await jump.waitFor();
    await page.waitForSelector('table[data-table="errors"]');
    assert.equal(await jump.textContent(), String(total), 'the button counts every case in error');
    assert.match(await page.textContent('.errors-shown'), shown);
    assert.equal(await count(page), 100);
    if (device === 'phone') await h.fitsPhone(page, '.ov-jump .jump-errors');
    await page.click('button.errors-more');
    await page.waitForFunction(() => !document.querySelector('button.errors-more'));
    const ids = await page.$$eval('table[data-table="errors"] tbody tr', (trs) => trs.map((tr) => tr.dataset.key));
    assert.equal(ids.length, total, 'every case in error');
    assert.equal(new Set(ids).size, total, 'each once');
    assert.ok(ids.includes('QE0000') && ids.includes('CN025'));
    assert.equal(await page.locator('.errors-shown').count(), 0, 'the whole list needs no word of more');
    await h.screenshot(page, `overview-errors-${total}-${device}-${locale}`);
  }
});
