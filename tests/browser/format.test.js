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

// Every refusal (4xx) a console form can get from the service (runtime/
// api.c, api_work.c, api_session.c, engine.c, task_decl.c, the store), as
// the service words it: said in zh-CN and English by the console, with
// the figures it names; zh-CN holds no English word but the names given.
const REFUSALS = [
  [422, 'amount', 'promise of 600000 exceeds the balance (560000)', /5,600\.00/],
  [422, 'amount', 'a promise needs a positive amount in minor units'],
  [422, 'by', 'promise date 2027-09-01 is beyond the promise horizon of 90d (policy.promise_horizon): 2027-03-01 at the latest', /2027-03-01/],
  [422, 'by', 'promise date 2020-01-01 has passed'],
  [422, 'by', 'by must be a date (2026-01-31), a date-time or a duration from now (7d)'],
  [422, 'text', 'the note is too long (5000 bytes; at most 4096)', /4[,，]?096/],
  [422, 'text', 'a note needs text'],
  [422, 'amount', 'amount must be a whole number of minor units (5000 for 50.00)'],
  [422, 'amount', 'amount must be a whole number of minor units (JPY has no minor unit: 5000 for 5000)'],
  [422, 'amount', 'amount must not be negative (got -5)', /0\.00/],
  [422, 'amount', 'amount must be at most 1000000000000000 minor units (got 1000000000000001)', /10,000,000,000,000\.00/],
  [422, 'said', 'said is too long (70000 bytes; at most 65536)', /65[,，]?536/],
  [422, 'said', 'said holds a NUL character'],
  [422, 'said', 'said must be text'],
  [422, 'whom', 'whom must be one of: borrower, spouse, colleague, other'],
  [422, 'installments', 'installments must be at least 1 (got 0)', /1/],
  [422, 'installments', 'installments must be at most 60 (got 61)', /60/],
  [422, 'total', 'total must be at least 100 minor units (got 50)', /1\.00/],
  [422, 'total', 'total must be at most 100000 minor units (got 100001)', /1,000\.00/],
  [422, 'conversation', 'conversation must be true or false'],
  [422, 'days', 'days must be a whole number'],
  [422, 'reason', "reason is required for outcome 'dispute' of task kind 'call'"],
  [422, 'outcome', 'a task completion needs an outcome string'],
  [422, 'outcome', "outcome 'callback' is not declared for task kind 'call' (declared: promise, no_answer)"],
  [422, 'said', "field 'said' is not declared for outcome 'promise' of task kind 'call'"],
  [422, 'kind', "task kind 'call' is not declared in the workflow's tasks"],
  [422, null, 'workflow console version 1 is not loaded'],
  [422, 'user', 'assigning needs a user'],
  [422, 'user', 'unknown user sun.li', /sun\.li/],
  [422, 'user', 'user sun.li is disabled', /sun\.li/],
  [422, 'user', 'user zhao.read has the read role: it works no tasks', /zhao\.read/],
  [422, 'user', "queue field is not among user li.wei's queues", /li\.wei/],
  [422, 'queue', 'queue field is not one of yours'],
  [422, 'after', 'after must be the `next` of the page before'],
  [409, 'task', 'task 19 is claimed by wang.fang', /wang\.fang/],
  [409, 'task', 'task 19 is already closed (done, with another outcome or other fields)', /19/],
  [409, 'task', 'task 19 is not open', /19/],
  [409, 'task', 'task 19 is done', /19/],
  [409, 'case', 'case CN018 is closed: it takes no promise', /CN018/],
  [409, 'case', 'case CN013 is not in error', /CN013/],
  [409, 'key', "key 'note-1' already names another write (a note of another case, or an event): a new note needs a new key"],
  [404, 'case', 'unknown case CN999', /CN999/],
  [404, 'task', 'unknown task 999', /999/],
  [404, null, 'no task waiting in your queues'],
  [403, 'Origin', "a write from another site's page is refused"],
  [403, 'X-CSRF-Token', "a write with the session cookie needs the session's X-CSRF-Token header"],
  [403, null, 'this route needs the agent or admin token or a supervisor'],
  [413, null, 'the request body is too large'],
  [429, null, 'too many sign-ins at once; retry shortly'],
  [403, 'Origin', "a sign-in from another site's page is refused"],
  [422, 'name', "name is required: the user's name, a string"],
  [415, 'Content-Type', 'Content-Type must be application/json'],
  [422, null, 'the body must be a JSON object {"text": ...}'],
  [422, 'pasword', 'unknown field `pasword` (did you mean `password`?): POST /v1/session takes name and password; leave out any other key'],
  [400, null, 'bad JSON at line 1 column 9: end of file expected near end of file'],
  [422, 'assignee', 'claiming a task needs an assignee'],
  [422, 'tab', 'tab must be due, promises or broken'],
  [422, 'queue', 'queue is longer than 64 bytes'],
  [422, 'days', 'days must be a whole number from 1 to 365', /1\D+365/],
  [422, 'runs', 'runs must be a whole number from 1 to 10', /1\D+10/],
  [409, null, 'what-if 3 is running (started by zhang.min at 2026-12-06T10:00:00+08:00); one runs at a time', /zhang\.min.*2026/],
  [409, null, 'a what-if by zhang.min is starting (its candidate faster_field is being checked); one runs at a time', /zhang\.min/],
];

