'use strict';
// Answers that come late (the case page's poll on a bad network, a
// phone's position found after the visit form was drawn again), and
// Reassign's Find with ids a hostile or confused supervisor types.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

// The next GET of the case itself (not its journal or guard) is answered
// by the service at once and held on the way back until release().
async function holdNextRead(page, id) {
  let release;
  const released = new Promise((done) => { release = done; });
  const held = { asked: false, answered: null, release };
  await page.route((url) => url.pathname === `/v1/cases/${id}`, async (r) => {
    if (r.request().method() !== 'GET' || held.asked) return r.continue();
    held.asked = true;
    const res = await r.fetch();
    await released;
    held.answered = page.waitForEvent('requestfinished', (q) => q === r.request());
    await r.fulfill({ response: res }).catch(() => {});
  });
  return held;
}

test('a poll asked before a promise was saved and answered after it leaves the promise on the page', async (t) => {
  const page = await h.openCase(t, s, 'CN017');
  assert.match(await page.textContent('.promise-box'), /没有进行中的承诺还款/);
  const held = await holdNextRead(page, 'CN017');
  // The collector comes back to the tab: the case is read again, slowly.
  await page.evaluate(() => window.dispatchEvent(new Event('focus')));
  await h.waitFor(() => held.asked, { message: 'the poll asked' });
  await page.click('.promise-form button[type="submit"]');
  await page.waitForSelector('.promise-box .open-promise');
  let journal = 0;
  page.on('request', (r) => { if (/\/v1\/cases\/CN017\/journal/.test(r.url())) journal++; });
  held.release();
  await held.answered;
  // A stale answer drawn is followed at once by a read of the journal;
  // an answer set aside reads nothing. Either way, a few turns of the
  // page's loop later it has been handled.
  for (let i = 0; i < 20 && !journal; i++) await page.evaluate(() => new Promise((done) => setTimeout(done, 10)));
  assert.equal(await page.locator('.promise-box .open-promise').count(), 1, 'the promise just made is still shown');
  assert.doesNotMatch(await page.textContent('.promise-box'), /没有进行中的承诺还款/);
  assert.equal(journal, 0, 'the case as it was before the save was not drawn');
});

test('a poll asked before a promise was sent and answered while the save waits leaves the case as drawn until the save\'s own read', async (t) => {
  const page = await h.openCase(t, s, 'CN013');
  const before = Number(await page.getAttribute('.money-line [data-balance]', 'data-balance'));
  // A payment lands meanwhile: the poll's answer is not the case drawn.
  const paid = await h.api(s.book, '/v1/payments', { method: 'POST', token: 'ingest', body: { case: 'CN013', amount: 10000, ref: 'race-CN013-1' } });
  assert.ok(paid.status < 300, `payment: ${paid.status} ${paid.text}`);
  const held = await holdNextRead(page, 'CN013');
  let sent = false;
  let release;
  const released = new Promise((done) => { release = done; });
  await page.route((url) => url.pathname === '/v1/cases/CN013/promises', async (r) => {
    if (r.request().method() !== 'POST') return r.continue();
    sent = true;
    await released;
    await r.continue().catch(() => {});
  });
  await page.evaluate(() => window.dispatchEvent(new Event('focus')));
  await h.waitFor(() => held.asked, { message: 'the poll asked' });
  await page.click('.promise-form button[type="submit"]');
  await h.waitFor(() => sent, { message: 'the promise sent' });
  let journal = 0;
  page.on('request', (r) => { if (/\/v1\/cases\/CN013\/journal/.test(r.url())) journal++; });
  held.release();
  await held.answered;
  for (let i = 0; i < 20 && !journal; i++) await page.evaluate(() => new Promise((done) => setTimeout(done, 10)));
  assert.equal(journal, 0, 'the poll\'s answer, older than the save sent, was not drawn');
  assert.equal(Number(await page.getAttribute('.money-line [data-balance]', 'data-balance')), before);
  release();
  await page.waitForSelector('.promise-box .open-promise');
  await h.waitFor(async () => Number(await page.getAttribute('.money-line [data-balance]', 'data-balance')) === before - 10000,
    { message: 'the save\'s own read shows the payment' });
});

