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
// isolated: FSI before it, PDI after, which closes whatever it opened.
// Only such text: our own words are zh-CN and en, and text without any
// stays as it was (the tests read it back exactly).
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]|\ud802[\udc00-\udfff]|\ud83a[\udc00-\udfff]/;

export function isolate(s) {
  s = String(s);
  return BIDI.test(s) ? '\u2068' + s + '\u2069' : s;
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
      el.setAttribute(k, URL_ATTRS.has(k) ? safeUrl(v) : String(v === true ? '' : v));
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
    else el.appendChild(document.createTextNode(isolate(c)));
  }
}

// Replaces what el holds with children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
