// What-if on the Strategy page (docs/simulate.md "From the console"): a
// supervisor picks a candidate strategy and runs it against a copy of the
// book; everyone who may see the page sees the past reports. A report is
// the JSON `recoup simulate --json` writes, drawn as a side-by-side table,
// charts with their numbers in a table under each, and the behaviour model
// it assumed. Text only through h() (textContent): names come from files.
import { h, fill } from './h.js';
import { ctx, can } from './state.js';
import { get, post, enc } from './api.js';
import { t, word } from './i18n.js';
import { money, number, percent, dateTime, date, minorDigits } from './format.js';
import { load, empty, table, section, field, clearErrors, showError, errorText } from './ui.js';
import { chart } from './charts.js';

const COLORS = ['#2f6fb0', '#e07b39', '#2e8b57', '#8e44ad', '#c0392b', '#16a085', '#7f8c8d', '#d4ac0d'];
const POLL_MS = 2000;
const major = (minor) => Number(minor) / 10 ** minorDigits(ctx.currency);
const armName = (a) => (a.name === 'current' ? t('wi.arm.current') : t('wi.arm.candidate'));

export function whatif() {
  const form = can('supervise') ? h('div', { class: 'whatif-form' }) : null;
  const running = h('div', { class: 'whatif-running', 'aria-live': 'polite' });
  const list = h('div', { class: 'whatif-list' });
  const report = h('div', { class: 'whatif-report' });
  const box = section(t('wi.title'), h('p', { class: 'muted' }, t('wi.intro')), form, running, list, report);
  box.classList.add('whatif');
  let shown = null; // the id of the report on screen
  let waiting = null; // the id a supervisor just started: opened when done

  // The list, and while one runs, again every POLL_MS as long as the
  // page is on screen.
  const poll = () => {
    get('/v1/simulations').then((answer) => {
      const sims = answer.simulations || [];
      const now = sims.find((s) => s.status === 'running');
      fill(running, now ? h('p', { class: 'state loading', role: 'status', 'data-running': now.id },
        t('wi.running', { who: now.by, at: dateTime(now.at), against: now.against || t('wi.current_only'), days: now.days })) : null);
      if (form) form.querySelectorAll('form').forEach((f) => { f.querySelector('button[type=submit]').disabled = !!now || !!f.dataset.posting; });
      fill(list, sims.length ? history(sims, open) : empty(t('wi.none')));
      const done = waiting !== null && sims.find((s) => s.id === waiting && s.status !== 'running');
      if (done) {
        waiting = null;
        open(done.id);
      }
      if (now) setTimeout(() => { if (box.isConnected) poll(); }, POLL_MS);
    }).catch((err) => {
      if (err && err.status === 401) return;
      fill(list, h('p', { class: 'state error', role: 'alert' }, errorText(err)));
    });
  };

  function open(id) {
    shown = id;
    load(report, () => get('/v1/simulations/' + enc(id)), (sim) => (shown === id ? view(sim) : null));
  }

  if (form) candidates(form, (sim) => { waiting = sim.id; poll(); });
  poll();
  return box;
}

// The form: candidate, days, runs. A candidate that does not load is
// listed with its problems, not offered.
function candidates(box, started) {
  load(box, () => get('/v1/strategies'), (answer) => {
    const all = answer.strategies || [];
    const ok = all.filter((s) => s.runnable);
    const bad = all.filter((s) => !s.runnable);
    const against = h('select', { name: 'against' },
      h('option', { value: '' }, t('wi.current_only')),
      ok.map((s) => h('option', { value: s.name }, s.name)));
    if (ok.length) against.value = ok[0].name;
    const days = h('input', { type: 'number', name: 'days', min: '1', max: '365', value: '30', required: true, inputmode: 'numeric' });
    const runs = h('input', { type: 'number', name: 'runs', min: '1', max: '10', value: '1', required: true, inputmode: 'numeric' });
    // Run is off from the tap until the list says what runs: a second tap
    // on a slow network sent a second what-if, refused as "someone else
    // changed this first" under the one just started.
    const run = h('button', { type: 'submit', class: 'btn primary' }, t('wi.run'));
    const form = h('form', { class: 'whatif-run', 'data-form': 'whatif', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      if (run.disabled || form.dataset.posting) return;
      clearErrors(form);
      const body = { against: against.value || null, days: Number(days.value), runs: Number(runs.value) };
      run.disabled = true;
      form.dataset.posting = '1';
      let sim = null;
      try {
        sim = await post('/v1/simulations', body);
      } catch (err) {
        run.disabled = false;
        if (err && err.status === 401) return;
        showError(form, err);
      } finally {
        delete form.dataset.posting;
      }
      if (sim) started(sim);
    } },
    h('p', { class: 'form-error', role: 'alert' }),
    field(t('wi.against'), against, 'against'),
    field(t('wi.days'), days, 'days', t('wi.days.hint')),
    field(t('wi.runs'), runs, 'runs', t('wi.runs.hint')),
    run);
    return [form, ok.length ? null : h('p', { class: 'muted' }, t('wi.no_candidates')),
      bad.length ? h('div', { class: 'whatif-bad' }, h('p', {}, t('wi.not_loading')),
        h('ul', {}, bad.map((s) => h('li', { 'data-candidate': s.name }, h('strong', {}, s.name), ': ',
          (s.errors || []).slice(0, 3).map((e) => `${e.file}${e.line ? ':' + e.line : ''} ${e.message}`).join('; '))))) : null];
  });
}

