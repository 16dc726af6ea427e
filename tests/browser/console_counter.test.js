'use strict';
// A careless or hostile day at a shared counter PC: a save whose answer
// is lost after the service did it (a proxy's 504, no answer in 20 s),
// then tapped again. Nothing is saved twice, and what was done is not
// said to be someone else's.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

async function journal(id, kind) {
  const j = await h.api(s.book, `/v1/cases/${id}/journal?limit=1000`, { token: 'admin' });
  return j.body.journal.filter((r) => r.kind === kind);
}

const openCase = (t, id, locale, user) => h.openCase(t, s, id, { locale, user });

// The first request to url is done by the service, and its answer is
// lost on the way back: the page gets a proxy's 504.
async function loseFirstAnswer(page, url) {
  let lost = 1;
  const done = [];
  await page.route(url, async (r) => {
    if (lost-- <= 0) return r.continue();
    const res = await r.fetch();
    done.push(res.status());
    return r.fulfill({ status: 504, contentType: 'text/html', body: '<html><body>504 Gateway Time-out</body></html>' });
  });
  return done;
}

test('a note saved whose answer was lost is not saved again by the next tap', async (t) => {
  for (const [locale, notSaved, saved] of [['zh-CN', /尚未保存/, /已保存/], ['en', /Not saved yet/, /Saved/]]) {
    const page = await openCase(t, 'CN017', locale);
    const done = await loseFirstAnswer(page, '**/v1/cases/CN017/notes');
    const text = `answer lost (${locale}) 借款人说周五还`;
    await page.fill('.note-form textarea', text);
    await page.click('.note-form button[type="submit"]');
    const status = page.locator('.note-form .form-status');
    await h.waitFor(async () => notSaved.test(await status.textContent()), { message: 'not saved yet' });
    assert.deepEqual(done, [201], 'the service did save it');
    await page.click('.note-form button[type="submit"]');
    await h.waitFor(async () => saved.test(await status.textContent()), { message: 'saved' });
    await page.locator('.timeline li[data-kind="note"]', { hasText: text }).first().waitFor();
    assert.equal((await journal('CN017', 'note')).filter((r) => r.detail.text === text).length, 1, 'saved once');
    assert.equal(await page.inputValue('.note-form textarea'), '');
    // The same words typed again on purpose are a second note.
    await page.fill('.note-form textarea', text);
    await page.click('.note-form button[type="submit"]');
    await h.waitFor(async () => (await journal('CN017', 'note')).filter((r) => r.detail.text === text).length === 2,
      { message: 'a second note on purpose' });
  }
});

test('a record whose claim was done but its answer lost is saved on the next tap, not said to be taken by someone else', async (t) => {
  const before = await h.api(s.book, '/v1/cases/CN014', { token: 'admin' });
  const task = before.body.tasks.find((x) => x.outcomes && x.status === 'open');
  assert.ok(task, 'CN014 has an open task');
  const page = await openCase(t, 'CN014', 'zh-CN');
  const done = await loseFirstAnswer(page, `**/v1/tasks/${task.id}/claim`);
  await page.selectOption('.task-form select[name="outcome"]', 'no_answer');
  await page.click('.task-form button[type="submit"]');
  const status = page.locator('.task-form .form-status');
  await h.waitFor(async () => /尚未保存/.test(await status.textContent()), { message: 'not saved yet' });
  assert.deepEqual(done, [200], 'the claim was done');
  await page.click('.task-form button[type="submit"]');
  await h.waitFor(async () => (await journal('CN014', 'task_done')).length === 1
    || (await page.locator('.task-form .form-error').count() && (await page.textContent('.task-form .form-error')).trim()),
  { timeout: 10000, message: 'neither saved nor refused' });
  const refused = await page.locator('.task-form .form-error').count() ? (await page.textContent('.task-form .form-error')).trim() : '';
  assert.equal(refused, '', 'not refused as taken by someone else');
  assert.equal((await journal('CN014', 'task_done')).length, 1, 'recorded once');
  await page.waitForSelector('.timeline li[data-kind="task_done"]');
});