test('two saves in flight: the first one\'s read, answered after the second\'s, leaves the promise the second made on the page', async (t) => {
  const page = await h.openCase(t, s, 'CN016');
  assert.match(await page.textContent('.promise-box'), /没有进行中的承诺还款/);
  // The note's own read is taken by the service before the promise is
  // made, and comes back last (a slow network).
  const held = await holdNextRead(page, 'CN016');
  await page.fill('.note-form textarea', '两个保存同时进行');
  await page.click('.note-form button[type="submit"]');
  await h.waitFor(() => held.asked, { message: 'the note\'s read asked' });
  await page.click('.promise-form button[type="submit"]');
  await page.waitForSelector('.promise-box .open-promise');
  let journal = 0;
  page.on('request', (r) => { if (/\/v1\/cases\/CN016\/journal/.test(r.url())) journal++; });
  held.release();
  await held.answered;
  for (let i = 0; i < 20 && !journal; i++) await page.evaluate(() => new Promise((done) => setTimeout(done, 10)));
  assert.equal(await page.locator('.promise-box .open-promise').count(), 1, 'the promise just made is still shown');
  assert.doesNotMatch(await page.textContent('.promise-box'), /没有进行中的承诺还款/);
  assert.equal(journal, 0, 'the older read was set aside');
  await page.locator('.timeline-box').filter({ hasText: '两个保存同时进行' }).waitFor();
});

test('a save whose read of the case finds no signal keeps the case page and the note typed beside it, and reads the case again', async (t) => {
  const page = await h.openCase(t, s, 'CN014');
  assert.match(await page.textContent('.promise-box'), /没有进行中的承诺还款/);
  await page.fill('.note-form textarea', '信号不好时写的催记');
  let cut = false;
  await page.route((url) => url.pathname === '/v1/cases/CN014', async (r) => {
    if (r.request().method() !== 'GET' || cut) return r.continue();
    cut = true;
    await r.abort('internetdisconnected');
  });
  await page.click('.promise-form button[type="submit"]');
  await h.waitFor(() => cut, { message: 'the save\'s read cut off' });
  // The case drawn again with the promise, or the page given up for an
  // error box: whichever comes first.
  await page.waitForSelector('.promise-box .open-promise, main > .state.error');
  assert.equal(await page.locator('main > .state.error').count(), 0, 'the case page stays');
  assert.equal(await page.inputValue('.note-form textarea'), '信号不好时写的催记');
  assert.equal(await page.locator('.promise-box .open-promise').count(), 1);
});

test('a position found after the language was switched goes into the visit record shown, and is saved with it', async (t) => {
  const page = await h.openCase(t, s, 'CN006', { device: 'phone', user: 'wang.fang' });
  // The phone's fix comes when the test says (seconds, on a road).
  await page.evaluate(() => {
    window.heldFix = [];
    navigator.geolocation.getCurrentPosition = (found) => window.heldFix.push(found);
  });
  await page.waitForSelector('.task-form.visit input[name="arrived-share"]');
  await page.check('.task-form.visit input[name="arrived-share"]');
  await page.click('.task-form.visit button.arrived');
  assert.match(await page.textContent('.arrived-at'), /正在获取位置/);
  await page.selectOption('.task-form select[name="outcome"]', 'not_home');
  await page.click('button.lang');
  await h.waitFor(async () => /Arrived at/.test(await page.textContent('.task-form.visit')), { message: 'the arrival after the switch' });
  assert.match(await page.textContent('.arrived-at'), /Finding your location/, 'still said to be asked, in English');
  await page.evaluate(() => window.heldFix.forEach((found) => found({ coords: { latitude: 31.2304, longitude: 121.4737, accuracy: 20 } })));
  await h.waitFor(async () => /location 31\.23040, 121\.47370 ±20\u00a0m/.test(await page.textContent('.arrived-at')),
    { message: 'the position in the form shown' });
  const shown = (await page.textContent('.arrived-at')).trim();
  await h.screenshot(page, 'race-visit-position-after-switch-phone-en');
  await page.click('.task-form button[type="submit"]');
  await h.waitFor(async () => {
    const j = await h.api(s.book, '/v1/cases/CN006/journal?limit=1000', { token: 'admin' });
    return j.body.journal.some((x) => x.kind === 'note' && x.detail && x.detail.text === shown);
  }, { timeout: 15000, message: `the arrival noted with where: ${shown}` });
});