function history(sims, open) {
  return table([
    { key: 'at', label: t('wi.col.at'), cell: (s) => dateTime(s.at) },
    { key: 'by', label: t('wi.col.by') },
    { key: 'against', label: t('wi.col.against'), cell: (s) => s.against || t('wi.current_only') },
    { key: 'days', label: t('wi.days'), num: true },
    { key: 'runs', label: t('wi.runs'), num: true },
    { key: 'status', label: t('col.status'), cell: (s) => word('wi.status', s.status) },
    { key: 'show', label: '', cell: (s) => (s.status === 'done'
      ? h('button', { type: 'button', class: 'btn', 'data-open': s.id, onclick: () => open(s.id) }, t('wi.show'))
      : s.error ? h('span', { class: 'muted' }, s.error) : '') },
  ], sims, { name: 'simulations', key: (s) => s.id, class: 'scroll' });
}

// --- a report -------------------------------------------------------------

// Each day's figures averaged over the runs (the first run's when there
// is one): the charts show what the table's means are made of.
function meanDays(arm) {
  const runs = arm.runs && arm.runs.length ? arm.runs.map((r) => r.days || []) : [arm.days || []];
  const n = runs.length;
  return (runs[0] || []).map((d, i) => {
    const out = { date: d.date };
    for (const k of ['recovered', 'payments', 'refusals', 'replies', 'legal']) out[k] = runs.reduce((s, r) => s + ((r[i] && r[i][k]) || 0), 0) / n;
    for (const k of ['messages', 'backlog', 'tasks_opened', 'tasks_done', 'states']) {
      out[k] = {};
      for (const r of runs) for (const [key, v] of Object.entries((r[i] && r[i][k]) || {})) out[k][key] = (out[k][key] || 0) + v / n;
    }
    return out;
  });
}

const keysOf = (arms, pick) => [...new Set(arms.flatMap((a) => Object.keys(pick(a.summary || {}) || {})))].sort();
const round1 = (x) => Math.round(x * 10) / 10;
const count = (x) => (Number.isInteger(x) ? number(x) : number(round1(x)));

function view(sim) {
  const r = sim.report;
  if (!r) return empty(sim.error || t('wi.none'));
  const arms = r.arms || [];
  const days = arms.map(meanDays);
  const dates = (days[0] || []).map((d) => d.date);
  return h('div', { class: 'whatif-view', 'data-simulation': sim.id },
    h('h3', {}, t('wi.report', { against: sim.against || t('wi.current_only'), days: r.days, runs: r.runs, at: dateTime(sim.at), by: sim.by })),
    r.runs > 1 ? h('p', { class: 'muted' }, t('wi.range')) : null,
    summary(arms, r.runs > 1),
    h('h3', {}, t('wi.recovered')),
    chart({
      // the axis's name under the legend, as the Overview's (a phone's
      // legend reaches the left edge)
      grid: { left: 64, right: 16, top: 56, bottom: 40 }, legend: { top: 0 }, tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: dates.map((d) => d.slice(5)) }, yAxis: { type: 'value', name: ctx.currency },
      series: arms.map((a, i) => ({ name: armName(a), type: 'line', data: days[i].map((d) => major(d.recovered)), itemStyle: { color: COLORS[i] } })),
    }),
    perDay(dates, arms, days, (d) => money(Math.round(d.recovered), ctx.currency), 'recovered'),
    h('h3', {}, t('wi.backlog')),
    backlog(arms, days, dates),
    h('h3', {}, t('wi.messages')),
    messages(arms, days, dates),
    h('h3', {}, t('wi.model')),
    model(r.model || {}));
}

