// The one way data reaches the page: h(tag, attrs, ...children) builds DOM
// with textContent and setAttribute only. Borrower names, notes and replies
// are untrusted; a string child is always text, never markup.

const URL_ATTRS = new Set(['href', 'src', 'action']);

// Links the console makes: its own hash routes, tel:, mailto: and the map
// search. Anything else (javascript:, data:) is dropped.
function safeUrl(v) {
  const s = String(v);
  if (/^(#|\/(?!\/)|tel:|mailto:|https:\/\/www\.openstreetmap\.org\/)/i.test(s)) return s;
  return '#';
}

// Text that can turn the text around it (bidi controls: U+202E, the
// right-to-left override, reverses everything after it to the end of its
// paragraph, the label words after a borrower's name or a note included;
// right-to-left letters take neighbouring digits and signs along) is
// isolated: shown in a <bdi>, which closes whatever it opened and sets its
// own direction from its first strong letter (as FSI … PDI would, but
// without characters: those went along into what a collector copied, and
// a pasted phone number holding U+2068 did not dial).
// Only such text: our own words are zh-CN and en, and text without any
// stays as it was (the tests read it back exactly).
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]|\ud802[\udc00-\udfff]|\ud83a[\udc00-\udfff]/;

// Inside a string (t() fills its words with values) isolate() marks such
// a value with two noncharacters, which append() turns into a <bdi>: a
// string cannot hold an element. A value's own marks are not ours and
// become U+FFFD, so what a borrower typed cannot close ours early.
const OPEN = '\ufdd0';
const CLOSE = '\ufdd1';
const MARKS = /[\ufdd0\ufdd1]/g;

export function isolate(s) {
  s = String(s);
  return BIDI.test(s) ? OPEN + s.replace(MARKS, '\ufffd') + CLOSE : s;
}

// Where no element may stand (an attribute, an <option>'s text) the
// marks become the characters FSI and PDI: nobody copies those.
function marksAsCharacters(s) {
  return s.replace(MARKS, (m) => (m === OPEN ? '\u2068' : '\u2069'));
}

const TEXT_ONLY = new Set(['OPTION', 'TEXTAREA', 'TITLE']);

// A string as nodes: each marked part a <bdi>; the whole in one too when
// what lies outside the marks can turn text (a value put in by hand).
function textNodes(s) {
  const bdi = (nodes) => {
    const el = document.createElement('bdi');
    el.append(...nodes);
    return el;
  };
  const nodes = [];
  let inside = null;
  // A mark that opens nothing or closes nothing is not ours (a raw
  // string's own, such as a borrower's name holding U+FDD0 twice): shown
  // as U+FFFD, as isolate() shows one inside a value. Before, a second
  // open mark began the <bdi> again and what stood since the first one
  // was not shown at all.
  for (const part of s.split(/([\ufdd0\ufdd1])/)) {
    if (part === OPEN && !inside) inside = [];
    else if (part === CLOSE && inside) {
      nodes.push(bdi(inside));
      inside = null;
    } else if (part === OPEN || part === CLOSE) (inside || nodes).push(document.createTextNode('\ufffd'));
    else if (part) (inside || nodes).push(document.createTextNode(part));
  }
  if (inside) nodes.push(bdi(inside));
  const outside = s.replace(/\ufdd0[^\ufdd1]*\ufdd1?/g, '');
  return BIDI.test(outside) ? [bdi(nodes)] : nodes;
}

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'disabled' || k === 'selected') {
      el[k] = !!v;
    } else if (k === 'style') {
      throw new Error('inline style is refused by the CSP: use a class');
    } else {
      el.setAttribute(k, URL_ATTRS.has(k) ? safeUrl(v) : marksAsCharacters(String(v === true ? '' : v)));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else if (TEXT_ONLY.has(el.tagName)) el.appendChild(document.createTextNode(marksAsCharacters(isolate(c))));
    else el.append(...textNodes(String(c)));
  }
}

// Replaces what el holds with children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
