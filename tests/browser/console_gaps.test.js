'use strict';
// Small gaps the session's attackers found on the console's screens, a
// test each: what a person saw, and what they see now.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

const countColour = (page) => page.$eval('.ov-jump .jump-errors .count',
  (el) => ({ text: el.textContent, bg: getComputedStyle(el).backgroundColor, fg: getComputedStyle(el).color }));

test('the Cases in error badge is red when there are errors and plain at 0', async (t) => {
  const some = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.useSession(some, s.book, 'zhang.min');
  await some.goto(s.book.url + '/#/overview');
  await some.waitForSelector('table[data-table="errors"]');
  const red = await countColour(some);
  assert.equal(red.text, String(h.expected(s.book).errors.length));

  // A book with no case in error: the list the overview reads is empty.
  const none = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await none.route(/\/v1\/errors(\?|$)/, (r) => r.fulfill({
    status: 200, contentType: 'application/json', body: JSON.stringify({ errors: [], next: null }) }));
  await h.useSession(none, s.book, 'zhang.min');
  await none.goto(s.book.url + '/#/overview');
  await none.waitForSelector('main .panel .state.empty');
  await h.waitFor(async () => (await countColour(none)).text === '0', { message: 'the badge says 0' });
  const zero = await countColour(none);
  const rgb = (c) => c.match(/\d+/g).slice(0, 3).map(Number);
  const [r, g, b] = rgb(red.bg);
  assert.ok(r > g + 8 && r > b + 8, `with errors the badge is red (${red.bg})`);
  const [r0, g0, b0] = rgb(zero.bg);
  assert.ok(!(r0 > g0 + 8 && r0 > b0 + 8), `at 0 the badge is not red (${zero.bg})`);
  const [fr, fg, fb] = rgb(zero.fg);
  assert.ok(!(fr > fg + 40 && fr > fb + 40), `at 0 its figure is not red (${zero.fg})`);
  await none.locator('.page-head, .ov-jump').first().screenshot({ path: require('node:path').join(h.SCREENSHOTS, 'overview-errors-zero-desktop.png') });
});

test('an Outbox card on a phone leaves out a value that is an empty string, as it does a none', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'zh-CN' });
  let first = null;
  await page.route(/\/v1\/outbox(\?|$)/, async (r) => {
    const res = await r.fetch();
    const body = await res.json();
    if (body.items && body.items.length) {
      Object.assign(body.items[0], { to: '', template: '' });
      first = String(body.items[0].id);
    }
    await r.fulfill({ response: res, body: JSON.stringify(body) });
  });
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/outbox');
  await page.waitForSelector('table[data-table="outbox"] tbody tr');
  assert.ok(first, 'the outbox has a message');
  const cells = await page.$$eval(`table[data-table="outbox"] tbody tr[data-key="${first}"] td`, (tds) =>
    tds.map((td) => ({ col: td.dataset.col, shown: td.getBoundingClientRect().width > 0, text: td.textContent.trim() })));
  for (const col of ['to', 'template'])
    assert.equal(cells.find((c) => c.col === col).shown, false, `"${col}" with nothing after it is left out`);
  assert.deepEqual(cells.filter((c) => c.shown && !c.text).map((c) => c.col), [], 'no shown value is blank');
  await h.fitsPhone(page);
  await h.screenshot(page, 'outbox-empty-values-phone-zh-CN');
});

test('Reassign\'s task list on a 390 px phone is cards, nothing scrolled sideways, each value named', async (t) => {
  for (const locale of ['zh-CN', 'en']) {
    const page = await h.newPage(t, s.browser, { device: 'phone', locale });
    await page.addInitScript((l) => localStorage.setItem('recoup.locale', l), locale);
    await h.useSession(page, s.book, 'zhang.min');
    await page.goto(s.book.url + '/#/overview');
    await page.waitForSelector('form.reassign table[data-table="open_tasks"] tbody tr');
    await h.fitsPhone(page, 'form.reassign button[type="submit"]');
    const got = await page.$eval('table[data-table="open_tasks"]', (table) => {
      const width = document.documentElement.clientWidth;
      const sideways = [];
      for (let el = table; el && el !== document.body; el = el.parentElement)
        if (el.scrollWidth > el.clientWidth + 1) sideways.push(`${el.tagName.toLowerCase()}.${el.className} ${el.scrollWidth}/${el.clientWidth}`);
      const cells = [...table.querySelectorAll('tbody tr td')].filter((td) => td.getBoundingClientRect().width > 0);
      return {
        sideways,
        outside: cells.filter((td) => td.getBoundingClientRect().right > width + 1).map((td) => td.dataset.col),
        unnamed: [...new Set(cells.filter((td) => td.dataset.col !== 'pick'
          && !getComputedStyle(td, '::before').content.replace(/^none$|^normal$|^""$/, '')).map((td) => td.dataset.col))],
      };
    });
    assert.deepEqual(got.sideways, [], `${locale}: the list scrolls sideways`);
    assert.deepEqual(got.outside, [], `${locale}: values past the screen's edge`);
    assert.deepEqual(got.unnamed, [], `${locale}: values without their column's name`);
    // Ticking a task still works from its card.
    const box = page.locator('table[data-table="open_tasks"] tbody tr input[name="task"]').first();
    await box.check();
    assert.ok(await box.isChecked());
    await page.locator('form.reassign').screenshot({ path: require('node:path').join(h.SCREENSHOTS, `overview-reassign-cards-phone-${locale}.png`) });
  }
});

