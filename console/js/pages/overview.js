// Overview for supervisors: the book's figures as charts, each with a
// table of the same numbers under it; cases in error with Retry; tasks
// reassigned from one person to another.
import { h, fill } from '../h.js';
import { ctx, can, personName } from '../state.js';
import { get, post, qs, enc, findCase } from '../api.js';
import { t, word, ruleName } from '../i18n.js';
import { money, number, percent, dateTime, date, minorDigits } from '../format.js';
import { load, empty, table, section, errorText, errorBox, loading } from '../ui.js';
import { chart, textWidth } from '../charts.js';

const BLUE = '#2f6fb0';
const GREEN = '#2e8b57';
const GREY = '#9aa5b1';
const RED = '#c0392b';

// Money for an axis or a tooltip: echarts has only numbers, the table has
// the exact amount.
const major = (minor, cur) => Number(minor) / 10 ** minorDigits(cur);

// cur null: a book of several currencies, whose balances share no axis
// (the table under the chart has each currency's).
function barsWithBalance(rows, labelOf, cur) {
  return chart({
    grid: { left: 56, right: cur ? 72 : 16, top: 36, bottom: 40 },
    legend: { top: 0 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: rows.map(labelOf) },
    yAxis: cur ? [{ type: 'value', name: t('col.cases') }, { type: 'value', name: t('col.balance') + ' ' + cur, splitLine: { show: false } }]
      : [{ type: 'value', name: t('col.cases') }],
    series: [
      { name: t('col.cases'), type: 'bar', data: rows.map((r) => r.cases), itemStyle: { color: BLUE } },
      ...(cur ? [{ name: t('col.balance'), type: 'bar', yAxisIndex: 1, data: rows.map((r) => major(amountIn(r, 'balance', cur, cur), cur)), itemStyle: { color: GREY } }] : []),
    ],
  });
}

// A row's amount in one currency: its by_currency entry's (the API sums
// each currency apart); an older service's row has only the plain
// amount, the institution's.
function amountIn(r, field, c, institution) {
  const e = (r.by_currency || []).find((x) => x.currency === c);
  if (e) return e[field] || 0;
  return r.by_currency ? 0 : (c === institution ? r[field] || 0 : 0);
}

// Money columns: one for the book's currency, or one a currency (named in
// its heading) when the book holds several.
function moneyColumns(key, label, currencies, institution) {
  if (currencies.length === 1) {
    const c = currencies[0];
    return [{ key, label, num: true, cell: (r) => money(amountIn(r, key, c, institution), c) }];
  }
  return currencies.map((c) => ({ key: `${key}-${c}`, label: t('col.in', { label, cur: c }), num: true,
    cell: (r) => money(amountIn(r, key, c, institution), c) }));
}

function simpleBars(rows, labelOf, valueOf, name, color) {
  return chart({
    grid: { left: 48, right: 16, top: 16, bottom: 40 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: rows.map(labelOf) },
    yAxis: { type: 'value' },
    series: [{ name, type: 'bar', data: rows.map(valueOf), itemStyle: { color } }],
  }, 'small');
}

export function render(main) {
  const figures = h('div', { class: 'figures' });
  const errors = h('div', {});
  const reassign = h('div', {});
  const supervise = can('supervise');
  const errorsPanel = supervise ? section(t('ov.errors'), errors) : null;
  const reassignPanel = supervise ? section(t('ov.reassign'), reassign) : null;
  // A supervisor comes to move work or fix a case as often as to read the
  // charts: both are a tap from the top, where they sat under every chart
  // (5,000 px down on a phone).
  const jump = supervise ? h('nav', { class: 'ov-jump', 'aria-label': t('ov.jump') },
    h('button', { type: 'button', class: 'btn jump-reassign', onclick: () => jumpTo(reassignPanel) }, t('ov.reassign')),
    h('button', { type: 'button', class: 'btn jump-errors', onclick: () => jumpTo(errorsPanel) }, t('ov.errors'))) : null;
  fill(main, h('div', { class: 'page-head' }, h('h1', {}, t('ov.title')), h('span', { class: 'counts asof' }), jump), figures,
    errorsPanel, reassignPanel);
  load(figures, () => get('/v1/overview'), (o) => {
    if (supervise) errorCount(errors, o.errors);
    return draw(main, o);
  });
  if (supervise) {
    // The count of cases in error on its button: seen from the top.
    errors.jumpButton = jump.querySelector('.jump-errors');
    loadErrors(errors);
    loadReassign(reassign);
  }
}

