// Cases: open one by its id, or browse them a page at a time ("More"
// reads the next page after the last one shown, as GET /v1/cases pages).
import { h, fill } from '../h.js';
import { get, qs } from '../api.js';
import { t } from '../i18n.js';
import { money, number } from '../format.js';
import { loading, empty, errorBox, dpdBadge, table } from '../ui.js';
import { go, setKeys } from '../app.js';

const PAGE = 50;

export function render(main) {
  const search = h('input', { name: 'case', class: 'search', placeholder: t('cases.search'), 'aria-label': t('cases.search'), autocomplete: 'off' });
  const list = h('div', {});
  let rows = [];
  let next = null;
  let busy = false; // a page being read: a second More or Retry waits for it
  fill(main, h('h1', {}, t('cases.title')),
    h('form', { class: 'search-form', onsubmit: (e) => { e.preventDefault(); if (search.value.trim()) go('#/case/' + encodeURIComponent(search.value.trim())); } },
      search, h('button', { type: 'submit', class: 'btn primary' }, t('cases.open'))),
    h('p', { class: 'muted' }, t('cases.hint')), list);
  setKeys({ '/': () => search.focus() });
  search.focus();
  more(false);

  // A page may end early with nothing on it (the service reads a window
  // of cases at a time): it goes on by itself, a few pages at most.
  // Two at once would both read the page after the same last case, and
  // show it twice: Retry under a failed More stays live beside it.
  async function more(again) {
    if (busy) return;
    busy = true;
    const button = list.querySelector('button.more');
    if (button) button.disabled = true;
    if (!again) fill(list, loading());
    try {
      let page;
      let after = again ? next : null;
      for (let hops = 0; ; hops++) {
        page = await get('/v1/cases' + qs({ after, limit: PAGE }));
        if ((page.cases || []).length || !page.next || hops >= 20) break;
        after = page.next;
      }
      rows = rows.concat(page.cases || []);
      next = page.next || null;
      draw();
    } catch (err) {
      if (err && err.status === 401) return;
      if (!again) fill(list, errorBox(err, () => more(false)));
      else {
        draw();
        list.append(errorBox(err, () => more(true)));
      }
    } finally {
      busy = false;
    }
  }

  function draw() {
    if (!rows.length && !next) return fill(list, empty(t('cases.empty')));
    fill(list, table([
      { key: 'id', label: t('col.case'), cell: (c) => h('a', { href: '#/case/' + encodeURIComponent(c.id) }, c.id) },
      { key: 'borrower', label: t('work.col.borrower'), cell: (c) => (c.borrower && c.borrower.name) || '—' },
      { key: 'state', label: t('cases.col.state') },
      { key: 'dpd', label: t('work.col.dpd'), cell: (c) => dpdBadge(c.dpd) },
      { key: 'balance', label: t('cases.col.balance'), num: true, cell: (c) => money(c.balance, c.currency) },
      { key: 'amount_due', label: t('work.col.amount'), num: true, cell: (c) => money(c.amount_due, c.currency) },
    ], rows, { name: 'cases', key: (c) => c.id, onRow: (c) => go('#/case/' + encodeURIComponent(c.id)), class: 'hscroll' }),
    h('p', { class: 'muted', 'data-shown': rows.length }, t('cases.shown', { n: number(rows.length) })),
    next ? h('button', { type: 'button', class: 'btn more', onclick: () => more(true) }, t('work.more')) : null);
  }
}