// Shanghai's date of an instant, YYYY-MM-DD.
const shanghaiDay = (ms) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(ms));

test('a field officer\'s day on a phone counts the whole queue, and rolls at the institution\'s midnight', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'zh-CN' });
  const today = shanghaiDay(s.book.now());
  const tomorrow = shanghaiDay(Date.parse(`${today}T12:00:00+08:00`) + 86400000);
  // The page's clock a minute before the institution's midnight.
  await page.clock.install({ time: new Date(`${today}T23:59:00+08:00`) });
  // The queue as the API gives it past a page: 3 of the loaded visits due
  // today, 2 tomorrow, more to come, 57 due by tonight in all; after
  // midnight (the page asks again) 60.
  let afterMidnight = false;
  await page.route(/\/v1\/work(\?|$)/, async (r) => {
    const res = await r.fetch();
    const body = await res.json();
    assert.ok(body.items.length >= 5, 'the field queue has five visits');
    body.items = body.items.slice(0, 5).map((it, i) => ({ ...it, due: `${i < 3 ? today : tomorrow}T10:00:00+08:00` }));
    body.next = afterMidnight ? null : 'x';
    body.counts = { ...body.counts, today: afterMidnight ? 5 : 57 };
    await r.fulfill({ response: res, body: JSON.stringify(body) });
  });
  await h.useSession(page, s.book, 'wang.fang');
  await page.goto(`${s.book.url}/#/work`);
  const day = page.locator('main[data-page="work"] .cards p.day');
  await day.waitFor();
  const before = await day.textContent();
  assert.match(before, /今日 · 57 个外访/, 'today\'s count is the queue\'s, not the page\'s');
  assert.match(before, /之后 2\+ 个/, 'the later ones seen, and more past the page');
  afterMidnight = true;
  await page.clock.fastForward(90000);
  await h.waitFor(async () => /今日 · 5 个外访/.test(await day.textContent()),
    { timeout: 15000, message: 'the day rolled at midnight' });
  assert.doesNotMatch(await day.textContent(), /之后/, 'tomorrow\'s visits are today\'s');
  await h.screenshot(page, 'work-day-rolled-phone-zh-CN');
});

// What a borrower's record brings without a space to wrap at: an email,
// a name typed in Latin letters run together, an address of a building's
// code. At 360 px the case's heading and contacts and My work's card ran
// past the screen's edge.
test('a borrower\'s email, name and address without a space keep a 360 px phone\'s case and card to its width', async (t) => {
  const name = 'Zhangxiaomingzhangxiaomingzhangxiaoming';
  const email = 'zhang.xiaoming.finance-department@example-long-company-domain.com.cn';
  const address = 'Building-B12-Unit-0304-Room-1801-Century-Avenue-100-Pudong';
  const long = (b) => ({ ...b, name, emails: [email], address });
  for (const locale of ['zh-CN', 'en']) {
    const page = await h.newPage(t, s.browser, { device: 'phone', locale });
    await page.setViewportSize({ width: 360, height: 740 });
    await page.addInitScript((l) => localStorage.setItem('recoup.locale', l), locale);
    await page.route((url) => url.pathname === '/v1/cases/CN005', async (r) => {
      const res = await r.fetch();
      const body = await res.json();
      await r.fulfill({ response: res, body: JSON.stringify({ ...body, borrower: long(body.borrower || {}) }) });
    });
    await page.route((url) => url.pathname === '/v1/work', async (r) => {
      const res = await r.fetch();
      const body = await res.json();
      body.items = (body.items || []).map((it) => ({ ...it, borrower: long(it.borrower || {}) }));
      await r.fulfill({ response: res, body: JSON.stringify(body) });
    });
    await h.useSession(page, s.book, 'wang.fang');
    await page.goto(s.book.url + '/#/case/CN005');
    await page.waitForSelector('.contacts li');
    assert.ok((await page.textContent('.contacts')).includes(email));
    await h.fitsPhone(page);
    await h.screenshot(page, `case-long-text-360-${locale}`);
    await page.goto(s.book.url + '/#/work');
    await page.waitForSelector('.cards .card .name');
    await h.fitsPhone(page);
    await h.screenshot(page, `work-long-text-360-${locale}`);
  }
});

