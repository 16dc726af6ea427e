// Outbox: the messages waiting, deferred, blocked or failed, by status and
// channel, a page at a time.
import { h, fill } from '../h.js';
import { get, qs, enc } from '../api.js';
import { t, word, ruleName } from '../i18n.js';
import { dateTime, number } from '../format.js';
import { loading, empty, errorBox, table } from '../ui.js';

const STATUSES = ['queued', 'deferred', 'blocked', 'failed'];
const CHANNELS = ['sms', 'email', 'letter', 'call', 'visit'];

export function render(main, arg, query) {
  const status = h('select', { name: 'status' }, h('option', { value: '' }, t('ob.all')),
    STATUSES.map((s) => h('option', { value: s }, word('status', s))));
  const channel = h('select', { name: 'channel' }, h('option', { value: '' }, t('ob.all')),
    CHANNELS.map((c) => h('option', { value: c }, word('channel', c))));
  status.value = query.get('status') || '';
  channel.value = query.get('channel') || '';
  const counts = h('span', { class: 'counts' });
  const list = h('div', {});
  let items = [];
  let next = null;
  // Each read asked, counted: only the latest is drawn. A status picked
  // (it reads at once) and then Filter tapped, or More tapped twice on a
  // slow network, sent two reads that each added their page to the list:
  // every message shown twice, or another filter's beside this one's.
  let reads = 0;
  fill(main, h('div', { class: 'page-head' }, h('h1', {}, t('ob.title')), counts),
    h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); show(false); } },
      h('label', {}, t('ob.status'), ' ', status), h('label', {}, t('ob.channel'), ' ', channel),
      h('button', { type: 'submit', class: 'btn primary' }, t('ob.filter'))),
    list);
  status.addEventListener('change', () => show(false));
  channel.addEventListener('change', () => show(false));
  show(false);

  async function show(more, button) {
    const mine = ++reads;
    if (button) button.disabled = true;
    if (!more) {
      items = [];
      next = null;
      fill(list, loading());
    }
    try {
      // A page may end early with nothing on it while more follows (a
      // channel's window, a message long in flight): go on by ourselves
      // rather than show "none" beside "more".
      let page, after = more ? next : null;
      for (let hops = 0; ; hops++) {
        page = await get('/v1/outbox' + qs({ status: status.value, channel: channel.value, after, limit: 50 }));
        if (mine !== reads) return;
        if ((page.items || []).length || !page.next || hops >= 20) break;
        after = page.next;
      }
      items = items.concat(page.items || []);
      next = page.next || null;
      if (page.counts) fill(counts, t('ob.counts', Object.fromEntries(STATUSES.map((s) => [s, number(page.counts[s] || 0)]))));
      draw();
    } catch (err) {
      if (mine !== reads || err.status === 401) return;
      // A page more that did not come leaves the messages shown.
      if (!more) return fill(list, errorBox(err, () => show(false)));
      draw();
      list.querySelector('button.more')?.remove();
      list.append(errorBox(err, (e) => show(true, e.currentTarget)));
    }
  }

  function draw() {
    fill(list, items.length ? table([
      { key: 'id', label: t('col.id') },
      { key: 'case', label: t('col.case'), cell: (r) => h('a', { href: '#/case/' + enc(r.case) }, r.case) },
      { key: 'channel', label: t('col.channel'), cell: (r) => word('channel', r.channel) },
      { key: 'template', label: t('col.template') },
      { key: 'status', label: t('col.status'), cell: (r) => h('span', { class: 'status-' + r.status }, word('status', r.status)) },
      { key: 'reason', label: t('col.reason'), cell: (r) => (r.reason ? ruleName(r.reason) : '—') },
      { key: 'until', label: t('col.until'), cell: (r) => dateTime(r.until) },
      { key: 'attempts', label: t('col.attempts'), num: true },
      { key: 'at', label: t('col.at'), cell: (r) => dateTime(r.at) },
      { key: 'to', label: t('col.to'), cell: (r) => r.to ?? '—' },
    ], items, { name: 'outbox', key: (r) => r.id, cards: true }) : empty(t('ob.empty')),
    next ? h('button', { type: 'button', class: 'btn more', onclick: (e) => show(true, e.currentTarget) }, t('ob.more')) : null);
  }
}
