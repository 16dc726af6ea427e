// "The rules now": what the guard allows on this case at this moment, from
// GET /v1/cases/{id}/guard (the guard's own answer, never a second copy of
// the rules), in the borrower's own time.
import { h } from './h.js';
import { t, word, has } from './i18n.js';
import { time, dateTime } from './format.js';

// Why a channel may not be used now and until when, or null when it may.
export function blockedText(ch, zone) {
  if (!ch || ch.allowed_now) return null;
  const why = word('rule', ch.rule);
  return ch.next ? t('case.blocked', { why, until: dateTime(ch.next, zone) }) : t('case.blocked.never', { why });
}

// "calls this week: 1 of 3"; a window of N days ("30d") says so.
function windowText(channel, w) {
  const vars = { channel, used: w.used, limit: w.limit };
  if (has('case.rules.window.' + w.per)) return t('case.rules.window.' + w.per, vars);
  const days = /^(\d+)d$/.exec(w.per || '');
  if (days) return t('case.rules.window.days', { ...vars, n: days[1] });
  return t('case.rules.window', { ...vars, per: w.per });
}

export function rulesPanel(g) {
  const zone = g.timezone;
  const holds = Object.entries(g.holds || {}).filter(([, on]) => on).map(([k]) => t('hold.' + k));
  return h('div', { class: 'rules', 'data-rules': '' },
    h('p', { class: 'zone' }, t('case.rules.zone', { zone, time: time(g.borrower_time, zone) })),
    h('ul', { class: 'channels' }, (g.channels || []).map((ch) => {
      const name = word('channel', ch.channel);
      const blocked = blockedText(ch, zone);
      return h('li', { class: ['channel', ch.allowed_now ? 'ok' : 'no'], 'data-channel': ch.channel },
        (ch.windows || []).map((w) => h('span', { class: 'window', 'data-per': w.per },
          w.limit === null || w.limit === undefined ? t('case.rules.nolimit', { channel: name })
            : windowText(name, w))),
        h('span', { class: 'next' }, t('case.rules.next', {
          channel: word('one', ch.channel),
          when: ch.allowed_now ? t('case.rules.now') : ch.next ? dateTime(ch.next, zone) : t('case.rules.never'),
        })),
        ch.hours ? h('span', { class: 'hours' }, t('case.rules.hours', { hours: ch.hours })) : null,
        blocked ? h('span', { class: 'why' }, word('rule', ch.rule)) : null);
    })),
    h('p', {}, g.pause_until ? t('case.rules.pause', { until: dateTime(g.pause_until, zone) }) : t('case.rules.nopause')),
    h('p', { class: holds.length ? 'holds on' : 'holds' }, holds.length ? t('case.rules.holds', { list: holds.join(', ') }) : t('case.rules.noholds')));
}