// The side-by-side table: one row a figure, one column an arm.
function summary(arms, ranged) {
  const rows = [];
  const cell = (a, key, fmt, sub) => {
    const s = a.summary || {};
    const v = sub ? (s[key] || {})[sub] : s[key];
    if (v === undefined || v === null) return '—';
    const rg = !sub && ranged && a.range && a.range[key];
    return rg ? `${fmt(v)} [${fmt(rg[0])}–${fmt(rg[1])}]` : fmt(v);
  };
  const add = (label, key, fmt = count, sub) => rows.push({ label, key: sub ? key + '.' + sub : key, cells: arms.map((a) => cell(a, key, fmt, sub)) });
  const cur = (v) => money(Math.round(v), ctx.currency);
  // "recovered" is the institution's currency's alone (a sum of yuan and
  // dollars is neither); each other currency the arms recovered in has
  // its own row after it, in the order of their codes as the Overview's
  // columns.
  const others = keysOf(arms, (s) => s.recovered_by_currency).filter((c) => c !== ctx.currency);
  add(others.length ? t('wi.f.recovered_in', { cur: ctx.currency }) : t('wi.f.recovered'), 'recovered', cur);
  for (const c of others) add(t('wi.f.recovered_in', { cur: c }), 'recovered_by_currency', (v) => money(Math.round(v), c), c);
  add(t('wi.f.payments'), 'payments');
  for (const ch of keysOf(arms, (s) => s.messages)) add(t('wi.f.messages', { channel: word('channel', ch) }), 'messages', count, ch);
  add(t('wi.f.refusals'), 'refusals');
  add(t('wi.f.replies'), 'replies');
  for (const q of keysOf(arms, (s) => s.tasks_opened)) add(t('wi.f.opened', { queue: q }), 'tasks_opened', count, q);
  for (const q of keysOf(arms, (s) => s.tasks_done)) add(t('wi.f.done', { queue: q }), 'tasks_done', count, q);
  for (const q of keysOf(arms, (s) => s.peak_backlog)) {
    rows.push({ label: t('wi.f.peak', { queue: q }), key: 'peak.' + q, cells: arms.map((a) => {
      const s = a.summary || {};
      const peak = (s.peak_backlog || {})[q];
      const cap = (s.capacity || {})[q];
      const rising = (s.backlog_rising || []).includes(q);
      return h('span', { class: rising ? 'rising' : null, 'data-rising': rising ? 'true' : null },
        `${count(peak || 0)} / ${cap ?? '—'}`, rising ? ' ' + t('wi.rising') : '');
    }) });
  }
  add(t('wi.f.legal'), 'legal');
  for (const st of keysOf(arms, (s) => s.states)) add(t('wi.f.state', { state: st }), 'states', count, st);
  if (arms.length > 1) {
    add(t('wi.f.moved'), 'moved');
    add(t('wi.f.stayed'), 'stayed');
  }
  add(t('wi.f.held'), 'held');
  return h('div', { class: 'hscroll' }, table([{ key: 'label', label: t('wi.col.figure') },
    ...arms.map((a, i) => ({ key: 'arm' + i, label: armName(a), num: true, cell: (r) => r.cells[i] }))],
  rows, { name: 'whatif-summary', key: (r) => r.key, class: 'whatif-summary' }));
}

// A table of a figure per day, one column an arm, under its chart.
function perDay(dates, arms, days, fmt, name) {
  return table([{ key: 'date', label: t('col.day'), cell: (r) => date(r.date) },
    ...arms.map((a, i) => ({ key: 'arm' + i, label: armName(a), num: true, cell: (r) => fmt(days[i][r.i]) }))],
  dates.map((d, i) => ({ date: d, i })), { name: 'whatif-' + name, key: (r) => r.date, class: 'scroll' });
}

// Each queue's backlog at the end of each day, an arm a line style, with
// the queue's capacity a day as a dashed line.
function backlog(arms, days, dates) {
  const queues = keysOf(arms, (s) => s.peak_backlog);
  if (!queues.length) return empty(t('wi.backlog.none'));
  const series = [];
  arms.forEach((a, i) => queues.forEach((q, k) => series.push({
    name: `${q} · ${armName(a)}`, type: 'line', data: days[i].map((d) => round1(d.backlog[q] || 0)),
    lineStyle: { type: i ? 'dashed' : 'solid' }, itemStyle: { color: COLORS[k % COLORS.length] },
    markLine: i ? undefined : { symbol: 'none', silent: true, label: { formatter: `${q} ${t('wi.capacity')}` },
      lineStyle: { type: 'dotted', color: COLORS[k % COLORS.length] },
      data: [{ yAxis: ((arms[0].summary || {}).capacity || {})[q] || 0 }] },
  })));
  const cols = [{ key: 'date', label: t('col.day'), cell: (r) => date(r.date) }];
  arms.forEach((a, i) => queues.forEach((q) => cols.push({ key: `b${i}.${q}`, label: `${q} · ${armName(a)}`, num: true, cell: (r) => count(round1(days[i][r.i].backlog[q] || 0)) })));
  const caps = queues.map((q) => `${q} ${(((arms[0].summary || {}).capacity || {})[q]) ?? '—'}`).join(', ');
  return [chart({
    grid: { left: 56, right: 16, top: 48, bottom: 40 }, legend: { top: 0, type: 'scroll' }, tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: dates.map((d) => d.slice(5)) }, series,
    // The axis reaches the largest capacity: the dotted line always shows.
    yAxis: { type: 'value', name: t('wi.tasks'), max: (v) => Math.ceil(Math.max(v.max, ...queues.map((q) => ((arms[0].summary || {}).capacity || {})[q] || 0)) * 1.05) },
  }, 'wide'), h('p', { class: 'muted' }, t('wi.capacity.text', { list: caps })),
  table(cols, dates.map((d, i) => ({ date: d, i })), { name: 'whatif-backlog', key: (r) => r.date, class: 'scroll' })];
}

