// The console's shell: loads the institution and the session, draws the
// top bar and the navigation the role may use, and routes by hash
// (#/work, #/case/MF00231, ...) to one module per page.
import { h, fill } from './h.js';
import { ctx, pagesFor, can, personName } from './state.js';
import { api, get, whenUnauthorized } from './api.js';
import { t, setLocale, savedLocale } from './i18n.js';
import { loading, errorBox } from './ui.js';
import * as signin from './pages/signin.js';
import * as work from './pages/work.js';
import * as cases from './pages/cases.js';
import * as kase from './pages/case.js';
import * as overview from './pages/overview.js';
import * as strategy from './pages/strategy.js';
import * as outbox from './pages/outbox.js';
import { paintLate } from './next.js';

const PAGES = { signin, work, cases, case: kase, overview, strategy, outbox };
const root = document.getElementById('app');
let cleanup = null;
let shown = null; // the hash the page on screen was drawn for
let keys = {};

// The route in the hash: "#/case/MF00231?x=1" → {page, arg, query}.
function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q] = raw.split('?');
  const [page, ...rest] = path.split('/');
  return { page: page || '', arg: rest.map(decodeURIComponent).join('/'), query: new URLSearchParams(q || ''), raw };
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function home() {
  const pages = pagesFor(ctx.me && ctx.me.role);
  return '#/' + (pages[0] || 'cases');
}

// What a person typed into a case's forms, kept in this tab's
// sessionStorage when they leave the case unsaved (a link, the back
// button) or their session ends, and put back when the same person opens
// the same case again: a note half typed is not lost by a wrong click or
// an expired session. Only forms typed into (a form drawn with the amount
// due already in it is no draft), never a password; a form saved is no
// longer a draft; signing out forgets them all.
const DRAFTS = 'recoup.drafts';
const DRAFT_PAGES = 10;
// A case's drafts are the case's, whichever address opened it: My work
// opens #/case/X?task=N, the search and a link #/case/X.
const draftPage = (hash) => String(hash).split('?')[0];
const formKey = (f) => (f.dataset.task ? 'task:' + f.dataset.task : f.className.split(' ')[0]);

document.addEventListener('input', (e) => {
  if (e.target.form) e.target.form.dataset.typed = '1';
});
document.addEventListener('change', (e) => {
  if (e.target.form) e.target.form.dataset.typed = '1';
});

function readDrafts() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(DRAFTS) || 'null');
    return kept && ctx.me && kept.user === ctx.me.name && kept.pages ? kept : { user: ctx.me && ctx.me.name, pages: {} };
  } catch {
    return { user: ctx.me && ctx.me.name, pages: {} };
  }
}

function writeDrafts(kept) {
  try {
    if (Object.keys(kept.pages).length) sessionStorage.setItem(DRAFTS, JSON.stringify(kept));
    else sessionStorage.removeItem(DRAFTS);
  } catch {
    /* storage full or off: the page still goes on */
  }
}

// why: 'expired' (on the way to sign in), 'left' (another page opened) or
// 'redrawn' (the same page drawn again, in the other language).
function keepDrafts(hash, why) {
  if (!ctx.me || !hash) return;
  const forms = [...root.querySelectorAll('main[data-page="case"] form[data-typed]')].map((f) => ({
    key: formKey(f),
    values: [...f.elements].filter((el) => el.name && el.type !== 'password' && el.type !== 'submit' && el.type !== 'button')
      .map((el) => [el.name, el.type === 'checkbox' ? el.checked : el.value]),
  }));
  if (!forms.length) return;
  const kept = readDrafts();
  const at = draftPage(hash);
  delete kept.pages[at];
  kept.pages[at] = { why, forms };
  const hashes = Object.keys(kept.pages);
  for (const old of hashes.slice(0, Math.max(0, hashes.length - DRAFT_PAGES))) delete kept.pages[old];
  writeDrafts(kept);
}

// A form's write answered saved after its case was left: the draft kept
// on leaving is what was saved, no draft to put back as "not saved yet".
export function dropDraft(hash, form) {
  if (!ctx.me) return;
  const kept = readDrafts();
  const at = draftPage(hash);
  const page = kept.pages[at];
  if (!page) return;
  page.forms = page.forms.filter((f) => f.key !== formKey(form));
  if (!page.forms.length) delete kept.pages[at];
  writeDrafts(kept);
}

export function forgetDrafts() {
  try {
    sessionStorage.removeItem(DRAFTS);
  } catch {
    /* nothing kept */
  }
}

