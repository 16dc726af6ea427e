'use strict';
// A book in three currencies on a phone (390 px): the fixture's yuan
// loans, a dollar loan and a euro loan, each with a payment. The
// Overview keeps the phone's width (a table too wide scrolls in its own
// box), no amount is cut or broken over two lines, and no panel, heading,
// chart or table is drawn over another: in English and in Chinese.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const s = h.suite();

async function addLoan(id, currency, balance, paid) {
  const opened = await h.api(s.book, '/v1/cases', { method: 'POST', token: 'ingest', body: {
    id, currency, balance, amount_due: Math.floor(balance / 5), due_date: '2026-01-01',
    borrower: { id: 'P' + id, name: 'Borrower ' + id, phones: ['+14155550100'] } } });
  assert.equal(opened.status, 201, opened.text);
  const pay = await h.api(s.book, '/v1/payments', { method: 'POST', token: 'ingest',
    body: { case: id, amount: paid, ref: 'PAY-' + id, currency } });
  assert.equal(pay.status, 201, pay.text);
}

// What is wrong with the Overview's layout, measured in the page: cells
// whose text is cut, a word or an amount broken over two lines, and boxes drawn over
// one another (panels; a panel's heading, charts and tables).
function layoutProblems(page) {
  return page.evaluate(() => {
    const out = [];
    const name = (el) => `${el.tagName.toLowerCase()}${el.dataset.table ? `[${el.dataset.table}]` : ''}${el.dataset.col ? `[${el.dataset.col}]` : ''}`;
    const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    const box = (el) => el.getBoundingClientRect();
    for (const cell of document.querySelectorAll('main table.grid th, main table.grid td')) {
      if (cell.scrollWidth > cell.clientWidth + 1) out.push(`${name(cell.closest('table'))} ${name(cell)} '${cell.textContent}' cut (${cell.scrollWidth} in ${cell.clientWidth} px)`);
      // One word (an amount, a bucket, a state) is never broken over two
      // lines: '61-' above '90' is no bucket.
      if (cell.tagName === 'TD' && !cell.children.length && cell.textContent.trim() && !/\s/.test(cell.textContent.trim())) {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) out.push(`${name(cell.closest('table'))} ${name(cell)} '${cell.textContent}' broken over ${lines.size} lines`);
      }
    }
    const panels = [...document.querySelectorAll('main section.panel')];
    panels.forEach((p, i) => panels.slice(i + 1).forEach((q) => {
      if (overlap(box(p), box(q))) out.push(`panels '${p.querySelector('h2').textContent}' and '${q.querySelector('h2').textContent}' overlap`);
    }));
    for (const p of panels) {
      const parts = [...p.children].filter((c) => box(c).height > 0);
      parts.forEach((a, i) => parts.slice(i + 1).forEach((b) => {
        if (overlap(box(a), box(b))) out.push(`in '${p.querySelector('h2').textContent}': ${name(a)} and ${name(b)} overlap`);
      }));
      for (const c of parts) {
        const r = box(c), pr = box(p);
        if (r.left < pr.left - 1 || r.right > pr.right + 1) out.push(`in '${p.querySelector('h2').textContent}': ${name(c)} reaches ${Math.round(r.left)}..${Math.round(r.right)} outside its panel ${Math.round(pr.left)}..${Math.round(pr.right)}`);
      }
    }
    return out;
  });
}

// What a chart draws over itself: ECharts draws on a canvas, so its
// pieces are read from the chart (its renderer's list of what it drew,
// each with its box): a text (an axis's name, a legend's label) over
// another text or a legend's mark.
function chartOverlaps(page) {
  return page.evaluate(() => {
    const out = [];
    document.querySelectorAll('main section.panel .chart').forEach((box) => {
      const chart = window.echarts && window.echarts.getInstanceByDom(box);
      if (!chart) return;
      const title = box.closest('section').querySelector('h2').textContent;
      const pieces = [];
      chart.getZr().storage.getDisplayList(true).forEach((el) => {
        if (el.ignore || el.invisible) return;
        const r = el.getBoundingRect().clone();
        if (el.transform) r.applyTransform(el.transform);
        if (r.width <= 0 || r.height <= 0) return;
        let legend = false;
        for (let p = el.parent; p; p = p.parent) if (p.__legendDataIndex !== undefined || (p.name || '').startsWith('legend')) legend = true;
        const text = el.type === 'text' || el.type === 'tspan' ? el.style.text : null;
        if (text !== null || legend) pieces.push({ r, text, legend, what: text !== null ? `'${text}'` : 'a legend mark' });
      });
      pieces.forEach((a, i) => pieces.slice(i + 1).forEach((b) => {
        if (a.text === null && b.text === null) return;
        if (a.legend && b.legend) return; // a legend's mark and its own label sit side by side
        const o = a.r.x < b.r.x + b.r.width - 1 && b.r.x < a.r.x + a.r.width - 1 && a.r.y < b.r.y + b.r.height - 1 && b.r.y < a.r.y + a.r.height - 1;
        if (o) out.push(`in '${title}': ${a.what} over ${b.what}`);
      }));
    });
    return out;
  });
}

test('the overview of three currencies fits a phone in English and Chinese', async (t) => {
  await addLoan('US001', 'USD', 250000, 12345);
  await addLoan('EU001', 'EUR', 987654321, 4567800);
  await h.waitFor(async () => {
    const o = await h.api(s.book, '/v1/overview', { token: 'admin' });
    return o.status === 200 && ['USD', 'EUR'].every((c) => (o.body.currencies || []).includes(c));
  }, { message: 'the overview never named USD and EUR' });
  for (const locale of ['en', 'zh-CN']) {
    const page = await h.newPage(t, s.browser, { device: 'phone', locale });
    await h.signIn(page, s.book, 'zhang.min');
    if (locale === 'en') await page.click('button.lang[data-lang="en"]');
    await page.goto(s.book.url + '/#/overview');
    await page.waitForSelector('table[data-table="recovered-EUR"]');
    await page.waitForSelector('table[data-table="by_state"] td[data-col="balance-EUR"]');
    await page.waitForSelector('.chart canvas');
    const heads = await page.$$eval('table[data-table="by_dpd"] thead th', (ths) => ths.map((th) => th.textContent));
    for (const c of ['CNY', 'EUR', 'USD']) assert.ok(heads.some((x) => x.includes(c)), `${c} in ${heads.join(' | ')}`);
    await h.fitsPhone(page);
    const problems = [...await layoutProblems(page), ...await chartOverlaps(page)];
    await h.screenshot(page, `overview-three-currencies-phone-${locale}`);
    assert.deepEqual(problems, [], problems.join('\n'));
    h.checkGuards(page);
  }
});
