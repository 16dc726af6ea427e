// My work: the signed-in collector's tasks, due now first. "Next case"
// claims the top task and opens its case (next.js, a claim on a bad
// network). On a phone it is the field officer's day: cards grouped by
// area, with the address on a map and the phone as a tel: link.
import { h, fill, isolate } from '../h.js';
import { ctx, can } from '../state.js';
import { get, qs } from '../api.js';
import { t, word } from '../i18n.js';
import { money, time, date, dateTime, relative, number, isoDay, zoneDay, looksLikePhone } from '../format.js';
import { loading, empty, errorBox, dpdBadge, table, tabs, mapLink, telLink } from '../ui.js';
import { go, setKeys } from '../app.js';
import { claimNext, paintNext } from '../next.js';
import { blockedText } from '../rules.js';

const phone = () => window.matchMedia('(max-width: 640px)').matches;
const DUE_TICK_MS = 30000;

export function render(main, arg, query) {
  let tab = query.get('tab') || 'due';
  let items = [];
  let counts = null;
  let next = null;
  // Each read of the list counted: only the latest asked is drawn. A
  // quiet re-read (recheck) answered after a tab switched or a page more
  // loaded is set aside; so is a tab's read answered after another tab
  // was picked (on a slow network its rows were added to the other
  // tab's, under its name), and a More tapped twice reads its page once.
  let loads = 0;
  let readAt = 0; // when the list's first page was read, its cards' call
  let withCall = false; // whether the items were read with their call
  let checking = false;
  const head = h('div', { class: 'page-head' });
  const notice = h('p', { class: 'notice', role: 'status' });
  const list = h('div', { class: 'work-list' });
  const search = h('input', { name: 'case', class: 'search', placeholder: t('work.search'), 'aria-label': t('work.search'), autocomplete: 'off' });
  // The page drawn again while a claim waits (the language switched) has
  // a notice of its own.
  const claim = () => claimNext(() => main.querySelector('p.notice[role=status]'));
  const nextBtn = paintNext(h('button', { type: 'button', class: 'btn primary next', onclick: claim }));
  const media = window.matchMedia('(max-width: 640px)');
  // A desk's list asks no areas and no call (they cost the service reads
  // a task): turned into a phone's, the day's areas are asked for then,
  // and the cards' word on calling at once (their numbers text until it
  // comes).
  const redraw = () => {
    if (phone() && tab === 'due' && counts && !counts.areas) return loadTab(false);
    draw();
    if (phone() && !withCall) recheck();
  };
  media.addEventListener('change', redraw);

  fill(main, head, h('div', { class: 'toolbar' }, nextBtn,
    h('form', { class: 'search-form', onsubmit: (e) => { e.preventDefault(); openCase(); } }, search,
      h('button', { type: 'submit', class: 'btn' }, t('work.search.go')))),
  notice, h('div', { class: 'tabs-row' }), list, h('p', { class: 'keys' }, t('work.keys')));
  setKeys({ n: claim, '/': () => search.focus() });
  loadTab(false);
  // A task whose time comes while the page stays open turns red then,
  // not at the next reload: a field officer keeps the day open on the
  // road, and a 15:00 visit still read as not yet due at 17:00. At the
  // institution's midnight the list is read again: tomorrow's visits
  // became today's, and the counts are the new day's.
  let day = isoDay(0);
  const ticking = setInterval(() => {
    if (isoDay(0) !== day) {
      day = isoDay(0);
      loadTab(false);
      return;
    }
    for (const el of list.querySelectorAll('[data-due]')) el.classList.toggle('due-now', Date.parse(el.dataset.due) <= Date.now());
    recheck();
  }, DUE_TICK_MS);
  // The cards' numbers are links by the guard's word at the list's
  // reading, and the hours close at 21:00 with nothing in the list
  // changed: a field officer's day opened at 20:50 still rang borrowers
  // at 23:00. Read again at each tick, and when the phone is taken out
  // of a pocket (the tab shown again, its ticks skipped while hidden):
  // a word older than a tick holds the links until answered.
  const back = () => {
    if (document.visibilityState !== 'visible') return;
    if (Date.now() - readAt >= DUE_TICK_MS && list.querySelector('.cards a[href^="tel:"]')) {
      for (const it of items) it.call = null;
      draw();
    }
    recheck();
  };
  document.addEventListener('visibilitychange', back);
  return () => {
    clearInterval(ticking);
    media.removeEventListener('change', redraw);
    document.removeEventListener('visibilitychange', back);
  };

  // Quietly, the list read again for the guard's word on each card (a
  // desk's rows carry no numbers): as many as are loaded, so that a list
  // paged on with More keeps its place (up to the API's 1,000).
  async function recheck() {
    if (checking || document.visibilityState === 'hidden' || !list.querySelector('.cards')) return;
    const asked = loads;
    checking = true;
    try {
      const page = await get('/v1/work' + qs({ tab, limit: Math.min(Math.max(items.length, 100), 1000), call: 1 }));
      if (asked !== loads) return;
      readAt = Date.now();
      withCall = true;
      items = page.items || [];
      next = page.next || null;
      const fresh = page.counts;
      if (fresh && counts && counts.areas && !fresh.areas) Object.assign(fresh, { areas: counts.areas, areas_complete: counts.areas_complete });
      counts = fresh || counts;
    } catch (err) {
      // Not read: no card invites a call the guard has not allowed.
      if (asked !== loads || err.status === 401) return;
      for (const it of items) it.call = null;
    } finally {
      checking = false;
    }
    if (asked === loads) draw();
  }

  // A case id opens; a phone number is looked up on Cases (one case of
  // that borrower opens from there at once).
  function openCase() {
    const id = search.value.trim();
    const folded = id.normalize('NFKC');
    if (id && looksLikePhone(folded)) go('#/cases?phone=' + encodeURIComponent(folded));
    else if (id) go('#/case/' + encodeURIComponent(id));
  }

  async function loadTab(more, button) {
    const mine = ++loads;
    if (button) button.disabled = true;
    if (!more) {
      items = [];
      next = null;
      fill(list, loading());
    }
    try {
      // The phone's day list groups by area: the whole day's counts by
      // area come with the first page (the page loaded held only some).
      const areas = !more && tab === 'due' && phone() ? 1 : null;
      // Only cards show numbers: a desk's table asks no call.
      const call = phone() ? 1 : null;
      const [page] = await Promise.all([get('/v1/work' + qs({ tab, after: more ? next : null, limit: 100, areas, call })), more ? null : readQueues()]);
      if (mine !== loads) return;
      if (!more) {
        readAt = Date.now();
        withCall = !!call;
      } else if (!call) {
        withCall = false;
      }
      items = items.concat(page.items || []);
      next = page.next || null;
      // A later page's counts come without the day's areas: the first
      // page's stay.
      const fresh = page.counts;
      if (fresh && more && counts && counts.areas && !fresh.areas) Object.assign(fresh, { areas: counts.areas, areas_complete: counts.areas_complete });
      counts = fresh || counts;
      draw();
    } catch (err) {
      if (err.status === 401 || mine !== loads) return;
      // A page more that did not come leaves the ones shown: the day's
      // cards went, on the road, for an error box until Retry.
      if (!more) return fill(list, errorBox(err, () => loadTab(false)));
      draw();
      list.querySelector('button.more')?.remove();
      list.append(errorBox(err, (e) => loadTab(true, e.currentTarget)));
    }
  }

  function draw() {
    const queues = (ctx.me.queues || []).join(', ');
    // Each queue's own counts beside the sum when there are several: a
    // collector of phone and field reads their calls and their visits
    // apart, as the page's sketch has them (My work — phone queue · 37
    // due now · 112 today).
    const each = counts && Array.isArray(counts.queues) && counts.queues.length > 1 ? counts.queues : null;
    fill(head, h('h1', {}, t('work.title'), queues ? ' — ' + t('work.queue', { q: queues }) : ''),
      counts ? h('span', { class: 'counts', 'data-counts': '' }, t('work.counts', { due: counts.due_now, today: counts.today })) : null,
      each ? h('span', { class: 'counts-queues' }, each.map((q) => h('span', { class: 'counts-queue', 'data-queue': q.queue },
        t('work.counts.queue', { q: q.queue, due: q.due_now, today: q.today })))) : null);
    fill(main.querySelector('.tabs-row'), tabs([
      { id: 'due', label: t('work.tab.due'), count: counts && counts.due_now },
      { id: 'promises', label: t('work.tab.promises'), count: counts && counts.promises_due },
      { id: 'broken', label: t('work.tab.broken'), count: counts && counts.broken },
    ], tab, (id) => { tab = id; loadTab(false); }));
    if (!items.length) {
      fill(list, empty(t(noQueue() ? 'work.empty.noqueue' : 'work.empty.' + tab)));
      return;
    }
    fill(list, phone() ? cards(items, tab, counts, !!next) : desk(items, tab),
      next ? h('button', { type: 'button', class: 'btn more', onclick: (e) => loadTab(true, e.currentTarget) }, t('work.more')) : null);
  }
}

