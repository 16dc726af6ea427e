'use strict';
// A phone collector's morning: sign in, My work, Next case, record a
// promise on the call, and see the timeline and "The rules now" follow.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

// A route the service does not have yet answers 404 "no such route".
const missing = (r) => r.status === 404 && r.body && r.body.error && r.body.error.message === 'no such route';

async function landed(t, ...paths) {
  for (const [method, p] of paths) {
    const r = await h.api(s.book, p, { method, token: 'admin', body: method === 'GET' ? undefined : {} });
    if (missing(r)) {
      t.skip(`${method} ${p} has not landed yet`);
      return false;
    }
  }
  return true;
}

test('an agent claims the next call, records a promise, and the case follows', async (t) => {
  if (!(await landed(t, ['POST', '/v1/session'], ['GET', '/v1/work'], ['POST', '/v1/tasks/next']))) return;
  const ex = h.expected(s.book);
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.signIn(page, s.book, 'li.wei');
  await page.waitForSelector('[data-page="work"] table[data-table="work"] tbody tr');
  const rows = await page.$$eval('table[data-table="work"] tbody tr td[data-col="case"]', (tds) => tds.map((td) => td.textContent));
  const phoneCases = Object.entries(ex.cases).filter(([, c]) => c.tasks.some((k) => k.queue === 'phone')).map(([id]) => id);
  assert.ok(rows.length > 0, 'My work lists the phone queue');
  for (const id of rows) assert.ok(phoneCases.includes(id), `${id} is a phone-queue case`);
  await h.screenshot(page, 'work-desktop-zh-CN');

  // "n" claims the next task and opens its case.
  await page.keyboard.press('n');
  await page.waitForFunction(() => /^#\/case\//.test(location.hash));
  const id = decodeURIComponent(await page.evaluate(() => location.hash.split('/')[2].split('?')[0]));
  const c = ex.cases[id];
  assert.ok(c, `claimed a fixture case (${id})`);
  await page.waitForSelector('.task-form[data-kind="call"]');
  assert.equal(await page.textContent('.case-head .case-id'), id);

  // The rules now: drawn from the guard (when its route is there).
  const guardBefore = await page.locator('[data-rules]').count() ? await page.textContent('[data-rules]') : null;

  // A promise: prefilled with the amount due and a week ahead.
  await page.selectOption('.task-form select[name="outcome"]', 'promise');
  const amount = page.locator('.task-form input[name="amount"]');
  assert.equal(await amount.inputValue(), (c.amount_due / 100).toFixed(2));
  assert.match(await page.inputValue('.task-form input[name="by"]'), /^\d{4}-\d{2}-\d{2}$/);
  // Typed as a person does; 1,234.57 is 123457 fen exactly (no float).
  await amount.fill('1,234.57');
  await page.click('.task-form button[type="submit"]');
  await page.waitForSelector('.timeline li[data-kind="task_done"]');
  const first = await page.textContent('.timeline li[data-kind="task_done"]');
  assert.match(first, /1,234\.57/);
  assert.match(first, /li\.wei/, 'the timeline says who did it');
  await page.waitForSelector('.timeline li[data-kind="promise"]');

  // What was stored is the exact minor amount.
  const j = await h.api(s.book, `/v1/cases/${encodeURIComponent(id)}/journal?limit=1000`, { token: 'admin' });
  const done = j.body.journal.filter((r) => r.kind === 'task_done').pop();
  assert.equal(done.detail.amount, 123457);
  assert.equal(done.detail.user, 'li.wei');

  // A conversation starts the pause after it: the guard's answer changes.
  if (guardBefore !== null) {
    await h.waitFor(async () => (await page.textContent('[data-rules]')) !== guardBefore, { message: 'the rules panel did not change after the call' });
  }
  await h.screenshot(page, 'case-after-promise-zh-CN');
});

test('a note appears on the timeline at once, and a bad amount is said next to its field', async (t) => {
  if (!(await landed(t, ['POST', '/v1/session'], ['POST', '/v1/cases/CN014/notes']))) return;
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.signIn(page, s.book, 'li.wei');
  await page.goto(s.book.url + '/#/case/CN014');
  await page.waitForSelector('.note-form textarea[name="text"]');
  await page.fill('.note-form textarea[name="text"]', 'Borrower asks to be called after 18:00');
  await page.click('.note-form button[type="submit"]');
  // at once: the newest row, without reloading the page
  await page.waitForSelector('.timeline li[data-kind="note"]:has-text("after 18:00")');
  assert.match(await page.textContent('.timeline li:first-child'), /after 18:00/);
  // p focuses the promise amount; letters are refused before sending.
  await page.click('h1');
  await page.keyboard.press('p');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('12.3.4');
  await page.click('.promise-form button[type="submit"]');
  assert.notEqual((await page.textContent('.promise-form [data-error-for="amount"]')).trim(), '');
  assert.equal(await page.inputValue('.promise-form input[name="amount"]'), '12.3.4', 'what was typed stays');
});

// A call recorded as no answer opens the workflow's next call on the case
// at once: its empty form stood where the saved one was, and a collector
// could not tell the save from a page that ignored it. The page says what
// was saved there, with the next case a tap (or n) away.
test('a call saved says so where its form stood, the next case a tap away, in English and Chinese', async (t) => {
  const cases = [['en', 'CN016', /Saved: call · no answer\./, 'Next case'], ['zh-CN', 'CN017', /已保存：电话 · 无人接听。/, '下一个案件']];
  for (const [locale, id, said, next] of cases) {
    const page = await h.openCase(t, s, id, { locale });
    await page.waitForSelector('.task-form[data-kind="call"]');
    const before = await page.getAttribute('.task-form[data-kind="call"]', 'data-task');
    await page.selectOption('.task-form[data-kind="call"] select[name="outcome"]', 'no_answer');
    await page.click('.task-form[data-kind="call"] button[type="submit"]');
    const note = page.locator('.actions .notice.recorded');
    await note.waitFor({ timeout: 15000 });
    assert.match(await note.textContent(), said);
    // The form drawn after it is another task's (the next call), not the one saved.
    const after = await page.locator('.task-form[data-kind="call"]').getAttribute('data-task').catch(() => null);
    assert.notEqual(after, before);
    await h.screenshot(page, `case-call-saved-${locale}`);
    const button = note.locator('button.next');
    assert.match(await button.textContent(), new RegExp(next));
    await button.click();
    await page.waitForFunction((was) => /^#\/case\//.test(location.hash) && !location.hash.startsWith('#/case/' + was), id, { timeout: 15000 });
  }
});

// A collector moved to other queues while signed in (recoup user set
// --queues): My work named the queues of the sign-in, and one left with
// none read "come back later" all day.
test('My work follows the queues a supervisor gives a signed-in collector, and says when there is none', async (t) => {
  const { spawnSync } = require('node:child_process');
  const setQueues = (queues) => {
    const r = spawnSync(h.RECOUP_BIN, ['user', 'set', 'li.wei', '--queues', queues, s.book.bookDir, '--db', s.book.db], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.useSession(page, s.book, 'li.wei');
  await page.goto(s.book.url + '/#/work');
  await page.click('button.lang[data-lang="en"]');
  await page.waitForSelector('main h1:has-text("phone queue")');
  const heading = () => page.textContent('main h1');
  try {
    setQueues('field');
    await page.click('.tabs button[data-tab="promises"]');
    await page.click('.tabs button[data-tab="due"]');
    await page.waitForFunction(() => /field queue/.test(document.querySelector('main h1').textContent));
    assert.doesNotMatch(await heading(), /phone/);
    setQueues('');
    await page.click('.tabs button[data-tab="promises"]');
    await page.click('.tabs button[data-tab="due"]');
    const none = page.locator('main .work-list .state.empty');
    await page.waitForFunction(() => /no queue/.test(document.querySelector('main .work-list').textContent));
    assert.match(await none.textContent(), /You work no queue now: ask your supervisor to give you one\./);
    assert.doesNotMatch(await heading(), /queue/);
    await h.screenshot(page, 'work-no-queue-en');
    await page.click('button.lang[data-lang="zh-CN"]');
    await page.waitForFunction(() => /您目前没有负责的队列：请联系主管为您分配。/.test(document.querySelector('main .work-list').textContent));
  } finally {
    setQueues('phone');
  }
});

// A call saved after the collector's queues were changed under them: the
// service answers as for a task that does not exist, and the page said
// "no longer exists: look at the case again", which showed the same form.
test('a call saved after the collector\'s queues were taken away says so, and what was typed stays', async (t) => {
  const { spawnSync } = require('node:child_process');
  const setQueues = (queues) => {
    const r = spawnSync(h.RECOUP_BIN, ['user', 'set', 'li.wei', '--queues', queues, s.book.bookDir, '--db', s.book.db], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  for (const [locale, said] of [['en', /This task is no longer in your queues/], ['zh-CN', /此任务已不在您的队列中/]]) {
    const page = await h.openCase(t, s, 'CN013', { locale });
    const form = page.locator('.task-form[data-kind="call"]');
    await form.waitFor();
    await form.locator('select[name="outcome"]').selectOption('refused');
    try {
      setQueues('field');
      await form.locator('button[type="submit"]').click();
      await page.waitForFunction(() => /\S/.test(document.querySelector('.task-form[data-kind="call"] .form-error').textContent));
      assert.match(await form.locator('.form-error').textContent(), said);
      assert.equal(await form.locator('select[name="outcome"]').inputValue(), 'refused', 'what was chosen stays');
      assert.equal(await page.locator('.notice.recorded').count(), 0, 'nothing said saved');
      await h.screenshot(page, `case-queues-taken-${locale}`);
    } finally {
      setQueues('phone');
    }
  }
});
