'use strict';
// A supervisor's overview: the charts' tables carry the book's known
// figures; a failed case is retried from the page.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

const missing = (r) => r.status === 404 && r.body && r.body.error && r.body.error.message === 'no such route';
const cells = (page, table, col) => page.$$eval(`table[data-table="${table}"] tbody tr`, (trs, c) =>
  Object.fromEntries(trs.map((tr) => [tr.dataset.key, tr.querySelector(`td[data-col="${c}"]`).textContent])), col);
const yuan = (minor) => '¥' + (minor / 100).toLocaleString('en-US', { minimumFractionDigits: 2 });

test('the overview shows the s.book as charts with tables of the right numbers', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })) ||
      missing(await h.api(s.book, '/v1/overview', { token: 'admin' })))
    return t.skip('the session or overview route has not landed yet');
  const ex = h.expected(s.book);
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.signIn(page, s.book, 'zhang.min');
  await page.click('button.lang[data-lang="en"]'); // the institution speaks zh-CN
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('table[data-table="by_state"]');
  assert.match(await page.textContent('main h1'), /Overview/);
  const cases = await cells(page, 'by_state', 'cases');
  const balance = await cells(page, 'by_state', 'balance');
  for (const s of ex.by_state.filter((x) => x.cases > 0)) {
    assert.equal(cases[s.state], String(s.cases), `cases in ${s.state}`);
    assert.equal(balance[s.state], yuan(s.balance), `balance in ${s.state}`);
  }
  const dpd = await cells(page, 'by_dpd', 'cases');
  for (const b of ex.by_dpd_open) if (b.cases) assert.equal(dpd[b.bucket], String(b.cases), `cases ${b.bucket}`);
  const p = await page.$$eval('table[data-table="promises"] tbody td', (tds) => Object.fromEntries(tds.map((td) => [td.dataset.col, td.textContent])));
  assert.equal(p.kept, String(ex.promises.kept));
  assert.equal(p.broken, String(ex.promises.broken));
  // Charts drew (canvas), and the page stays within the CSP (guards).
  await page.waitForSelector('.chart canvas');
  const box = await page.locator('.chart').first().boundingBox();
  await page.mouse.move(box.x + box.width / 3, box.y + box.height / 2);
  await page.waitForTimeout(300);
  h.checkGuards(page);
  await h.screenshot(page, 'overview-en');
});

test('a case in error is retried from the overview', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })))
    return t.skip('POST /v1/session has not landed yet');
  const ex = h.expected(s.book);
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.signIn(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('table[data-table="errors"]');
  const listed = await page.$$eval('table[data-table="errors"] tbody tr', (trs) => trs.map((tr) => tr.dataset.key));
  assert.deepEqual([...listed].sort(), [...ex.errors].sort());
  // CN026 failed once (a timeout): a retry moves it on.
  await page.click('table[data-table="errors"] button.retry[data-case="CN026"]');
  await h.waitFor(async () => {
    const r = await h.api(s.book, '/v1/errors', { token: 'admin' });
    return !r.body.errors.some((e) => e.case === 'CN026');
  }, { message: 'CN026 still in error' });
  await h.waitFor(async () => !(await page.locator('table[data-table="errors"] tr[data-key="CN026"]').count()),
    { message: 'the page still lists CN026' });
  await h.screenshot(page, 'overview-after-retry-zh-CN');
});

test('tasks are reassigned to a collector whose queues hold them', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })) ||
      missing(await h.api(s.book, '/v1/tasks/1/assign', { method: 'POST', token: 'admin', body: {} })) ||
      missing(await h.api(s.book, '/v1/users', { token: 'admin' })))
    return t.skip('the assign or users route has not landed yet');
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.signIn(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('form.reassign');
  const row = page.locator('table[data-table="open_tasks"] tbody tr', { hasText: 'phone' }).first();
  const id = await row.getAttribute('data-key');
  await row.locator('input[name="task"]').check();
  await page.selectOption('form.reassign select[name="user"]', 'li.wei');
  await page.click('form.reassign button[type="submit"]');
  await h.waitFor(async () => {
    const r = await h.api(s.book, '/v1/tasks?status=claimed&limit=500', { token: 'admin' });
    const open = await h.api(s.book, '/v1/tasks?status=open&limit=500', { token: 'admin' });
    return [...r.body.tasks, ...open.body.tasks].some((x) => String(x.id) === id && x.assignee === 'li.wei');
  }, { message: `task ${id} not assigned to li.wei` });
});