// The queues as they are now, for the heading: a supervisor moves a
// collector to other queues (recoup user set --queues) while they are
// signed in, and the page went on naming the queues of the sign-in.
async function readQueues() {
  try {
    const { user } = await get('/v1/me', { quiet401: true });
    if (user && ctx.me && user.name === ctx.me.name) ctx.me.queues = user.queues || [];
  } catch {
    /* the heading keeps the queues known */
  }
}

// An agent left with no queue has nothing to wait for: "come back later"
// sent them back to an empty list all day.
function noQueue() {
  return ctx.me && ctx.me.role === 'agent' && !(ctx.me.queues || []).length;
}

// A promise's row may have no task waiting: the case alone.
function caseHash(it) {
  return '#/case/' + encodeURIComponent(it.case) + (it.task ? '?task=' + encodeURIComponent(it.task) : '');
}

function caseLink(it) {
  return h('a', { href: caseHash(it), class: 'case-id' }, it.case);
}

// Today's tasks by their time; older or later ones by date and time.
function when(iso) {
  return zoneDay(iso) === isoDay(0) ? time(iso) : dateTime(iso);
}

// The promise a Promises due or Broken promises row is there for: which
// amount, by which day (the rows' task may be none, their due time "—").
function promiseText(it) {
  const p = it.promise;
  return p ? t('case.promise', { amount: money(p.amount, it.currency), by: date(p.by), status: word('status', p.status) }) : null;
}