test('a call recorded keeps the note and the promise typed beside it, unsent, as they were typed', async (t) => {
  const page = await h.openCase(t, s, 'CN012');
  await page.waitForSelector('.task-form select[name="outcome"]');
  const task = await page.getAttribute('.task-form', 'data-task');
  await page.fill('.note-form textarea', '借款人说下周一再打，工资15号发');
  await page.fill('.promise-form input[name="amount"]', '800');
  await page.selectOption('.task-form select[name="outcome"]', 'no_answer');
  await page.click('.task-form button[type="submit"]');
  await h.waitFor(async () => !(await page.locator(`.task-form[data-task="${task}"]`).count())
    && (await page.locator('.timeline li[data-kind="task_done"]').count()), { timeout: 15000, message: 'the call recorded, its form gone' });
  assert.equal(await page.inputValue('.note-form textarea'), '借款人说下周一再打，工资15号发');
  assert.equal(await page.inputValue('.promise-form input[name="amount"]'), '800');
  await page.click('.note-form button[type="submit"]');
  await h.waitFor(async () => /已保存/.test(await page.textContent('.note-form .form-status')), { message: 'the note saved after' });
});

test('an arrival whose note finds no signal after the visit record was saved waits in the note box, said not saved, and is sent on the next tap', async (t) => {
  const page = await h.openCase(t, s, 'CN008', { device: 'phone', user: 'wang.fang' });
  await page.waitForSelector('.task-form.visit');
  const task = await page.getAttribute('.task-form.visit', 'data-task');
  await page.click('.task-form.visit button.arrived');
  const shown = (await page.textContent('.arrived-at')).trim();
  await page.selectOption('.task-form select[name="outcome"]', 'not_home');
  // The record goes; the phone loses its signal before the arrival's note.
  await page.route('**/v1/cases/CN008/notes', (r) => r.abort('internetdisconnected'));
  await page.click('.task-form button[type="submit"]');
  await h.waitFor(async () => !(await page.locator(`.task-form[data-task="${task}"]`).count())
    && /尚未保存/.test(await page.textContent('.note-form .form-status')), { timeout: 15000, message: 'the arrival said not saved' });
  assert.equal(await page.inputValue('.note-form textarea'), shown);
  await h.fitsPhone(page, '.note-form button[type="submit"]');
  await h.screenshot(page, 'race-arrival-unsent-phone-zh-CN');
  await page.unroute('**/v1/cases/CN008/notes');
  await page.click('.note-form button[type="submit"]');
  await h.waitFor(async () => {
    const j = await h.api(s.book, '/v1/cases/CN008/journal?limit=1000', { token: 'admin' });
    return j.body.journal.some((x) => x.kind === 'note' && x.detail && x.detail.text === shown);
  }, { timeout: 15000, message: `the arrival noted: ${shown}` });
});

test('a case paid off and closed while its page is open is said so by the next read, what was typed kept', async (t) => {
  const page = await h.openCase(t, s, 'CN019');
  await page.fill('.note-form textarea', '借款人说今天会全部还清');
  const c = (await h.api(s.book, '/v1/cases/CN019', { token: 'admin' })).body;
  const paid = await h.api(s.book, '/v1/payments', { method: 'POST', token: 'ingest',
    body: { case: 'CN019', amount: c.balance, ref: 'race-CN019-all', at: s.book.anchor } });
  assert.equal(paid.status, 201, paid.text);
  await h.waitFor(async () => {
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    return /不在您可查看/.test(await page.textContent('.case-gone'));
  }, { timeout: 15000, message: 'the case said gone' });
  assert.equal(await page.inputValue('.note-form textarea'), '借款人说今天会全部还清');
  await h.screenshot(page, 'race-case-gone-zh-CN');
});

const reassignRows = (page) => page.$$eval('table[data-table="open_tasks"] tbody tr td[data-col="case"]', (tds) => tds.map((td) => td.textContent));

