// The journal as sentences a collector reads: one line per row, newest
// first, with who did it (the row's `user`). Words come from i18n; values
// from the row are text, never markup.
import { h } from './h.js';
import { personName } from './state.js';
import { t, word, ruleName } from './i18n.js';
import { money, dateTime, date, wallClock } from './format.js';

// currency: the case's. A promise taken on a call to a yen case was
// shown in the institution's yuan, its ¥4,000 as ¥40.00. The service
// names the kind's money fields (money_fields: a plan's total), which
// were shown as minor units (500000 for ¥5,000.00).
function outcomeFields(d, currency) {
  // borrower_time and within_contact_hours are the journal's answer to a
  // complaint (docs/http.md), not what the collector recorded.
  const skip = new Set(['outcome', 'task', 'kind', 'user', 'conversation',
    'borrower_time', 'within_contact_hours', 'money_fields']);
  const named = d.money_fields && typeof d.money_fields === 'object' ? d.money_fields : {};
  const isMoney = (k) => k === 'amount' || k === 'paid' || named[k] === true;
  return Object.entries(d).filter(([k]) => !skip.has(k)).map(([k, v]) => {
    if (isMoney(k) && Number.isInteger(v)) return `${word('field', k)}: ${money(v, currency)}`;
    const name = word('field', k);
    if (typeof v === 'boolean') return `${name}: ${t(v ? 'yes' : 'no')}`;
    if (k === 'by') return `${name}: ${date(v)}`;
    return `${name}: ${typeof v === 'object' ? JSON.stringify(v) : word('choice', v)}`;
  });
}

export function sentence(row, currency) {
  const d = row.detail || {};
  switch (row.kind) {
    case 'opened': return t('tl.opened', { amount: money(d.balance, d.currency || currency) });
    case 'updated': return t('tl.updated');
    case 'event':
      if (d.type === 'promise_broken') return t('tl.promise_broken');
      return t('tl.event', { type: d.type });
    case 'message': return t('tl.message', { channel: word('channel', d.channel), template: d.template, status: word('status', d.status) });
    case 'delivery': {
      // Which message, to whom (the service adds them; masked for the
      // read role as the page masks contacts), and the gateway's words as
      // it said them.
      const status = word('status', d.status);
      if (d.template) {
        const vars = { channel: word('channel', d.channel), template: d.template, to: d.recipient || '—', status, reason: d.reason };
        return t(d.reason ? 'tl.delivery.to.reason' : 'tl.delivery.to', vars);
      }
      return d.reason ? t('tl.delivery.reason', { status, reason: d.reason }) : t('tl.delivery', { status });
    }
    case 'timer': return t('tl.timer', { event: d.event, due: dateTime(d.due) });
    case 'transition': return t('tl.transition', { from: d.from, to: d.to });
    case 'task': return t('tl.task', { kind: word('kind', d.kind), queue: d.queue });
    // Taken by the person the row's "by" names already: said once.
    case 'task_claimed': return d.user && d.user === d.assignee ? t('tl.task_claimed.self')
      : t('tl.task_claimed', { user: personName(d.assignee) });
    case 'task_assigned': return d.from ? t('tl.task_assigned.from', { from: personName(d.from), to: personName(d.to) })
      : t('tl.task_assigned', { to: personName(d.to) });
    case 'task_done': {
      const extra = outcomeFields(d, currency);
      // A call or visit recorded outside the policy's contact hours: the
      // guard moves a task's due time, it cannot stop a collector ringing
      // at 22:00, and a supervisor answering a complaint reads it here, in
      // the borrower's own time ("2026-01-06T22:00:00+08:00").
      if (typeof d.borrower_time === 'string') {
        const theirs = d.borrower_time.slice(0, 10) + ' ' + d.borrower_time.slice(11, 16);
        if (d.within_contact_hours === false) extra.push(t('tl.outside_hours', { time: theirs }));
        // Within the hours, the borrower's clock only where it is not the
        // institution's (a borrower in Urumqi called at 09:00 Shanghai
        // time heard the phone at 07:00 on theirs).
        else if (theirs !== wallClock(d.borrower_time)) extra.push(t('tl.borrower_time', { time: theirs }));
      }
      return t('tl.task_done', { kind: word('kind', d.kind), outcome: word('outcome', d.outcome) }) + (extra.length ? ' · ' + extra.join(' · ') : '');
    }
    case 'payment': return t('tl.payment', { amount: money(d.amount, d.currency || currency) });
    case 'promise': return t('tl.promise', { amount: money(d.amount, currency), by: date(d.by) });
    case 'promise_kept': return t('tl.promise_kept', { amount: money(d.paid ?? d.amount, currency) });
    case 'plan_completed': return t('tl.plan_completed');
    case 'note': return t('tl.note', { text: d.text });
    case 'policy': {
      const vars = { channel: word('channel', d.channel), verdict: word('verdict', d.verdict), rule: ruleName(d.reason), until: dateTime(d.until) };
      return d.until ? t('tl.policy.until', vars) : t('tl.policy', vars);
    }
    case 'released': return t('tl.released');
    case 'variant': return t('tl.variant', { experiment: d.experiment, arm: d.arm });
    case 'error': return t('tl.error', { msg: d.message });
    case 'retry': return t('tl.retry');
    case 'cancel': return d.event ? t('tl.cancel.timer', { event: d.event }) : t('tl.cancel');
    case 'set': return t('tl.set');
    case 'tag': return t('tl.tag', { tag: d.tag });
    case 'assign': return t('tl.assign');
    case 'migrate_refused': return t('tl.migrate_refused');
    default: return t('tl.other', { kind: row.kind });
  }
}

// The engine's own event rows for a completion or a payment repeat the row
// written beside them: shown once.
const echoes = new Set(['task_done', 'payment']);

export function timeline(rows, currency) {
  const shown = rows.filter((r) => !(r.kind === 'event' && r.detail && echoes.has(r.detail.type)));
  return h('ol', { class: 'timeline', 'data-timeline': '' }, shown.map((r) =>
    h('li', { class: ['tl', 'tl-' + r.kind, r.detail && r.detail.within_contact_hours === false && 'tl-outside'], 'data-kind': r.kind, 'data-id': r.id },
      h('time', { datetime: r.at }, dateTime(r.at)),
      h('span', { class: 'what' }, sentence(r, currency)),
      // The name people read; the login the journal keeps on hover.
      r.detail && r.detail.user ? h('span', { class: 'by', title: r.detail.user, 'data-user': r.detail.user },
        t('case.by', { user: personName(r.detail.user) })) : null)));
}
