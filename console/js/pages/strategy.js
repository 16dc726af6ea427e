// Strategy: how cases flowed through each workflow in a chosen period (a
// Sankey of the transitions taken), the states with their live counts,
// the loaded versions, and the experiment arms side by side.
import { h, fill } from '../h.js';
import { ctx } from '../state.js';
import { get, qs } from '../api.js';
import { t } from '../i18n.js';
import { money, number, isoDay } from '../format.js';
import { load, empty, table, section } from '../ui.js';
import { chart } from '../charts.js';

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
    section(t('st.whatif'), h('p', { class: 'muted whatif' }, t('st.whatif.text'))));
  show();

  function draw(answer) {
    const wfs = answer.workflows || [];
    if (!wfs.length) return empty(t('st.empty'));
    return wfs.map((wf) => workflow(wf, from.value, to.value));
  }
}

// A Sankey needs a graph without cycles: a transition back to a state
// already on the path (call → reminder → call) is drawn to a second node
// for that state ("call ↺"), so every flow still shows.
function sankey(wf) {
  const flows = (wf.transitions || []).filter((x) => x.count > 0);
  const order = new Map((wf.states || []).map((s, i) => [s.name, i]));
  const nodes = new Set();
  const live = new Map((wf.states || []).map((s) => [s.name, s.cases]));
  const links = flows.map((x) => {
    const back = (order.get(x.to) ?? 1e9) <= (order.get(x.from) ?? -1);
    const target = back ? x.to + ' ↺' : x.to;
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
  const exps = wf.experiments || [];
  return h('section', { class: 'panel workflow', 'data-workflow': wf.name },
    h('h2', {}, `${wf.name} v${wf.version}`),
    h('p', { class: 'muted' }, t('st.versions', { list: (wf.versions || [wf.version]).map((v) => 'v' + v).join(', ') })),
    h('h3', {}, t('st.flows', { from, to })),
    flows.length ? sankey(wf) : empty(t('st.flows.none')),
    table([{ key: 'from', label: t('st.from') }, { key: 'to', label: t('st.to') }, { key: 'count', label: t('col.count'), num: true, cell: (r) => number(r.count) }],
      wf.transitions || [], { name: 'transitions', key: (r) => r.from + '>' + r.to }),
    h('h3', {}, t('st.states')),
    table([{ key: 'name', label: t('col.state') }, { key: 'cases', label: t('col.cases'), num: true, cell: (r) => number(r.cases) },
      { key: 'priority', label: t('col.priority'), num: true, cell: (r) => r.priority ?? '—' }], wf.states || [], { name: 'states', key: (r) => r.name }),
    h('h3', {}, t('st.experiments')),
    exps.length ? exps.map((x) => h('div', { class: 'experiment', 'data-experiment': x.name }, h('h4', {}, x.name),
      h('div', { class: 'arms' }, (x.arms || []).map((a) => h('div', { class: 'arm', 'data-arm': a.arm },
        h('div', { class: 'arm-name' }, a.arm),
        h('dl', {}, h('dt', {}, t('col.cases')), h('dd', {}, number(a.cases)),
          h('dt', {}, t('col.recovered')), h('dd', {}, money(a.recovered, ctx.currency)),
          h('dt', {}, t('col.closed_paid')), h('dd', {}, number(a.closed_paid)))))))) : empty(t('st.experiments.none')));
}