// Messages by channel and the guard's refusals, each day, by arm.
function messages(arms, days, dates) {
  const channels = keysOf(arms, (s) => s.messages);
  const series = [];
  arms.forEach((a, i) => {
    channels.forEach((ch, k) => series.push({ name: `${word('channel', ch)} · ${armName(a)}`, type: 'bar', stack: 'm' + i,
      data: days[i].map((d) => round1(d.messages[ch] || 0)), itemStyle: { color: COLORS[(k + 2) % COLORS.length], opacity: i ? 0.6 : 1 } }));
    series.push({ name: `${t('wi.f.refusals')} · ${armName(a)}`, type: 'line', data: days[i].map((d) => round1(d.refusals)),
      lineStyle: { type: i ? 'dashed' : 'solid' }, itemStyle: { color: COLORS[4] } });
  });
  const cols = [{ key: 'date', label: t('col.day'), cell: (r) => date(r.date) }];
  arms.forEach((a, i) => {
    channels.forEach((ch) => cols.push({ key: `m${i}.${ch}`, label: `${word('channel', ch)} · ${armName(a)}`, num: true, cell: (r) => count(round1(days[i][r.i].messages[ch] || 0)) }));
    cols.push({ key: `r${i}`, label: `${t('wi.f.refusals')} · ${armName(a)}`, num: true, cell: (r) => count(round1(days[i][r.i].refusals)) });
  });
  return [chart({
    grid: { left: 48, right: 16, top: 48, bottom: 40 }, legend: { top: 0, type: 'scroll' }, tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: dates.map((d) => d.slice(5)) }, yAxis: { type: 'value' }, series,
  }, 'wide'), table(cols, dates.map((d, i) => ({ date: d, i })), { name: 'whatif-messages', key: (r) => r.date, class: 'scroll' })];
}

// What the simulation assumed: each cell calibrated from the book's own
// history (with how many observations) or the stated default.
function model(m) {
  const rows = [];
  const cellRow = (label, key, c) => c && rows.push({ label, key, p: c.p, obs: c.obs, calibrated: c.calibrated });
  for (const [b, c] of Object.entries(m.pay_by_bucket || {})) cellRow(t('wi.m.pay', { bucket: b }), 'pay.' + b, c);
  for (const [st, buckets] of Object.entries(m.pay_by_state || {}))
    for (const [b, c] of Object.entries(buckets || {})) cellRow(t('wi.m.pay_state', { state: st, bucket: b }), `pay.${st}.${b}`, c);
  cellRow(t('wi.m.share'), 'share', m.share_of_due);
  cellRow(t('wi.m.reach'), 'reach', m.call_reach);
  cellRow(t('wi.m.kept'), 'kept', m.promise_kept);
  if (m.reply_by_channel) for (const [ch, c] of Object.entries(m.reply_by_channel)) cellRow(t('wi.m.reply_channel', { channel: word('channel', ch) }), 'reply.' + ch, c);
  cellRow(t('wi.m.reply'), 'reply', m.reply);
  const p = (x) => (x === undefined || x === null ? '—' : percent(x));
  return [h('p', { class: 'muted' }, t('wi.model.text', { min: m.min_obs ?? 30, lift: m.contact_lift ?? '—', days: m.contact_days ?? '—' }),
    m.no_payments ? ' ' + t('wi.model.nopay') : ''),
  table([{ key: 'label', label: t('wi.col.cell') },
    { key: 'p', label: t('wi.col.p'), num: true, cell: (r) => p(r.p) },
    { key: 'obs', label: t('wi.col.obs'), num: true, cell: (r) => number(r.obs || 0) },
    { key: 'calibrated', label: t('wi.col.source'), cell: (r) => h('span', { class: r.calibrated ? 'calibrated' : 'default', 'data-calibrated': String(!!r.calibrated) }, r.calibrated ? t('wi.calibrated') : t('wi.default')) }],
  rows, { name: 'whatif-model', key: (r) => r.key, class: 'scroll' })];
}
