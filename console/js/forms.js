// The case's action forms. A task's form is drawn from its kind's declared
// outcomes (GET /v1/cases/{id} tasks[].outcomes): pick an outcome and its
// fields appear, typed as declared. A record that cannot be sent stays on
// the page marked "not saved yet" and goes again on the next tap: the
// server answers the same body again with 200, so a resend never doubles.
import { h, fill } from './h.js';
import { get, post, enc } from './api.js';
import { t, word } from './i18n.js';
import { parseMoney, parseWhole, moneyInput, money, isoDay, time } from './format.js';
import { ctx, personName } from './state.js';
import { dropDraft } from './app.js';
import { field, clearErrors, showError } from './ui.js';

const NOTE_MAX = 4096; /* ENGINE_NOTE_MAX, include/recoup/engine.h */
// The hidden field holding a visit's arrival (not a declared field's name).
export const ARRIVED = 'arrived-stamp';
export const ARRIVED_WHERE = 'arrived-where';

// "Arrived at 10:07", and where when the officer shared it.
export function arrivalText(at, where) {
  return where ? t('case.arrived.at.where', { time: time(at), where }) : t('case.arrived.at', { time: time(at) });
}
const VISIT_KINDS = new Set(['visit', 'home_visit', 'workplace_visit']);
export const isVisit = (task) => VISIT_KINDS.has(task.kind) || task.channel === 'visit';

// A declared field as {type, optional, choices, min, max}, from the
// contract's object shape or the Lua shorthand ("money", "text?",
// {"a","b"}). min and max: an int's, or money's in minor units.
function spec(s) {
  if (Array.isArray(s)) return { type: 'choices', optional: false, choices: s };
  if (typeof s === 'string') return { type: s.replace(/\?$/, ''), optional: s.endsWith('?'), choices: null };
  const o = s || {};
  const choices = Array.isArray(o.choices) ? o.choices : Array.isArray(o.type) ? o.type : null;
  const bound = (v) => (Number.isSafeInteger(v) ? v : null);
  return { type: choices ? 'choices' : o.type || 'text', optional: !!o.optional, choices,
    min: bound(o.min), max: bound(o.max) };
}

// A whole number or an amount against the declared bounds: the words
// the service's 422 would say, before sending.
function outOfBounds(s, n, currency) {
  const show = (v) => (s.type === 'money' ? money(v, currency) : String(v));
  if (s.min !== null && n < s.min) return t(`case.${s.type}.min`, { min: show(s.min) });
  if (s.max !== null && n > s.max) return t(`case.${s.type}.max`, { max: show(s.max) });
  return null;
}

function outcomeFields(o) {
  if (!o) return {};
  return o.fields || Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'conversation'));
}

function input(name, s, c) {
  switch (s.type) {
    case 'money': return h('input', { name, inputmode: 'decimal', autocomplete: 'off', class: 'money',
      value: name === 'amount' && c.amount_due ? moneyInput(c.amount_due, c.currency) : '' });
    case 'date': return h('input', { name, type: 'date', value: name === 'by' ? isoDay(7) : '', min: name === 'by' ? isoDay(0) : null });
    case 'bool': return h('input', { name, type: 'checkbox' });
    case 'int': return h('input', { name, inputmode: 'numeric', autocomplete: 'off', min: s.min, max: s.max });
    case 'choices': return h('select', { name },
      s.optional ? h('option', { value: '' }, '—') : null,
      s.choices.map((v) => h('option', { value: v }, word('choice', v))));
    default: return name === 'said' || name === 'text' || name === 'reason'
      ? h('textarea', { name, rows: 2 }) : h('input', { name, autocomplete: 'off' });
  }
}

// A promise above what the case owes: the service refuses it (422
// amount), said here first, with the balance, in the person's words.
function aboveBalance(m, c) {
  return typeof c.balance === 'number' && m > c.balance
    ? t('case.promise.above', { balance: money(c.balance, c.currency) }) : null;
}

// The balance a promise is held to, beside its amount; followBalance
// keeps it the case's as the case is read again.
function balanceHint(c) {
  return typeof c.balance === 'number'
    ? h('span', { 'data-balance-hint': '' }, t('case.promise.atmost', { balance: money(c.balance, c.currency) })) : null;
}

// An amount refused as above the balance: marked, so that the refusal
// follows the balance when it changes (said with the new one, or gone).
function sayAbove(form, text) {
  showError(form, { field: 'amount' }, text);
  const slot = form.querySelector('[data-error-for="amount"]');
  if (slot) slot.dataset.above = '';
}

