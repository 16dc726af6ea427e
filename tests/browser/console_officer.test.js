'use strict';
// The page's language before any script runs, a field officer's day on a
// phone (a call before knocking, the way back to the next address) and
// the same screens at a desk, where the phone's shortcuts do not belong.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

test('the page is served in the institution\'s language, with its name as the title, before any script runs', async () => {
  const res = await fetch(`${s.book.url}/`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<html lang="zh-CN">/);
  assert.match(html, /<title>锦程小额贷款<\/title>/);
  assert.match(html, /加载中…/);
  assert.doesNotMatch(html, /\{(lang|title|loading)\}/);
  // The tag is the page's: asked again with it, nothing is sent again.
  const again = await fetch(`${s.book.url}/`, { headers: { 'If-None-Match': res.headers.get('etag') } });
  assert.equal(again.status, 304);
});

test('on a phone, My work\'s visit cards carry the borrower\'s phone as a tel: link, in reach', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'wang.fang');
  await page.goto(`${s.book.url}/#/work`);
  await page.waitForSelector('main[data-page="work"] .cards .card');
  const work = await h.api(s.book, '/v1/work?limit=100', { cookie: (await h.session(s.book, 'wang.fang')).cookie });
  const first = work.body.items.find((it) => (it.borrower.phones || []).length);
  assert.ok(first, 'a visit whose borrower has a phone');
  const card = page.locator(`.card[data-task="${first.task}"]`);
  const phone = first.borrower.phones[0];
  const link = card.locator(`a.tel[href="tel:${phone}"]`);
  assert.equal(await link.count(), 1, `the card of ${first.case} calls ${phone}`);
  assert.equal((await link.textContent()).trim(), phone);
  await h.fitsPhone(page, `.card[data-task="${first.task}"] a.tel`);
  await h.screenshot(page, 'work-cards-tel-phone-zh-CN');
});

test('at a desk a saved visit record shows no phone shortcut to the next address', async (t) => {
  const open = await h.api(s.book, '/v1/tasks?status=open&queue=field&limit=1000', { token: 'admin' });
  const task = open.body.tasks.find((x) => x.case !== 'CN005');
  assert.ok(task, 'a field task to visit');
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'wang.fang');
  await page.goto(`${s.book.url}/#/case/${encodeURIComponent(task.case)}?task=${task.id}`);
  await page.waitForSelector('.task-form.visit');
  await page.click('.task-form.visit button.arrived');
  await page.selectOption('.task-form.visit select[name="outcome"]', 'met');
  await page.selectOption('.task-form.visit select[name="whom"]', 'borrower');
  await page.fill('.task-form.visit [name="said"]', '本人说周五还款');
  await page.fill('.task-form.visit [name="next_step"]', '周五电话确认');
  await page.click('.task-form.visit button[type="submit"]');
  await page.waitForSelector('a.next-visit', { state: 'attached' });
  assert.equal(await page.locator('a.next-visit').isVisible(), false, 'the phone\'s button is not on the desk');
  assert.equal(await page.locator('nav.sidebar a[data-nav="work"]').isVisible(), true, 'My work is in the navigation');
  await h.screenshot(page, 'visit-saved-desktop-zh-CN');
});

test('on a phone the supervisor\'s navigation is one line in English and in Chinese', async (t) => {
  for (const locale of ['en', 'zh-CN']) {
    const page = await h.newPage(t, s.browser, { device: 'phone', locale });
    await page.addInitScript((l) => localStorage.setItem('recoup.locale', l), locale);
    await h.useSession(page, s.book, 'zhang.min');
    await page.goto(`${s.book.url}/#/outbox`);
    await page.waitForSelector('nav.sidebar a[data-nav="outbox"]');
    const tops = await page.$$eval('nav.sidebar a.nav', (as) => as.map((a) => Math.round(a.getBoundingClientRect().top)));
    assert.equal(tops.length, 5, `${locale}: the supervisor's five pages`);
    assert.equal(new Set(tops).size, 1, `${locale}: the navigation takes ${new Set(tops).size} lines (tops ${tops.join(', ')})`);
    await h.fitsPhone(page);
    await h.screenshot(page, `supervisor-phone-nav-one-line-${locale}`);
  }
});
