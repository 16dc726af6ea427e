'use strict';
// Text a person typed (a note, a borrower's name) holding bidi controls
// does not turn the console's own words around it. U+202E (right-to-left
// override) in a note reversed everything after it to the end of the
// line: a borrower's name in a case's heading put the overdue badge
// after it before it.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

// Whether the text under sel reads left to right as laid out: its first
// letter or digit left of its last.
async function readsLeftToRight(page, sel) {
  return page.$eval(sel, (el) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const chars = [];
    for (let node; (node = walker.nextNode());)
      for (let i = 0; i < node.data.length; i++)
        if (/[\p{L}\p{N}]/u.test(node.data[i])) chars.push([node, i]);
    if (chars.length < 2) return null;
    const left = ([node, i]) => {
      const r = document.createRange();
      r.setStart(node, i);
      r.setEnd(node, i + 1);
      return r.getBoundingClientRect().left;
    };
    return left(chars[0]) < left(chars[chars.length - 1]);
  });
}

// A borrower whose name holds U+202E: before, the overdue badge after
// the name in the case's heading was laid out before it.
test('a borrower name with a right-to-left override leaves the heading\'s words as they are', async (t) => {
  const name = '\u202EAli Hassan';
  const r = await h.api(s.book, '/v1/cases', {
    method: 'POST', token: 'ingest',
    body: { id: 'BIDI1', balance: 100000, amount_due: 50000, due_date: '2026-10-01',
            borrower: { id: 'B-BIDI1', name, phones: ['+8613800119999'] } },
  });
  assert.ok(r.status === 201 || r.status === 200, `POST /v1/cases: ${r.status} ${r.text}`);
  for (const locale of ['en', 'zh-CN']) {
    const page = await h.newPage(t, s.browser, { device: 'desktop', locale });
    await h.signIn(page, s.book, 'zhang.min');
    await page.goto(s.book.url + '/#/case/BIDI1');
    await page.waitForSelector('h1 .borrower-name');
    assert.ok((await page.textContent('h1 .borrower-name')).includes(name), 'the name is shown as given');
    const [name_, badge, id] = await Promise.all(['h1 .borrower-name', 'h1 .dpd', 'h1 .case-id']
      .map((sel) => page.$eval(sel, (el) => el.getBoundingClientRect().left)));
    assert.ok(id < name_ && name_ < badge, `case id, name, badge from left to right (${locale}): ${id}, ${name_}, ${badge}`);
    assert.equal(await readsLeftToRight(page, 'h1 .dpd'), true, `the badge reads left to right (${locale})`);
    h.checkGuards(page);
    await h.screenshot(page, `case-bidi-name-${locale}`);
  }
});

// A note's own text is the typist's to turn: shown as typed, isolated.
test('a note with a right-to-left override is shown as typed', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await h.signIn(page, s.book, 'li.wei');
  await page.goto(s.book.url + '/#/case/CN014');
  await page.waitForSelector('.note-form textarea[name="text"]');
  const note = '\u202Eabc bidi note';
  await page.fill('.note-form textarea[name="text"]', note);
  await page.click('.note-form button[type="submit"]');
  const li = '.timeline li[data-kind="note"]:has-text("bidi note")';
  await page.waitForSelector(li);
  assert.ok((await page.textContent(`${li} .what`)).includes(note));
  assert.equal(await readsLeftToRight(page, `${li} time`), true, 'its time reads left to right');
  h.checkGuards(page);
});

// Isolated by an element (<bdi>), not by the characters FSI and PDI:
// those went along into what a collector copied from the page, and a
// phone number or a name pasted into a dialler held U+2068.
const ISOLATES = /[\u2066-\u2069]/u;