// The case under box was read again (case.js polls it): each form's shown
// balance and refusal above it follow, and a promise form nobody typed in
// takes the amount due now. What was typed stays as typed.
export function followBalance(box) {
  for (const form of box.querySelectorAll('form')) {
    const hook = hooks.get(form);
    if (!hook) continue;
    const c = hook.c;
    for (const el of form.querySelectorAll('[data-balance-hint]')) {
      const hint = balanceHint(c);
      if (hint) el.replaceWith(hint);
    }
    const amount = form.elements.amount;
    if (!amount || amount.dataset.held !== undefined) continue;
    const slot = form.querySelector('[data-error-for="amount"]');
    if (slot && slot.dataset.above !== undefined) {
      const m = parseMoney(amount.value, c.currency);
      const above = m === null ? null : aboveBalance(m, c);
      fill(slot, above || '');
      if (!above) delete slot.dataset.above;
    }
    if (form.classList.contains('promise-form') && !form.dataset.typed)
      amount.value = c.amount_due ? moneyInput(c.amount_due, c.currency) : '';
  }
}

// Reads the declared fields from the form: {body} or {error: {field, text}}.
// promise: the outcome is a promise (its amount is held to the balance).
function collect(form, fields, c, promise) {
  const currency = c.currency;
  const body = {};
  for (const [name, raw] of Object.entries(fields)) {
    const s = spec(raw);
    const el = form.elements[name];
    if (!el) continue;
    if (s.type === 'bool') {
      if (el.checked || !s.optional) body[name] = el.checked;
      continue;
    }
    const v = el.value.trim();
    if (!v) {
      if (s.optional) continue;
      return { error: { field: name, text: t('case.required') } };
    }
    if (s.type === 'money') {
      const m = parseMoney(v, currency);
      if (m === null) return { error: { field: name, text: t('case.badmoney') } };
      // A promise of ¥0.00 is no promise (the service took one on a task).
      if (m === 0 && name === 'amount') return { error: { field: name, text: t('case.zeromoney') } };
      const above = promise && name === 'amount' ? aboveBalance(m, c) : null;
      if (above) return { error: { field: name, text: above, above: true } };
      const bounds = outOfBounds(s, m, currency);
      if (bounds) return { error: { field: name, text: bounds } };
      body[name] = m;
    } else if (s.type === 'date' && name === 'by' && v < isoDay(0)) {
      return { error: { field: name, text: t('case.promise.past') } };
    } else if (s.type === 'int') {
      const n = parseWhole(v);
      if (n === null) return { error: { field: name, text: t('case.badint') } };
      const bounds = outOfBounds(s, n, currency);
      if (bounds) return { error: { field: name, text: bounds } };
      body[name] = n;
    } else body[name] = v;
  }
  return { body };
}

// Sends body to path from form; keeps it as "not saved yet" when it may
// not have been done (no connection, no answer, the service failing).
// before: a request to make first (claiming the task), skipped once done;
// an answer from it is the write found done already, not sent again.
// onConflict: the task was recorded first elsewhere (another tab, a
// supervisor): what this form holds stays, the caller shows the other.
// A write still unanswered after 20 s is slow, not failed: the form says
// it is still waiting and takes the answer when it comes. Save is on
// again meanwhile (a resend is the same write: the same body, the note's
// key); it takes the first one's place.
const inflight = new WeakMap(); // form → the AbortController of its write
// Writes unanswered, by the path they went to (a case's promises or
// notes, a task's completion): the case drawn again meanwhile (the
// language switched, the case left and opened again) shows the wait on
// its new form and takes the answer there, where the person looks; the
// form that sent it is no longer on the page.
// Another person signed in on the tab meanwhile adopts none of them.
const pending = new Map(); // 'user path' → the answer (a Promise)
const writeKey = (path) => `${ctx.me ? ctx.me.name : ''} ${path}`;
// A visit's position asked for and not answered yet, by task id:
// {at (the arrival it is for), why (the i18n key said under the time)}.
const asking = new Map();
const hooks = new WeakMap(); // form → {path, c (its case), onSaved, onConflict}

function track(form, path, c, onSaved, onConflict) {
  hooks.set(form, { path, c, onSaved, onConflict });
  return form;
}