test('Reassign\'s Find with "..", "." or a 2,000-character id says there is no such case and keeps what was typed; a full-width id finds its case', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('.reassign-filter input[name="case"]');
  for (const id of ['..', '.', 'C'.repeat(2000)]) {
    await page.fill('.reassign-filter input[name="case"]', id);
    await page.click('.reassign-filter button.find-case');
    await h.waitFor(async () => (await page.textContent('main')).includes('没有案件 ' + id),
      { message: `no case ${id.slice(0, 20)} said` });
    assert.equal(await page.inputValue('input[name="case"]'), id, 'the search kept to correct');
    assert.equal(await page.locator('main .state.error').count(), 0, 'not "not available on this server"');
  }
  // Full-width, as a Chinese input method left so types it: the case.
  await page.fill('.reassign-filter input[name="case"]', 'ＣＮ０１６');
  await page.click('.reassign-filter button.find-case');
  await h.waitFor(async () => { const r = await reassignRows(page); return r.length && r.every((x) => x === 'CN016'); },
    { message: 'CN016\'s tasks listed' });
  await page.fill('.reassign-filter input[name="case"]', 'C'.repeat(2000));
  await page.click('.reassign-filter button.find-case');
  await h.waitFor(async () => /没有案件 CCCC/.test(await page.textContent('main')), { message: 'the long id said' });
  // The long id said wraps in its box: the page does not scroll sideways.
  const wide = await page.evaluate(() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth);
  assert.ok(wide <= 0, `the page is ${wide}px wider than the window`);
  await h.screenshot(page, 'race-reassign-find-long-zh-CN');
});

test('/ with a full-width id (as Reassign\'s Find takes it) opens its case, on Cases and on My work; an unknown one is said', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'li.wei');
  for (const where of ['cases', 'work']) {
    await page.goto(`${s.book.url}/#/${where}`);
    await page.waitForSelector(`main[data-page="${where}"] input.search`);
    await page.click('main h1, main .page-head');
    await page.keyboard.press('/');
    await page.keyboard.type('ＣＮ０１６');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash === '#/case/CN016', null, { timeout: 15000 });
    await page.waitForSelector('main[data-page="case"] .note-form textarea');
    assert.match(await page.textContent('main'), /CN016/);
  }
  await page.goto(`${s.book.url}/#/cases`);
  await page.waitForSelector('main[data-page="cases"] input.search');
  await page.fill('input.search', 'ＣＮ９９９');
  await page.keyboard.press('Enter');
  await h.waitFor(async () => (await page.textContent('main')).includes('ＣＮ９９９'), { message: 'the unknown id said' });
  assert.equal(await page.evaluate(() => location.hash), '#/case/' + encodeURIComponent('ＣＮ９９９'));
});

test('a timeline read by a poll before a note was saved, answered after the save\'s own, leaves the note on the timeline', async (t) => {
  const page = await h.openCase(t, s, 'CN015');
  // A payment lands: the next poll finds the case changed and reads its
  // journal again, slowly (taken by the service before the note).
  const paid = await h.api(s.book, '/v1/payments', { method: 'POST', token: 'ingest', body: { case: 'CN015', amount: 1000, ref: 'race-CN015-1' } });
  assert.ok(paid.status < 300, `payment: ${paid.status} ${paid.text}`);
  let release;
  const released = new Promise((done) => { release = done; });
  const held = { asked: false, answered: null };
  await page.route((url) => url.pathname === '/v1/cases/CN015/journal', async (r) => {
    if (held.asked) return r.continue();
    held.asked = true;
    const res = await r.fetch();
    await released;
    held.answered = page.waitForEvent('requestfinished', (q) => q === r.request());
    await r.fulfill({ response: res }).catch(() => {});
  });
  await page.evaluate(() => window.dispatchEvent(new Event('focus')));
  await h.waitFor(() => held.asked, { message: 'the poll read the journal' });
  await page.fill('.note-form textarea', '时间线上的催记');
  await page.click('.note-form button[type="submit"]');
  const note = page.locator('.timeline li.tl-note', { hasText: '时间线上的催记' });
  await note.waitFor();
  release();
  await h.waitFor(() => held.answered, { message: 'the poll\'s journal answered' });
  await held.answered;
  for (let i = 0; i < 20; i++) await page.evaluate(() => new Promise((done) => setTimeout(done, 10)));
  assert.equal(await note.count(), 1, 'the note saved is still on the timeline');
});
