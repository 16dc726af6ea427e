// "Next case" (POST /v1/tasks/next) on a bad network. A claim is a
// write: a request unanswered after 20 s may still be claiming, so the
// button says it is still waiting and opens the case when the answer
// comes; a tap meanwhile sends nothing (a second claim would be a second
// request queued behind the first for nothing). An answer lost (no
// connection, a 5xx, no answer in two minutes) is said so; the next tap
// asks again, and the service gives a collector the task it already
// claimed and did not finish before any other (docs/http.md, POST
// /v1/tasks/next): the case claimed opens, nothing more is set aside.
import { h, fill } from './h.js';
import { get, post, enc } from './api.js';
import { t } from './i18n.js';
import { ctx } from './state.js';
import { errorBox } from './ui.js';
import { go } from './app.js';

// The claim unanswered, one a tab: {who, slow}. The page drawn again
// meanwhile (the language switched, My work left and opened again)
// shows its button waiting from it.
let claim = null;

// A claim answered after the person went on (another page, a form being
// typed in): {who, case, hash}, said at the top of every page they open
// until they open that case or set the notice aside.
let late = null;

// Something typed on the page and not saved, or a field being typed in.
function typing() {
  const el = document.activeElement;
  if (el && el.form && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) && el.value) return true;
  return !!document.querySelector('main form[data-typed]');
}

// The late claim's notice into box (under the top bar), or nothing. Drawn
// by the shell on every page; the case it names, opened, ends it.
export function paintLate(box = document.querySelector('.late-claim')) {
  if (!box) return null;
  const mine = late && ctx.me && late.who === ctx.me.name;
  if (mine && location.hash.split('?')[0] === late.hash.split('?')[0]) late = null;
  if (!mine || !late) return fill(box);
  const it = late;
  return fill(box, h('span', {}, t('work.next.late', { case: it.case })), ' ',
    h('a', { href: it.hash, class: 'btn primary open-late', onclick: (e) => openLate(e, it, box) }, t('work.next.late.open', { case: it.case })),
    ' ', h('button', { type: 'button', class: 'btn link dismiss', onclick: () => { late = null; fill(box); } }, t('work.next.late.later')));
}

// The notice may have waited a long while: a supervisor may have moved
// the task to someone else meanwhile, and its form would then meet a
// conflict only at Save. Read again on Open; gone to another (or done,
// or cancelled), it is said instead. A read that fails opens the case
// as before: the case page says what it can.
async function openLate(e, it, box) {
  e.preventDefault();
  let mine = true;
  try {
    const now = await get('/v1/cases/' + enc(it.case));
    const x = (now.tasks || []).find((y) => String(y.id) === String(it.task));
    mine = !!x && x.status === 'claimed' && x.assignee === it.who;
  } catch (err) {
    if (err.status === 401) return;
  }
  if (late !== it) return;
  late = null;
  if (mine) return go(it.hash);
  fill(box, h('span', { class: 'late-gone' }, t('work.next.late.gone', { case: it.case })), ' ',
    h('button', { type: 'button', class: 'btn link dismiss', onclick: () => fill(box) }, t('work.next.late.ok')));
}

// Draws a Next case button as the claim of this tab stands.
export function paintNext(button) {
  const mine = claim && claim.who === (ctx.me && ctx.me.name);
  button.disabled = !!mine;
  fill(button, t(!mine ? 'work.next' : claim.slow ? 'work.next.waiting' : 'work.next.busy'));
  return button;
}

const paintAll = () => document.querySelectorAll('button.next').forEach(paintNext);

// Claims the next task and opens its case; notice (a function giving the
// element, which the page may have drawn again) says why it did not.
export async function claimNext(notice) {
  const who = ctx.me && ctx.me.name;
  if (claim && claim.who === who) return;
  const mine = { who, slow: false };
  claim = mine;
  const from = location.hash;
  paintAll();
  const say = (...what) => { const el = notice(); if (el) fill(el, ...what); };
  say();
  try {
    const answer = await post('/v1/tasks/next', undefined, { slow: () => { mine.slow = true; paintAll(); } });
    const it = answer.task;
    const hash = '#/case/' + enc(it.case) + '?task=' + enc(it.task);
    // The case opens where the person still waits for it: not on a page
    // they went on to meanwhile, nor over a form they began typing in,
    // nor for another person signed in since. Elsewhere it is said, with
    // the case, one tap opening it: the task is theirs now.
    if ((ctx.me && ctx.me.name) !== who) return;
    if (!typing() && (location.hash === from || /^#\/work/.test(location.hash))) go(hash);
    else {
      late = { who, case: it.case, task: it.task, hash };
      paintLate();
    }
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 404 && !err.missingRoute) say(t('work.next.none'));
    else if (err.unsent) say(t('work.next.lost'));
    else say(errorBox(err));
  } finally {
    if (claim === mine) claim = null;
    paintAll();
  }
}