async function send(form, button, path, body, onSaved, before, onConflict) {
  clearErrors(form);
  if (inflight.has(form)) inflight.get(form).abort();
  const mine = new AbortController();
  inflight.set(form, mine);
  button.disabled = true;
  fill(form.querySelector('.form-status'), t('case.saving'));
  form.classList.remove('unsaved', 'waiting');
  hold(form);
  // Said to the page before anything is sent: a read of the case asked
  // before this write and answered after it is the case as it was.
  form.dispatchEvent(new CustomEvent('recoup:write', { bubbles: true }));
  // The claim before a record is as slow as the record on a busy service.
  const opts = { slow: () => waiting(form, button), signal: mine.signal };
  const page = location.hash;
  const who = ctx.me && ctx.me.name;
  const at = writeKey(path);
  const write = (async () => (before ? await before(opts) : null) || post(path, body, opts))();
  pending.set(at, write);
  // Saved after the case was left: the draft kept on leaving is no draft.
  write.then(() => { if ((ctx.me && ctx.me.name) === who) dropDraft(page, form); }, () => {})
    .finally(() => { if (pending.get(at) === write) pending.delete(at); });
  try {
    answered(form, await write, onSaved);
  } catch (err) {
    if (err.code === 'superseded') return; // the resend answers
    refused(form, err, onConflict);
  } finally {
    if (inflight.get(form) === mine) {
      inflight.delete(form);
      button.disabled = false;
    }
  }
}

function waiting(form, button) {
  form.classList.add('waiting');
  fill(form.querySelector('.form-status'), t('case.stillwaiting'));
  button.disabled = false;
}

// While a write is unanswered its fields are held as sent: Save again
// (on once it is slow) resends that record, the note's key with its text,
// not an edit of it, which would be a second note or promise beside the
// first, or a record of a task the first closed said to be someone else's.
// A held field looks read-only (console.css, [data-held]) and tells a
// screen reader so, and why: it is described by the form's status (saving,
// still waiting — do not retype).
let statusIds = 0;
function hold(form) {
  const status = form.querySelector('.form-status');
  if (status && !status.id) status.id = 'form-status-' + ++statusIds;
  for (const el of form.elements) {
    if (el.type === 'hidden' || el.type === 'submit' || el.type === 'button' || el.disabled || el.readOnly) continue;
    el.dataset.held = '';
    if (el.tagName === 'SELECT' || el.type === 'checkbox') el.disabled = true;
    else el.readOnly = true;
    el.setAttribute('aria-readonly', 'true');
    if (status) el.setAttribute('aria-describedby', status.id);
  }
}

function unhold(form) {
  form.classList.remove('waiting');
  for (const el of form.querySelectorAll('[data-held]')) {
    delete el.dataset.held;
    el.disabled = false;
    el.readOnly = false;
    el.removeAttribute('aria-readonly');
    el.removeAttribute('aria-describedby');
  }
}

function answered(form, answer, onSaved) {
  delete form.dataset.typed; // saved: no draft to keep
  unhold(form);
  fill(form.querySelector('.form-status'), t('case.saved'));
  onSaved(answer);
}

function refused(form, err, onConflict) {
  const status = form.querySelector('.form-status');
  unhold(form);
  if (err.status === 401) return;
  err.currency = form.dataset.currency || null;
  // A payment landed since the case was read: the balance the service
  // names is what the form holds a promise to from now on.
  const balance = err.status === 422 && err.field === 'amount' && /exceeds the balance \((\d+)\)/.exec(err.message || '');
  if (balance && hooks.has(form)) {
    const c = hooks.get(form).c;
    c.balance = Number(balance[1]);
    for (const el of form.querySelectorAll('[data-balance-hint]')) el.replaceWith(balanceHint(c));
  }
  if (err.unsent) {
    form.classList.add('unsaved');
    fill(status, t(err.code === 'offline' ? 'case.notsaved' : err.code === 'timeout' ? 'case.notsaved.timeout'
      : 'case.notsaved.server', { status: err.status }));
  } else if (err.status === 409 && onConflict) {
    fill(status);
    showError(form, err, t('case.task.gone'));
    onConflict();
  } else if (err.status === 404 && err.field === 'task' && ctx.me && ctx.me.role === 'agent') {
    // A collector is answered as for a task that does not exist when it
    // left their queues (recoup user set --queues, or moved): "no longer
    // exists, look at the case again" sent them back to the same form.
    fill(status);
    showError(form, err, t('case.task.notyours'));
  } else {
    fill(status);
    showError(form, err);
    const slot = balance && form.querySelector('[data-error-for="amount"]');
    if (slot) slot.dataset.above = '';
  }
}

