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

const live = new Set();
window.addEventListener('resize', () => live.forEach((c) => c.resize()));

// A chart box; the chart is drawn into it when the library is there.
// The numbers are always in the table beside it, so a chart that fails
// to draw loses nothing.
export function chart(option, cls) {
  const box = h('div', { class: ['chart', cls], role: 'img' });
  echartsReady().then((echarts) => {
    const c = echarts.init(box, null, { renderer: 'canvas', locale: ctx.locale === 'zh-CN' ? 'ZH' : 'EN' });
    c.setOption({
      animation: false,
      textStyle: { fontFamily: 'system-ui, "Noto Sans CJK SC", sans-serif' },
      ...option,
      tooltip: { renderMode: 'richText', confine: true, ...(option.tooltip || {}) },
    });
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