function lastContact(lc) {
  if (!lc) return '—';
  return h('span', { title: dateTime(lc.at) }, word('channel', lc.channel), ' ', relative(lc.at));
}

function desk(items, tab) {
  return table([
    { key: 'due', label: t('work.col.due'), cell: (it) => (it.due ? h('span', { class: new Date(it.due) <= Date.now() ? 'due-now' : null, 'data-due': it.due, title: dateTime(it.due) }, when(it.due)) : '—') },
    { key: 'case', label: t('work.col.case'), cell: caseLink },
    { key: 'borrower', label: t('work.col.borrower'), cell: (it) => (it.borrower && it.borrower.name) || '—' },
    { key: 'dpd', label: t('work.col.dpd'), cell: (it) => dpdBadge(it.dpd) },
    { key: 'amount_due', label: t('work.col.amount'), num: true, cell: (it) => money(it.amount_due, it.currency) },
    { key: 'last', label: t('work.col.last'), cell: (it) => lastContact(it.last_contact) },
    tab !== 'due' ? { key: 'promise', label: t('work.col.promise'), cell: (it) => promiseText(it) || '—' } : null,
  ].filter(Boolean), items, { name: 'work', key: (it) => it.task ?? it.case, onRow: (it) => go(caseHash(it)) });
}

