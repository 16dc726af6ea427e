'use strict';
// The console's money and date helpers, in Node (no browser needed):
// amounts typed by a person become exact minor units, never through a
// float multiplication.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const mod = (name) => import(pathToFileURL(path.join(__dirname, '..', '..', 'console', 'js', name)).href);

test('typed amounts become exact minor units', async () => {
  const { ctx } = await mod('state.js');
  const f = await mod('format.js');
  ctx.locale = 'zh-CN';
  ctx.currency = 'CNY';
  assert.equal(f.parseMoney('2714.76'), 271476);
  assert.equal(f.parseMoney('1,234.57'), 123457);
  assert.equal(f.parseMoney('¥ 1,000'), 100000);
  assert.equal(f.parseMoney('0.29'), 29); // 0.29 * 100 is 28.999999999999996
  assert.equal(f.parseMoney('4.35'), 435); // 4.35 * 100 is 434.99999999999994
  assert.equal(f.parseMoney('10.5'), 1050);
  assert.equal(f.parseMoney('1.234'), null, 'more digits than the currency has');
  assert.equal(f.parseMoney('12.3.4'), null);
  assert.equal(f.parseMoney('-5'), null);
  assert.equal(f.parseMoney(''), null);
  assert.equal(f.parseMoney('abc'), null);
  assert.equal(f.parseMoney('99999999999999999999'), null, 'beyond a safe integer');
  assert.equal(f.parseMoney('1500', 'JPY'), 1500);
  assert.equal(f.parseMoney('1.5', 'JPY'), null);
  assert.equal(f.parseMoney('1.234', 'KWD'), 1234);
  // Typed through a Chinese input method in full-width mode.
  assert.equal(f.parseMoney('１０００'), 100000);
  assert.equal(f.parseMoney('１，０００．５０'), 100050);
  assert.equal(f.parseMoney('￥２７１４．７６'), 271476);
  assert.equal(f.parseMoney('　１０００　'), 100000, 'ideographic spaces');
  assert.equal(f.parseMoney('－５'), null, 'a full-width minus is still a minus');
  assert.equal(f.parseMoney('1e3'), null);
  assert.equal(f.parseMoney('１ｅ３'), null);
  assert.equal(f.parseMoney('１,000.5０'), 100050, 'half and full width mixed');
  assert.equal(f.parseMoney('1 000'), 100000, 'a space groups thousands');
  assert.equal(f.parseMoney('1,00,000'), 10000000, 'lakhs');
  assert.equal(f.parseMoney('CN¥100'), 10000);
  assert.equal(f.parseMoney('cny 100'), 10000);
  assert.equal(f.parseMoney('100 CNY'), 10000);
  assert.equal(f.parseMoney('¥1500', 'JPY'), 1500);
  assert.equal(f.parseMoney('0x10'), null);
  assert.equal(f.parseMoney('٣٠٠'), null, 'Arabic-Indic digits are refused, not misread');
});

test('a comma or space that does not group thousands, or another currency, is no amount', async () => {
  const { ctx } = await mod('state.js');
  const f = await mod('format.js');
  ctx.locale = 'zh-CN';
  ctx.currency = 'CNY';
  // A decimal comma: 12,50 meant 12.50, not 1250.
  assert.equal(f.parseMoney('12,50'), null);
  assert.equal(f.parseMoney('1,5'), null);
  assert.equal(f.parseMoney('１，５'), null);
  assert.equal(f.parseMoney('12 50'), null);
  assert.equal(f.parseMoney('1,0000'), null);
  assert.equal(f.parseMoney('1,,000'), null);
  assert.equal(f.parseMoney(',100'), null);
  assert.equal(f.parseMoney('100,'), null);
  // Dollars or euros typed on a yuan case are not yuan.
  assert.equal(f.parseMoney('$100'), null);
  assert.equal(f.parseMoney('USD 100'), null);
  assert.equal(f.parseMoney('EUR100'), null);
  assert.equal(f.parseMoney('100€'), null);
});

test('minor units are shown as the currency formats them', async () => {
  const { ctx } = await mod('state.js');
  const f = await mod('format.js');
  ctx.locale = 'zh-CN';
  assert.equal(f.money(271476, 'CNY'), '¥2,714.76');
  ctx.locale = 'en';
  assert.equal(f.money(271476, 'CNY'), '¥2,714.76');
  assert.equal(f.money(null, 'CNY'), '—');
  assert.equal(f.moneyInput(271476, 'CNY'), '2714.76');
  assert.equal(f.moneyInput(5, 'CNY'), '0.05');
  assert.equal(f.moneyInput(1500, 'JPY'), '1500');
});

test('days past due fall into the buckets of the badge', async () => {
  const f = await mod('format.js');
  assert.deepEqual([0, 1, 30, 31, 60, 61, 90, 91, 400].map(f.dpdBucket),
    ['current', '1-30', '1-30', '31-60', '31-60', '61-90', '61-90', '90+', '90+']);
});

test('a calendar date is shown as written, whatever the zone', async () => {
  const { ctx } = await mod('state.js');
  const f = await mod('format.js');
  ctx.locale = 'en';
  ctx.timezone = 'Asia/Shanghai';
  assert.equal(f.date('2026-12-05'), 'Dec 5, 2026');
  ctx.timezone = 'America/Los_Angeles';
  assert.equal(f.date('2026-12-05'), 'Dec 5, 2026');
  assert.match(f.isoDay(7), /^\d{4}-\d{2}-\d{2}$/);
});
