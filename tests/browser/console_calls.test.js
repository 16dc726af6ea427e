'use strict';
// Whom the console lets a collector ring, by the guard's word. A third
// party's numbers (the employer's, a family member's) follow the guard's
// word on calling a third party, not the borrower's: on d8b7683 they were
// links whenever the borrower might be called, under the institution's
// third_parties = "none" too, and with nothing said of what may be told.
// And only the lists that show numbers ask the guard for each item.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

// By day in Shanghai: the borrower may be called now.
const s = h.suite({ clock: '10:30' });
let none = null;
before(async () => {
  none = await h.startBook({
    clock: '10:30',
    edit: (dir) => {
      const file = path.join(dir, 'recoup.lua');
      const text = fs.readFileSync(file, 'utf8');
      const changed = text.replace('third_parties = "no_debt_details"', 'third_parties = "none"');
      assert.notEqual(changed, text, 'the fixture names its third-party rule');
      fs.writeFileSync(file, changed);
    },
  });
});
after(async () => { await h.stopBook(none); });

const EMPLOYER = '+862150000444'; // CN012's employer (data/portfolio.csv)
const NOTE = {
  en: /^Third parties: give no debt details — only ask them to pass on a message$/,
  'zh-CN': /^第三方联系人：不得透露任何欠款信息，仅请其代为转告$/,
};
const NONE = {
  en: /^Not to be called: third parties are not contacted \(the institution’s rule\)$/,
  'zh-CN': /^不可拨打：按本机构规定，不联系第三方联系人$/,
};

test('the guard says whether a third party may be called now, apart from the borrower', async () => {
  const fine = await h.api(s.book, '/v1/cases/CN012/guard', { token: 'agent' });
  assert.equal(fine.status, 200, fine.text);
  assert.equal(fine.body.third_parties.rule, 'no_debt_details');
  assert.equal(fine.body.third_parties.call.allowed_now, true, JSON.stringify(fine.body.third_parties));
  const never = await h.api(none, '/v1/cases/CN012/guard', { token: 'agent' });
  assert.equal(never.body.third_parties.rule, 'none');
  assert.equal(never.body.third_parties.call.allowed_now, false);
  assert.equal(never.body.third_parties.call.reason, 'third_parties_not_contacted');
  assert.equal(never.body.channels.find((c) => c.channel === 'call').allowed_now, true, 'the borrower may be called');
});

for (const locale of ['en', 'zh-CN']) {
  test(`no_debt_details: the employer's number is a link while calls are allowed, under a reminder (${locale})`, async (t) => {
    const page = await h.openCase(t, s, 'CN012', { device: 'phone', locale });
    await page.locator(`.contacts .third-party a[href="tel:${EMPLOYER}"]`).waitFor();
    const note = page.locator('.contacts-box .third-party-note');
    assert.match((await note.textContent()).trim(), NOTE[locale]);
    assert.equal(await page.locator('.third-party-hold').count(), 0);
    await h.fitsPhone(page, '.contacts-box');
    await h.screenshot(page, `case-third-party-reminder-phone-${locale}`);
  });

  test(`none: the employer's number is text under the rule's words, the borrower's a link (${locale})`, async (t) => {
    const page = await h.openCase(t, { book: none, browser: s.browser }, 'CN012', { device: 'phone', locale });
    await page.locator('.contacts a[href^="tel:+86138"]').first().waitFor();
    const hold = page.locator('.contacts-box .third-party-hold');
    await hold.waitFor();
    assert.match((await hold.textContent()).trim(), NONE[locale]);
    assert.equal(await hold.getAttribute('data-third-parties'), 'third_parties_not_contacted');
    assert.equal(await page.locator(`a[href="tel:${EMPLOYER}"]`).count(), 0, 'the employer cannot be rung');
    assert.ok(await page.locator('.contacts .third-party .tel-held').count() > 0, 'the number is shown');
    assert.equal(await page.locator('.call-hold').count(), 0, 'the borrower may be called: no reason over the numbers');
    assert.equal(await page.locator('.third-party-note').count(), 0, 'no reminder over a number not to ring');
    await h.fitsPhone(page, '.contacts-box');
    await h.screenshot(page, `case-third-party-none-phone-${locale}`);
  });
}

// The `call` each read of My work by the page asked (null: none), in order.
function callsAsked(page) {
  const asked = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/v1/work') asked.push(u.searchParams.get('call'));
  });
  return asked;
}

// Each item's word on calling costs the service the guard's reads: the
// desk's table shows no numbers and asks none; the cards ask it, and a
// desk's list turned into a phone's asks it then.
test('My work asks each item\'s call only where numbers are shown', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  const asked = callsAsked(page);
  await h.useSession(page, s.book, 'wang.fang');
  await page.goto(`${s.book.url}/#/work`);
  await page.locator('table[data-table="work"] tbody tr').first().waitFor();
  assert.ok(asked.length > 0 && asked.every((c) => c === null), `the desk asked call=${asked.join(',')}`);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('.cards a[href^="tel:"]').first().waitFor();
  assert.equal(asked[asked.length - 1], '1', 'turned into cards, the list asks the guard');
  assert.equal(await page.locator('.cards .call-hold').count(), 0, 'by day no card holds its numbers');

  const phone = await h.newPage(t, s.browser, { device: 'phone', locale: 'en' });
  const cards = callsAsked(phone);
  await h.useSession(phone, s.book, 'wang.fang');
  await phone.goto(`${s.book.url}/#/work`);
  await phone.locator('.cards a[href^="tel:"]').first().waitFor();
  assert.equal(cards[0], '1', 'the cards ask the guard with their first read');
});

// A desk's list on Broken promises (read without each item's call) turned
// into a phone's: its cards are drawn at once, before the guard's word,
// and on f82baf1 each said "the rules could not be read" in red over its
// numbers, where nothing had failed: the read was only under way.
test('a desk\'s list turned into cards says nothing of the guard until it answers', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.useSession(page, s.book, 'wang.fang');
  await page.goto(`${s.book.url}/#/work`);
  await page.click('button[data-tab="broken"]');
  await page.locator('table[data-table="work"] td[data-col="promise"]').first().waitFor();
  const withCall = (url) => url.pathname === '/v1/work' && url.searchParams.get('call') === '1';
  await page.route(withCall, () => { /* unanswered: the guard still being asked */ });
  const asked = page.waitForRequest((r) => withCall(new URL(r.url())));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('.cards .card-phone').first().waitFor();
  await asked;
  assert.equal(await page.locator('.cards a[href^="tel:"]').count(), 0, 'no number can be tapped before the guard answers');
  assert.ok(await page.locator('.cards .tel-held').count() > 0, 'the numbers are shown');
  assert.equal(await page.locator('.cards .call-hold').count(), 0, 'nothing said of a read under way');
});