test('a note left while saving, saved behind the page, is not saved again when it comes back', async (t) => {
  const page = await openCase(t, 'CN019', 'zh-CN');
  // The answer comes late: the person has left the case by then.
  await page.route('**/v1/cases/CN019/notes', async (r) => {
    const res = await r.fetch();
    await new Promise((ok) => setTimeout(ok, 1500));
    return r.fulfill({ response: res }).catch(() => {});
  });
  const text = '下午三点再打，借款人在开会';
  await page.fill('.note-form textarea', text);
  await page.click('.note-form button[type="submit"]');
  await page.click('nav a[data-nav="work"]');
  await page.waitForSelector('[data-page="work"]');
  await h.waitFor(async () => (await journal('CN019', 'note')).some((r) => r.detail.text === text), { message: 'the note landed' });
  await page.goBack();
  await page.waitForSelector('.note-form textarea');
  await page.waitForSelector('.timeline li');
  if ((await page.inputValue('.note-form textarea')) === text) {
    await page.click('.note-form button[type="submit"]');
    await h.waitFor(async () => /已保存|尚未保存/.test(await page.textContent('.note-form .form-status')), { message: 'an answer' });
  }
  assert.equal((await journal('CN019', 'note')).filter((r) => r.detail.text === text).length, 1, 'saved once');
});

test('a record left half typed on a task recorded meanwhile comes back in the note box, with why', async (t) => {
  for (const [id, locale, words] of [['CN016', 'zh-CN', /已被记录/], ['CN013', 'en', /recorded meanwhile/]]) {
    const kase = await h.api(s.book, `/v1/cases/${id}`, { token: 'admin' });
    const task = kase.body.tasks.find((x) => x.outcomes && x.outcomes.dispute && x.outcomes.no_answer);
    if (!task) assert.fail(`${id} has no task with dispute and no_answer`);
    const page = await openCase(t, id, locale);
    await page.selectOption('.task-form select[name="outcome"]', 'dispute');
    const reason = `借款人说已经还过了 (${locale})`;
    await page.fill('.task-form textarea[name="reason"]', reason);
    await page.click('nav a[data-nav="work"]');
    await page.waitForSelector('[data-page="work"]');
    // Meanwhile someone else records the task.
    const done = await h.api(s.book, `/v1/tasks/${task.id}/complete`, { method: 'POST', token: 'agent', body: { outcome: 'no_answer' } });
    assert.equal(done.status, 200, done.text);
    await page.goBack();
    await page.waitForSelector('.note-form textarea');
    await h.waitFor(async () => (await page.inputValue('.note-form textarea')).includes(reason), { message: 'the reason typed is in the note box' });
    assert.match(await page.textContent('.note-form .form-status'), words);
    assert.equal((await journal(id, 'note')).filter((r) => r.detail.text.includes(reason)).length, 0, 'nothing saved behind the person\'s back');
  }
});

