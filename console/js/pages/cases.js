// Cases: open one by its id, or browse the first page.
import { h, fill } from '../h.js';
import { get, qs } from '../api.js';
import { t } from '../i18n.js';
import { money } from '../format.js';
import { load, empty, dpdBadge, table } from '../ui.js';
import { go, setKeys } from '../app.js';

export function render(main) {
  const search = h('input', { name: 'case', class: 'search', placeholder: t('cases.search'), 'aria-label': t('cases.search'), autocomplete: 'off' });
  const list = h('div', {});
  fill(main, h('h1', {}, t('cases.title')),
    h('form', { class: 'search-form', onsubmit: (e) => { e.preventDefault(); if (search.value.trim()) go('#/case/' + encodeURIComponent(search.value.trim())); } },
      search, h('button', { type: 'submit', class: 'btn primary' }, t('cases.open'))),
    h('p', { class: 'muted' }, t('cases.hint')), list);
  setKeys({ '/': () => search.focus() });
  search.focus();
  load(list, () => get('/v1/cases' + qs({ limit: 50 })), (page) => (page.cases || []).length ? table([
    { key: 'id', label: t('col.case'), cell: (c) => h('a', { href: '#/case/' + encodeURIComponent(c.id) }, c.id) },
    { key: 'borrower', label: t('work.col.borrower'), cell: (c) => (c.borrower && c.borrower.name) || '—' },
    { key: 'state', label: t('cases.col.state') },
    { key: 'dpd', label: t('work.col.dpd'), cell: (c) => dpdBadge(c.dpd) },
    { key: 'balance', label: t('cases.col.balance'), num: true, cell: (c) => money(c.balance, c.currency) },
    { key: 'amount_due', label: t('work.col.amount'), num: true, cell: (c) => money(c.amount_due, c.currency) },
  ], page.cases, { name: 'cases', onRow: (c) => go('#/case/' + encodeURIComponent(c.id)) }) : empty(t('cases.empty')));
}