// The forms under box whose write, sent from the page drawn before, is
// still unanswered: each says it is still waiting and takes the answer
// (a tap on Save meanwhile is a resend of its own, as on the first form).
export function adoptWrites(box) {
  for (const form of box.querySelectorAll('form')) {
    const hook = hooks.get(form);
    const write = hook && pending.get(writeKey(hook.path));
    if (!write || inflight.has(form)) continue;
    hold(form);
    waiting(form, form.querySelector('button[type=submit]'));
    const mine = () => !inflight.has(form) && form.classList.contains('waiting');
    write.then((answer) => { if (mine()) answered(form, answer, hook.onSaved); },
      (err) => { if (mine() && err.code !== 'superseded') refused(form, err, hook.onConflict); });
  }
}

// The guard's reason on a form's save button, or none. The guard answers
// after the form is drawn, often once someone has begun typing: its reason
// is put on the button in place, never by drawing the form again.
export function showBlocked(button, blocked) {
  const old = button.querySelector('[data-blocked]');
  if (old) old.remove();
  button.classList.toggle('with-reason', !!blocked);
  if (blocked) button.append(h('span', { class: 'reason', 'data-blocked': '' }, blocked));
}

// The form for one open task. blocked: the guard's reason this contact may
// not happen now, shown on the button before anyone clicks.
export function taskForm(task, c, { onSaved, blocked, onConflict }) {
  const outcomes = task.outcomes || {};
  const names = Object.keys(outcomes);
  const choose = h('select', { name: 'outcome', required: true },
    h('option', { value: '' }, t('case.outcome.pick')), names.map((n) => h('option', { value: n }, word('outcome', n))));
  const fieldsBox = h('div', { class: 'fields' });
  // When the guard would not allow this contact now, the button says why
  // and until when before anyone clicks (a record of a contact that did
  // happen, an inbound call, can still be saved).
  const save = h('button', { type: 'submit', class: 'btn primary' }, t('case.save'));
  showBlocked(save, blocked);
  // The arrival is a field of the form (hidden): kept with the record's
  // draft when the page is drawn again (the language switched, the session
  // ended, the case left and opened again), as what was typed is; it was
  // lost with the drawing, and the record saved without it.
  const arrivedIn = isVisit(task) ? h('input', { type: 'hidden', name: ARRIVED }) : null;
  // Where, only when the officer ticks it (their consent, each visit):
  // the browser's position, kept as the arrival is.
  const whereIn = isVisit(task) ? h('input', { type: 'hidden', name: ARRIVED_WHERE }) : null;
  const consent = isVisit(task) && navigator.geolocation ? h('input', { type: 'checkbox', name: 'arrived-share' }) : null;
  const arrivedAt = h('span', { class: 'arrived-at', role: 'status' });
  const key = String(task.id);
  // What the position asked for says under the time, in the language shown
  // when it is drawn (the form may be drawn again while it is asked).
  const showArrived = () => {
    const a = asking.get(key);
    const why = a && arrivedIn.value && a.at === arrivedIn.value ? a.why : null;
    fill(arrivedAt, arrivedIn.value ? arrivalText(arrivedIn.value, whereIn.value) : '',
      why ? h('span', { class: 'locating' }, t(why)) : null);
  };
  if (arrivedIn) arrivedIn.addEventListener('change', showArrived);
  if (whereIn) whereIn.addEventListener('change', showArrived);
  // The answer goes to this task's form on the page when it comes, not to
  // the one that asked: a phone's fix takes seconds, and the language
  // switched or the session ended meanwhile draws the form again (the
  // position was written into the form no longer shown, and lost).
  const locate = () => {
    const at = arrivedIn.value;
    const ask = { at, why: 'case.arrived.locating' };
    asking.set(key, ask);
    const shown = () => {
      const f = document.querySelector(`form.task-form[data-task="${CSS.escape(key)}"]`);
      return asking.get(key) === ask && f && f.elements[ARRIVED] && f.elements[ARRIVED].value === at ? f : null;
    };
    navigator.geolocation.getCurrentPosition((p) => {
      const f = shown();
      if (!f) return; // tapped again meanwhile: that one asks
      asking.delete(key);
      const where = f.elements[ARRIVED_WHERE];
      where.value = `${p.coords.latitude.toFixed(5)}, ${p.coords.longitude.toFixed(5)} ±${Math.round(p.coords.accuracy)}\u00a0m`;
      where.dispatchEvent(new Event('change'));
    }, (err) => {
      const f = shown();
      if (!f) return;
      ask.why = err.code === 1 ? 'case.arrived.where.denied' : 'case.arrived.where.none';
      f.elements[ARRIVED].dispatchEvent(new Event('change'));
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  };
  const arrive = isVisit(task) ? h('button', {
    type: 'button', class: 'btn big arrived', onclick: () => {
      arrivedIn.value = new Date().toISOString();
      whereIn.value = '';
      asking.delete(key);
      form.dataset.typed = '1';
      if (consent && consent.checked) locate();
      showArrived();
    },
  }, t('case.arrived')) : null;
  const form = h('form', { class: ['task-form', isVisit(task) && 'visit'], 'data-task': task.id, 'data-currency': c.currency, 'data-kind': task.kind, novalidate: true, onsubmit: submit },
    h('h3', {}, t('case.record', { kind: word('kind', task.kind) })),
    // Whose it is, by the name people read (the login on hover).
    task.status === 'claimed' && task.assignee ? h('p', { class: 'muted assignee', 'data-user': task.assignee, title: task.assignee },
      t('work.claimed', { user: personName(task.assignee) })) : null,
    consent ? h('label', { class: 'share-where' }, consent, ' ', t('case.arrived.share')) : null,
    arrive ? h('div', { class: 'arrive' }, arrivedIn, whereIn, arrive, arrivedAt) : null,
    field(t('case.outcome'), choose, 'outcome'),
    fieldsBox,
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'form-foot' }, save, h('span', { class: 'form-status', role: 'status' })));
  const path = `/v1/tasks/${enc(task.id)}/complete`;
  track(form, path, c, onSaved, onConflict);
  choose.addEventListener('change', drawFields);
  if (names.length === 1) {
    choose.value = names[0];
    drawFields();
  }
  return form;

  function drawFields() {
    const fields = outcomeFields(outcomes[choose.value]);
    fill(fieldsBox, Object.entries(fields).map(([name, raw]) => {
      const s = spec(raw);
      const held = choose.value === 'promise' && name === 'amount' ? balanceHint(c) : null;
      return field(word('field', name), input(name, s, c), name, s.optional ? [t('case.optional'), held && ' ', held] : held);
    }));
  }

  // A task still open is claimed before it is completed: the completion
  // then stands in the person's name, and the case stays theirs to see
  // (a completed open task keeps no assignee).
  // A claim done whose answer was lost (no answer in 20 s, a proxy's 504)
  // is refused as taken when sent again: taken by this person, the record
  // goes on, not 'someone else took this task' with the record unsaved.
  async function claimFirst(opts) {
    if (task.status !== 'open' || !ctx.me) return;
    try {
      await post(`/v1/tasks/${enc(task.id)}/claim`, { assignee: ctx.me.name }, opts);
    } catch (err) {
      if (err.status !== 409 || !(await claimedByMe())) throw err;
    }
    task.status = 'claimed';
  }

  async function claimedByMe() {
    try {
      const now = await get(`/v1/cases/${enc(c.id)}`);
      const x = (now.tasks || []).find((y) => String(y.id) === String(task.id));
      return !!x && x.status === 'claimed' && x.assignee === ctx.me.name;
    } catch {
      return false;
    }
  }

  function submit(e) {
    e.preventDefault();
    clearErrors(form);
    if (!choose.value) return showError(form, { field: 'outcome' }, t('case.required'));
    const fields = outcomeFields(outcomes[choose.value]);
    const got = collect(form, fields, c, choose.value === 'promise');
    if (got.error && got.error.above) return sayAbove(form, got.error.text);
    if (got.error) return showError(form, { field: got.error.field }, got.error.text);
    const body = { outcome: choose.value, ...got.body };
    const arrived = (arrivedIn && arrivedIn.value) || null;
    const where = (arrived && whereIn.value) || null;
    // The arrival goes into the record when the outcome declares a place
    // for it (and its position one for that); an undeclared field would be
    // refused (422).
    let placed = false;
    if (arrived) for (const k of ['arrived_at', 'arrived']) if (k in fields) (body[k] = arrived), (placed = true);
    if (placed && where) {
      // A field the officer typed into stays theirs: the position then
      // goes into the note, as it does when no field is declared for it.
      const k = ['arrived_where', 'location'].find((x) => x in fields && !body[x]);
      if (k) body[k] = where;
      else placed = false;
    }
    send(form, save, path, body, (answer) => {
      if (!arrived || placed) return onSaved(answer);
      // Otherwise the arrival is written as a note beside the record.
      // Keyed by the task: a resend of the completion notes it once.
      const text = arrivalText(arrived, where);
      post(`/v1/cases/${enc(c.id)}/notes`, { text, key: `arrival-task-${task.id}` }).catch(() => {
        // No signal between the record and its note: the arrival waits in
        // the note box, said not saved, for the next tap (it was dropped
        // without a word). The note box typed in is kept when the record's
        // save draws the forms again.
        const box = document.querySelector('main .note-form textarea');
        if (!box) return;
        if (!box.value.includes(text)) box.value = box.value.trim() ? `${box.value.trim()}\n${text}` : text;
        box.form.dataset.typed = '1';
        fill(box.form.querySelector('.form-status'), t('case.arrived.unsent'));
      }).finally(() => onSaved(answer));
    }, claimFirst, onConflict);
  }
}