test('every refusal a console form can get is said in zh-CN and English; an unknown one is left to be shown as it came', async () => {
  const { ctx } = await mod('state.js');
  const i18n = await mod('i18n.js');
  ctx.currency = 'CNY';
  for (const locale of ['zh-CN', 'en']) {
    ctx.locale = locale;
    for (const [status, field, message, figures] of REFUSALS) {
      const said = i18n.serviceText({ status, field, message });
      assert.ok(said, `${locale}: ${status} ${field} ${message}`);
      if (figures) assert.match(said, figures, message);
      if (locale === 'zh-CN') {
        const words = said.replace(/[\u2066-\u2069]/g, '').replace(/[a-z]+\.[a-z]+|CN\d+|[a-z_]+(?= 队列|：)/g, '');
        assert.doesNotMatch(words, /[A-Za-z]{4,}/, said);
      }
    }
  }
  assert.equal(i18n.serviceText({ status: 422, field: 'text', message: 'a rule added after this console' }), null);
  assert.equal(i18n.serviceText({ status: 500, field: null, message: 'internal error' }), null);
});

test('a whole number typed in full-width digits is read as the digits', async () => {
  const f = await mod('format.js');
  assert.equal(f.parseWhole('１２'), 12);
  assert.equal(f.parseWhole(' 12 '), 12);
  assert.equal(f.parseWhole('-3'), -3);
  assert.equal(f.parseWhole('1.5'), null);
  assert.equal(f.parseWhole('1e3'), null);
  assert.equal(f.parseWhole('0x10'), null);
  assert.equal(f.parseWhole(''), null);
});

test('phone numbers read in groups, masked and foreign ones as they are', async () => {
  const f = await mod('format.js');
  assert.deepEqual(f.phoneGroups('+8613800039595'), ['+86', '138', '0003', '9595']);
  assert.deepEqual(f.phoneGroups('+862150000444'), ['+86', '21', '5000', '0444']);
  assert.deepEqual(f.phoneGroups('+861062345678'), ['+86', '10', '6234', '5678']);
  assert.deepEqual(f.phoneGroups('+8687161234567'), ['+86', '871', '6123', '4567']);
  assert.deepEqual(f.phoneGroups('+86*******001'), ['+86*******001'], 'masked');
  assert.deepEqual(f.phoneGroups('+442079460000'), ['+442079460000'], 'another country');
  assert.deepEqual(f.phoneGroups('+86138000395951'), ['+86138000395951'], 'one digit too many');
  assert.deepEqual(f.phoneGroups('400-820-1234'), ['400-820-1234']);
});