test('a person signing in on a tab where another\'s session ended gets nothing of the other\'s drafts', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.signIn(page, s.book, 'li.wei');
  await page.goto(s.book.url + '/#/case/CN012');
  await page.waitForSelector('.note-form textarea');
  const secret = '<img src=x onerror=alert(1)> 借款人妻子的电话 13800000000';
  await page.fill('.note-form textarea', secret);
  const cookie = (await page.context().cookies()).find((c) => c.name === 'recoup_session');
  const me = await h.api(s.book, '/v1/me', { cookie: `recoup_session=${cookie.value}` });
  await h.api(s.book, '/v1/session', { method: 'DELETE', cookie: `recoup_session=${cookie.value}`, csrf: me.body.csrf });
  await page.click('.note-form button[type="submit"]');
  await page.waitForFunction(() => /^#\/signin/.test(location.hash));
  assert.match(await page.evaluate(() => JSON.stringify(sessionStorage)), /13800000000/, 'kept for li.wei');
  // zhang.min signs in at the same counter, on the same tab.
  await page.fill('input[name="name"]', 'zhang.min');
  await page.fill('input[name="password"]', h.password('zhang.min'));
  await page.click('button[type="submit"]');
  await page.waitForFunction(() => !/^#\/signin/.test(location.hash));
  assert.doesNotMatch(await page.evaluate(() => JSON.stringify(sessionStorage)), /13800000000/, 'not left in the tab for zhang.min');
  await page.goto(s.book.url + '/#/case/CN012');
  await page.waitForSelector('.note-form textarea');
  await page.waitForSelector('.timeline li, .timeline-box .state.empty');
  assert.equal(await page.inputValue('.note-form textarea'), '');
});

test('Cases: Retry tapped twice after a failed More shows the next page once', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'zhang.min');
  // Pages of 5, so that the fixture book has several; the first More fails.
  let fail = 1;
  let asked = 0;
  let answered = 0;
  await page.route('**/v1/cases?*', async (r) => {
    const u = new URL(r.request().url());
    if (u.pathname !== '/v1/cases') return r.continue();
    u.searchParams.set('limit', '5');
    if (!u.searchParams.get('after')) return r.continue({ url: u.toString() });
    asked++;
    if (fail-- > 0) {
      answered++;
      return r.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"unavailable","message":"busy"}}' });
    }
    await new Promise((ok) => setTimeout(ok, 300));
    const res = await r.fetch({ url: u.toString() });
    answered++;
    return r.fulfill({ response: res });
  });
  await page.goto(s.book.url + '/#/cases');
  await page.waitForSelector('table[data-table="cases"] tbody tr');
  const ids = () => page.$$eval('table[data-table="cases"] tbody tr', (trs) => trs.map((tr) => tr.dataset.key));
  assert.equal((await ids()).length, 5);
  await page.click('button.more');
  await page.waitForSelector('.state.error button');
  await page.dblclick('.state.error button');
  await h.waitFor(async () => answered === asked && (await ids()).length > 5, { message: 'the next page' });
  await h.waitFor(async () => {
    const a = (await ids()).length;
    await new Promise((ok) => setTimeout(ok, 400));
    return answered === asked && a === (await ids()).length;
  }, { message: 'settled' });
  const shown = await ids();
  assert.equal(new Set(shown).size, shown.length, `each case once: ${shown.join(' ')}`);
  assert.equal(shown.length, 10);
});

test('switching the language while a record is half typed keeps what was typed', async (t) => {
  const page = await openCase(t, 'CN015', 'zh-CN');
  const note = '借款人下周一发工资后还款';
  await page.fill('.note-form textarea', note);
  const before_ = await page.getAttribute('button.lang', 'data-lang');
  await page.click('button.lang');
  await page.waitForFunction((b) => document.querySelector('button.lang').dataset.lang !== b, before_);
  await page.waitForSelector('.note-form textarea');
  await h.waitFor(async () => (await page.inputValue('.note-form textarea')) === note, { message: 'the note is still there in English' });
  assert.doesNotMatch(await page.textContent('.note-form .form-status'), /left this case|session had ended/, 'no word of leaving');
  assert.equal((await journal('CN015', 'note')).filter((r) => r.detail.text === note).length, 0);
});

test('a draft holding markup comes back as the text typed, and is saved and shown as text', async (t) => {
  const page = await openCase(t, 'CN013', 'zh-CN');
  const text = '<img src=x onerror=alert(1)><script>alert(2)</script>"\'&amp; 王';
  await page.fill('.note-form textarea', text);
  await page.click('nav a[data-nav="work"]');
  await page.waitForSelector('[data-page="work"]');
  await page.goBack();
  await page.waitForSelector('.note-form textarea');
  await h.waitFor(async () => (await page.inputValue('.note-form textarea')) === text, { message: 'the draft came back' });
  await page.click('.note-form button[type="submit"]');
  const li = page.locator('.timeline li[data-kind="note"]', { hasText: 'alert(2)' });
  await li.waitFor();
  assert.ok((await li.textContent()).includes(text), 'shown as the text typed');
  assert.equal(await page.locator('.timeline img, .timeline script').count(), 0);
  h.checkGuards(page);
});