// Puts back into the forms under box what keepDrafts kept for this page
// and this person, once: answers why it was kept, or null. A select is
// set first and told of it (a task's outcome draws its fields), then
// what follows it. A draft whose form is no longer drawn (its task was
// recorded meanwhile, by someone else or by the save left running) goes
// to gone(values), not silently away.
export function restoreDrafts(box, gone) {
  if (!ctx.me) return null;
  const kept = readDrafts();
  const at = draftPage(location.hash);
  const page = kept.pages[at];
  if (!page) return null;
  delete kept.pages[at];
  writeDrafts(kept);
  let back = false;
  const missing = [];
  for (const d of page.forms || []) {
    const f = [...box.querySelectorAll('form')].find((x) => formKey(x) === d.key);
    if (!f) {
      missing.push(d);
      continue;
    }
    for (const [name, v] of d.values || []) {
      const el = f.elements[name];
      if (!el || el.type === 'password') continue;
      if (el.type === 'checkbox') el.checked = !!v;
      else el.value = String(v);
      // A select draws its outcome's fields; a hidden field (a visit's
      // arrival) shows what it holds.
      if (el.tagName === 'SELECT' || el.type === 'hidden') el.dispatchEvent(new Event('change'));
    }
    f.dataset.typed = '1';
    back = true;
  }
  // After the forms still drawn: the note box may take the words.
  for (const d of missing) if (gone && gone(d.values || [])) back = true;
  return back ? page.why : null;
}

// Whose the address kept in #/signin?next= is, when a session ended on
// it: that person goes back to it once signed in; another signing in on
// the tab (a shared counter PC) starts at their own start.
const NEXT_OWNER = 'recoup.next.owner';
// Who was last signed in on this tab, until they sign out: a tab whose
// session ended while closed or asleep is opened again (a reload, the
// browser restoring it) with nobody signed in, and its address is still
// that person's, not a link for whoever signs in next.
const TAB_USER = 'recoup.tab.user';

export function afterSignIn(next) {
  let owner = null;
  try {
    owner = sessionStorage.getItem(NEXT_OWNER);
    sessionStorage.removeItem(NEXT_OWNER);
  } catch {
    /* storage off: no owner kept, the address is anyone's link */
  }
  if (!next || (owner && (!ctx.me || owner !== ctx.me.name))) return home();
  return '#' + next;
}

export function toSignin(expired) {
  const r = route();
  if (r.page === 'signin') return; // several requests may fail at once: go once
  if (expired) keepDrafts(location.hash, 'expired');
  try {
    const owner = ctx.me ? ctx.me.name : sessionStorage.getItem(TAB_USER);
    if (owner) sessionStorage.setItem(NEXT_OWNER, owner);
    else sessionStorage.removeItem(NEXT_OWNER);
  } catch {
    /* storage off: the address is followed by whoever signs in */
  }
  const next = r.page && r.page !== 'signin' ? '/' + r.raw : '';
  ctx.me = null;
  ctx.csrf = null;
  location.hash = '#/signin' + (next || expired ? '?' + new URLSearchParams({
    ...(next ? { next } : {}), ...(expired ? { expired: '1' } : {}) }) : '');
}

whenUnauthorized((err) => toSignin(err.code === 'session_expired' || !!ctx.me));

// Who is who (login → display name), read once a sign-in: every page
// after it shows names where the API gives logins. A failed read leaves
// the logins shown.
export async function loadPeople() {
  ctx.people = new Map();
  if (!ctx.me) return;
  try {
    const answer = await get('/v1/people', { quiet401: true });
    for (const p of answer.items || []) if (p.display_name) ctx.people.set(p.name, p.display_name);
  } catch {
    /* the logins stand in */
  }
}

export function signedIn(answer) {
  ctx.me = answer.user;
  ctx.csrf = answer.csrf || null;
  try {
    if (ctx.me) sessionStorage.setItem(TAB_USER, ctx.me.name);
  } catch {
    /* storage off: a reloaded tab's address is anyone's link */
  }
  // Another person signing in on this tab (a shared counter PC) gets
  // nothing of the last one's drafts, not even left in the tab's storage.
  try {
    const kept = JSON.parse(sessionStorage.getItem(DRAFTS) || 'null');
    if (kept && (!ctx.me || kept.user !== ctx.me.name)) forgetDrafts();
  } catch {
    forgetDrafts();
  }
}

