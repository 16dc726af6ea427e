'use strict';
// The page's language before any script runs, a field officer's day on a
// phone (a call before knocking, the way back to the next address), the
// same screens at a desk, where the phone's shortcuts do not belong, and
// people shown by the names they go by.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const h = require('./harness');

// By day in Shanghai: a card's numbers are tel: links only inside the
// borrower's contact hours (console_hours.test.js takes the night).
const s = h.suite({ clock: '10:30' });

// `recoup user set NAME --display-name TEXT` on the served book, as an
// administrator would while the service runs.
function displayName(name, text) {
  const r = spawnSync(h.RECOUP_BIN, ['user', 'set', name, '--display-name', text, s.book.bookDir, '--db', s.book.db], { encoding: 'utf8' });
  return r;
}

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
  // Read in groups (+86 138 0003 9595), spaced by the page, not by
  // characters: copied, it is the number as dialled.
  assert.equal((await link.textContent()).trim(), phone);
  assert.deepEqual(await link.locator('span').allTextContents(), phone.replace(/^\+86(\d{3})(\d{4})(\d{4})$/, '+86 $1 $2 $3').split(' '));
  const gap = await link.locator('span.grp').first().evaluate((el) => parseFloat(getComputedStyle(el).marginLeft));
  assert.ok(gap > 2, `the groups are spaced (${gap} px)`);
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
  await h.recordVisit(page);
  await page.waitForSelector('a.next-visit', { state: 'attached' });
  assert.equal(await page.locator('a.next-visit').isVisible(), false, 'the phone\'s button is not on the desk');
  assert.equal(await page.locator('nav.sidebar a[data-nav="work"]').isVisible(), true, 'My work is in the navigation');
  await h.screenshot(page, 'visit-saved-desktop-zh-CN');
});

test('a display name is shown where people read it — the top bar, Reassign\'s list, the assignee, the journal — escaped, the login kept', async (t) => {
  // A hostile name is refused, naming the field and the character.
  const bidi = displayName('li.wei', 'li\u202Egnaw');
  assert.equal(bidi.status, 1);
  assert.match(bidi.stderr, /display_name holds an invisible, joining or bidirectional formatting character \(U\+202E\)/);
  assert.equal(displayName('zhang.min', '张敏').status, 0);
  const odd = '李伟 <b>&amp;';
  assert.equal(displayName('li.wei', odd).status, 0);
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(`${s.book.url}/#/overview`);
  await page.waitForSelector('form.reassign input[name="task"]');
  assert.equal((await page.textContent('.topbar .who .user')).trim(), '张敏');
  const option = (await page.textContent('form.reassign select[name="user"] option[value="li.wei"]')).trim();
  assert.ok(option.startsWith(`${odd} · li.wei`), option);
  // Reassign a phone task to li.wei, by the name shown.
  const open = (await h.api(s.book, '/v1/tasks?status=open&queue=phone&limit=200', { token: 'admin' })).body.tasks;
  const ids = await page.$$eval('form.reassign input[name="task"]', (xs) => xs.map((x) => x.value));
  const task = open.find((x) => ids.includes(String(x.id)));
  assert.ok(task, 'a phone task in the list');
  await page.check(`form.reassign input[name="task"][value="${task.id}"]`);
  await page.selectOption('form.reassign select[name="user"]', 'li.wei');
  await page.click('form.reassign button[type="submit"]');
  await page.locator('form.reassign .form-status').filter({ hasText: '已重新分配 1 个' }).waitFor();
  await h.screenshot(page, 'display-name-reassign-zh-CN');
  // The case: its task's assignee and the journal's rows by name.
  await page.goto(`${s.book.url}/#/case/${encodeURIComponent(task.case)}`);
  await page.waitForSelector('.timeline-box .timeline');
  await page.waitForSelector(`.task-form[data-task="${task.id}"] .assignee`);
  assert.equal((await page.textContent(`.task-form[data-task="${task.id}"] .assignee`)).trim(), `已由 ${odd} 领取`);
  const claimed = page.locator('.timeline li[data-kind="task_assigned"]').first();
  assert.ok((await claimed.textContent()).includes(`任务已分配给 ${odd}`), await claimed.textContent());
  assert.equal((await claimed.locator('.by').textContent()).trim(), '操作人 张敏');
  assert.equal(await claimed.locator('.by').getAttribute('title'), 'zhang.min');
  assert.equal(await page.locator('main b').count(), 0, 'the name is text, never markup');
  await h.screenshot(page, 'display-name-case-zh-CN');
  // The journal keeps the logins: who did it, whatever their name becomes.
  const j = await h.api(s.book, `/v1/cases/${encodeURIComponent(task.case)}/journal?limit=1000`, { token: 'admin' });
  const row = j.body.journal.filter((x) => x.kind === 'task_assigned').pop();
  assert.equal(row.detail.to, 'li.wei');
  assert.equal(row.detail.user, 'zhang.min');
  // Every reader learns who is who; a collector too.
  const people = await h.api(s.book, '/v1/people', { cookie: await h.session(s.book, 'li.wei') });
  assert.equal(people.status, 200);
  assert.deepEqual(people.body.items.find((p) => p.name === 'zhang.min'), { name: 'zhang.min', display_name: '张敏' });
  assert.deepEqual(people.body.items.find((p) => p.name === 'wang.fang'), { name: 'wang.fang', display_name: null });
});

test('a display name of 64 letters without a space keeps a phone\'s page to its width: the case\'s assignee and journal, Reassign\'s list, in Chinese and English', async (t) => {
  const long = 'Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftsch';
  assert.equal(long.length, 64);
  assert.equal(displayName('zhang.min', long).status, 0);
  assert.equal(displayName('li.wei', long).status, 0);
  const open = (await h.api(s.book, '/v1/tasks?status=open&queue=phone&limit=200', { token: 'admin' })).body.tasks;
  const task = open.find((x) => x.assignee !== 'li.wei');
  assert.ok(task, 'a phone task li.wei does not hold');
  const given = await h.api(s.book, `/v1/tasks/${task.id}/assign`, { method: 'POST', body: { user: 'li.wei' }, cookie: await h.session(s.book, 'zhang.min') });
  assert.equal(given.status, 200);
  for (const locale of ['zh-CN', 'en']) {
    const page = await h.newPage(t, s.browser, { device: 'phone', locale });
    await page.addInitScript((l) => localStorage.setItem('recoup.locale', l), locale);
    await h.useSession(page, s.book, 'zhang.min');
    await page.goto(`${s.book.url}/#/case/${encodeURIComponent(task.case)}`);
    await page.locator(`.task-form[data-task="${task.id}"] .assignee`).filter({ hasText: long }).waitFor();
    await page.locator('.timeline li[data-kind="task_assigned"] .by').filter({ hasText: long }).first().waitFor();
    await h.fitsPhone(page);
    await h.screenshot(page, `display-name-long-case-phone-${locale}`);
    await page.goto(`${s.book.url}/#/overview`);
    await page.waitForSelector('form.reassign input[name="task"]');
    assert.ok((await page.textContent('form.reassign select[name="user"] option[value="li.wei"]')).startsWith(`${long} · li.wei`));
    await h.fitsPhone(page);
    await h.screenshot(page, `display-name-long-reassign-phone-${locale}`);
  }
});
