'use strict';
// A careless or hostile day at a shared counter PC: a save whose answer
// is lost after the service did it (a proxy's 504, no answer in 20 s),
// then tapped again. Nothing is saved twice, and what was done is not
// said to be someone else's.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

let book, browser;
before(async () => {
  book = await h.startBook();
  browser = await h.launchBrowser();
});
after(async () => {
  await h.closeBrowser(browser);
  await h.stopBook(book);
});

async function journal(id, kind) {
  const j = await h.api(book, `/v1/cases/${id}/journal?limit=1000`, { token: 'admin' });
  return j.body.journal.filter((r) => r.kind === kind);
}

async function openCase(t, id, locale, user = 'li.wei') {
  const page = await h.newPage(t, browser, { device: 'desktop', locale });
  if (locale === 'en') await page.addInitScript(() => localStorage.setItem('recoup.locale', 'en'));
  await h.useSession(page, book, user);
  await page.goto(`${book.url}/#/case/${id}`);
  await page.waitForSelector('.note-form textarea');
  await page.waitForSelector('.timeline-box .timeline, .timeline-box .state.empty');
  return page;
}

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
  const before = await h.api(book, '/v1/cases/CN014', { token: 'admin' });
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
