'use strict';
// "Next case" on a bad phone network: a claim answered late opens its
// case and is never sent twice meanwhile; a claim whose answer was lost
// is said so, and the next tap opens the task it had claimed, taking no
// second one out of the colleagues' queues.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

async function myWork(t, user) {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, user);
  await page.goto(`${s.book.url}/#/work`);
  await page.waitForSelector('main[data-page="work"] button.next:not([disabled])');
  return page;
}

// The claims the page sent.
function countClaims(page) {
  const sent = { n: 0 };
  page.on('request', (r) => { if (r.method() === 'POST' && /\/v1\/tasks\/next/.test(r.url())) sent.n++; });
  return sent;
}

const claimedBy = async (user) => (await h.api(s.book, '/v1/tasks?status=claimed&limit=1000', { token: 'admin' }))
  .body.tasks.filter((x) => x.assignee === user);

const opened = (page) => page.evaluate(() => location.hash);

test('a slow Next case says it is still waiting, a second tap sends nothing, and the case opens when the answer comes', async (t) => {
  const page = await myWork(t, 'li.wei');
  const sent = countClaims(page);
  // The service claims at once; its answer takes 24 s on the way back.
  await page.route('**/v1/tasks/next', async (r) => {
    const res = await r.fetch();
    await new Promise((done) => setTimeout(done, 24000));
    await r.fulfill({ response: res }).catch(() => {});
  });
  const button = page.locator('button.next');
  await button.click();
  await h.waitFor(async () => /仍在等待/.test(await button.textContent()), { timeout: 40000, message: 'still waiting' });
  await button.click({ force: true });
  await page.keyboard.press('n');
  // The language switched while it waits: the page drawn again waits too.
  await page.click('button.lang');
  await h.waitFor(async () => /Still waiting/.test(await page.locator('button.next').textContent()), { message: 'still waiting, in English' });
  await page.keyboard.press('n');
  await page.waitForFunction(() => /^#\/case\//.test(location.hash), null, { timeout: 60000 });
  const mine = await claimedBy('li.wei');
  assert.equal(mine.length, 1, JSON.stringify(mine));
  assert.equal(await opened(page), `#/case/${encodeURIComponent(mine[0].case)}?task=${mine[0].id}`);
  assert.equal(sent.n, 1, 'one claim sent');
});

test('a Next case whose answer was lost says so, and the next tap opens the task it claimed, not another', async (t) => {
  const page = await myWork(t, 'wang.fang');
  let first = null;
  // The service claims; the answer on the way back is a proxy's 502.
  await page.route('**/v1/tasks/next', async (r) => {
    if (first) return r.continue();
    const res = await r.fetch();
    first = (await res.json()).task;
    return r.fulfill({ status: 502, contentType: 'text/html', body: '<h1>502 Bad Gateway</h1>' });
  });
  await page.click('button.next');
  const notice = page.locator('main p.notice');
  await h.waitFor(async () => /没有收到响应/.test(await notice.textContent()), { message: 'the lost answer said' });
  assert.ok(first, 'the service claimed one');
  assert.equal(await opened(page), '#/work');
  await page.click('button.next:not([disabled])');
  await page.waitForFunction(() => /^#\/case\//.test(location.hash));
  assert.equal(await opened(page), `#/case/${encodeURIComponent(first.case)}?task=${first.task}`);
  const mine = await claimedBy('wang.fang');
  assert.deepEqual(mine.map((x) => x.id), [first.task]);
});

test('n on a case whose claim answer was lost: said under the forms, which stay, and n again opens the task held', async (t) => {
  const page = await h.openCase(t, s, 'CN013');
  let lost = false;
  await page.route('**/v1/tasks/next', async (r) => {
    if (lost) return r.continue();
    lost = true;
    return r.abort('connectionreset');
  });
  await page.keyboard.press('n');
  await h.waitFor(async () => /没有收到响应/.test(await page.textContent('.next-note')), { message: 'the lost answer said' });
  assert.equal(await page.locator('.note-form textarea').count(), 1, 'the forms stay');
  const held = await claimedBy('li.wei');
  assert.equal(held.length, 1, JSON.stringify(held));
  await page.keyboard.press('n');
  await page.waitForFunction(() => /task=/.test(location.hash));
  assert.equal(await opened(page), `#/case/${encodeURIComponent(held[0].case)}?task=${held[0].id}`);
  assert.equal((await claimedBy('li.wei')).length, 1);
});

// Holds Next case's answer (the service has claimed) until release().
async function holdNext(page) {
  const held = { task: null };
  let release;
  const released = new Promise((done) => { release = done; });
  held.release = release;
  await page.route('**/v1/tasks/next', async (r) => {
    const res = await r.fetch();
    const body = await res.text();
    held.task = JSON.parse(body).task;
    await released;
    await r.fulfill({ status: res.status(), contentType: 'application/json', body }).catch(() => {});
  });
  return held;
}

const lateNotice = (page) => page.locator('.late-claim');

// li.wei taps Next case on My work, goes on to CN016 and types a note
// there before the answer comes: the notice names the case claimed.
async function answeredLate(t) {
  const page = await myWork(t, 'li.wei');
  const held = await holdNext(page);
  await page.click('button.next');
  await h.waitFor(() => held.task, { message: 'the claim sent' });
  await page.evaluate(() => { location.hash = '#/case/CN016'; });
  await page.waitForSelector('main[data-page="case"] .note-form textarea');
  await page.fill('.note-form textarea', '已接通，稍后回电');
  held.release();
  await h.waitFor(async () => (await lateNotice(page).textContent()).includes(held.task.case), { message: 'the late answer said' });
  return { page, held };
}

test('a Next case answered after the collector went on to another case is said there, one tap opening it, nothing typed lost', async (t) => {
  const { page, held } = await answeredLate(t);
  const claimed = `#/case/${encodeURIComponent(held.task.case)}?task=${held.task.task}`;
  assert.equal(await opened(page), '#/case/CN016', 'not taken away');
  assert.equal(await page.inputValue('.note-form textarea'), '已接通，稍后回电');
  await h.screenshot(page, 'next-late-zh-CN');
  await lateNotice(page).locator('a.open-late').click();
  await page.waitForFunction((x) => location.hash === x, claimed);
  await page.waitForSelector('main[data-page="case"] .note-form textarea');
  assert.equal(await lateNotice(page).count() && (await lateNotice(page).textContent()), '', 'the notice goes once the case is open');
});

test('n on a case, then typing a note there: the late answer does not redraw the page over the note, it is said with its case', async (t) => {
  const page = await h.openCase(t, s, 'CN017', { locale: 'en' });
  const held = await holdNext(page);
  await page.keyboard.press('n');
  await h.waitFor(() => held.task, { message: 'the claim sent' });
  await page.fill('.note-form textarea', 'Called back, no answer');
  held.release();
  await h.waitFor(async () => (await lateNotice(page).textContent()).includes(held.task.case), { message: 'the late answer said' });
  assert.match(await lateNotice(page).textContent(), /is now yours/);
  assert.equal(await opened(page), '#/case/CN017');
  assert.equal(await page.inputValue('.note-form textarea'), 'Called back, no answer');
});

test('at a phone\'s width: a field officer\'s My work, Next case and the case it opens fit the screen, Save in reach', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'wang.fang');
  await page.goto(`${s.book.url}/#/work`);
  await page.waitForSelector('main[data-page="work"] .cards');
  await h.fitsPhone(page, 'button.next');
  await h.screenshot(page, 'next-phone-work-zh-CN');
  await page.click('button.next');
  await page.waitForFunction(() => /^#\/case\/.*task=/.test(location.hash));
  await page.waitForSelector('.task-form.visit button[type="submit"]');
  await h.fitsPhone(page, '.task-form button[type="submit"]');
  await h.fitsPhone(page, '.task-form button.arrived');
  await h.screenshot(page, 'next-phone-case-zh-CN');
});

test('at a phone\'s width: a late Next case\'s notice fits, its Open in reach', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'en' });
  await page.addInitScript(() => localStorage.setItem('recoup.locale', 'en'));
  await h.useSession(page, s.book, 'li.wei');
  await page.goto(`${s.book.url}/#/work`);
  await page.waitForSelector('main[data-page="work"] button.next:not([disabled])');
  const held = await holdNext(page);
  await page.click('button.next');
  await h.waitFor(() => held.task, { message: 'the claim sent' });
  await page.evaluate(() => { location.hash = '#/case/CN016'; });
  await page.waitForSelector('.note-form textarea');
  await page.fill('.note-form textarea', 'Left a message');
  held.release();
  await h.waitFor(async () => (await lateNotice(page).textContent()).includes(held.task.case), { message: 'the late answer said' });
  await h.fitsPhone(page, '.late-claim a.open-late');
  await h.screenshot(page, 'next-phone-late-en');
});

test('a late Next case moved to someone else before Open is tapped: Open says so, no form that would meet a conflict', async (t) => {
  const { page, held } = await answeredLate(t);
  const moved = await h.api(s.book, `/v1/tasks/${held.task.task}/assign`, { method: 'POST', token: 'admin', body: { user: 'zhang.min' } });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  await lateNotice(page).locator('a.open-late').click();
  await page.waitForSelector('.late-claim .late-gone');
  assert.match(await lateNotice(page).textContent(), new RegExp(`${held.task.case}.*已在此期间转给他人`));
  assert.equal(await opened(page), '#/case/CN016', 'not taken to a task that is no longer theirs');
  assert.equal(await page.inputValue('.note-form textarea'), '已接通，稍后回电');
  await lateNotice(page).locator('button.dismiss').click();
  await h.waitFor(async () => (await lateNotice(page).textContent()) === '', { message: 'the notice set aside' });
});