// The panel at the top of the screen, its heading focused (a screen
// reader says where the page went; Tab goes on into the panel).
function jumpTo(panel) {
  const title = panel.querySelector('h2');
  title.tabIndex = -1;
  panel.scrollIntoView({ block: 'start' });
  title.focus({ preventScroll: true });
}

function draw(main, o) {
  const cur = o.currency || ctx.currency;
  // Each currency apart: a sum of yuan and dollars is neither.
  const currencies = o.currencies && o.currencies.length ? o.currencies : [cur];
  const one = currencies.length === 1 ? currencies[0] : null;
  const cols = (key, label) => moneyColumns(key, label, currencies, cur);
  fill(main.querySelector('.asof'), t('ov.asof', { time: dateTime(o.as_of) }));
  const parts = [];
  const byState = o.by_state || [];
  if (!byState.length && !(o.by_dpd || []).some((r) => r.cases)) return empty(t('ov.empty'));
  const several = new Set(byState.map((r) => r.workflow)).size > 1;
  const stateName = (r) => (several ? `${r.workflow} · ${r.state}` : r.state);
  parts.push(section(t('ov.bystate'), barsWithBalance(byState, stateName, one),
    table([{ key: 'state', label: t('col.state'), cell: stateName }, { key: 'cases', label: t('col.cases'), num: true, cell: (r) => number(r.cases) },
      ...cols('balance', t('col.balance'))], byState, { name: 'by_state', key: (r) => (several ? `${r.workflow}/${r.state}` : r.state) })));
  const byDpd = o.by_dpd || [];
  parts.push(section(t('ov.bydpd'), barsWithBalance(byDpd, (r) => (r.bucket === 'current' ? t('dpd.current') : r.bucket), one),
    table([{ key: 'bucket', label: t('col.bucket'), cell: (r) => (r.bucket === 'current' ? t('dpd.current') : r.bucket) },
      { key: 'cases', label: t('col.cases'), num: true, cell: (r) => number(r.cases) },
      ...cols('balance', t('col.balance'))], byDpd, { name: 'by_dpd', key: (r) => r.bucket })));
  const rec = o.recovered || [];
  // A chart a currency: amounts of two currencies share no axis. The
  // axis's name (the currency) sits under the legend, not beside it: in
  // a panel a phone wide the legend reaches the left edge, and at 36 px
  // the name was drawn over its first mark.
  for (const c of currencies) {
    parts.push(section(one ? t('ov.recovered') : t('ov.recovered_in', { cur: c }), chart({
      grid: { left: 64, right: 16, top: 56, bottom: 40 },
      legend: { top: 0 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: rec.map((r) => r.day.slice(5)) },
      yAxis: { type: 'value', name: c },
      series: [
        { name: t('col.payments'), type: 'bar', stack: 'r', data: rec.map((r) => major(amountIn(r, 'payments', c, cur), c)), itemStyle: { color: GREEN } },
        { name: t('col.reduced'), type: 'bar', stack: 'r', data: rec.map((r) => major(amountIn(r, 'reduced', c, cur), c)), itemStyle: { color: GREY } },
      ],
    }), table([{ key: 'day', label: t('col.day'), cell: (r) => date(r.day) },
      ...moneyColumns('payments', t('col.payments'), [c], cur),
      ...moneyColumns('reduced', t('col.reduced'), [c], cur)], rec, { name: one ? 'recovered' : `recovered-${c}`, key: (r) => r.day, class: 'scroll' })));
  }
  const p = o.promises || {};
  // The counts are in the legend, not on labels around the ring: an
  // outer label at the bottom ("Broken: 2") was drawn over the legend
  // under the chart.
  const promiseCounts = { [t('col.kept')]: p.kept || 0, [t('col.broken')]: p.broken || 0, [t('col.open')]: p.open || 0 };
  const promiseLabel = (name) => `${name}: ${number(promiseCounts[name])}`;
  parts.push(section(t('ov.promises'), chart((width, height) => {
    // The legend beside the ring while it fits there (its icon, gap and
    // padding 45 px), under it otherwise: counts in the millions on a
    // phone drew the legend over the ring.
    const legendWidth = Math.max(...Object.keys(promiseCounts).map((name) => textWidth(promiseLabel(name)))) + 45;
    const ringRight = 0.35 * width + 0.7 * Math.min(width, height) / 2;
    const beside = ringRight + 16 <= width - 8 - legendWidth;
    return {
      tooltip: { trigger: 'item' },
      legend: beside ? { orient: 'vertical', right: 8, top: 'middle', formatter: promiseLabel }
        : { orient: 'horizontal', left: 'center', bottom: 0, formatter: promiseLabel },
      series: [{ type: 'pie', center: beside ? ['35%', '50%'] : ['50%', '40%'], radius: beside ? ['45%', '70%'] : ['33%', '52%'], label: { show: false }, data: [
        { name: t('col.kept'), value: p.kept || 0, itemStyle: { color: GREEN } },
        { name: t('col.broken'), value: p.broken || 0, itemStyle: { color: RED } },
        { name: t('col.open'), value: p.open || 0, itemStyle: { color: GREY } }] }],
    };
  }, 'small'), table([{ key: 'kept', label: t('col.kept'), num: true, cell: (r) => number(r.kept) },
    { key: 'broken', label: t('col.broken'), num: true, cell: (r) => number(r.broken) },
    { key: 'open', label: t('col.open'), num: true, cell: (r) => number(r.open) }, { key: 'kept_rate', label: t('col.rate'), num: true, cell: (r) => percent(r.kept_rate) }],
  [p], { name: 'promises' })));
  parts.push(rollRates(o.roll_rates));
  const contacts = o.contacts || [];
  parts.push(section(t('ov.contacts'), contacts.length ? simpleBars(contacts, (r) => word('channel', r.channel), (r) => r.count, t('col.count'), BLUE) : empty(t('ov.none')),
    contacts.length ? table([{ key: 'channel', label: t('col.channel'), cell: (r) => word('channel', r.channel) }, { key: 'count', label: t('col.count'), num: true, cell: (r) => number(r.count) }],
      contacts, { name: 'contacts', key: (r) => r.channel }) : null));
  const refusals = o.refusals || [];
  parts.push(section(t('ov.refusals'), refusals.length ? simpleBars(refusals, (r) => ruleName(r.rule), (r) => r.count, t('col.count'), RED) : null,
    refusals.length ? table([{ key: 'rule', label: t('col.rule'), cell: (r) => ruleName(r.rule) }, { key: 'count', label: t('col.count'), num: true, cell: (r) => number(r.count) }],
      refusals, { name: 'refusals', key: (r) => r.rule }) : empty(t('ov.none'))));
  const queues = o.queues || [];
  parts.push(section(t('ov.queues'), queues.length ? chart({
    grid: { left: 48, right: 16, top: 36, bottom: 40 }, legend: { top: 0 }, tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: queues.map((q) => q.queue) }, yAxis: { type: 'value' },
    series: [{ name: t('col.open'), type: 'bar', stack: 'q', data: queues.map((q) => q.open), itemStyle: { color: BLUE } },
      { name: t('col.claimed'), type: 'bar', stack: 'q', data: queues.map((q) => q.claimed), itemStyle: { color: GREY } }],
  }, 'small') : null, table([{ key: 'queue', label: t('col.queue') }, { key: 'open', label: t('col.open'), num: true },
    { key: 'claimed', label: t('col.claimed'), num: true }, { key: 'oldest_due', label: t('col.oldest'), cell: (r) => dateTime(r.oldest_due) }],
  queues, { name: 'queues', key: (r) => r.queue })));
  const people = o.collectors || [];
  parts.push(section(t('ov.collectors'), people.length ? null : empty(t('ov.none')), people.length ? table([{ key: 'user', label: t('col.user'), cell: (r) => h('span', { title: r.user }, personName(r.user)) },
    { key: 'tasks_done', label: t('col.tasks_done'), num: true }, { key: 'promises', label: t('col.promises'), num: true },
    ...cols('promised', t('col.promised')), ...cols('collected', t('col.collected'))], people, { name: 'collectors', key: (r) => r.user }) : null));
  return h('div', { class: 'figure-grid' }, parts);
}

