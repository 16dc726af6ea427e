'use strict';
// Done twice on a slow network: a tab, a filter or a period picked again
// before the first read answered, More tapped twice, Run what-if tapped
// twice. Only the read asked last is drawn, each row once; one what-if
// is sent.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

// Requests to url held while `on`, in the order they came; release(route)
// lets one go to the service and waits until the page has its answer.
function holder(page) {
  const held = [];
  const gate = { on: false, held };
  gate.install = (url) => page.route(url, (r) => (gate.on ? held.push(r) : r.continue()));
  gate.next = (n) => h.waitFor(() => held.length >= n && held[n - 1], { message: `request ${n} held` });
  gate.release = async (r) => {
    const done = page.waitForEvent('requestfinished', { predicate: (q) => q === r.request() });
    await r.continue();
    await done;
  };
  // first() and second() each read once, both held; the first answers
  // first, then the second.
  gate.twice = async (first, second) => {
    await first();
    const one = await gate.next(1);
    await second();
    const two = await gate.next(2);
    gate.on = false;
    await gate.release(one);
    await gate.release(two);
  };
  return gate;
}

// The page's own work for an answer it has fully received: two frames.
const settle = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r)))));

// A desk's page of user at hash, its table drawn, whose reads of path
// are held from now on.
async function heldPage(t, { locale, path, user, hash, table }) {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale });
  const gate = holder(page);
  await gate.install((url) => url.pathname === path);
  await h.useSession(page, s.book, user);
  await page.goto(s.book.url + hash);
  await page.waitForSelector(`table[data-table="${table}"] tbody tr`);
  gate.on = true;
  return { page, gate };
}

const keys = (page, table) => page.$$eval(`table[data-table="${table}"] tbody tr`, (trs) => trs.map((tr) => tr.dataset.key));

test('My work: a tab picked while another tab\'s list is still coming shows only its own rows, once', async (t) => {
  const me = await h.session(s.book, 'wang.fang');
  const read = async (tab) => (await h.api(s.book, `/v1/work?tab=${tab}&limit=100`, { cookie: me.cookie })).body.items
    .map((it) => String(it.task ?? it.case));
  const due = await read('due');
  const broken = await read('broken');
  assert.ok(due.length && broken.length, 'the field queue has tasks due and broken promises');

  const { page, gate } = await heldPage(t, { locale: 'en', path: '/v1/work', user: 'wang.fang', hash: '/#/work', table: 'work' });
  // The broken promises answer first, then the tab picked last.
  await gate.twice(() => page.click('button[data-tab="broken"]'), () => page.click('button[data-tab="due"]'));
  await h.waitFor(async () => (await keys(page, 'work')).length >= due.length
    && !(await page.locator('main .work-list .state.loading').count()), { message: 'the tasks due are listed' });
  await settle(page);
  assert.equal(await page.getAttribute('button[data-tab="due"]', 'aria-selected'), 'true');
  assert.deepEqual((await keys(page, 'work')).sort(), [...due].sort(), 'the tasks due, each once, and no broken promise among them');
  await h.screenshot(page, 'work-tab-race-desktop-en');
});

// The list at path as two pages, the first `cut` items then the rest,
// and More (two taps before the first answers) on page (as user, at
// hash); answers the items and how often the second page was asked.
async function moreTwice(page, { path, cut, user, hash, table, key }) {
  const got = { all: null, asked: 0 };
  await page.route((url) => url.pathname === path, async (r) => {
    const all = got.all;
    if (new URL(r.request().url()).searchParams.get('after') === 'page2') {
      got.asked++;
      return r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...all, items: all.items.slice(cut), next: null }) });
    }
    const res = await r.fetch();
    got.all = await res.json();
    await r.fulfill({ response: res, body: JSON.stringify({ ...got.all, items: got.all.items.slice(0, cut), next: 'page2' }) });
  });
  await h.useSession(page, s.book, user);
  await page.goto(s.book.url + hash);
  await page.waitForSelector('main button.more');
  assert.ok(got.all.items.length > cut, `${path} has more than ${cut} items`);
  await page.$eval('main button.more', (b) => { b.click(); b.click(); });
  await h.waitFor(async () => (await keys(page, table)).length >= got.all.items.length
    && !(await page.locator('main button.more').count()), { message: 'the second page is added' });
  await settle(page);
  assert.deepEqual(await keys(page, table), got.all.items.map(key), 'every item once, in order');
  assert.equal(got.asked, 1, 'the next page is asked once');
}

test('My work: More tapped twice on a slow network adds the next page once', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await moreTwice(page, { path: '/v1/work', cut: 2, user: 'wang.fang', hash: '/#/work', table: 'work', key: (it) => String(it.task ?? it.case) });
});

