'use strict';
// A collector on a bad network and a hostile answer, against the slow
// write and the service's refusals said in the person's words: a refusal
// naming money on a case in another currency, a slow write outlived by
// the page it was sent from (the language switched, the case left), a
// slow claim.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

async function errorFor(page, form, name) {
  const el = page.locator(`${form} [data-error-for="${name}"]`);
  await h.waitFor(async () => (await el.textContent()).trim(), { message: `${form} ${name}` });
  return el.textContent();
}

// Every text a form's status shows, as it changes (window.seen).
async function watchStatus(page, form) {
  await page.evaluate((sel) => {
    window.seen = [];
    const watch = () => {
      const el = document.querySelector(sel + ' .form-status');
      if (!el || el.dataset.watched) return;
      el.dataset.watched = '1';
      new MutationObserver(() => window.seen.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    };
    watch();
    // The form drawn again (another language) is watched too.
    new MutationObserver(watch).observe(document.body, { childList: true, subtree: true });
  }, form);
}

// The service does the write at once; its answer takes ms on the way
// back (a phone between cells). Answers that came: slow.answered.
async function slowly(page, pattern, ms) {
  const slow = { answered: 0 };
  await page.route(pattern, async (r) => {
    const res = await r.fetch();
    await new Promise((done) => setTimeout(done, ms));
    // The page may have given up on it (a resend in its place).
    await r.fulfill({ response: res }).then(() => slow.answered++, () => {});
  });
  return slow;
}

const notes = async (id, text) => (await h.api(s.book, `/v1/cases/${id}/journal?limit=1000`, { token: 'admin' }))
  .body.journal.filter((r) => r.kind === 'note' && r.detail && r.detail.text === text).length;

test('a refusal naming money says it in the case\'s currency (yen have no minor units), and a message with markup stays text', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'li.wei');
  // A case imported in yen in a yuan institution: ¥5,600 owed.
  await page.route('**/v1/cases/CN012', async (r) => {
    const res = await r.fetch();
    const c = await res.json();
    Object.assign(c, { currency: 'JPY', balance: 5600, amount_due: 1400 });
    return r.fulfill({ response: res, json: c });
  });
  // A payment lands between the form's check and the send: the service
  // refuses, naming the balance now; then a range refusal naming a maximum.
  const answers = [
    { field: 'amount', message: 'promise of 5000 exceeds the balance (4000)' },
    { field: 'amount', message: 'amount must be a whole number of minor units from 0 to 9000000' },
  ];
  let sent = 0;
  await page.route('**/v1/cases/CN012/promises', (r) => (sent++, r.fulfill({
    status: 422, contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'invalid', ...answers.shift() } }),
  })));
  await page.goto(s.book.url + '/#/case/CN012');
  await page.waitForSelector('.promise-form input[name="amount"]');
  await page.fill('.promise-form input[name="amount"]', '5000');
  await page.click('.promise-form button[type="submit"]');
  const said = await errorFor(page, '.promise-form', 'amount');
  assert.match(said, /4,000/, said);
  assert.doesNotMatch(said, /40\.00/, said);
  // The balance the service named is the form's now: 4,500 is above it,
  // said before anything is sent again.
  const slot = page.locator('.promise-form [data-error-for="amount"]');
  await slot.evaluate((el) => { el.textContent = ''; });
  await page.fill('.promise-form input[name="amount"]', '4500');
  await page.click('.promise-form button[type="submit"]');
  assert.match(await errorFor(page, '.promise-form', 'amount'), /4,000/);
  assert.equal(sent, 1, 'not sent again');
  await slot.evaluate((el) => { el.textContent = ''; });
  await page.fill('.promise-form input[name="amount"]', '3000');
  await page.click('.promise-form button[type="submit"]');
  const range = await errorFor(page, '.promise-form', 'amount');
  assert.match(range, /9,000,000/, range);
  assert.doesNotMatch(range, /90,000\.00/, range);

  // A refusal whose words are markup and a placeholder of our own.
  await page.route('**/v1/cases/CN012/notes', (r) => r.fulfill({
    status: 422, contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'invalid', message: '<img src=x onerror="alert(1)"> {balance} {msg}' } }),
  }));
  await page.fill('.note-form textarea', '试试');
  await page.click('.note-form button[type="submit"]');
  await h.waitFor(async () => /onerror/.test(await page.textContent('.note-form .form-error')), { message: 'the refusal shown' });
  assert.equal(await page.locator('.note-form .form-error img').count(), 0);
  assert.match(await page.textContent('.note-form .form-error'), /\{balance\} \{msg\}/);
});

test('a slow promise, then the language switched: the page drawn again still waits, and says saved when the answer comes', async (t) => {
  const page = await h.openCase(t, s, 'CN013');
  await slowly(page, '**/v1/cases/CN013/promises', 24000);
  await watchStatus(page, '.promise-form');
  await page.fill('.promise-form input[name="amount"]', '300');
  await page.click('.promise-form button[type="submit"]');
  const status = page.locator('.promise-form .form-status');
  await h.waitFor(async () => /仍在等待/.test(await status.textContent()), { timeout: 40000, message: 'still waiting' });
  await page.click('button.lang');
  await page.waitForSelector('.promise-form .form-status', { state: 'attached' });
  await h.waitFor(async () => /Still waiting/.test(await status.textContent()), { message: 'still waiting, in English' });
  await h.waitFor(async () => /Saved/.test(await status.textContent()), { timeout: 60000, message: 'saved when the answer came' });
  await page.waitForSelector('.promise-box .open-promise');
  assert.match(await page.textContent('.promise-box .open-promise'), /300\.00/);
  const seen = await page.evaluate(() => window.seen);
  assert.ok(!seen.some((x) => /Not saved|尚未保存/.test(x)), seen.join(' | '));
});