// A bucket as the badge and the dpd table say it: "current" was left in
// English on a Chinese roll-rate matrix, its row and its column.
const colName = (b) => (b === 'closed' ? t('col.closed') : b === 'current' ? t('dpd.current') : b);

// The roll-rate matrix of one month as a heatmap: row = bucket last month,
// column = bucket this month.
function rollRates(rr) {
  const buckets = (rr && rr.buckets) || [];
  const columns = (rr && rr.columns) || buckets; // where each row's cases went
  const months = (rr && rr.months) || [];
  if (!months.length) return section(t('ov.rollrates', { month: '' }), empty(t('ov.none')));
  const box = h('div', {});
  const pick = h('select', { name: 'month', onchange: () => drawMonth(pick.value) }, months.map((mo) => h('option', { value: mo.month }, mo.month)));
  pick.value = months[months.length - 1].month;
  drawMonth(pick.value);
  return section(t('ov.rollrates', { month: '' }), pick, box);

  function drawMonth(month) {
    const mo = months.find((x) => x.month === month);
    const matrix = mo.matrix || [];
    const data = [];
    let max = 0;
    matrix.forEach((row, i) => row.forEach((n, j) => { data.push([j, i, n]); max = Math.max(max, n); }));
    fill(box, chart({
      grid: { left: 64, right: 16, top: 16, bottom: 64 },
      tooltip: { trigger: 'item' },
      xAxis: { type: 'category', data: columns.map(colName), name: '→' },
      yAxis: { type: 'category', data: buckets.map(colName), inverse: true },
      visualMap: { min: 0, max: max || 1, calculable: false, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120,
        inRange: { color: ['#f4f7fb', BLUE] } },
      series: [{ type: 'heatmap', data, label: { show: true } }],
    }, 'small'), h('table', { class: 'grid matrix', 'data-table': 'roll_rates', 'data-month': month },
      h('thead', {}, h('tr', {}, h('th', {}, t('col.from')), columns.map((b) => h('th', { class: 'num' }, colName(b))))),
      h('tbody', {}, matrix.map((row, i) => h('tr', { 'data-key': buckets[i] }, h('th', { scope: 'row' }, colName(buckets[i])),
        row.map((n, j) => h('td', { class: 'num', 'data-col': columns[j] }, number(n))))))));
  }
}