// The field officer's day: by area, in the order the server gave.
// counts: the API's, for the whole queue; more: the list goes on past
// the page loaded.
function cards(items, tab, counts, more) {
  const groups = new Map();
  for (const it of items) {
    const area = (it.borrower && it.borrower.area) || '';
    if (!groups.has(area)) groups.set(area, []);
    groups.get(area).push(it);
  }
  // The day's areas from the API, of the whole queue (the list loaded
  // may hold only the first 100 visits of it); past what the service
  // reads for them, or on a tab without them, the ones loaded, with
  // "+" where more remain.
  const fromApi = tab === 'due' && counts && Array.isArray(counts.areas);
  const plus = fromApi ? counts.areas_complete === false : more;
  const areaCounts = fromApi ? counts.areas.map((x) => [x.area, x.today]) : [...groups].map(([a, l]) => [a, l.length]);
  // Each area isolated, as t() does a value: an Arabic or Hebrew area took
  // the whole line right to left, its count and the next area's name with
  // it, so that a count read as the neighbour's.
  const summary = areaCounts.map(([a, n]) => `${isolate(a || t('work.area.none'))} ${number(n)}${plus ? '+' : ''}`).join(' · ');
  // Today's visits are those due by tonight; the queue's later ones follow
  // in the list, counted apart (tomorrow's were counted as today's).
  // Past the page loaded (100) today's count is the API's, of the whole
  // queue, and the later ones are at least those seen: "100 visits" said
  // of a day of 240.
  const today = isoDay(0);
  const later = items.filter((it) => it.due && zoneDay(it.due) > today).length;
  const todayN = counts && Number.isInteger(counts.today) ? number(counts.today)
    : number(items.length - later) + (more ? '+' : '');
  const laterN = number(later) + (more ? '+' : '');
  // A person with several queues reads each queue's day apart: "6
  // visits" counted their phone queue's calls as visits.
  const each = counts && Array.isArray(counts.queues) && counts.queues.length > 1 ? counts.queues : null;
  const day = each ? t('work.visits.queues', { list: each.map((q) => `${q.queue} ${number(q.today)}`).join(' · ') })
    : t('work.visits', { n: todayN });
  return h('div', { class: 'cards' },
    h('p', { class: 'day' }, tab === 'due' ? [day,
      later ? [' · ', t('work.visits.later', { n: laterN })] : null, summary ? ' · ' : null] : null, summary),
    [...groups].map(([area, list]) => h('section', { class: 'area', 'data-area': area },
      h('h2', {}, area || t('work.area.none')),
      list.map((it) => {
        const b = it.borrower || {};
        return h('article', { class: 'card', 'data-task': it.task },
          // The day too when it is not today, red once due: a visit due ten
          // days ago and one due tomorrow both read "15:00".
          h('div', { class: 'card-top' }, it.due ? h('time', { class: ['when', new Date(it.due) <= Date.now() && 'due-now'], datetime: it.due, 'data-due': it.due,
            title: dateTime(it.due) }, when(it.due)) : null, caseLink(it), dpdBadge(it.dpd)),
          it.promise ? h('div', { class: 'card-promise' }, promiseText(it)) : null,
          h('div', { class: 'name' }, b.name || '—'),
          b.address ? h('div', { class: 'addr' }, b.address, ' ', mapLink(b.address, t('work.map'))) : null,
          // The borrower's numbers, to call before knocking (a third
          // party's stay on the case page, with who they are).
          // Links only while the guard lets a call happen now (it.call, as
          // the case page asks it); else text under the reason.
          callHold(it, b),
          (b.phones || []).map((ph) => h('div', { class: 'card-phone' }, telLink(ph, can('write'), !(it.call && it.call.allowed_now)))),
          b.contacts_unreadable ? h('p', { class: 'hold contacts-unreadable' }, t('case.contacts.unreadable')) : null,
          h('div', { class: 'card-money' }, money(it.amount_due, it.currency)));
      }))));
}

// The guard's reason a card's numbers are not links now ("Not now: outside
// contact hours — until 8:00 AM"), for whom they would be. An item a
// desk's list read carries no call (not asked, undefined): turned into
// a card, its numbers are text and nothing is said until the guard's
// word comes, as on the case page; "the rules could not be read" is for
// a read that failed (null, or the service's guard_unavailable).
function callHold(it, b) {
  if (!can('write') || !(b.phones || []).length || (it.call && it.call.allowed_now) || it.call === undefined) return null;
  const why = it.call ? blockedText(it.call, it.call.timezone) : t('rule.guard_unavailable');
  return h('p', { class: 'hold call-hold', 'data-call-hold': (it.call && it.call.rule) || '' }, why);
}