test('a slow note, the case left before the answer: opened again, the note is saved, not "back, not saved yet"', async (t) => {
  const page = await h.openCase(t, s, 'CN014');
  const slow = await slowly(page, '**/v1/cases/CN014/notes', 24000);
  await page.fill('.note-form textarea', '离开前写的');
  await page.click('.note-form button[type="submit"]');
  const status = page.locator('.note-form .form-status');
  await h.waitFor(async () => /仍在等待/.test(await status.textContent()), { timeout: 40000, message: 'still waiting' });
  await page.click('nav a[data-nav="work"]');
  await page.waitForSelector('main[data-page="work"]');
  await h.waitFor(() => slow.answered, { timeout: 60000, message: 'the answer came' });
  assert.equal(await notes('CN014', '离开前写的'), 1);
  await page.goto(s.book.url + '/#/case/CN014');
  await page.waitForSelector('.timeline-box .timeline');
  await page.waitForSelector('.note-form textarea');
  assert.equal(await page.inputValue('.note-form textarea'), '', 'the saved note is not typed again');
  assert.doesNotMatch(await page.textContent('main'), /已恢复/);
  assert.equal(await notes('CN014', '离开前写的'), 1);
});

test('a slow claim before a record waits like a slow save, never "not saved yet"', async (t) => {
  const page = await h.openCase(t, s, 'CN015');
  await slowly(page, '**/v1/tasks/*/claim', 24000);
  await page.waitForSelector('.task-form select[name="outcome"]');
  await watchStatus(page, '.task-form');
  await page.selectOption('.task-form select[name="outcome"]', 'no_answer');
  await page.click('.task-form button[type="submit"]');
  // Saved, the task's form goes (the task is done): what it said is in seen.
  await h.waitFor(async () => (await page.evaluate(() => window.seen)).some((x) => /已保存/.test(x)), { timeout: 60000, message: 'saved' });
  const seen = await page.evaluate(() => window.seen);
  assert.ok(seen.some((x) => /仍在等待/.test(x)), seen.join(' | '));
  assert.ok(!seen.some((x) => /尚未保存/.test(x)), seen.join(' | '));
});

test('a slow note edited while it waits, then Save again: one note, the one sent', async (t) => {
  const page = await h.openCase(t, s, 'CN016');
  await slowly(page, '**/v1/cases/CN016/notes', 24000);
  await page.fill('.note-form textarea', '第一版');
  await page.click('.note-form button[type="submit"]');
  const status = page.locator('.note-form .form-status');
  await h.waitFor(async () => /仍在等待/.test(await status.textContent()), { timeout: 40000, message: 'still waiting' });
  // A person fixing a word while it waits, as a person does: keys.
  await page.click('.note-form textarea');
  await page.keyboard.press('End');
  await page.keyboard.type('改');
  await page.click('.note-form button[type="submit"]');
  await h.waitFor(async () => /已保存/.test(await status.textContent()), { timeout: 60000, message: 'saved' });
  const j = await h.api(s.book, '/v1/cases/CN016/journal?limit=1000', { token: 'admin' });
  const mine = j.body.journal.filter((r) => r.kind === 'note' && /^第一版/.test(r.detail && r.detail.text));
  assert.equal(mine.length, 1, JSON.stringify(mine.map((r) => r.detail.text)));
});

test('a tab opened again (reloaded) after its session ended: the same person goes back to the case, another lands on their own start', async (t) => {
  const page = await h.openCase(t, s, 'CN017');
  await h.endSession(page, s.book);
  await page.reload();
  await page.waitForFunction(() => /^#\/signin/.test(location.hash));
  await h.signInHere(page, 'li.wei');
  assert.equal(await page.evaluate(() => location.hash), '#/case/CN017');
  await page.waitForSelector('.note-form textarea');

  await h.endSession(page, s.book);
  await page.reload();
  await page.waitForFunction(() => /^#\/signin/.test(location.hash));
  assert.match(await page.evaluate(() => location.hash), /CN017/, 'the address still names the case, for li.wei');
  const cases = [];
  page.on('request', (r) => { if (/\/v1\/cases\/CN017/.test(r.url())) cases.push(r.url()); });
  await h.signInHere(page, 'wang.fang');
  await page.waitForSelector('main[data-page="work"]');
  assert.equal(await page.evaluate(() => location.hash), '#/work');
  assert.deepEqual(cases, [], "li.wei's case was not opened for wang.fang");
});

test('at a phone\'s width: a slow promise still waiting, in both languages, fits the screen with Save in reach', async (t) => {
  const page = await h.openCase(t, s, 'CN016', { device: 'phone' });
  await slowly(page, '**/v1/cases/CN016/promises', 24000);
  await page.fill('.promise-form input[name="amount"]', '200');
  await page.click('.promise-form button[type="submit"]');
  const status = page.locator('.promise-form .form-status');
  await h.waitFor(async () => /仍在等待/.test(await status.textContent()), { timeout: 40000, message: 'still waiting' });
  await h.fitsPhone(page, '.promise-form button[type="submit"]');
  await h.screenshot(page, 'attack-phone-still-waiting-zh-CN');
  await page.click('button.lang');
  await h.waitFor(async () => /Still waiting/.test(await status.textContent()), { message: 'still waiting, in English' });
  await h.fitsPhone(page, '.promise-form button[type="submit"]');
  await h.screenshot(page, 'attack-phone-still-waiting-en');
  await h.waitFor(async () => /Saved/.test(await status.textContent()), { timeout: 60000, message: 'saved when the answer came' });
});
