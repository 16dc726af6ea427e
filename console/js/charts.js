// ECharts, loaded once from the vendored file (console/vendor/, pinned in
// console/package.json). Tooltips are drawn on the canvas (renderMode
// 'richText'): the default HTML tooltip carries style="" attributes, which
// the CSP refuses.
import { h } from './h.js';
import { ctx } from './state.js';

let loading = null;

export function echartsReady() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/assets/vendor/echarts.min.js';
      s.onload = () => resolve(window.echarts);
      s.onerror = () => reject(new Error('charts library did not load'));
      document.head.appendChild(s);
    });
  }
  return loading;
}

const FONT = 'system-ui, "Noto Sans CJK SC", sans-serif';

const live = new Set();
window.addEventListener('resize', () => live.forEach((c) => {
  c.resize();
  if (c.relayout) c.relayout();
}));

// The width of a text as a chart draws it (its 12 px default size), to
// lay out before drawing.
let measure = null;
export function textWidth(text, size = 12) {
  if (!measure) measure = document.createElement('canvas').getContext('2d');
  measure.font = `${size}px ${FONT}`;
  return measure.measureText(String(text)).width;
}

// A chart box; the chart is drawn into it when the library is there.
// The numbers are always in the table beside it, so a chart that fails
// to draw loses nothing.
// option: an object, or a function of the box's width and height in
// pixels that gives one (a layout that depends on the room: a legend beside a ring at
// a desk, under it on a phone), set again when the window is resized.
export function chart(option, cls) {
  const box = h('div', { class: ['chart', cls], role: 'img' });
  echartsReady().then((echarts) => {
    const c = echarts.init(box, null, { renderer: 'canvas', locale: ctx.locale === 'zh-CN' ? 'ZH' : 'EN' });
    const full = () => {
      const o = typeof option === 'function' ? option(box.clientWidth, box.clientHeight) : option;
      return {
        animation: false,
        textStyle: { fontFamily: FONT },
        ...o,
        tooltip: { renderMode: 'richText', confine: true, ...(o.tooltip || {}) },
      };
    };
    c.setOption(full());
    if (typeof option === 'function') c.relayout = () => c.setOption(full(), true);
    live.add(c);
    new MutationObserver((_, obs) => {
      if (!box.isConnected) {
        live.delete(c);
        c.dispose();
        obs.disconnect();
      }
    }).observe(document.body, { childList: true, subtree: true });
  }).catch(() => box.classList.add('nochart'));
  return box;
}