const reassignRows = (page) => page.$$eval('table[data-table="open_tasks"] tbody tr', (trs) =>
  trs.map((tr) => ({ id: tr.dataset.key, case: tr.querySelector('td[data-col="case"]').textContent,
    queue: tr.querySelector('td[data-col="queue"]').textContent, assignee: tr.querySelector('td[data-col="assignee"]').textContent })));

test('Reassign finds a case by its id: its waiting tasks alone, moved, and the case still shown after', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('form.reassign input[name="case"]');
  await page.fill('form.reassign input[name="case"]', 'CN016');
  await page.press('form.reassign input[name="case"]', 'Enter');
  await h.waitFor(async () => (await reassignRows(page)).every((r) => r.case === 'CN016') && (await reassignRows(page)).length,
    { message: 'only CN016\'s tasks listed' });
  const [row] = await reassignRows(page);
  await page.check(`form.reassign input[name="task"][value="${row.id}"]`);
  await page.selectOption('form.reassign select[name="user"]', 'li.wei');
  await page.click('form.reassign button[type="submit"]');
  // Listed again as it was looked up, now li.wei's.
  await h.waitFor(async () => (await reassignRows(page)).some((r) => r.id === row.id && r.assignee === 'li.wei'),
    { timeout: 15000, message: 'CN016 listed again, li.wei\'s' });
  assert.ok((await reassignRows(page)).every((r) => r.case === 'CN016'));
  assert.equal(await page.inputValue('form.reassign input[name="case"]'), 'CN016');
  await h.screenshot(page, 'reassign-by-case-zh-CN');
  // A case that is not there is said so, the search kept to correct.
  await page.fill('form.reassign input[name="case"]', 'CN999');
  await page.click('form.reassign button.find-case');
  await h.waitFor(async () => /没有案件 CN999/.test(await page.textContent('main')), { message: 'no such case said' });
  assert.equal(await page.inputValue('input[name="case"]'), 'CN999');
});

test('a Reassign answered after the supervisor chose another queue reloads the queue now shown', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('form.reassign select[name="queue"]');
  await page.selectOption('form.reassign select[name="queue"]', 'phone');
  await h.waitFor(async () => { const r = await reassignRows(page); return r.length && r.every((x) => x.queue === 'phone'); },
    { message: 'the phone queue listed' });
  let release;
  const released = new Promise((done) => { release = done; });
  let assigned = false;
  await page.route('**/v1/tasks/*/assign', async (r) => {
    const res = await r.fetch();
    await released;
    assigned = true;
    await r.fulfill({ response: res }).catch(() => {});
  });
  const reads = [];
  page.on('requestfinished', (r) => { if (assigned && /\/v1\/tasks\?/.test(r.url())) reads.push(r.url()); });
  await page.check('form.reassign input[name="task"] >> nth=0');
  await page.selectOption('form.reassign select[name="user"]', 'li.wei');
  await page.click('form.reassign button[type="submit"]');
  await page.selectOption('form.reassign select[name="queue"]', 'field');
  await h.waitFor(async () => { const r = await reassignRows(page); return r.length && r.every((x) => x.queue === 'field'); },
    { message: 'the field queue listed' });
  release();
  await h.waitFor(() => reads.length, { timeout: 15000, message: 'the list read again after the Reassign' });
  await page.waitForSelector('form.reassign table[data-table="open_tasks"]');
  assert.match(reads[0], /queue=field/);
  assert.equal(await page.inputValue('form.reassign select[name="queue"]'), 'field');
  assert.ok((await reassignRows(page)).every((x) => x.queue === 'field'));
});

test('strategy and outbox pages draw from their routes', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })))
    return t.skip('POST /v1/session has not landed yet');
  for (const locale of ['zh-CN', 'en']) {
    const page = await h.newPage(t, s.browser, { device: 'desktop', locale });
    await h.signIn(page, s.book, 'zhang.min');
    await page.evaluate((l) => localStorage.setItem('recoup.locale', l), locale);
    for (const p of ['strategy', 'outbox', 'work', 'cases']) {
      await page.goto(`${s.book.url}/?${locale}#/${p}`);
      await page.waitForSelector(`main[data-page="${p}"] :is(table, .state.empty, .state.error, .workflow)`);
      await h.screenshot(page, `${p}-${locale}`);
    }
    await page.goto(`${s.book.url}/#/strategy`);
    await page.waitForSelector('main[data-page="strategy"] .panel');
    // What-if runs from the page now (console_whatif.test.js): its form.
    await page.waitForSelector('main[data-page="strategy"] .whatif form[data-form="whatif"]');
  }
});

