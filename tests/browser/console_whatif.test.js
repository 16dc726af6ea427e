'use strict';
// What-if on the Strategy page (console/js/whatif.js): a supervisor picks
// a candidate, runs it, watches it run and reads the report (the side-by-
// side table, the charts with their tables, the model), in zh-CN and en,
// on a desktop and a phone; a candidate that does not load is named, not
// offered; a read user sees the reports and no form.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

let book, browser;
before(async () => {
  book = await h.startBook();
  browser = await h.launchBrowser();
  // Candidates beside the scripts: a copy of the fixture's own strategy
  // (one that loads) and one that does not.
  const strategies = path.join(book.bookDir, 'strategies');
  const same = path.join(strategies, 'same_again');
  fs.mkdirSync(same, { recursive: true });
  for (const f of fs.readdirSync(book.bookDir))
    if (!['var', 'data', 'tests', 'strategies'].includes(f))
      fs.cpSync(path.join(book.bookDir, f), path.join(same, f), { recursive: true });
  fs.mkdirSync(path.join(strategies, 'draft'));
  fs.writeFileSync(path.join(strategies, 'draft', 'recoup.lua'), 'institution { name = "draft"\n');
});
after(async () => {
  await h.closeBrowser(browser);
  await h.stopBook(book);
});

const missing = (r) => r.status === 404 && r.body && r.body.error && r.body.error.message === 'no such route';

// Starts a what-if from the form (zh-CN) and waits for its report.
async function runOne(page) {
  await page.goto(book.url + '/#/strategy');
  const form = page.locator('form[data-form="whatif"]');
  await form.waitFor({ timeout: 10000 });
  // The candidate that does not load is named with its problem, not offered.
  await page.waitForSelector('.whatif-bad li[data-candidate="draft"]');
  const options = await form.locator('select[name="against"] option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(options, ['', 'same_again']);
  await form.locator('select[name="against"]').selectOption('same_again');
  await form.locator('input[name="days"]').fill('4');
  await form.locator('button[type="submit"]').click();
  // The report opens by itself when it is done.
  await page.waitForSelector('.whatif-view table[data-table="whatif-summary"]', { timeout: 45000 });
}

// The report on the page: the side-by-side table, the charts with their
// tables, the model, in the page's language.
async function checkReport(page, locale) {
  await page.waitForSelector('.whatif-view table[data-table="whatif-summary"]');
  const heads = await page.$$eval('table[data-table="whatif-summary"] thead th', (ths) => ths.map((x) => x.textContent));
  assert.deepEqual(heads, locale === 'en' ? ['Figure', 'Current', 'Candidate'] : ['指标', '现行策略', '候选策略']);
  const recovered = await page.$$eval('table[data-table="whatif-summary"] tr[data-key="recovered"] td', (tds) => tds.map((x) => x.textContent));
  assert.equal(recovered.length, 3);
  // A copy of the current strategy with the same dice recovers the same.
  assert.equal(recovered[1], recovered[2], `the same strategy twice gives the same figure (${recovered})`);
  for (const name of ['whatif-recovered', 'whatif-backlog', 'whatif-messages', 'whatif-model'])
    assert.ok(await page.locator(`table[data-table="${name}"]`).count() >= 1, `the ${name} table is drawn`);
  assert.equal(await page.locator('table[data-table="whatif-recovered"] tbody tr').count(), 4, 'four days');
  await page.waitForFunction(() => document.querySelectorAll('.whatif-view .chart canvas').length >= 3);
  assert.ok(await page.locator('.whatif-view [data-calibrated]').count() > 0, 'the model says where each rate comes from');
  assert.match(await page.textContent('.whatif-view'), locale === 'en' ? /What the simulation assumed/ : /模拟所依据的假设/);
}

// Opens the newest report from the list. Once in CI (two browser tests
// at once, a loaded machine) the click right after the language switch
// opened nothing for 30 s, and four runs here under load did not repeat
// it: a click that lands while the screen is drawn again goes nowhere.
// Click the list on screen again until the report shows, for as long
// as runOne waits for one; a report that never comes still fails.
async function openFromList(page) {
  const until = Date.now() + 45000;
  for (;;) {
    await page.locator('table[data-table="simulations"] button[data-open]').first().click();
    try {
      await page.waitForSelector('.whatif-view table[data-table="whatif-summary"]', { timeout: 5000 });
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
    }
  }
}

test('a supervisor runs a what-if and reads the report (zh-CN, en)', async (t) => {
  if (missing(await h.api(book, '/v1/simulations', { token: 'admin' })))
    return t.skip('the what-if routes have not landed yet');
  const page = await h.newPage(t, browser, { device: 'desktop', locale: 'zh-CN' });
  await h.signIn(page, book, 'zhang.min');
  await runOne(page);
  await checkReport(page, 'zh-CN');
  await h.screenshot(page, 'strategy-whatif-zh-CN');
  // The same report in English, opened from the list.
  await page.click('button.lang[data-lang="en"]');
  await page.waitForSelector('html[lang="en"]');
  await page.goto(book.url + '/#/strategy');
  await openFromList(page);
  await checkReport(page, 'en');
  await h.screenshot(page, 'strategy-whatif-en');
  const list = await h.api(book, '/v1/simulations', { token: 'read' });
  assert.equal(list.body.simulations.length, 1);
  assert.equal(list.body.simulations[0].by, 'zhang.min');
  assert.equal(list.body.simulations[0].status, 'done');
});

test('a read user sees the reports but no form; a phone shows the report', async (t) => {
  if (missing(await h.api(book, '/v1/simulations', { token: 'admin' })))
    return t.skip('the what-if routes have not landed yet');
  let list = await h.api(book, '/v1/simulations', { token: 'read' });
  if (!list.body.simulations.some((s) => s.status === 'done')) {
    const r = await h.api(book, '/v1/simulations', { method: 'POST', token: 'admin', body: { days: 3 } });
    assert.equal(r.status, 202);
    await h.waitFor(async () => {
      list = await h.api(book, '/v1/simulations', { token: 'read' });
      return list.body.simulations[0].status !== 'running';
    }, { timeout: 45000, interval: 200 });
  }
  const page = await h.newPage(t, browser, { device: 'phone', locale: 'zh-CN' });
  await h.signIn(page, book, 'zhao.read');
  await page.goto(book.url + '/#/strategy');
  await page.waitForSelector('table[data-table="simulations"] button[data-open]');
  assert.equal(await page.locator('form[data-form="whatif"]').count(), 0, 'no form for read');
  await openFromList(page);
  // Nothing wider than the phone's screen but the tables that scroll.
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390 + 1, `the page is ${wide} px wide on a 390 px phone`);
  await h.screenshot(page, 'strategy-whatif-phone-read-zh-CN');
  // A run forged from the read session is refused by the server.
  const status = await page.evaluate(async () => {
    const me = await (await fetch('/v1/me')).json();
    const r = await fetch('/v1/simulations', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf }, body: '{}',
    });
    return r.status;
  });
  assert.equal(status, 403);
});
