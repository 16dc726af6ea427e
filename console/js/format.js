// Money, dates and days past due, formatted by Intl with the institution's
// locale, currency and zone. Money stays integer minor units everywhere;
// dividing happens only to display.
import { ctx } from './state.js';

const nf = new Map();
function currencyFormat(currency, locale = ctx.locale) {
  const key = locale + currency;
  if (!nf.has(key)) nf.set(key, new Intl.NumberFormat(locale, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' }));
  return nf.get(key);
}

// Digits after the point in the currency (CNY 2, JPY 0, KWD 3).
export function minorDigits(currency) {
  return currencyFormat(currency || ctx.currency).resolvedOptions().maximumFractionDigits;
}

export function money(minor, currency) {
  if (minor === null || minor === undefined) return '—';
  const cur = currency || ctx.currency;
  return currencyFormat(cur).format(Number(minor) / 10 ** minorDigits(cur));
}

// Major units typed by a person ("2,714.76", "¥ 1000") to integer minor
// units by reading the digits as a string: 2714.76 * 100 in floating point
// is 271475.99999999997. Returns null when the text is not an amount.
// A Chinese input method in full-width mode types "１，０００．５０": NFKC
// reads those as the ASCII digits, comma and point (and ￥ as ¥).
// A comma or space only groups thousands (or India's lakhs): "12,50" and
// "1,5" meant 12.50 and 1.5 and were read as 1250 and 15. A sign or code
// only of the case's own currency: "$100" on a yuan case was ¥100.
export function parseMoney(text, currency) {
  const cur = currency || ctx.currency;
  const digits = minorDigits(cur);
  let s = String(text).normalize('NFKC').trim();
  for (const sign of currencySigns(cur)) {
    if (s.toUpperCase().startsWith(sign)) s = s.slice(sign.length).trim();
    else if (s.toUpperCase().endsWith(sign)) s = s.slice(0, -sign.length).trim();
  }
  const m = /^(\d+(?:[,\s]\d+)*)(?:\.(\d*))?$/.exec(s);
  if (!m) return null;
  const groups = m[1].split(/[,\s]/);
  if (groups.length > 1 && (groups[0].length > 3 || groups[groups.length - 1].length !== 3
    || groups.slice(1, -1).some((g) => g.length !== 2 && g.length !== 3))) return null;
  const frac = m[2] || '';
  if (frac.length > digits) return null;
  const n = Number(groups.join('') + frac.padEnd(digits, '0'));
  return Number.isSafeInteger(n) ? n : null;
}

// A whole number typed by a person ("12", "-3", "１２" from a full-width
// input method, read by NFKC as the amounts are), or null: "1.5", "1e3",
// "0x10", "12 5" are not whole numbers a field may take.
export function parseWhole(text) {
  const s = String(text).normalize('NFKC').trim().replace(/^\u2212/, '-');
  if (!/^-?\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

// The code and symbols a person may type around an amount of currency
// (CNY, CN¥, ¥), longest first, upper case.
const signs = new Map();
function currencySigns(currency) {
  if (!signs.has(currency)) {
    const all = new Set([currency.toUpperCase()]);
    for (const locale of ['en', ctx.locale]) {
      for (const display of ['symbol', 'narrowSymbol']) {
        try {
          const part = new Intl.NumberFormat(locale, { style: 'currency', currency, currencyDisplay: display })
            .formatToParts(1).find((p) => p.type === 'currency');
          if (part) all.add(part.value.normalize('NFKC').toUpperCase());
        } catch {
          /* a locale the browser lacks: the code still counts */
        }
      }
    }
    signs.set(currency, [...all].sort((a, b) => b.length - a.length));
  }
  return signs.get(currency);
}

// Minor units back to what the amount input shows (no grouping, no symbol).
export function moneyInput(minor, currency) {
  const digits = minorDigits(currency || ctx.currency);
  const s = String(Math.abs(minor)).padStart(digits + 1, '0');
  return digits ? s.slice(0, -digits) + '.' + s.slice(-digits) : s;
}

function dtf(opts, zone) {
  try {
    return new Intl.DateTimeFormat(ctx.locale, { timeZone: zone || ctx.timezone, ...opts });
  } catch {
    return new Intl.DateTimeFormat(ctx.locale, opts);
  }
}

export function dateTime(iso, zone) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return dtf({ dateStyle: 'medium', timeStyle: 'short' }, zone).format(d);
}

export function time(iso, zone) {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : dtf({ hour: '2-digit', minute: '2-digit' }, zone).format(d);
}

// An instant as the institution's wall clock reads it, 'YYYY-MM-DD HH:MM'
// (digits whatever the locale): to tell whether another zone's clock
// differs from it.
export function wallClock(iso, zone) {
  const d = new Date(iso);
  if (isNaN(d)) return null;
  let f;
  try {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone || ctx.timezone, hourCycle: 'h23',
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  } catch {
    return null;
  }
  const p = f.formatToParts(d).reduce((o, x) => ((o[x.type] = x.value), o), {});
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

// A calendar date ("2026-12-05") is not an instant: formatted as written.
export function date(s) {
  if (!s) return '—';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(s).slice(0, 10));
  if (!m) return String(s);
  return new Intl.DateTimeFormat(ctx.locale, { dateStyle: 'medium', timeZone: 'UTC' })
    .format(new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])));
}

