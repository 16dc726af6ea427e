'use strict';
// Hostile data stays text; sign-in refuses a wrong password; an ended
// session and a missing CSRF token are handled as a person would expect.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

const missing = (r) => r.status === 404 && r.body && r.body.error && r.body.error.message === 'no such route';
const HOSTILE = '<img src=x onerror=alert(1)>';

test('the console is served with its headers, and only its files', async (t) => {
  const r = await h.api(s.book, '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy'), /script-src 'self'; style-src 'self'/);
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  assert.ok(r.headers.get('etag'));
  for (const p of ['/assets/js/app.js', '/assets/css/console.css', '/assets/vendor/echarts.min.js']) {
    const a = await h.api(s.book, p);
    assert.equal(a.status, 200, p);
    assert.equal(a.headers.get('x-content-type-options'), 'nosniff');
  }
  assert.match((await h.api(s.book, '/assets/js/app.js')).headers.get('content-type'), /^text\/javascript/);
  for (const p of ['/assets/../CMakeLists.txt', '/assets/%2e%2e/CMakeLists.txt', '/assets/nope.js', '/work'])
    assert.equal((await h.api(s.book, p)).status, 404, p);
  assert.equal((await h.api(s.book, '/', { method: 'POST', body: {} })).status, 405);
});

test('a hostile borrower name is shown as text and runs nothing', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })))
    return t.skip('POST /v1/session has not landed yet');
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'zh-CN' });
  await h.signIn(page, s.book, 'li.wei');
  await page.waitForSelector('table[data-table="work"]');
  assert.ok((await page.textContent('table[data-table="work"]')).includes(HOSTILE));
  await page.goto(s.book.url + '/#/case/CN013');
  await page.waitForSelector('.borrower-name');
  assert.equal(await page.textContent('.borrower-name'), HOSTILE);
  assert.equal(await page.locator('main img').count(), 0, 'no image element was made');
  await page.waitForTimeout(300);
  h.checkGuards(page); // no dialog opened, no CSP violation
  await h.screenshot(page, 'case-hostile-zh-CN');
});

test('a wrong password is refused with a message and the name kept', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })))
    return t.skip('POST /v1/session has not landed yet');
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await page.goto(s.book.url + '/#/signin');
  await page.fill('input[name="name"]', 'li.wei');
  await page.fill('input[name="password"]', 'not-the-password');
  await page.click('button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('.form-error').textContent.trim() !== '');
  assert.match(await page.textContent('.form-error'), /not right|不正确|try again|重试/);
  assert.equal(await page.inputValue('input[name="name"]'), 'li.wei');
  assert.match(await page.evaluate(() => location.hash), /^#\/signin/);
  await h.screenshot(page, 'signin-wrong-en');
});

test('an ended session sends the user to sign in and back to the page', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })))
    return t.skip('POST /v1/session has not landed yet');
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.signIn(page, s.book, 'li.wei');
  await page.goto(s.book.url + '/#/case/CN014');
  await page.waitForSelector('.case-head .case-id');
  // The session ends on the server; the browser still holds its cookie.
  const cookie = (await page.context().cookies()).find((c) => c.name === 'recoup_session');
  assert.ok(cookie, 'a session cookie');
  const me = await h.api(s.book, '/v1/me', { cookie: `recoup_session=${cookie.value}` });
  await h.api(s.book, '/v1/session', { method: 'DELETE', cookie: `recoup_session=${cookie.value}`, csrf: me.body.csrf });
  await page.click('nav a[data-nav="work"]');
  await page.waitForFunction(() => /^#\/signin/.test(location.hash));
  assert.match(await page.evaluate(() => location.hash), /next=/);
  await h.screenshot(page, 'signin-expired-en');
  await page.fill('input[name="name"]', 'li.wei');
  await page.fill('input[name="password"]', h.password('li.wei'));
  await page.click('button[type="submit"]');
  await page.waitForFunction(() => location.hash === '#/work');
});

test('a write without the CSRF token is refused', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })))
    return t.skip('POST /v1/session has not landed yet');
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.signIn(page, s.book, 'li.wei');
  const answer = await page.evaluate(async () => {
    const r = await fetch('/v1/cases/CN014/notes', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'no token' }) });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(answer.status, 403);
  assert.equal(answer.body.error.code, 'csrf');
});

test('signing in is in the institution language, and the switch changes it', async (t) => {
  if (missing(await h.api(s.book, '/v1/session', { method: 'POST', body: {} })))
    return t.skip('POST /v1/session has not landed yet');
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en-US' });
  await page.goto(s.book.url + '/#/signin');
  await page.waitForSelector('form.signin');
  assert.match(await page.textContent('form.signin h1'), /登录/, 'the institution speaks zh-CN');
  await h.screenshot(page, 'signin-zh-CN');
  await page.click('button.lang');
  assert.match(await page.textContent('form.signin h1'), /Sign in/);
  await h.screenshot(page, 'signin-en');
  await page.reload();
  await page.waitForSelector('form.signin');
  assert.match(await page.textContent('form.signin h1'), /Sign in/, 'the choice is remembered');
});

test('the name typed on the sign-in page stays when the language is switched; the password does not', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'phone', locale: 'zh-CN' });
  await page.goto(s.book.url + '/#/signin');
  await page.waitForSelector('form.signin');
  await page.fill('input[name="name"]', 'li.wei');
  await page.fill('input[name="password"]', 'li.wei-pw-2026');
  await page.click('button.lang');
  await h.waitFor(async () => /Sign in/.test(await page.textContent('form.signin h1')), { message: 'drawn in English' });
  assert.equal(await page.inputValue('input[name="name"]'), 'li.wei', 'the name stays');
  assert.equal(await page.inputValue('input[name="password"]'), '', 'the password is typed again');
  await h.signInHere(page, 'li.wei');
  await page.click('button.signout');
  await page.waitForSelector('form.signin');
  assert.equal(await page.inputValue('input[name="name"]'), '', 'signed out: nobody\'s name waits there');
});
