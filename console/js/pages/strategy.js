// Strategy: how cases flowed through each workflow in a chosen period (a
// Sankey of the transitions taken), the states with their live counts,
// the loaded versions, the experiment arms side by side, and what-if
// reports (whatif.js).
import { h, fill } from '../h.js';
import { ctx } from '../state.js';
import { get, qs } from '../api.js';
import { t } from '../i18n.js';
import { money, number, isoDay } from '../format.js';
import { load, empty, table } from '../ui.js';
import { chart } from '../charts.js';
import { whatif } from '../whatif.js';

export function render(main, arg, query) {
  const from = h('input', { type: 'date', name: 'from', value: query.get('from') || isoDay(-30) });
  const to = h('input', { type: 'date', name: 'to', value: query.get('to') || isoDay(0) });
  const box = h('div', {});
  const show = () => load(box, () => get('/v1/workflows' + qs({ from: from.value, to: to.value })), draw);
  fill(main, h('h1', {}, t('st.title')),
    h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); show(); } },
      h('label', {}, t('st.from'), ' ', from), h('label', {}, t('st.to'), ' ', to),
      h('button', { type: 'submit', class: 'btn primary' }, t('st.show'))),
    box,
    whatif());
  show();

  function draw(answer) {
    const wfs = answer.workflows || [];
    if (!wfs.length) return empty(t('st.empty'));
    return wfs.map((wf) => workflow(wf, from.value, to.value));
  }
}

// How far each state is from the initial one along the declared
// transitions (breadth first): the order a reader follows the workflow in.
function depths(wf) {
  const d = new Map();
  const first = wf.initial || (wf.states && wf.states[0] && wf.states[0].name);
  if (!first) return d;
  d.set(first, 0);
  const queue = [first];
  while (queue.length) {
    const at = queue.shift();
    for (const x of wf.transitions || [])
      if (x.from === at && !d.has(x.to)) {
        d.set(x.to, d.get(at) + 1);
        queue.push(x.to);
      }
  }
  return d;
}

// The moves that close a loop (call -> reminder -> call), found by a walk
// from the initial state: a move back to a state still on the walk's path.
function loops(flows, start) {
  const out = new Map();
  for (const x of flows) out.set(x.from, [...(out.get(x.from) || []), x]);
  const seen = new Map(); // 1: on the path, 2: done
  const back = new Set();
  const walk = (n) => {
    seen.set(n, 1);
    for (const x of out.get(n) || []) {
      if (seen.get(x.to) === 1) back.add(x);
      else if (!seen.has(x.to)) walk(x.to);
    }
    seen.set(n, 2);
  };
  if (start) walk(start);
  for (const n of out.keys()) if (!seen.has(n)) walk(n);
  return back;
}

// A Sankey needs a graph without cycles: a move that closes a loop is
// drawn to a second node for its state ("reminder ↺"), so every flow
// still shows.
function sankey(wf) {
  const flows = (wf.transitions || []).filter((x) => x.count > 0);
  const back = loops(flows, wf.initial);
  const nodes = new Set();
  const live = new Map((wf.states || []).map((s) => [s.name, s.cases]));
  const links = flows.map((x) => {
    const target = back.has(x) ? x.to + ' ↺' : x.to;
    nodes.add(x.from);
    nodes.add(target);
    return { source: x.from, target, value: x.count };
  });
  return chart({
    tooltip: { trigger: 'item' },
    series: [{ type: 'sankey', emphasis: { focus: 'adjacency' }, nodeAlign: 'left', layoutIterations: 32,
      data: [...nodes].map((name) => ({ name })), links, lineStyle: { color: 'gradient', opacity: 0.4 },
      // the live count of each state beside its name
      label: { color: '#1f2933', formatter: (p) => (live.has(p.name) ? `${p.name} · ${live.get(p.name)}` : p.name) } }],
  }, 'wide');
}

function workflow(wf, from, to) {
  const flows = (wf.transitions || []).filter((x) => x.count > 0);
  const depth = depths(wf);
  const far = (n) => (depth.has(n) ? depth.get(n) : 1e9);
  const states = [...(wf.states || [])].sort((a, b) => far(a.name) - far(b.name) || (a.name < b.name ? -1 : 1));
  const moves = [...(wf.transitions || [])].sort((a, b) => far(a.from) - far(b.from) || b.count - a.count);
  const exps = wf.experiments || [];
  return h('section', { class: 'panel workflow', 'data-workflow': wf.name },
    h('h2', {}, `${wf.name} v${wf.version}`),
    h('p', { class: 'muted' }, t('st.versions', { list: (wf.versions || [wf.version]).map((v) => 'v' + v).join(', ') })),
    h('h3', {}, t('st.flows', { from, to })),
    flows.length ? sankey(wf) : empty(t('st.flows.none')),
    table([{ key: 'from', label: t('st.from') }, { key: 'to', label: t('st.to') }, { key: 'count', label: t('col.count'), num: true, cell: (r) => number(r.count) }],
      moves, { name: 'transitions', key: (r) => r.from + '>' + r.to }),
    h('h3', {}, t('st.states')),
    table([{ key: 'name', label: t('col.state') }, { key: 'cases', label: t('col.cases'), num: true, cell: (r) => number(r.cases) },
      { key: 'priority', label: t('col.priority'), num: true, cell: (r) => r.priority ?? '—' }], states, { name: 'states', key: (r) => r.name }),
    h('h3', {}, t('st.experiments')),
    exps.length ? exps.map(experiment) : empty(t('st.experiments.none')));
}

// The currencies an experiment's arms recovered money in: the
// institution's first, then the others by code (as the service lists
// them). Every arm shows each, a zero where it has none, so that the
// arms compare currency by currency, side by side.
function currencies(x) {
  const seen = new Set([ctx.currency]);
  for (const a of x.arms || [])
    for (const m of a.by_currency || []) if (m.recovered) seen.add(m.currency);
  const [first, ...rest] = [...seen];
  return [first, ...rest.sort()];
}

// An arm's money each currency apart: a sum of yuan and tenge is neither.
// A book of one currency reads as one amount.
function recovered(a, list) {
  if (list.length === 1) return h('dd', {}, money(a.recovered, ctx.currency));
  const of = new Map((a.by_currency || []).map((m) => [m.currency, m.recovered]));
  return h('dd', {}, list.map((cur) => h('div', { 'data-currency': cur }, money(of.get(cur) || 0, cur))));
}

function experiment(x) {
  const list = currencies(x);
  return h('div', { class: 'experiment', 'data-experiment': x.name }, h('h4', {}, x.name),
    h('div', { class: 'arms' }, (x.arms || []).map((a) => h('div', { class: 'arm', 'data-arm': a.arm },
      h('div', { class: 'arm-name' }, a.arm),
      h('dl', {}, h('dt', {}, t('col.cases')), h('dd', {}, number(a.cases)),
        h('dt', {}, t('col.recovered')), recovered(a, list),
        h('dt', {}, t('col.closed_paid')), h('dd', {}, number(a.closed_paid)))))),
    list.length > 1 ? h('p', { class: 'muted', 'data-note': 'currencies' }, t('st.arms.currencies')) : null);
}
