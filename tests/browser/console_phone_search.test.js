'use strict';
// A borrower calls in: the collector types the number on the screen or
// heard on the line into Cases' search (CONSOLE.md, "/ search by case id
// or phone") and gets that borrower's cases, as Cases would show them.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

async function casesPage(t, user, opts = {}) {
  const page = await h.newPage(t, s.browser, { device: opts.device || 'desktop', locale: 'zh-CN', clockOffset: s.book.clockOffset });
  if (opts.locale === 'en') await page.addInitScript(() => localStorage.setItem('recoup.locale', 'en'));
  if (opts.width) await page.setViewportSize({ width: opts.width, height: 640 });
  await h.useSession(page, s.book, user);
  await page.goto(`${s.book.url}/#/cases`);
  await page.waitForSelector('main[data-page="cases"] input.search');
  return page;
}

async function search(page, text) {
  await page.fill('main[data-page="cases"] input.search', text);
  await page.keyboard.press('Enter');
}

test('li.wei types a spaced number of one borrower with one case: the case opens; a case id opens as ever', async (t) => {
  const page = await casesPage(t, 'li.wei');
  await search(page, 'CN012');
  await page.waitForFunction(() => location.hash === '#/case/CN012', null, { timeout: 15000 });
  await page.goto(`${s.book.url}/#/cases`);
  await page.waitForSelector('main[data-page="cases"] input.search');
  await search(page, '138 0011 0866');
  await page.waitForFunction(() => location.hash === '#/case/CN014', null, { timeout: 15000 });
  await page.waitForSelector('main[data-page="case"] .note-form textarea');
  assert.match(await page.textContent('main'), /马超/);
});

test('a number two cases share lists both, with the borrower, state and balance, in English too, on a 360 px phone', async (t) => {
  const page = await casesPage(t, 'zhang.min', { device: 'phone', width: 360, locale: 'en' });
  await search(page, '+86 138-0022-1732');
  await page.waitForSelector('main[data-page="cases"] .phone-found');
  await page.waitForSelector('main[data-page="cases"] [data-shown="2"]');
  const text = await page.textContent('main');
  assert.match(text, /Cases of the borrower with phone \+86 138-0022-1732/);
  assert.match(text, /CN028/);
  assert.match(text, /CN029/);
  assert.match(text, /周伟/);
  assert.doesNotMatch(text, /CN030/);
  assert.equal(await page.evaluate(() => location.hash), '#/cases');
  await h.fitsPhone(page, '.phone-found button');
  await h.screenshot(page, 'cases-phone-search-360-en');
  // All cases takes the list back.
  await page.click('.phone-found button');
  await h.waitFor(async () => (await page.textContent('main')).includes('CN030'), { message: 'every case listed again' });
});

test('a number no borrower has is said, with the way to open it as a case id', async (t) => {
  const page = await casesPage(t, 'li.wei');
  await search(page, '137 0000 0000');
  await page.waitForSelector('main[data-page="cases"] .phone-found');
  assert.match(await page.textContent('.phone-found'), /没有借款人的电话是 137 0000 0000/);
  assert.equal(await page.locator('main[data-page="cases"] table').count(), 0);
  assert.equal(await page.evaluate(() => location.hash), '#/cases');
  assert.equal(await page.getAttribute('.phone-found a.open-id', 'href'), '#/case/' + encodeURIComponent('137 0000 0000'));
  // Digits no phone can be (with +86, more than E.164's 15: the
  // service's 422), as a numeric case id is: none, the id offered.
  await search(page, '12345678901234');
  await h.waitFor(async () => (await page.getAttribute('.phone-found a.open-id', 'href')) === '#/case/12345678901234', { message: 'the id offered' });
  assert.match(await page.textContent('.phone-found'), /没有借款人的电话是 12345678901234/);
});

test("li.wei (queue phone) does not find a field case by its borrower's number; a supervisor does", async (t) => {
  const page = await casesPage(t, 'li.wei');
  await search(page, '13800039595'); // CN005, a home visit in field
  await page.waitForSelector('main[data-page="cases"] .phone-found');
  assert.match(await page.textContent('.phone-found'), /没有借款人的电话是/);
  assert.doesNotMatch(await page.textContent('main'), /CN005|陈磊/);
  const boss = await casesPage(t, 'zhang.min');
  await search(boss, '１３８　０００３　９５９５'); // a full-width input method's
  await boss.waitForFunction(() => location.hash === '#/case/CN005', null, { timeout: 15000 });
});

test('on My work, / and a number finds the case the same way', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN', clockOffset: s.book.clockOffset });
  await h.useSession(page, s.book, 'li.wei');
  await page.goto(`${s.book.url}/#/work`);
  await page.waitForSelector('main[data-page="work"] input.search');
  await page.click('main h1, main .page-head');
  await page.keyboard.press('/');
  await page.keyboard.type('138-0011-0866');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.hash === '#/case/CN014', null, { timeout: 15000 });
  await page.waitForSelector('main[data-page="case"] .note-form textarea');
  // Back is My work again, not a look-up that opens the case once more.
  await page.goBack();
  await page.waitForSelector('main[data-page="work"] input.search');
  assert.equal(await page.evaluate(() => location.hash), '#/work');
});
