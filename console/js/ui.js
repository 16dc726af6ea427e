// Small widgets every page uses: states (loading, empty, error), tables,
// tabs, the dpd badge, field errors.
import { h, fill } from './h.js';
import { t, serviceText } from './i18n.js';
import { dpdBucket, phoneGroups } from './format.js';

export function loading() {
  return h('p', { class: 'state loading', role: 'status' }, t('app.loading'));
}

export function empty(text) {
  return h('p', { class: 'state empty' }, text);
}

// The service's own messages are English and for the person who runs it:
// a collector reads what went wrong in the console's words, by status.
export function errorText(err) {
  if (!err) return '';
  if (err.code === 'offline') return t('app.offline');
  if (err.code === 'timeout') return t('app.timeout');
  if (err.missingRoute) return t('app.unavailable');
  if (err.status >= 500) return t('app.server', { status: err.status });
  const said = serviceText(err);
  if (said) return said;
  if (err.status === 409) return t('app.conflict');
  return t('app.error', { msg: err.message });
}

// An error box with a retry button; what the user typed is elsewhere on
// the page and stays there.
export function errorBox(err, retry) {
  return h('div', { class: 'state error', role: 'alert' },
    h('p', {}, errorText(err)),
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, t('app.retry')) : null);
}

// Loads data into box: loading state, then render(data) or the error box.
// Only the box's latest load is drawn: Strategy's period shown twice on a
// slow network drew whichever answer came last (the period asked before
// under the dates asked now), and a what-if report opened while another
// was coming was wiped by the other's late answer.
const loads = new WeakMap(); // box → the number of its latest load
export async function load(box, fetcher, render) {
  const mine = (loads.get(box) || 0) + 1;
  loads.set(box, mine);
  fill(box, loading());
  try {
    const data = await fetcher();
    if (loads.get(box) !== mine) return;
    fill(box, render(data));
  } catch (err) {
    if (loads.get(box) !== mine || (err && err.status === 401)) return;
    fill(box, errorBox(err, () => load(box, fetcher, render)));
  }
}

export function dpdBadge(dpd) {
  const b = dpdBucket(dpd);
  return h('span', { class: ['dpd', 'dpd-' + b.replace('+', 'p')], 'data-dpd': dpd ?? 0 },
    b === 'current' ? t('dpd.current') : t('dpd.badge', { n: dpd }));
}

// columns: [{key, label, cell(row) → node|string, num: bool}]
export function table(columns, rows, opts = {}) {
  if (opts.class === 'scroll') return h('div', { class: 'scroll' }, table(columns, rows, { ...opts, class: null }));
  // Wider than a phone: scrolls sideways inside itself, not the page.
  if (opts.class === 'hscroll') return h('div', { class: 'hscroll' }, table(columns, rows, { ...opts, class: 'wide' }));
  // opts.cards: on a phone each row is a card, each value named by its
  // column (data-label, drawn by CSS) and left out when it is none (—).
  // An empty string is none too: a card showed "To" with nothing after it.
  const cell = (c, r) => {
    const got = c.cell ? c.cell(r) : r[c.key];
    const v = got === '' || got === null || got === undefined ? '—' : got;
    return h('td', { class: c.num ? 'num' : null, 'data-col': c.key,
      'data-label': opts.cards ? c.label : null, 'data-none': opts.cards && v === '—' ? '' : null }, v);
  };
  return h('table', { class: ['grid', opts.class, opts.cards && 'phone-cards'], 'data-table': opts.name },
    h('thead', {}, h('tr', {}, columns.map((c) =>
      h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.map((r, i) => h('tr', {
      class: opts.rowClass ? opts.rowClass(r) : null,
      'data-key': opts.key ? opts.key(r) : i,
      onclick: opts.onRow ? (e) => { if (!e.target.closest('a,button,input,select')) opts.onRow(r); } : null,
    }, columns.map((c) => cell(c, r))))));
}

export function tabs(items, current, onPick) {
  return h('div', { class: 'tabs', role: 'tablist' }, items.map((it) =>
    h('button', {
      type: 'button', role: 'tab', class: ['tab', it.id === current && 'on'],
      'aria-selected': it.id === current ? 'true' : 'false', 'data-tab': it.id,
      onclick: () => onPick(it.id),
    }, it.label, it.count !== undefined && it.count !== null ? h('span', { class: 'count' }, String(it.count)) : null)));
}

// A labelled field with a slot for its error: errors named by the API's
// `field` land next to the input of that name.
export function field(label, input, name, hint) {
  return h('label', { class: 'field', 'data-field': name },
    h('span', { class: 'label' }, label, hint ? h('span', { class: 'hint' }, ' ', hint) : null),
    input,
    h('span', { class: 'field-error', role: 'alert', 'data-error-for': name }));
}

export function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((e) => { fill(e); delete e.dataset.above; });
  const top = form.querySelector('.form-error');
  if (top) fill(top);
}

// Puts err next to the field it names, or at the form's top.
export function showError(form, err, text) {
  const msg = text || errorText(err);
  const slot = err && err.field && form.querySelector(`[data-error-for="${CSS.escape(err.field)}"]`);
  if (slot) fill(slot, msg);
  else {
    const top = form.querySelector('.form-error');
    if (top) fill(top, msg);
  }
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

// canCall: the person may call (a writer); held: not now, by the guard's
// word — the number stays readable, in its groups, but is no link: a tap
// on it rang the borrower at 22:00 or under a cease all the same.
export function telLink(phone, canCall, held) {
  if (!phone) return '—';
  if (!canCall) return h('span', { class: 'masked' }, phone);
  // In groups spaced by CSS (format.js phoneGroups): read in groups,
  // copied whole.
  const groups = phoneGroups(phone).map((g, i) => h('span', { class: i ? 'grp' : null }, g));
  return held ? h('span', { class: 'tel tel-held' }, groups)
    : h('a', { href: 'tel:' + String(phone).replace(/[^+\d]/g, ''), class: 'tel' }, groups);
}

export function mapLink(address, label) {
  return h('a', {
    href: 'https://www.openstreetmap.org/search?query=' + encodeURIComponent(address),
    target: '_blank', rel: 'noopener noreferrer', class: 'map',
  }, label);
}