function instName() {
  const i = ctx.inst;
  if (!i) return t('app.name');
  return (i.names && typeof i.names === 'object' && i.names[ctx.locale]) || i.name || t('app.name');
}

function topbar() {
  const me = ctx.me;
  return h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: me ? home() : '#/signin' }, instName()),
    h('span', { class: 'spacer' }),
    me ? h('span', { class: 'who', 'data-user': me.name },
      h('span', { class: 'user', title: me.name }, personName(me.name)), ' · ', h('span', { class: 'role' }, t('top.role.' + me.role))) : null,
    h('button', {
      type: 'button', class: 'btn link lang', 'data-lang': ctx.locale === 'zh-CN' ? 'en' : 'zh-CN',
      // The page is drawn again in the other language: what was typed
      // on it comes back (it was wiped), with no word of having left.
      onclick: () => { keepDrafts(location.hash, 'redrawn'); setLocale(ctx.locale === 'zh-CN' ? 'en' : 'zh-CN', true); render(); },
    }, t('lang.switch')),
    me ? h('button', { type: 'button', class: 'btn link signout', onclick: signOut }, t('top.signout')) : null);
}

async function signOut() {
  try {
    await api('DELETE', '/v1/session', undefined, { quiet401: true });
  } catch {
    /* the session may be gone already: signing out still leaves */
  }
  ctx.me = null;
  ctx.csrf = null;
  forgetDrafts();
  try {
    sessionStorage.removeItem(TAB_USER);
  } catch {
    /* nothing kept */
  }
  location.hash = '#/signin';
}

function nav(current) {
  const pages = pagesFor(ctx.me.role);
  return h('nav', { class: 'sidebar', 'aria-label': t('nav.label') },
    pages.map((p) => h('a', {
      href: '#/' + p, class: ['nav', (current === p || (current === 'case' && p === 'cases')) && 'on'],
      'data-nav': p,
    }, t('nav.' + p))));
}

// Keys a page offers (n, c, p, /): ignored while typing in a field.
export function setKeys(map) {
  keys = map || {};
}

// Enter while an input method is composing picks a candidate (the pinyin
// "wang" becomes 王): it must not also send the form the field is in.
// Some browsers and IMEs pass that Enter on to the page; stopping its
// default stops the form's implicit submission, never the composition.
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.isComposing || e.keyCode === 229)) e.preventDefault();
}, true);

document.addEventListener('keydown', (e) => {
  if (e.isComposing) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = e.target && e.target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (e.target && e.target.isContentEditable)) return;
  const fn = keys[e.key];
  if (fn) {
    e.preventDefault();
    fn(e);
  }
});

function render() {
  const r = route();
  if (shown !== location.hash) keepDrafts(shown, 'left');
  shown = location.hash;
  if (cleanup) cleanup();
  cleanup = null;
  setKeys(null);
  document.title = instName();
  if (!ctx.me && r.page !== 'signin') return toSignin(false);
  if (ctx.me && (r.page === '' || r.page === 'signin')) {
    location.hash = home();
    return;
  }
  const page = PAGES[r.page];
  const main = h('main', { class: 'main', id: 'main', 'data-page': r.page });
  if (r.page === 'signin') {
    fill(root, topbar(), h('div', { class: 'signin-wrap' }, main));
  } else {
    fill(root, topbar(), paintLate(h('div', { class: 'late-claim', role: 'status' })),
      h('div', { class: 'body' }, nav(r.page), main));
  }
  if (!page) {
    fill(main, h('p', { class: 'state empty' }, t('app.notfound')));
    return;
  }
  if (r.page !== 'signin' && r.page !== 'case' && !can(r.page)) {
    fill(main, h('p', { class: 'state empty' }, t('app.forbidden')));
    return;
  }
  cleanup = page.render(main, r.arg, r.query) || null;
}

async function boot() {
  fill(root, loading());
  try {
    ctx.inst = await get('/v1/institution');
  } catch {
    ctx.inst = null; /* the page still works, in the browser's defaults */
  }
  const inst = ctx.inst || {};
  ctx.timezone = inst.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;
  ctx.currency = inst.currency || 'CNY';
  setLocale(savedLocale() || inst.locale || navigator.language);
  try {
    signedIn(await get('/v1/me', { quiet401: true }));
    await loadPeople();
  } catch (err) {
    if (err.status !== 401 && err.status !== 404) {
      fill(root, errorBox(err, boot));
      return;
    }
    ctx.me = null;
  }
  window.addEventListener('hashchange', render);
  render();
}

boot();
