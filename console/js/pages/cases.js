// Cases: open one by its id, find a borrower's by the number on the
// line (GET /v1/cases?phone=), or browse them a page at a time ("More"
// reads the next page after the last one shown, as GET /v1/cases pages).
import { h, fill } from '../h.js';
import { get, qs } from '../api.js';
import { t } from '../i18n.js';
import { money, number, looksLikePhone } from '../format.js';
import { loading, empty, errorBox, dpdBadge, table } from '../ui.js';
import { go, setKeys } from '../app.js';

const PAGE = 50;

export function render(main, arg, query) {
  const search = h('input', { name: 'case', class: 'search', placeholder: t('cases.search'), 'aria-label': t('cases.search'), autocomplete: 'off' });
  const list = h('div', {});
  let rows = [];
  let next = null;
  let busy = false; // a page being read: a second More or Retry waits for it
  // The number searched for (My work's search sends one as ?phone=);
  // null: every case.
  let phone = (query && query.get('phone')) || null;
  let seq = 0; // the latest first page asked for: an older answer is dropped
  fill(main, h('h1', {}, t('cases.title')),
    h('form', { class: 'search-form', onsubmit: (e) => { e.preventDefault(); submit(search.value.trim()); } },
      search, h('button', { type: 'submit', class: 'btn primary' }, t('cases.open'))),
    h('p', { class: 'muted' }, t('cases.hint')), list);
  setKeys({ '/': () => search.focus() });
  if (phone) search.value = phone;
  search.focus();
  more(false);

  function submit(text) {
    if (!text) return;
    // A Chinese input method in full-width mode types "１３８ ００１３":
    // read as the digits they look like.
    const folded = text.normalize('NFKC');
    if (!looksLikePhone(folded)) return go('#/case/' + encodeURIComponent(text));
    phone = folded;
    rows = [];
    next = null;
    more(false);
  }

  function allCases() {
    phone = null;
    rows = [];
    next = null;
    more(false);
  }

  // A page may end early with nothing on it (the service reads a window
  // of cases at a time): it goes on by itself, a few pages at most.
  // Two at once would both read the page after the same last case, and
  // show it twice: Retry under a failed More stays live beside it.
  async function more(again) {
    if (again && busy) return;
    const mine = again ? seq : ++seq;
    const asked = phone;
    busy = true;
    const button = list.querySelector('button.more');
    if (button) button.disabled = true;
    if (!again) fill(list, loading());
    try {
      let page;
      let after = again ? next : null;
      for (let hops = 0; ; hops++) {
        page = await get('/v1/cases' + qs({ phone: asked, after, limit: PAGE }));
        if (mine !== seq) return;
        if ((page.cases || []).length || !page.next || hops >= 20) break;
        after = page.next;
      }
      rows = rows.concat(page.cases || []);
      next = page.next || null;
      // The number is one borrower's one case: the collector wants it open.
      if (asked && !again && rows.length === 1 && !next) {
        const to = '#/case/' + encodeURIComponent(rows[0].id);
        // Sent by My work's search (#/cases?phone=): Back leads to My
        // work, not to the look-up that would open the case again.
        if (location.hash.startsWith('#/cases?')) return location.replace(to);
        return go(to);
      }
      draw();
    } catch (err) {
      if (mine !== seq || (err && err.status === 401)) return;
      // Digits the service does not take for a phone (too many for one)
      // are no borrower's: said so, with the way to open them as an id.
      if (asked && !again && err && err.status === 422) return draw();
      if (!again) fill(list, errorBox(err, () => more(false)));
      else {
        draw();
        list.append(errorBox(err, () => more(true)));
      }
    } finally {
      if (mine === seq) busy = false;
    }
  }

  function draw() {
    // Searched for a number: say which, and the way back to every case.
    const about = phone === null ? null : h('p', { class: 'phone-found' },
      h('span', {}, t(rows.length ? 'cases.phone.found' : 'cases.phone.none', { phone })), ' ',
      // Seven digits may be a case id too: it opens as one from here.
      rows.length ? null : h('a', { href: '#/case/' + encodeURIComponent(phone), class: 'open-id' }, t('cases.phone.open', { id: phone })), ' ',
      h('button', { type: 'button', class: 'btn link', onclick: allCases }, t('cases.phone.all')));
    if (!rows.length && !next)
      return fill(list, about || empty(t('cases.empty')));
    fill(list, about, table([
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