// The list comes a page of ERRORS_PAGE at a time; past a page, how many
// cases are in error is the overview's figure (box.total), read with the
// charts and again after a retry (a request of the charts' cost, so not
// on every page). A book with 10,000 cases in error said "100+" on the
// button and listed 100 with no word of the rest.
const ERRORS_PAGE = 100;

// The count on the Cases in error button: the list's when it is whole,
// else the overview's (at least the rows listed), else "100+".
function errorCount(box, total) {
  if (Number.isInteger(total)) box.total = total;
  if (box.sayShown) box.sayShown();
  if (!box.jumpButton || box.listed === undefined) return;
  const n = !box.more ? number(box.listed)
    : Number.isInteger(box.total) ? number(Math.max(box.total, box.listed)) : number(box.listed) + '+';
  // Red only when there is something to fix: a red 0 read as an alarm.
  const none = !box.more && box.listed === 0;
  fill(box.jumpButton, t('ov.errors'), ' ', h('span', { class: ['count', none && 'none'] }, n));
}

// again: after a retry, when the overview's count is read again too.
function loadErrors(box, again) {
  const first = async () => {
    const page = await get('/v1/errors' + qs({ limit: ERRORS_PAGE }));
    if (again && page.next) page.total = await get('/v1/overview').then((o) => o.errors, () => null);
    return page;
  };
  load(box, first, (page) => {
    let rows = page.errors || [];
    let next = page.next || null;
    box.listed = rows.length;
    box.more = !!next;
    box.sayShown = null;
    errorCount(box, page.total);
    if (!rows.length) return empty(t('ov.errors.none'));
    const status = h('p', { class: 'form-status', role: 'status' });
    const retry = async (body, btn) => {
      btn.disabled = true;
      try {
        await post(body.case ? `/v1/cases/${enc(body.case)}/retry` : '/v1/admin/retry', body.case ? {} : body);
        fill(status, t('ov.retried'));
        setTimeout(() => loadErrors(box, true), 600);
      } catch (err) {
        fill(status, errorText(err));
        btn.disabled = false;
      }
    };
    const list = h('div', {});
    const more = async (btn) => {
      btn.disabled = true;
      try {
        const page = await get('/v1/errors' + qs({ after: next, limit: ERRORS_PAGE }));
        rows = rows.concat(page.errors || []);
        next = page.next || null;
        draw();
      } catch (err) {
        fill(status, errorText(err));
        btn.disabled = false;
      }
    };
    // Said again when the overview's count comes after the list.
    const shown = h('div', {});
    box.sayShown = () => fill(shown, next ? h('p', { class: 'muted errors-shown' }, Number.isInteger(box.total)
      ? t('ov.errors.shown', { n: number(rows.length), total: number(Math.max(box.total, rows.length)) })
      : t('ov.errors.shown.some', { n: number(rows.length) })) : null);
    const draw = () => fill(list, box.sayShown(),
      table([
        { key: 'case', label: t('col.case'), cell: (r) => h('a', { href: '#/case/' + enc(r.case) }, r.case) },
        { key: 'state', label: t('col.state') },
        { key: 'error', label: t('col.error'), cell: (r) => h('span', { class: 'error-text' }, r.error) },
        { key: 'since', label: t('col.at'), cell: (r) => dateTime(r.since) },
        { key: 'retry', label: '', cell: (r) => h('button', { type: 'button', class: 'btn retry', 'data-case': r.case, onclick: (e) => retry({ case: r.case }, e.target) }, t('case.retry')) },
      ], rows, { name: 'errors', key: (r) => r.case }),
      next ? h('button', { type: 'button', class: 'btn more errors-more', onclick: (e) => more(e.target) }, t('ov.errors.more', { n: number(rows.length) })) : null);
    draw();
    return h('div', {},
      h('div', { class: 'toolbar' }, h('button', { type: 'button', class: 'btn retry-all', onclick: (e) => retry({ all: true }, e.target) }, t('ov.retryall')), status),
      list);
  });
}

