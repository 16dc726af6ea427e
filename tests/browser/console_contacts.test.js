'use strict';
// A borrower whose contacts the book cannot read (a SQLite book's packed
// copy, borrowers.contacts_packed, edited by hand or damaged): the store
// fails closed and sends nothing, and the API and the console say so —
// an empty list read as "no phone" left a collector giving up on the case.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const h = require('./harness');

// By day in Shanghai: a card's numbers are tel: links only inside the
// borrower's contact hours (console_hours.test.js takes the night).
const s = h.suite({ clock: '10:30' });

// The copy of the case's borrower cut short (no end mark: it does not
// read), by the sqlite3 shell beside the running service (WAL).
function garble(caseId) {
  const sql = `.timeout 10000\nUPDATE borrowers SET contacts_packed = 'p14:+86' WHERE id = (SELECT borrower_id FROM cases WHERE id = '${caseId}');\nSELECT changes();\n`;
  const r = spawnSync('sqlite3', [s.book.db], { input: sql, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '1', `${caseId}'s borrower garbled`);
}

test('the API says a borrower\'s contacts could not be read, not that there are none', async () => {
  garble('CN014');
  const c = await h.api(s.book, '/v1/cases/CN014', { token: 'agent' });
  assert.equal(c.status, 200);
  assert.equal(c.body.borrower.contacts_unreadable, true);
  assert.deepEqual(c.body.borrower.phones, []);
  const read = await h.api(s.book, '/v1/cases/CN014', { token: 'read' });
  assert.equal(read.body.borrower.contacts_unreadable, true, 'the read role too');
  const fine = await h.api(s.book, '/v1/cases/CN012', { token: 'agent' });
  assert.equal(fine.body.borrower.contacts_unreadable, false);
  assert.ok(fine.body.borrower.phones.length, 'a borrower whose copy reads keeps their phones');
  const list = await h.api(s.book, '/v1/cases?limit=100', { token: 'agent' });
  const listed = (list.body.cases || list.body.items || []).find((x) => x.id === 'CN014');
  assert.ok(listed && listed.borrower.contacts_unreadable === true, 'the case list says it too');
});

test('a collector at a desk reads that the contacts could not be read, in English and Chinese', async (t) => {
  garble('CN014');
  for (const [locale, said] of [['en', /Contacts could not be read — tell your supervisor/], ['zh-CN', /联系方式无法读取——请告知主管/]]) {
    const page = await h.openCase(t, s, 'CN014', { locale });
    const mark = page.locator('.case-facts .contacts-unreadable');
    await mark.waitFor();
    assert.match(await mark.textContent(), said);
    assert.equal(await mark.getAttribute('role'), 'alert');
    // Not the calm "no contact points on file" beside it.
    assert.equal(await page.locator('.case-facts .state.empty').count(), 0);
    await h.screenshot(page, `case-contacts-unreadable-${locale}`);
  }
  // A borrower whose copy reads shows no such mark.
  const page = await h.openCase(t, s, 'CN012', { locale: 'en' });
  assert.equal(await page.locator('.contacts-unreadable').count(), 0);
});

test('a field officer\'s visit card on a phone says the contacts could not be read', async (t) => {
  garble('CN009');
  const work = await h.api(s.book, '/v1/work?queue=field&limit=100', { token: 'agent' });
  const item = work.body.items.find((x) => x.case === 'CN009');
  assert.equal(item.borrower.contacts_unreadable, true);
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'wang.fang');
  await page.goto(s.book.url + '/#/work');
  const card = page.locator('article.card', { has: page.locator('a.case-id', { hasText: 'CN009' }) });
  await card.locator('.contacts-unreadable').waitFor();
  assert.match(await card.textContent(), /联系方式无法读取——请告知主管/);
  assert.equal(await card.locator('a.tel').count(), 0);
  // The other cards keep their numbers and no mark.
  const other = page.locator('article.card', { has: page.locator('a.case-id', { hasText: 'CN005' }) });
  assert.equal(await other.locator('.contacts-unreadable').count(), 0);
  assert.ok(await other.locator('a.tel').count());
  await h.fitsPhone(page);
  await h.screenshot(page, 'work-contacts-unreadable-phone-zh-CN');
});
