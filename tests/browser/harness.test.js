'use strict';
// The harness itself (no browser): a page's clock is its own book's. On
// b365a5a newPage without clockOffset took the last book started, so a
// file serving a book at 23:30 and another on the real clock had every
// page on the later one's clock, whichever book the page was of.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

let night = null, day = null;
before(async () => {
  night = await h.startBook({ clock: '23:30', setup: false, users: false });
  day = await h.startBook({ setup: false, users: false });
});
after(async () => {
  await h.stopBook(day);
  await h.stopBook(night);
});

// A browser that records the time each new context's clock is set to
// (none: the real clock), and gives pages that do nothing.
function recorder() {
  const installed = [];
  const browser = {
    installed,
    newContext: async () => {
      const at = { time: null };
      installed.push(at);
      return {
        clock: { install: async (o) => { at.time = o.time; } },
        newPage: async () => ({ on() {}, addInitScript: async () => {} }),
        close: async () => {},
      };
    },
  };
  return browser;
}

const hourOf = (ms) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));

test('a page of the night book runs at 23:30 though a book on the real clock was started after it', async () => {
  const b = recorder();
  await h.newPage(null, b, { book: night });
  assert.notEqual(b.installed[0].time, null, 'the page\'s clock was set');
  assert.match(hourOf(b.installed[0].time), /^23:[3-5]\d$/);
  await h.newPage(null, b, { book: day });
  assert.equal(b.installed[1].time, null, 'the day book\'s page keeps the real clock');
});

test('a page given no book while two are served on different clocks is refused, naming what to give', async () => {
  await assert.rejects(h.newPage(null, recorder(), {}), /2 books are served on different clocks: give the page's own book \(opts\.book\)/);
});

test('an explicit clockOffset stands', async () => {
  const b = recorder();
  await h.newPage(null, b, { book: night, clockOffset: 0 });
  assert.equal(b.installed[0].time, null);
});
