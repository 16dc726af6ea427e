'use strict';
// A phone's day line names each area with its count ("东城 3 · 西城 2").
// An area written right to left (a book of Arabic or Hebrew addresses)
// is isolated on its own, as a value t() fills in is: on 6fcc684 the
// line was one run, so the whole line turned right to left and an
// area's count stood beside its neighbour's name.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

const CAIRO = 'القاهرة';

test('a right-to-left area on a phone\'s day line keeps its own count', async (t) => {
  for (const locale of ['zh-CN', 'en']) {
    const page = await h.newPage(t, s.browser, { device: 'phone', locale });
    if (locale === 'en') await page.addInitScript(() => localStorage.setItem('recoup.locale', 'en'));
    let areas = null;
    await page.route(/\/v1\/work(\?|$)/, async (r) => {
      const res = await r.fetch();
      const body = await res.json();
      if (body.counts && Array.isArray(body.counts.areas) && body.counts.areas.length) {
        body.counts.areas[0].area = CAIRO;
        areas = body.counts.areas;
      }
      await r.fulfill({ response: res, body: JSON.stringify(body) });
    });
    await h.useSession(page, s.book, 'wang.fang');
    await page.goto(`${s.book.url}/#/work`);
    const day = page.locator('main[data-page="work"] .cards p.day');
    await day.waitFor();
    assert.ok(areas && areas.length >= 2, `${locale}: the fixture's field visits are in several areas`);
    const isolated = await day.evaluate((p) => [...p.querySelectorAll('bdi')].map((b) => b.textContent));
    assert.deepEqual(isolated, [CAIRO], `${locale}: the area alone isolated, not the line: ${JSON.stringify(isolated)}`);
    const text = await day.textContent();
    assert.ok(text.includes(`${CAIRO} ${areas[0].today}`), `${locale}: "${CAIRO} ${areas[0].today}" in "${text}"`);
    await h.fitsPhone(page);
  }
});