test('an outbox page that ends early with nothing on it goes on by itself', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })))
    return t.skip('POST /v1/session has not landed yet');
  const all = await h.api(s.book, '/v1/outbox?limit=500', { token: 'admin' });
  const ids = (all.body.items || []).map((m) => String(m.id));
  if (ids.length < 2) return t.skip('the fixture s.book has fewer than two messages in its outbox');
  // The first page as a store returns it past a long walk: empty, with
  // `next` set (here the first message, so the rest follows).
  const asked = [];
  await withPage(t, async (page) => {
    await page.route('**/v1/outbox?**', async (route) => {
      const url = new URL(route.request().url());
      asked.push(url.searchParams.get('after'));
      if (url.searchParams.get('after')) return route.continue();
      const res = await route.fetch();
      const body = await res.json();
      await route.fulfill({ response: res, json: { ...body, items: [], next: Number(ids[0]) } });
    });
    await page.goto(`${s.book.url}/?en#/outbox`);
    await page.waitForSelector('main[data-page="outbox"] :is(table, .state.empty, .state.error)');
    assert.deepEqual(asked, [null, ids[0]], 'the console asked again after the empty page');
    const shown = await page.$$eval('table[data-table="outbox"] tbody tr', (trs) => trs.map((tr) => tr.dataset.key));
    assert.ok(shown.length > 0, 'the page shows what came after, not "none"');
    assert.ok(!shown.includes(ids[0]), 'the page goes on after the id it was given');
  });
});

async function withPage(t, body) {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.signIn(page, s.book, 'zhang.min');
  await page.evaluate(() => localStorage.setItem('recoup.locale', 'en'));
  await body(page);
}

test('at a phone\'s width the supervisor\'s navigation shows every page on one line, Outbox too, nothing off screen', async (t) => {
  for (const locale of ['en', 'zh-CN']) {
    const page = await h.newPage(t, s.browser, { device: 'phone', locale });
    await page.addInitScript((l) => localStorage.setItem('recoup.locale', l), locale);
    await h.useSession(page, s.book, 'zhang.min');
    await page.goto(`${s.book.url}/#/overview`);
    await page.waitForSelector('nav.sidebar a[data-nav="outbox"]');
    const out = await page.$$eval('nav.sidebar a.nav', (as) => as.map((a) => {
      const r = a.getBoundingClientRect();
      return { nav: a.dataset.nav, left: r.left, right: r.right, width: document.documentElement.clientWidth };
    }).filter((x) => x.left < 0 || x.right > x.width + 1));
    assert.deepEqual(out, [], `${locale}: links off screen`);
    const sideways = await page.$eval('nav.sidebar', (n) => n.scrollWidth - n.clientWidth);
    assert.ok(sideways <= 0, `${locale}: the navigation scrolls ${sideways}px sideways`);
    // One line in English too: two took a sixth of a 390 px screen.
    const tops = await page.$$eval('nav.sidebar a.nav', (as) => as.map((a) => Math.round(a.getBoundingClientRect().top)));
    assert.equal(tops.length, 5, `${locale}: the supervisor's five pages`);
    assert.equal(new Set(tops).size, 1, `${locale}: the navigation takes ${new Set(tops).size} lines (tops ${tops.join(', ')})`);
    await h.screenshot(page, `supervisor-phone-nav-${locale}`);
  }
});

// The texts an ECharts chart drew (labels, legend, axis names) as boxes on
// the page: the chart in the panel holding table[data-table=NAME].
const chartTexts = (page, name) => page.evaluate((n) => {
  const panel = document.querySelector(`table[data-table="${n}"]`).closest('.panel');
  const c = window.echarts.getInstanceByDom(panel.querySelector('.chart'));
  return c.getZr().storage.getDisplayList(true)
    .filter((el) => (el.type === 'tspan' || el.type === 'text') && !el.ignore && !el.invisible && el.style && String(el.style.text || '').trim())
    .map((el) => {
      const r = el.getBoundingRect().clone();
      const m = el.getComputedTransform();
      if (m) r.applyTransform(m);
      return { text: String(el.style.text), x: r.x, y: r.y, w: r.width, h: r.height };
    });
}, name);

