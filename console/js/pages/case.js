// One case: who, how much, what the rules allow now, the open promise and
// plan, the forms to record what happened, and the timeline. Every write
// redraws the case and its timeline at once.
import { h, fill } from '../h.js';
import { can } from '../state.js';
import { get, post, qs, enc, findCase } from '../api.js';
import { t, word } from '../i18n.js';
import { money, date } from '../format.js';
import { loading, empty, errorBox, dpdBadge, section, table, telLink, mapLink } from '../ui.js';
import { timeline } from '../timeline.js';
import { rulesPanel, blockedText } from '../rules.js';
import { taskForm, promiseForm, noteForm, isVisit, showBlocked, adoptWrites, followBalance, ARRIVED, ARRIVED_WHERE, arrivalText } from '../forms.js';
import { go, setKeys, restoreDrafts } from '../app.js';
import { claimNext, paintNext } from '../next.js';

// The case is read again every POLL_MS while its page is shown, and when
// the tab comes back to the front (the collector back from a call): a
// payment landed meanwhile changes what the forms may promise.
const POLL_MS = 30000;

async function journalNewestFirst(id) {
  let rows = [];
  let after = null;
  for (let pages = 0; pages < 20; pages++) {
    const page = await get(`/v1/cases/${enc(id)}/journal` + qs({ after, limit: 500 }));
    rows = rows.concat(page.journal || []);
    if (!page.next) break;
    after = page.next;
  }
  return rows.reverse();
}