test('Outbox: a status picked and then Filter tapped lists each message of that status once', async (t) => {
  const api = await h.api(s.book, '/v1/outbox?status=blocked&limit=50', { token: 'admin' });
  const blocked = (api.body.items || []).map((m) => String(m.id));
  assert.ok(blocked.length, 'the book has blocked messages');

  const { page, gate } = await heldPage(t, { locale: 'zh-CN', path: '/v1/outbox', user: 'zhang.min', hash: '/#/outbox', table: 'outbox' });
  // The status read at once; Filter, tapped as a newcomer would, reads again.
  await gate.twice(() => page.selectOption('main select[name="status"]', 'blocked'),
    () => page.click('main form.toolbar button[type="submit"]'));
  await h.waitFor(async () => (await keys(page, 'outbox')).length >= blocked.length, { message: 'the blocked messages are listed' });
  await settle(page);
  assert.deepEqual((await keys(page, 'outbox')).sort(), [...blocked].sort(), 'each blocked message once');
  await h.screenshot(page, 'outbox-filter-race-desktop-zh-CN');
});

test('Outbox: More tapped twice on a slow network adds the next page once', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await moreTwice(page, { path: '/v1/outbox', cut: 1, user: 'zhang.min', hash: '/#/outbox', table: 'outbox', key: (m) => String(m.id) });
});

test('Strategy: a period shown again while the last one is still coming keeps the one asked last', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  const gate = holder(page);
  await gate.install((url) => url.pathname === '/v1/workflows');
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/strategy');
  await page.waitForSelector('section.workflow');
  gate.on = true;
  // A period of no days' moves, then the default one again.
  const from = await page.inputValue('main input[name="from"]');
  const to = await page.inputValue('main input[name="to"]');
  await page.fill('main input[name="from"]', '2001-01-01');
  await page.fill('main input[name="to"]', '2001-01-02');
  await page.click('main form.toolbar button[type="submit"]');
  const stale = await gate.next(1);
  await page.fill('main input[name="from"]', from);
  await page.fill('main input[name="to"]', to);
  await page.click('main form.toolbar button[type="submit"]');
  const fresh = await gate.next(2);
  gate.on = false;
  await gate.release(fresh);
  await page.waitForSelector('section.workflow');
  const drawn = await page.textContent('section.workflow');
  await gate.release(stale);
  await settle(page);
  assert.equal(await page.textContent('section.workflow'), drawn, 'the period asked last stays drawn');
});

test('What-if: Run tapped twice on a slow network starts one what-if, and one running is said in words', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  let posted = 0;
  let answer = null; // the next POST's answer
  const held = [];
  await page.route((url) => url.pathname === '/v1/simulations', (r) => {
    if (r.request().method() !== 'POST') return r.continue();
    posted++;
    if (answer) return r.fulfill(answer);
    held.push(r);
  });
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/strategy');
  const run = page.locator('form.whatif-run button[type="submit"]');
  await run.waitFor();
  await page.$eval('form.whatif-run button[type="submit"]', (b) => { b.click(); b.click(); });
  await h.waitFor(() => held.length, { message: 'the what-if is sent' });
  // The service refuses a second while one runs: not what this page sent.
  await held[0].fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ error: { code: 'conflict',
    field: null, message: 'what-if 7 is running (started by zhang.min at 2026-12-06T10:00:00+08:00); one runs at a time' } }) });
  const said = page.locator('form.whatif-run .form-error');
  await h.waitFor(async () => (await said.textContent()).trim(), { message: 'the refusal is said' });
  await settle(page);
  assert.equal(posted, 1, 'one what-if sent for two taps');
  const text = await said.textContent();
  assert.match(text, /已有一个假设分析正在运行/, text);
  assert.match(text, /zhang\.min/, text);
  assert.doesNotMatch(text.replace('zhang.min', ''), /案件|[A-Za-z]{4,}/, 'no word of a case, no English');
  assert.ok(await run.isEnabled(), 'Run is on again after the refusal');
  // Days out of range: said beside Days, in Chinese, what was typed kept.
  answer = { status: 422, contentType: 'application/json', body: JSON.stringify({ error: { code: 'invalid',
    field: 'days', message: 'days must be a whole number from 1 to 365' } }) };
  await page.fill('form.whatif-run input[name="days"]', '400');
  await run.click();
  const days = page.locator('form.whatif-run [data-error-for="days"]');
  await h.waitFor(async () => (await days.textContent()).trim(), { message: 'the refusal is said beside Days' });
  assert.match(await days.textContent(), /天数：请输入 1 到 365 之间的整数/);
  assert.equal(await page.inputValue('form.whatif-run input[name="days"]'), '400');
  await h.screenshot(page, 'whatif-refused-desktop-zh-CN');
});