// The overview as zhang.min, its promises chart drawn; before(page) runs
// before the page is opened.
async function openPromises(t, device, locale, before) {
  const page = await h.newPage(t, s.browser, { device, locale });
  await page.addInitScript((l) => localStorage.setItem('recoup.locale', l), locale);
  if (before) await before(page);
  await h.useSession(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/overview');
  await page.waitForSelector('table[data-table="promises"]');
  await h.waitFor(() => page.evaluate(() => {
    const box = document.querySelector('table[data-table="promises"]').closest('.panel').querySelector('.chart');
    return window.echarts && window.echarts.getInstanceByDom(box);
  }), { timeout: 15000, message: 'the promises chart drawn' });
  return page;
}

test('the promises donut\'s labels and its legend do not overlap, at a desk and on a phone', async (t) => {
  for (const [device, locale] of [['desktop', 'en'], ['phone', 'zh-CN'], ['desktop', 'zh-CN']]) {
    const page = await openPromises(t, device, locale);
    const texts = await chartTexts(page, 'promises');
    assert.ok(texts.length >= 3, `${device} ${locale}: the chart's words (${texts.map((x) => x.text).join(', ')})`);
    const over = [];
    for (let i = 0; i < texts.length; i++)
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i], b = texts[j];
        if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) over.push(`"${a.text}" over "${b.text}"`);
      }
    assert.deepEqual(over, [], `${device} ${locale}: words drawn over each other`);
    // Each kind is named with its count, so the chart reads without hovering.
    const said = texts.map((x) => x.text).join(' | ');
    const p = h.expected(s.book).promises;
    for (const n of [p.kept, p.broken]) assert.match(said, new RegExp(`\\b${n}\\b`), `${device} ${locale}: ${said}`);
    await h.screenshot(page, `overview-promises-${device}-${locale}`);
  }
});

// A supervisor comes to move work: Reassign is reached from the top of the
// overview, not found under every chart (5,000 px down on a phone).
test('Reassign tasks is reached from the top of the overview, at a desk and on a phone', async (t) => {
  for (const [device, locale, word] of [['desktop', 'en', 'Reassign tasks'], ['phone', 'zh-CN', '重新分配任务']]) {
    const page = await h.newPage(t, s.browser, { device, locale });
    await page.addInitScript((l) => localStorage.setItem('recoup.locale', l), locale);
    await h.useSession(page, s.book, 'zhang.min');
    await page.goto(s.book.url + '/#/overview');
    // Everything drawn: the charts' tables push what follows them down.
    await page.waitForSelector('table[data-table="open_tasks"]');
    await page.waitForSelector('table[data-table="collectors"], [data-page="overview"] .figure-grid');
    const viewport = page.viewportSize();
    const jump = page.locator('main :is(a, button)', { hasText: word }).first();
    assert.ok(await jump.count(), `${device} ${locale}: no "${word}" at the top`);
    const box = await jump.boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= viewport.height,
      `${device} ${locale}: "${word}" at ${box && Math.round(box.y)} px, below the first screen (${viewport.height} px)`);
    // Cases in error beside it, with how many there are.
    const errorsJump = page.locator('main button.jump-errors');
    await h.waitFor(async () => /\d/.test(await errorsJump.textContent()), { message: `${device} ${locale}: no count on Cases in error` });
    const listed = (await h.api(s.book, '/v1/errors?limit=100', { token: 'admin' })).body.errors.length;
    assert.match(await errorsJump.textContent(), new RegExp(`\\b${listed}\\b`));
    await jump.click();
    await h.waitFor(async () => {
      const r = await page.locator('form.reassign').boundingBox();
      return r && r.y >= -1 && r.y < viewport.height / 2;
    }, { message: `${device} ${locale}: the Reassign form not brought to the top` });
    if (device === 'phone') await h.fitsPhone(page);
    await h.screenshot(page, `overview-reassign-jump-${device}-${locale}`);
  }
});