// Open tasks a page at a time (More), all queues or one: a supervisor
// with more open work than a page reaches every task (only the first 200
// were listed, the rest could not be moved).
const REASSIGN_PAGE = 200;
const openTasks = (queue, after) => get('/v1/tasks' + qs({ status: 'open', queue, after, limit: REASSIGN_PAGE }));

// One case's waiting tasks (open, or held by someone), as the list shows
// them: "move MF00123 to Li" without paging through every queue.
async function caseTasks(id) {
  const c = await findCase(id);
  if (!c) return { tasks: [], next: null, unknown: true };
  return { tasks: (c.tasks || []).map((x) => ({ ...x, case: c.id })), next: null };
}

// view: {queue} (one queue, '' all) or {kase} (one case's tasks). The box
// keeps the view shown: a Reassign sent before the supervisor chose
// another reloads the list they look at now, not the one it was sent from.
function loadReassign(box, view = {}) {
  const queue = view.queue || '';
  const kase = view.kase || '';
  box.reassignView = view;
  const tasksFor = () => (kase ? caseTasks(kase) : openTasks(queue));
  load(box, () => Promise.all([tasksFor(), get('/v1/users')]), ([tasks, users]) => {
    const rows = tasks.tasks || tasks.items || [];
    let next = tasks.next ?? null;
    const people = (users.items || []).filter((u) => !u.disabled && (u.role === 'agent' || u.role === 'supervisor'));
    const queues = [...new Set([...people.flatMap((u) => u.queues || []), ...(queue ? [queue] : [])])].sort();
    const inQueue = h('select', { name: 'queue', onchange: () => loadReassign(box, { queue: inQueue.value }) },
      h('option', { value: '' }, t('ov.reassign.allqueues')), queues.map((q) => h('option', { value: q }, q)));
    inQueue.value = queue;
    const caseId = h('input', { name: 'case', class: 'case-search', value: kase, autocomplete: 'off',
      placeholder: t('ov.reassign.case.hint'), 'aria-label': t('ov.reassign.case') });
    const find = () => loadReassign(box, caseId.value.trim() ? { kase: caseId.value.trim() } : { queue });
    // Enter in the case box looks the case up; it does not send the Reassign.
    caseId.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.isComposing) { e.preventDefault(); find(); } });
    const filter = h('div', { class: 'toolbar reassign-filter' }, h('label', {}, t('ov.reassign.queuefilter'), ' ', inQueue),
      h('label', {}, t('ov.reassign.case'), ' ', caseId),
      h('button', { type: 'button', class: 'btn find-case', onclick: find }, t('ov.reassign.case.find')),
      kase ? h('button', { type: 'button', class: 'btn link all-tasks', onclick: () => loadReassign(box, {}) }, t('ov.reassign.case.all')) : null);
    if (!rows.length) return [filter, empty(tasks.unknown ? t('ov.reassign.case.unknown', { id: kase })
      : kase ? t('ov.reassign.case.none', { id: kase }) : t('ov.reassign.none'))];
    // The name people know first, the login beside it (two 王芳 differ by it).
    const who = h('select', { name: 'user' }, people.map((u) => h('option', { value: u.name },
      `${u.display_name ? `${u.display_name} · ${u.name}` : u.name} (${(u.queues || []).join(', ') || '*'})`)));
    const status = h('p', { class: 'form-status', role: 'status' });
    const go = h('button', { type: 'submit', class: 'btn primary' }, t('ov.reassign.go'));
    const byId = new Map(rows.map((r) => [String(r.id), r]));
    const listBox = h('div', {});
    const moreBox = h('div', { class: 'more-box' });
    let busy = false; // a page being read: a second click waits for it
    const more = async () => {
      if (busy || next === null) return;
      busy = true;
      fill(moreBox, loading());
      try {
        const page = await openTasks(queue, next);
        for (const r of page.tasks || page.items || []) if (!byId.has(String(r.id))) rows.push(r), byId.set(String(r.id), r);
        next = page.next ?? null;
        drawList();
      } catch (err) {
        if (err && err.status === 401) return;
        fill(moreBox, errorBox(err, () => { busy = false; more(); }));
        return;
      } finally {
        busy = false;
      }
    };
    const drawList = () => {
      // What was ticked stays ticked when the next page is added.
      const ticked = new Set([...listBox.querySelectorAll('input[name=task]:checked')].map((x) => x.value));
      fill(listBox, reassignTable(rows, ticked));
      fill(moreBox, next !== null ? h('button', { type: 'button', class: 'btn more', onclick: more }, t('ov.reassign.more', { n: rows.length })) : null);
    };
    drawList();
    const form = h('form', { class: 'reassign', onsubmit: async (e) => {
      e.preventDefault();
      // A second click while the first is sending sends nothing more.
      if (go.disabled) return;
      const ids = [...form.querySelectorAll('input[name=task]:checked')].map((x) => x.value);
      if (!ids.length) return fill(status, t('ov.reassign.pick'));
      // An agent works only the queues they hold: said here, in the
      // supervisor's words, rather than by the service's English refusal.
      const person = people.find((u) => u.name === who.value);
      const wrong = person && person.role === 'agent'
        ? ids.filter((id) => byId.get(id) && !(person.queues || []).includes(byId.get(id).queue)) : [];
      if (wrong.length) return fill(status, wrong.map((id) => t('ov.reassign.queue',
        { task: '#' + id, queue: byId.get(id).queue, user: personName(person.name) })).join(' '));
      go.disabled = true;
      let done = 0;
      const failed = [];
      for (const id of ids) {
        try {
          await post(`/v1/tasks/${enc(id)}/assign`, { user: who.value });
          done++;
          // Reassigned: a click that comes after (a double click's second,
          // late on a busy machine) does not send it again.
          const box = form.querySelector(`input[name=task][value="${CSS.escape(id)}"]`);
          if (box) box.checked = false;
        } catch (err) {
          failed.push(`#${id}: ${errorText(err)}`);
        }
      }
      // All done: the list is read again below; the button stays off
      // until then, so a late second click sends nothing.
      if (failed.length) go.disabled = false;
      fill(status, t('ov.reassign.done', { n: done }), failed.length ? ' ' + failed.join('; ') : '');
      if (!failed.length) setTimeout(() => loadReassign(box, box.reassignView), 600);
    } },
    filter,
    h('p', { class: 'muted' }, t('ov.reassign.pick')),
    listBox, moreBox,
    h('div', { class: 'toolbar' }, h('label', {}, t('ov.reassign.to'), ' ', who), go, status));
    return form;
  });
}

function reassignTable(rows, ticked) {
  return table([
    { key: 'pick', label: '', cell: (r) => h('input', { type: 'checkbox', name: 'task', value: r.id, 'aria-label': '#' + r.id, checked: ticked.has(String(r.id)) }) },
    { key: 'id', label: t('col.task') },
    { key: 'case', label: t('col.case'), cell: (r) => h('a', { href: '#/case/' + enc(r.case) }, r.case) },
    { key: 'kind', label: t('col.kind'), cell: (r) => word('kind', r.kind) },
    { key: 'queue', label: t('col.queue') },
    { key: 'due', label: t('col.due'), cell: (r) => dateTime(r.due) },
    { key: 'assignee', label: t('col.assignee'), cell: (r) => (r.assignee ? h('span', { title: r.assignee }, personName(r.assignee)) : '—') },
  ], rows, { name: 'open_tasks', key: (r) => r.id, class: 'scroll', cards: true });
}