test('the roll-rate matrix names the current bucket in Chinese, its row and its column', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('table[data-table="roll_rates"]');
  const heads = await page.$$eval('table[data-table="roll_rates"] th', (ths) => ths.map((th) => th.textContent));
  assert.ok(heads.filter((x) => x === '未逾期').length >= 2, `the row and the column of the current bucket: ${heads.join(' | ')}`);
  assert.deepEqual(heads.filter((x) => /[A-Za-z]{3,}/.test(x)), [], 'no English word among the headings');
  await page.locator('table[data-table="roll_rates"]').screenshot({ path: require('node:path').join(h.SCREENSHOTS, 'overview-rollrates-desktop-zh-CN.png') });
});

// The journal names a task_done row's money fields (the kind's declared
// "money", here the call's promise amount) for the timeline, also for the
// read role, whose strings are masked.
test('the journal names the money fields of a recorded task, for every role', async () => {
  const task = h.expected(s.book).cases.CN014.tasks[0].id;
  const by = h.addDays(s.book.today, 7);
  const done = await h.api(s.book, `/v1/tasks/${task}/complete`, { method: 'POST', token: 'agent',
    body: { outcome: 'promise', amount: 12345, by } });
  assert.equal(done.status, 200, done.text);
  for (const token of ['agent', 'read']) {
    const j = await h.api(s.book, '/v1/cases/CN014/journal?limit=500', { token });
    const row = j.body.journal.find((r) => r.kind === 'task_done');
    assert.ok(row, `${token}: a task_done row`);
    assert.deepEqual(row.detail.money_fields, { amount: true }, `${token}: ${JSON.stringify(row.detail)}`);
    assert.equal(row.detail.amount, 12345);
  }
});

// A page more that does not come (no signal on the road, the service
// busy) left an error box where the list was: the list stays, the error
// and its Retry under it, and Retry adds the page. path's list is forged
// as two pages, the first `cut` items; shown: the selector of one item.
async function moreFails(page, { path, cut, user, hash, shown, label }) {
  let all = null;
  let failures = 1;
  await page.route((url) => url.pathname === path, async (r) => {
    if (new URL(r.request().url()).searchParams.get('after') === 'page2') {
      if (failures-- > 0) return r.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'unavailable', message: 'busy' } }) });
      return r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...all, items: all.items.slice(cut), next: null }) });
    }
    const res = await r.fetch();
    all = await res.json();
    await r.fulfill({ response: res, body: JSON.stringify({ ...all, items: all.items.slice(0, cut), next: 'page2' }) });
  });
  await h.useSession(page, s.book, user);
  await page.goto(s.book.url + hash);
  await page.click('main button.more');
  const failed = page.locator('main .state.error');
  await failed.waitFor();
  assert.equal(await page.locator(shown).count(), cut, 'the items shown stay');
  assert.match(await failed.textContent(), /503/);
  await h.fitsPhone(page, 'main .state.error button');
  await h.screenshot(page, label);
  await failed.locator('button').click();
  await h.waitFor(async () => (await page.locator(shown).count()) === all.items.length, { message: 'the page is added on Retry' });
  assert.equal(await failed.count(), 0, 'the error is gone');
}

test('a field officer\'s More that fails keeps the day\'s cards, and Retry adds the page', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'zh-CN' });
  await moreFails(page, { path: '/v1/work', cut: 2, user: 'wang.fang', hash: '/#/work', shown: 'main .cards .card', label: 'work-more-failed-phone-zh-CN' });
});

test('the Outbox\'s Next page that fails keeps the messages shown, and Retry adds the page', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'en' });
  await moreFails(page, { path: '/v1/outbox', cut: 1, user: 'zhang.min', hash: '/#/outbox',
    shown: 'table[data-table="outbox"] tbody tr', label: 'outbox-more-failed-phone-en' });
});