// The Outbox on a 390 px phone: each message a card whose words read
// whole (a status was cut a character a line, 已/推/迟) with what each
// value is, nothing scrolled sideways out of sight.
test('the outbox on a phone shows each message whole, every value named, nothing sideways', async (t) => {
  for (const locale of ['zh-CN', 'en']) {
    const page = await h.newPage(t, s.browser, { device: 'phone', locale });
    await page.addInitScript((l) => localStorage.setItem('recoup.locale', l), locale);
    await h.useSession(page, s.book, 'zhang.min');
    await page.goto(s.book.url + '/#/outbox');
    await page.waitForSelector('table[data-table="outbox"] tbody tr');
    await h.fitsPhone(page, 'main[data-page="outbox"] button[type="submit"]');
    const got = await page.$eval('table[data-table="outbox"]', (table) => {
      const width = document.documentElement.clientWidth;
      const rows = [...table.querySelectorAll('tbody tr')].map((tr) => {
        const cells = [...tr.querySelectorAll('td')].filter((td) => td.getBoundingClientRect().width > 0);
        const status = tr.querySelector('td[data-col="status"]');
        const line = parseFloat(getComputedStyle(status).lineHeight) || 24;
        return {
          key: tr.dataset.key,
          outside: cells.filter((td) => td.getBoundingClientRect().right > width + 1 || td.getBoundingClientRect().left < -1).map((td) => td.dataset.col),
          statusLines: Math.round(status.getBoundingClientRect().height / line),
          unnamed: cells.filter((td) => !getComputedStyle(td, '::before').content.replace(/^none$|^normal$|^""$/, '')).map((td) => td.dataset.col),
        };
      });
      return { sideways: table.scrollWidth - table.clientWidth, rows };
    });
    assert.ok(got.sideways <= 0, `${locale}: the outbox scrolls ${got.sideways} px sideways`);
    for (const r of got.rows) {
      assert.deepEqual(r.outside, [], `${locale}: message ${r.key} has values off screen`);
      assert.ok(r.statusLines <= 1, `${locale}: message ${r.key}'s status takes ${r.statusLines} lines`);
      assert.deepEqual(r.unnamed, [], `${locale}: message ${r.key} shows values without their names`);
    }
    await h.screenshot(page, `outbox-phone-${locale}`);
  }
});

// A book with promises by the million: the legend's counts grow wide, and
// on a phone the legend beside the ring was drawn over it. The answer's
// counts are made large on their way to the page (no book of millions).
test('the promises donut keeps its legend off the ring with counts in the millions', async (t) => {
  for (const [device, locale] of [['phone', 'en'], ['phone', 'zh-CN'], ['desktop', 'en']]) {
    const page = await openPromises(t, device, locale, async (p) => p.route('**/v1/overview', async (route) => {
      const answer = await route.fetch();
      const o = await answer.json();
      o.promises = { kept: 1234567, broken: 987654, open: 12345678, kept_rate: 0.556 };
      await route.fulfill({ response: answer, body: JSON.stringify(o) });
    }));
    const drawn = await page.evaluate(() => {
      const panel = document.querySelector('table[data-table="promises"]').closest('.panel');
      const c = window.echarts.getInstanceByDom(panel.querySelector('.chart'));
      const ring = c.getZr().storage.getDisplayList(true).find((el) => el.type === 'sector').shape;
      const legend = c.getViewOfComponentModel(c.getModel().getComponent('legend')).group;
      const r = legend.getBoundingRect().clone();
      const m = legend.getComputedTransform();
      if (m) r.applyTransform(m);
      return { ring: { cx: ring.cx, cy: ring.cy, r: ring.r }, legend: { x: r.x, y: r.y, w: r.width, h: r.height } };
    });
    // The point of the legend's box nearest the ring's centre lies outside the ring.
    const { ring, legend } = drawn;
    const nx = Math.max(legend.x, Math.min(ring.cx, legend.x + legend.w));
    const ny = Math.max(legend.y, Math.min(ring.cy, legend.y + legend.h));
    assert.ok(Math.hypot(nx - ring.cx, ny - ring.cy) >= ring.r, `${device} ${locale}: the legend ${JSON.stringify(legend)} over the ring ${JSON.stringify(ring)}`);
    const texts = (await chartTexts(page, 'promises')).map((x) => x.text).join(' | ');
    assert.match(texts, /12,345,678/, `${device} ${locale}: ${texts}`);
    assert.equal(await page.textContent('table[data-table="promises"] td[data-col="open"]'), '12,345,678');
    await h.screenshot(page, `overview-promises-millions-${device}-${locale}`);
  }
});