// A call or visit recorded outside the policy's contact hours (the
// journal's task_done row: within_contact_hours false) says so on the
// timeline, in the borrower's own time: what a supervisor answering "you
// called me at 22:00" reads. Within the hours nothing is added.
test('a call recorded outside contact hours says so in the borrower\'s time', async () => {
  const { ctx } = await mod('state.js');
  const tl = await mod('timeline.js');
  const cases = [['en', 'outside contact hours: 2026-01-06 22:00 the borrower\'s time'],
    ['zh-CN', '不在联系时段内：借款人当地时间 2026-01-06 22:00']];
  for (const [locale, want] of cases) {
    ctx.locale = locale;
    const row = { kind: 'task_done', detail: { kind: 'call', outcome: 'no_answer',
      borrower_time: '2026-01-06T22:00:00+08:00', within_contact_hours: false } };
    const said = tl.sentence(row, 'CNY');
    assert.ok(said.includes(want), said);
    assert.ok(!said.includes('borrower_time') && !said.includes('+08:00'), said);
    row.detail.within_contact_hours = true;
    assert.ok(!tl.sentence(row, 'CNY').includes(want.slice(0, 6)), tl.sentence(row, 'CNY'));
  }
});

// Within the hours, a call or visit shows the borrower's own clock only
// when it is not the institution's: a borrower in Urumqi (UTC+6) rung at
// 09:12 Shanghai time heard it at 07:12; one in Shanghai needs no second
// time beside the row's.
test('a call within contact hours shows the borrower\'s time when their zone differs from the institution\'s', async () => {
  const { ctx } = await mod('state.js');
  const tl = await mod('timeline.js');
  ctx.timezone = 'Asia/Shanghai';
  const cases = [['en', '2026-01-06 07:12 the borrower\'s time'], ['zh-CN', '借款人当地时间 2026-01-06 07:12']];
  for (const [locale, want] of cases) {
    ctx.locale = locale;
    const row = { kind: 'task_done', detail: { kind: 'visit', outcome: 'met',
      borrower_time: '2026-01-06T07:12:00+06:00', within_contact_hours: true } };
    const said = tl.sentence(row, 'CNY');
    assert.ok(said.includes(want), said);
    assert.ok(!said.includes('+06:00'), said);
    // The institution's own zone: nothing added.
    row.detail.borrower_time = '2026-01-06T09:12:00+08:00';
    assert.ok(!tl.sentence(row, 'CNY').includes('09:12'), tl.sentence(row, 'CNY'));
    // Another zone at the same offset reads the same clock: nothing added.
    ctx.timezone = 'Asia/Taipei';
    assert.ok(!tl.sentence(row, 'CNY').includes('09:12'), tl.sentence(row, 'CNY'));
    ctx.timezone = 'Asia/Shanghai';
  }
});

// Every reason the guard writes (runtime/policy.c: block, defer and
// policy_rule_name) reads as words on the Outbox, the overview's refusals
// and the timeline: "max_contacts:sms:1", "dispute_hold" and
// "no_recipient" (a borrower whose contacts do not read) were shown as
// the core spelled them, in both languages.
test('each reason the guard gives reads as words, in English and Chinese', async () => {
  const { ctx } = await mod('state.js');
  const { ruleName } = await mod('i18n.js');
  const tl = await mod('timeline.js');
  ctx.timezone = 'Asia/Shanghai';
  const reasons = ['contact_hours', 'after_conversation', 'dispute_hold', 'ceased', 'do_not_contact',
    'third_party_template_required', 'third_parties_not_contacted', 'no_recipient', 'guard_unavailable',
    'max_contacts:sms:1', 'max_contacts:call:0', 'cap', 'pause', 'dispute', 'cease', 'third_party'];
  for (const locale of ['en', 'zh-CN']) {
    ctx.locale = locale;
    for (const r of reasons) assert.doesNotMatch(ruleName(r), /_|:\d|sms|call\b/, `${locale}: ${r} → ${ruleName(r)}`);
    const row = { kind: 'policy', detail: { channel: 'sms', what: 'due_reminder', verdict: 'deferred',
      reason: 'max_contacts:sms:1', until: '2026-12-07T15:00:00+08:00' } };
    assert.ok(tl.sentence(row, 'CNY').includes(locale === 'en' ? 'SMS: limit of 1 reached' : '短信：已达上限 1'), tl.sentence(row, 'CNY'));
  }
  ctx.locale = 'en';
  assert.equal(ruleName('max_contacts:call:0'), 'Calls: none allowed');
});