export function promiseForm(c, onSaved) {
  const amount = h('input', { name: 'amount', inputmode: 'decimal', class: 'money', value: c.amount_due ? moneyInput(c.amount_due, c.currency) : '' });
  const by = h('input', { name: 'by', type: 'date', value: isoDay(7), min: isoDay(0) });
  const save = h('button', { type: 'submit', class: 'btn primary' }, t('case.promise.save'));
  const path = `/v1/cases/${enc(c.id)}/promises`;
  const form = h('form', { class: 'promise-form', 'data-currency': c.currency, novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    clearErrors(form);
    const m = parseMoney(amount.value, c.currency);
    if (m === null) return showError(form, { field: 'amount' }, t('case.badmoney'));
    if (m === 0) return showError(form, { field: 'amount' }, t('case.zeromoney'));
    const above = aboveBalance(m, c);
    if (above) return sayAbove(form, above);
    if (!by.value) return showError(form, { field: 'by' }, t('case.required'));
    if (by.value < isoDay(0)) return showError(form, { field: 'by' }, t('case.promise.past'));
    send(form, save, path, { amount: m, by: by.value }, onSaved);
  } },
  h('h3', {}, t('case.promise.new')),
  field(t('case.promise.amount'), amount, 'amount', balanceHint(c)),
  field(t('case.promise.by'), by, 'by'),
  h('p', { class: 'form-error', role: 'alert' }),
  h('div', { class: 'form-foot' }, save, h('span', { class: 'form-status', role: 'status' })));
  return track(form, path, c, onSaved);
}