test('what a collector copies of a name, a phone or a note holds no isolate characters', async (t) => {
  const name = '\u202EAli محمد';
  const r = await h.api(s.book, '/v1/cases', {
    method: 'POST', token: 'ingest',
    body: { id: 'BIDI2', balance: 100000, amount_due: 50000, due_date: '2026-10-01',
            borrower: { id: 'B-BIDI2', name, phones: ['+8613800118888'],
                        employer: { name: 'شركة Example', phone: '+8613800117777' } } },
  });
  assert.ok(r.status === 201 || r.status === 200, `POST /v1/cases: ${r.status} ${r.text}`);
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.book.url });
  await h.signIn(page, s.book, 'zhang.min');
  await page.goto(s.book.url + '/#/case/BIDI2');
  await page.waitForSelector('h1 .borrower-name');
  const note = '\u202Ecall back 0138';
  await page.fill('.note-form textarea[name="text"]', note);
  await page.click('.note-form button[type="submit"]');
  const li = '.timeline li[data-kind="note"]:has-text("0138")';
  await page.waitForSelector(li);
  assert.ok((await page.textContent('h1 .borrower-name')).includes(name), 'the name is shown as given');
  assert.ok((await page.textContent(`${li} .what`)).includes(note), 'the note is shown as typed');
  // innerText, the selection's text, and the clipboard after Ctrl+C of
  // the whole page: a collector's ways of taking text away.
  const texts = await page.evaluate(() => {
    const sel = window.getSelection();
    const range = document.createRange();
    range.selectNodeContents(document.querySelector('main'));
    sel.removeAllRanges();
    sel.addRange(range);
    return { heading: document.querySelector('h1').innerText, main: document.querySelector('main').innerText,
             selected: sel.toString() };
  });
  await page.keyboard.press('Control+C');
  texts.clipboard = await page.evaluate(() => navigator.clipboard.readText());
  for (const [how, text] of Object.entries(texts)) {
    assert.ok(text.includes(how === 'heading' ? 'Ali' : '+8613800118888'), `${how}: the name or the phone is there`);
    assert.ok(!ISOLATES.test(text), `${how} holds an isolate character: ${JSON.stringify((text.match(/.{0,12}[\u2066-\u2069].{0,12}/u) || [""])[0])}`);
  }
  assert.ok(texts.clipboard.includes(name), 'the name is copied as given');
  // The isolation stays: the name and the employer's name are each in an
  // element of their own (a <bdi>).
  assert.equal(await page.$eval('h1 .borrower-name', (el) => el.querySelector('bdi')?.textContent ?? null), name);
  h.checkGuards(page);
});

test('isolate wraps only text that can turn what is around it', async (t) => {
  const page = await h.newPage(t, s.browser, { device: 'desktop', locale: 'en' });
  await page.goto(s.book.url + '/#/signin');
  const out = await page.evaluate(async () => {
    const { h } = await import('/assets/js/h.js');
    const { t } = await import('/assets/js/i18n.js');
    const shown = (el) => Array.from(el.childNodes, (n) => (n.nodeType === 3 ? n.data : `<${n.localName}>${n.textContent}`));
    return {
      text: ['Wang', '王伟', '\u202Eabc', 'محمد', '<b>x</b>'].map((s) => shown(h('span', {}, s))),
      // a value in our words: the value alone in the element
      words: shown(h('span', {}, t('case.notfound', { id: '\u202Eabc' }))),
      // a value's own marks do not close ours
      marks: shown(h('span', {}, t('case.notfound', { id: 'a\ufdd1\u202Eb' }))),
      attribute: h('span', { title: t('case.notfound', { id: 'محمد' }) }).getAttribute('title'),
      // a name as it came (not through t()) holding the marks: none of
      // its letters lost (before, 王\ufdd0芳\ufdd0丽 showed 王 and 丽 only)
      raw: [h('span', {}, '王\ufdd0芳\ufdd0丽'), h('span', {}, 'a\ufdd1b\ufdd0c\ufdd1\ufdd1d')]
        .map((el) => el.textContent),
    };
  });
  assert.deepEqual(out.text, [['Wang'], ['王伟'], ['<bdi>\u202Eabc'], ['<bdi>محمد'], ['<b>x</b>']]);
  assert.equal(out.words.length, 3, JSON.stringify(out.words));
  assert.equal(out.words[1], '<bdi>\u202Eabc');
  assert.equal(out.marks[1], '<bdi>a\ufffd\u202Eb');
  assert.ok(out.attribute.includes('\u2068محمد\u2069'), 'an attribute holds the characters (no element can stand there)');
  assert.deepEqual(out.raw, ['王芳\ufffd丽', 'a\ufffdbc\ufffdd']);
});