// Today in the institution's zone plus days, as YYYY-MM-DD.
export function isoDay(days = 0) {
  return zoneDay(new Date(Date.now() + days * 86400000));
}

// The institution's date of an instant, YYYY-MM-DD: the first ten
// characters of an ISO time are the date at its own offset, which is
// another day than the institution's near midnight.
export function zoneDay(instant) {
  const d = new Date(instant);
  if (isNaN(d)) return String(instant).slice(0, 10);
  const parts = dtf({ year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(d).reduce((o, p) => ((o[p.type] = p.value), o), {});
  return `${parts.year}-${parts.month}-${parts.day}`;
}

export function relative(iso) {
  if (!iso) return '—';
  const diff = (new Date(iso) - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(ctx.locale, { numeric: 'auto' });
  const a = Math.abs(diff);
  if (a < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  return rtf.format(Math.round(diff / 86400), 'day');
}

export function number(n) {
  return n === null || n === undefined ? '—' : new Intl.NumberFormat(ctx.locale).format(n);
}

export function percent(x) {
  return x === null || x === undefined ? '—'
    : new Intl.NumberFormat(ctx.locale, { style: 'percent', maximumFractionDigits: 1 }).format(x);
}

export function dpdBucket(dpd) {
  if (!dpd || dpd <= 0) return 'current';
  if (dpd <= 30) return '1-30';
  if (dpd <= 60) return '31-60';
  if (dpd <= 90) return '61-90';
  return '90+';
}

// A phone number in the groups people read aloud and check against what
// the borrower says: the API's E.164 ran 13 digits together
// (+8613800039595). China's mobiles go 3-4-4 after the country code
// (+86 138 0003 9595), its landlines by area code (+86 21 5000 0444; 10
// and 2x are two digits, the others three). Other countries' numbers,
// masked ones (+86*******001) and anything not plain E.164 are one group.
// The page spaces the groups with CSS, not characters: a number copied
// from it pastes into a dialler as stored.
export function phoneGroups(phone) {
  const s = String(phone);
  let m = /^\+86(1\d{2})(\d{4})(\d{4})$/.exec(s);
  if (m) return ['+86', m[1], m[2], m[3]];
  m = /^\+86(10|2\d|[3-9]\d{2})(\d{7,8})$/.exec(s);
  if (m) return ['+86', m[1], m[2].slice(0, -4), m[2].slice(-4)];
  return [s];
}

// A borrower calls in: the collector types the number as seen or heard,
// "138 0013 8000", "+86 138-0013-8000". Only digits and the marks a
// number is written with, seven digits at least: a case id has letters
// or is shorter (the service reads the number as the import does).
export function looksLikePhone(text) {
  return /^\+?[\d\s\-().]+$/.test(text) && (text.match(/\d/g) || []).length >= 7;
}