// A key naming one note (POST .../notes `key`): random, and not
// crypto.randomUUID, which a console served over plain HTTP lacks.
function noteKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return 'note-' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export function noteForm(c, onSaved) {
  const text = h('textarea', { name: 'text', rows: 2 });
  // The note's key, made on its first send and sent again with it: a save
  // whose answer was lost (a timeout, a proxy's 5xx) and sent again is the
  // one note. A hidden field, so a draft kept across sign-in keeps it too;
  // text changed is another note, with a key of its own.
  const key = h('input', { type: 'hidden', name: 'key' });
  text.addEventListener('input', () => { key.value = ''; });
  const save = h('button', { type: 'submit', class: 'btn' }, t('case.note.save'));
  const path = `/v1/cases/${enc(c.id)}/notes`;
  const done = (a) => { text.value = ''; key.value = ''; onSaved(a); };
  const form = h('form', { class: 'note-form', 'data-currency': c.currency, novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!text.value.trim()) return showError(form, { field: 'text' }, t('case.required'));
    // The service keeps NOTE_MAX bytes of UTF-8 (a Chinese character is
    // three): said here, in the person's words, before anything is sent.
    const bytes = new TextEncoder().encode(text.value).length;
    if (bytes > NOTE_MAX) return showError(form, { field: 'text' }, t('case.note.long', { n: bytes, max: NOTE_MAX }));
    if (!key.value) key.value = noteKey();
    send(form, save, path, { text: text.value, key: key.value }, done);
  } },
  key,
  field(t('case.note.text'), text, 'text'),
  h('p', { class: 'form-error', role: 'alert' }),
  h('div', { class: 'form-foot' }, save, h('span', { class: 'form-status', role: 'status' })));
  return track(form, path, c, done);
}