// A message its case left behind is cancelled, and its timeline row
// says why (engine.c: a deferred message's release, a queued one's send):
// "短信已取消（case_moved_on）" was the core's spelling in both languages.
test('a message cancelled because its case closed or moved on reads as words', async () => {
  const { ctx } = await mod('state.js');
  const { ruleName } = await mod('i18n.js');
  const tl = await mod('timeline.js');
  ctx.timezone = 'Asia/Shanghai';
  const said = { en: ['the case closed before it went', 'the case moved on before it went'],
    'zh-CN': ['发送前案件已结案', '发送前案件已转入其他阶段'] };
  for (const locale of ['en', 'zh-CN']) {
    ctx.locale = locale;
    ['case_closed', 'case_moved_on'].forEach((reason, i) => {
      assert.equal(ruleName(reason), said[locale][i], `${locale}: ${reason}`);
      for (const what of ['release', 'outbox']) {
        const row = { kind: 'policy', detail: { channel: 'sms', what, message: 7, verdict: 'cancelled', reason } };
        const text = tl.sentence(row, 'CNY');
        assert.ok(text.includes(said[locale][i]) && !/_/.test(text), `${locale}: ${text}`);
      }
    });
  }
});

// A promise taken on a call is the task_done row's amount, in minor units
// of the case's currency: a yen case's ¥4,000 read ¥40.00, a dollar
// case's $1,200.00 read ¥1,200.00 (the institution's yuan).
test('a call\'s promise on the timeline is in the case\'s currency', async () => {
  const { ctx } = await mod('state.js');
  const tl = await mod('timeline.js');
  ctx.currency = 'CNY';
  const row = (amount) => ({ kind: 'task_done', detail: { kind: 'call', outcome: 'promise', amount, by: '2026-12-20' } });
  const cases = [['en', 'JPY', 4000, 'Amount: ¥4,000', '40.00'], ['en', 'USD', 120000, 'Amount: $1,200.00', '¥'],
    ['zh-CN', 'JPY', 4000, '金额: ¥4,000', '40.00'], ['zh-CN', 'USD', 120000, '1,200.00', '¥'],
    ['en', 'CNY', 120000, 'Amount: ¥1,200.00', '$']];
  for (const [locale, currency, amount, want, not] of cases) {
    ctx.locale = locale;
    const said = tl.sentence(row(amount), currency);
    assert.ok(said.includes(want), `${locale} ${currency}: ${said}`);
    assert.ok(!said.includes(not), `${locale} ${currency}: ${said}`);
  }
});

// A money field the kind declares, other than amount (the standard
// script's restructuring total), named by the service: shown as money,
// not as minor units (500000 for ¥5,000.00).
test('a money field the service names on a task_done row is shown as money', async () => {
  const { ctx } = await mod('state.js');
  const tl = await mod('timeline.js');
  ctx.currency = 'CNY';
  ctx.locale = 'zh-CN';
  const row = { kind: 'task_done', detail: { kind: 'restructuring_review', outcome: 'agreed', installments: 6,
    total: 500000, money_fields: { total: true } } };
  const said = tl.sentence(row, 'CNY');
  assert.ok(said.includes('总额: ¥5,000.00'), said);
  assert.ok(said.includes('期数: 6'), said);
  assert.ok(!said.includes('money_fields') && !said.includes('500000'), said);
});