export function render(main, id, query) {
  const writer = can('write');
  const head = h('div', { class: 'case-head' });
  const facts = h('div', { class: 'case-facts' });
  const contactsBox = h('div', { class: 'contacts-box' });
  const rules = h('div', { class: 'rules-box' }, loading());
  const promise = h('div', { class: 'promise-box' });
  const actions = h('div', { class: 'actions' });
  const tl = h('div', { class: 'timeline-box' }, loading());
  const gone = h('p', { class: 'notice case-gone', role: 'alert' });
  let guard = null;
  let guardAt = 0; // when it was read
  let guardAsks = 0; // the guard reads asked so far
  let kase = null;
  // The case's reads and writes asked so far: a poll's answer is drawn
  // only when nothing was asked after it — neither a read, whose answer
  // may be the newer, nor a save, whose answer is (and is read again).
  let reads = 0;
  main.addEventListener('recoup:write', () => { reads++; });
  let refreshes = 0; // the case's full reads (after a save), by the same rule
  let timelines = 0; // the journal's reads asked
  // A visit record saved here: the field officer's next address is one
  // tap away (My work), where the visit form stood.
  let visitSaved = false;
  // The record just saved ("call · no answer"), said where its form stood
  // once the forms are drawn again: the workflow's next task for the case
  // (a call again tomorrow) drew the same empty form in its place, and a
  // collector could not tell the save from a page that ignored it.
  let recorded = null;

  fill(main, head, gone, h('div', { class: 'case-grid' },
    h('div', { class: 'col-main' }, h('div', { class: 'slot-facts' }, facts),
      h('div', { class: 'slot-rules' }, section(t('case.rules'), rules)),
      h('div', { class: 'slot-promise' }, section(t('case.promise.new'), promise)),
      h('div', { class: 'slot-actions' }, writer ? section(t('case.actions'), actions) : h('p', { class: 'notice readonly' }, t('case.readonly'))),
      h('p', { class: 'notice next-note', role: 'status' }),
      h('p', { class: 'keys' }, writer ? t('case.keys') : '')),
    h('div', { class: 'col-side' }, section(t('case.timeline'), tl))));
  fill(head, loading());
  setKeys({
    c: () => focusForm((f) => !f.classList.contains('visit')),
    p: () => { const el = main.querySelector('.promise-form input[name=amount]'); if (el) el.focus(); },
    n: nextCase,
  });
  refresh();
  let polling = false;
  let timer = setTimeout(poll, POLL_MS);
  // A tab shown again after a night in a pocket (its polls skipped while
  // hidden) kept the evening's links until the guard answered: a word
  // older than a poll holds them meanwhile, and is asked whatever the
  // case's read in flight. Not at every focus: a click into the window
  // on a number would find it gone under the pointer.
  const back = () => {
    if (document.visibilityState !== 'visible') return;
    if (guard && Date.now() - guardAt >= POLL_MS) {
      guard = null;
      drawContacts();
      if (polling) loadGuard(true);
    }
    poll();
  };
  window.addEventListener('focus', back);
  document.addEventListener('visibilitychange', back);
  const stop = () => {
    clearTimeout(timer);
    window.removeEventListener('focus', back);
    document.removeEventListener('visibilitychange', back);
  };
  return stop;

  // Reads the case again and draws what changed: its figures, its promise,
  // the forms' limit and shown balance; never the forms over what is typed
  // in them (drawActions(true)). A failed read waits for the next.
  async function poll() {
    clearTimeout(timer);
    if (!head.isConnected) return stop(); // left, or drawn again (a retry)
    timer = setTimeout(poll, POLL_MS);
    if (polling || !kase || document.visibilityState === 'hidden') return;
    polling = true;
    const asked = ++reads;
    loadGuard(true);
    try {
      const fresh = await get(`/v1/cases/${enc(id)}`);
      // Asked before a save was sent and answered after (a slow network):
      // the case as it was, which would draw the saved task's form again,
      // take the promise just made off the page, or show the old case
      // until the save's own read.
      if (asked !== reads) return;
      fill(gone);
      // Unchanged: nothing drawn, and the journal (pages of it on an old
      // case) is not read again.
      if (JSON.stringify(fresh) === JSON.stringify(kase)) return;
      take(fresh);
      drawCase(true);
      loadTimeline();
    } catch (err) {
      // Paid off and closed, or moved out of this person's queues, while
      // its page was open: said, over what is still typed on it (the
      // next poll, or the person's next action, reads it again).
      if (asked === reads && err.status === 404 && !err.missingRoute) fill(gone, t('case.gone'));
    } finally {
      polling = false;
    }
  }

  // The case read now, into the object the forms were drawn with: their
  // limit (the balance) and prefilled amount follow it.
  function take(fresh) {
    if (!kase || kase.id !== fresh.id) {
      kase = fresh;
      return;
    }
    for (const k of Object.keys(kase)) if (!(k in fresh)) delete kase[k];
    Object.assign(kase, fresh);
  }

  function focusForm(which) {
    const f = [...main.querySelectorAll('.task-form')].find(which);
    if (f) {
      f.scrollIntoView({ block: 'center' });
      f.querySelector('select,input,textarea').focus();
    }
  }

  function nextCase() {
    // Said under the forms, never in their place: a record may be waiting.
    return claimNext(() => main.querySelector('.next-note'));
  }

  async function refresh(again = 0) {
    reads++;
    // Two saves in flight each read the case once answered; the first's
    // read answered after the second's is the case before the second (a
    // promise just made taken off the page), set aside for the newer.
    const mine = ++refreshes;
    try {
      const fresh = await get(`/v1/cases/${enc(id)}`);
      if (mine !== refreshes) return;
      take(fresh);
    } catch (err) {
      if (err.status === 401 || mine !== refreshes) return;
      // The read after a save (no signal on the road, the service busy):
      // the case stays drawn with what is typed beside the form saved,
      // and is read again, less often the longer it fails; a case closed
      // meanwhile is said as the poll says it.
      if (kase) {
        if (err.status === 404 && !err.missingRoute) return fill(gone, t('case.gone'));
        setTimeout(() => { if (head.isConnected && mine === refreshes) refresh(again + 1); }, Math.min(2000 * 2 ** again, POLL_MS));
        return;
      }
      // Opened by an id typed in full-width (/ on Cases or My work): the
      // case it names, at its own address (forms and drafts keep to it).
      if (err.status === 404 && !kase && id.normalize('NFKC') !== id) {
        const found = await findCase(id).catch(() => null);
        if (found && found.id !== id) {
          const q = query.toString();
          return location.replace('#/case/' + enc(found.id) + (q ? '?' + q : ''));
        }
      }
      fill(main, err.status === 404 ? empty(t('case.notfound', { id })) : errorBox(err, () => render(main, id, query)));
      return;
    }
    drawCase();
    loadGuard();
    loadTimeline();
  }

  // Read with the case, and again at each poll: the hours open at 08:00
  // and close at 21:00 with nothing in the case changed.
  // Only the latest asked is drawn: a poll's read and a tab's return may
  // be in flight together, and an older "allowed" answered last brought
  // the links back over a newer "not now".
  async function loadGuard(polled) {
    const mine = ++guardAsks;
    try {
      const answer = await get(`/v1/cases/${enc(id)}/guard`);
      if (mine !== guardAsks) return;
      guard = answer;
      guardAt = Date.now();
      fill(rules, rulesPanel(guard));
    } catch (err) {
      if (mine !== guardAsks) return;
      guard = null;
      if (err.status === 401) return;
      fill(rules, err.missingRoute ? empty(t('case.rules.unavailable')) : errorBox(err, () => loadGuard()));
    }
    drawContacts();
    drawActions(polled);
  }

  // Only the latest asked is drawn: a poll's read of the journal asked
  // before a note was saved and answered after the save's own read took
  // the note off the timeline again (until the case next changed).
  async function loadTimeline() {
    const mine = ++timelines;
    try {
      const rows = await journalNewestFirst(id);
      if (mine !== timelines) return;
      fill(tl, rows.length ? timeline(rows, kase.currency) : empty(t('case.timeline.empty')));
    } catch (err) {
      if (mine === timelines && err.status !== 401) fill(tl, errorBox(err, loadTimeline));
    }
  }

  function saved(answer, task) {
    if (task && isVisit(task)) visitSaved = true;
    const outcome = task && actions.querySelector(`.task-form[data-task="${CSS.escape(String(task.id))}"] select[name=outcome]`);
    if (outcome && outcome.value) recorded = { task, text: t('tl.task_done', { kind: word('kind', task.kind), outcome: word('outcome', outcome.value) }) };
    refresh();
  }

  function drawCase(polled) {
    const c = kase;
    const b = c.borrower || {};
    fill(head,
      h('h1', {}, h('span', { class: 'case-id' }, c.id), ' · ', h('span', { class: 'borrower-name' }, b.name || '—'), ' ', dpdBadge(c.dpd)),
      h('span', { class: 'state', 'data-state': c.state }, c.closed ? t('case.closed', { outcome: c.outcome || c.state })
        : t('case.state', { state: c.state, wf: c.workflow, v: c.version })));
    fill(facts,
      h('p', { class: 'money-line' },
        h('strong', { 'data-balance': c.balance }, t('case.owes', { balance: money(c.balance, c.currency) })), ' · ',
        h('span', { 'data-amount-due': c.amount_due }, t('case.due', { due: money(c.amount_due, c.currency) })),
        c.fees ? ' (' + t('case.fees', { fees: money(c.fees, c.currency) }) + ')' : '',
        c.overpaid ? h('span', { class: 'overpaid' }, ' · ', t('case.overpaid', { amount: money(c.overpaid, c.currency) })) : null),
      c.error ? h('p', { class: 'state error' }, t('case.error', { msg: c.error })) : null,
      b.do_not_contact ? h('p', { class: 'hold' }, t('case.dnc')) : null,
      b.ceased ? h('p', { class: 'hold' }, t('case.ceased')) : null,
      section(t('case.contacts'), contactsBox));
    drawContacts();
    drawPromise();
    drawActions(polled);
  }

  // The numbers are links only while the guard lets a call happen now;
  // outside the borrower's contact hours, or under a cease, they are text
  // with the guard's reason above them. Before the guard's answer, or when
  // it could not be read, no link either (the rules panel says why): the
  // console never invites a call the guard has not allowed. A third
  // party's numbers (the employer's, a family member's) follow the
  // guard's word on calling a third party, not the borrower's: under the
  // institution's third_parties = "none" never links, else links when a
  // call may happen now, under a reminder that no debt details be given.
  function drawContacts() {
    if (!kase) return;
    const b = kase.borrower || {};
    // A guard that names no call (a service listing at most 16 channels,
    // an institution with more) has not allowed one: no link.
    const call = guard && (guard.channels || []).find((ch) => ch.channel === 'call');
    const held = !(call && call.allowed_now);
    // The guard's word on a third party's call is never wider than on
    // the borrower's: an answer naming no call holds theirs too.
    const third = call && guard.third_parties;
    const thirdCall = third && third.call;
    const thirdHeld = !(thirdCall && thirdCall.allowed_now);
    const tel = (p) => telLink(p, writer, held);
    const thirdTel = (p) => telLink(p, writer, thirdHeld);
    const contacts = [];
    for (const p of b.phones || []) contacts.push(h('li', {}, h('span', { class: 'label' }, t('case.phone')), tel(p)));
    if (b.employer && (b.employer.name || b.employer.phone)) contacts.push(h('li', { class: 'third-party' }, h('span', { class: 'label' }, t('case.employer')),
      b.employer.name || '', ' ', b.employer.phone ? thirdTel(b.employer.phone) : ''));
    for (const x of b.contacts || []) contacts.push(h('li', { class: 'third-party' }, h('span', { class: 'label' }, t('case.thirdparty')),
      [x.name, x.relation].filter(Boolean).join(' · '), ' ', x.phone ? thirdTel(x.phone) : ''));
    for (const e of b.emails || []) contacts.push(h('li', {}, h('span', { class: 'label' }, t('case.email')), e));
    if (b.address) contacts.push(h('li', {}, h('span', { class: 'label' }, t('case.address')), b.address, ' ',
      writer ? mapLink(b.address, t('work.map')) : null));
    // Said only over a number it holds back: not over emails alone.
    const thirdNumbers = !!((b.employer && b.employer.phone) || (b.contacts || []).some((x) => x.phone));
    const numbers = (b.phones || []).length || thirdNumbers;
    const why = writer && call && held && numbers ? blockedText(call, guard.timezone) : null;
    fill(contactsBox,
      why ? h('p', { class: 'hold call-hold', 'data-call-hold': call.rule || '' }, why) : null,
      writer && thirdNumbers ? thirdPartyNote(thirdCall, thirdHeld, why) : null,
      // Empty for want of a reading, not of a phone: a collector must not
      // take it for a borrower who gave none.
      b.contacts_unreadable ? h('p', { class: 'hold contacts-unreadable', role: 'alert' }, t('case.contacts.unreadable')) : null,
      contacts.length ? h('ul', { class: 'contacts' }, contacts) : b.contacts_unreadable ? null : empty(t('case.nocontacts')));
  }

  // What a collector reads over a third party's numbers: the reminder
  // while they may be called, else why not — unless the line over all
  // the numbers already says it (at night both wait for 08:00). Nothing
  // before the guard's word (the numbers are text: the rules panel says
  // why).
  function thirdPartyNote(thirdCall, thirdHeld, why) {
    if (!thirdCall) return null;
    if (!thirdHeld) {
      return guard.third_parties.rule === 'no_debt_details'
        ? h('p', { class: 'note third-party-note', 'data-third-parties': 'no_debt_details' }, t('case.thirdparty.nodebt')) : null;
    }
    const hold = (text) => h('p', { class: 'hold third-party-hold', 'data-third-parties': thirdCall.reason || '' }, text);
    if (thirdCall.reason === 'third_parties_not_contacted') return hold(t('case.thirdparty.none'));
    const said = blockedText(thirdCall, guard.timezone);
    return said === why ? null : hold(t('case.thirdparty.held', { why: said }));
  }

  function drawPromise() {
    const c = kase;
    const p = c.promise;
    const plan = c.plan;
    fill(promise,
      p ? h('p', { class: 'open-promise', 'data-promise': p.id }, t('case.promise', { amount: money(p.amount, c.currency), by: date(p.by), status: word('status', p.status) }))
        : h('p', { class: 'muted' }, t('case.nopromise')),
      plan ? h('div', { class: 'plan' }, h('h3', {}, t('case.plan', { status: word('status', plan.status) })),
        table([
          { key: 'seq', label: t('case.plan.col.seq') },
          { key: 'due', label: t('case.plan.col.due'), cell: (i) => date(i.due) },
          { key: 'amount', label: t('case.plan.col.amount'), num: true, cell: (i) => money(i.amount, c.currency) },
          { key: 'paid', label: t('case.plan.col.paid'), num: true, cell: (i) => money(i.paid, c.currency) },
          { key: 'status', label: t('case.plan.col.status'), cell: (i) => word('status', i.status) },
        ], plan.installments || [], { name: 'plan' })) : null);
  }

  // The record forms for the case's open tasks, then a promise and a note.
  // polled: a form typed in or waiting is never drawn again, even when the
  // tasks changed (a save or a refusal redraws it).
  function drawActions(polled) {
    if (!writer || !kase) return;
    const c = kase;
    const tasks = (c.tasks || []).filter((x) => x.outcomes);
    const wanted = query.get('task');
    tasks.sort((a, b) => (String(b.id) === wanted) - (String(a.id) === wanted));
    const channel = (task) => (isVisit(task) ? 'visit' : task.channel || 'call');
    const guardFor = (task) => guard && (guard.channels || []).find((ch) => ch.channel === channel(task));
    const blocked = (task) => blockedText(guardFor(task), guard && guard.timezone);
    // Drawn again only when the tasks changed: neither a note saved nor
    // the guard's answer arriving may wipe a record being typed (the
    // guard's reason goes on the buttons already drawn).
    const drawn = JSON.stringify((c.tasks || []).map((x) => x.id));
    const busy = polled && actions.querySelector('form[data-typed], form [data-held]');
    if ((actions.dataset.drawn === drawn || busy) && actions.childElementCount) {
      followBalance(actions);
      for (const task of tasks) {
        const f = [...actions.querySelectorAll('.task-form')].find((x) => x.dataset.task === String(task.id));
        if (f) showBlocked(f.querySelector('button[type=submit]'), blocked(task));
      }
      return;
    }
    actions.dataset.drawn = drawn;
    // A form typed in, or waiting on its save, stays as it is when the
    // others are drawn again: a call recorded wiped the note and the
    // promise typed beside it.
    const was = [...actions.querySelectorAll('form')];
    const keep = (fresh) => was.find((f) => f.classList[0] === fresh.classList[0] && f.dataset.task === fresh.dataset.task
      && (f.dataset.typed || f.querySelector('[data-held]'))) || fresh;
    const forms = tasks.map((task) => keep(taskForm(task, c, { onSaved: (answer) => saved(answer, task), blocked: blocked(task), onConflict: loadTimeline })));
    const untyped = (c.tasks || []).filter((x) => !x.outcomes);
    const nextVisit = visitSaved && !tasks.some(isVisit)
      ? h('a', { href: '#/work', class: 'btn primary next-visit' }, t('case.nextvisit')) : null;
    // On the road a saved visit leads back to the day's addresses (the
    // officer picks the next stop, not the queue's top task); at a desk
    // — visit records written up after the round, a supervisor entering
    // one — the work goes on as a call's does: Next case, or `n`.
    const done = recorded && !tasks.some((x) => x.id === recorded.task.id)
      ? h('div', { class: 'notice recorded', role: 'status' }, h('span', {}, t('case.recorded', { what: recorded.text })),
        isVisit(recorded.task) && phoneWide() ? null : paintNext(h('button', { type: 'button', class: 'btn primary next', onclick: nextCase })))
      : null;
    recorded = null;
    fill(actions, done, nextVisit,
      forms.length ? forms : h('p', { class: 'muted actions-note' }, t('case.notask')),
      untyped.length ? h('p', { class: 'muted' }, untyped.map((x) => `${word('kind', x.kind)} #${x.id}`).join(', ')) : null,
      h('div', { class: 'side-forms' }, keep(promiseForm(c, saved)), keep(noteForm(c, saved))));
    followBalance(actions);
    const why = restoreDrafts(actions, draftGone);
    if (why && why !== 'redrawn') fill(actions.querySelector('.form-status') || actions, t(why === 'expired' ? 'case.restored' : 'case.restored.left'));
    adoptWrites(actions);
    // Not when read again by the poll: the page stays where it was read.
    if (!polled && isPhoneVisit(forms)) forms[0].scrollIntoView({ block: 'start' });
  }

  // A record typed for a task recorded meanwhile: its words go into the
  // note box (when empty), not saved, with why; nothing typed is lost.
  function draftGone(values) {
    const own = new Set(['outcome', ARRIVED, ARRIVED_WHERE, 'arrived-share']);
    const words = values.filter(([name, v]) => !own.has(name) && typeof v === 'string' && v.trim())
      .map(([name, v]) => `${word('field', name)}: ${v.trim()}`);
    const arrival = values.find(([name, v]) => name === ARRIVED && v);
    const where = values.find(([name, v]) => name === ARRIVED_WHERE && v);
    if (arrival) words.push(arrivalText(arrival[1], where ? where[1] : null));
    const outcome = values.find(([name]) => name === 'outcome');
    if (outcome && outcome[1]) words.unshift(word('outcome', outcome[1]));
    const box = actions.querySelector('.note-form textarea');
    if (!words.length || !box) return false;
    if (!box.value.trim()) {
      box.value = words.join('\n');
      box.form.dataset.typed = '1';
    }
    fill(box.form.querySelector('.form-status'), t('case.restored.gone'));
    return true;
  }

  function isPhoneVisit(forms) {
    return forms.length && forms[0].classList.contains('visit') && phoneWide();
  }
}

function phoneWide() {
  return window.matchMedia('(max-width: 640px)').matches;
}
