// Inline SVG charts: an agent's Bulk Data series and the fleet's figures.
import { h, svg, clear } from './dom.js';
import { get } from './api.js';

/**
 * lineChart draws series [{name, points: [{t: Date|ms, v: number}]}] as an
 * SVG line chart with axes, labelled for screen readers by title.
 */
export function lineChart(title, series, opts = {}) {
  const W = 640, H = opts.height || 200, L = 48, R = 8, T = 10, B = 24;
  const all = series.flatMap(s => s.points).filter(p => Number.isFinite(p.v));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title, preserveAspectRatio: 'none' });
  root.appendChild(svg('title', {}, title));
  if (!all.length) {
    root.appendChild(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, 'no data yet'));
    return root;
  }
  const t0 = Math.min(...all.map(p => +p.t)), t1 = Math.max(...all.map(p => +p.t));
  let v0 = Math.min(0, ...all.map(p => p.v)), v1 = Math.max(...all.map(p => p.v));
  if (v1 === v0) v1 = v0 + 1;
  const x = t => L + (t1 === t0 ? (W - L - R) / 2 : ((t - t0) / (t1 - t0)) * (W - L - R));
  const y = v => T + (1 - (v - v0) / (v1 - v0)) * (H - T - B);
  root.appendChild(svg('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis-line' }));
  root.appendChild(svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis-line' }));
  for (const v of [v0, (v0 + v1) / 2, v1]) {
    root.appendChild(svg('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, fmtNum(v)));
  }
  root.appendChild(svg('text', { x: L, y: H - 6, class: 'axis' }, new Date(t0).toLocaleTimeString()));
  root.appendChild(svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end', class: 'axis' }, new Date(t1).toLocaleTimeString()));
  series.forEach((s, i) => {
    const pts = s.points.filter(p => Number.isFinite(p.v));
    const d = pts.map((p, j) => `${j ? 'L' : 'M'}${x(+p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    root.appendChild(svg('path', { d, class: `series s${i % 4}` }));
    if (pts.length === 1) root.appendChild(svg('circle', { cx: x(+pts[0].t), cy: y(pts[0].v), r: 3, class: `dot s${i % 4}` }));
  });
  return root;
}

function fmtNum(v) {
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (Math.abs(v) >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function legend(series) {
  return h('ul', { class: 'legend' }, series.map((s, i) => h('li', {}, h('span', { class: `key s${i % 4}`, 'aria-hidden': 'true' }), s.name)));
}

/** telemetryChart shows an agent's stored Bulk Data parameters and plots the one chosen. */
export async function telemetryChart(el, agent) {
  let params;
  try {
    params = (await get(`/api/v1/agents/${encodeURIComponent(agent)}/telemetry`, { accept: [501] }))?.params;
  } catch (e) {
    clear(el, h('p', { class: 'note' }, `Telemetry: ${e.message}`));
    return;
  }
  if (!params || !params.length) {
    clear(el, h('p', { class: 'note', id: 'telemetry-none' }, 'No Bulk Data reports stored for this agent.'));
    return;
  }
  const names = params.map(p => (typeof p === 'string' ? p : p.param || p.name));
  const sel = h('select', { id: 'tel-param' }, names.map(n => h('option', { value: n }, n)));
  const range = h('select', { id: 'tel-range' }, [['1h', 3600], ['6h', 21600], ['24h', 86400], ['7d', 604800]].map(([l, s]) => h('option', { value: s }, l)));
  const box = h('div', { class: 'chart-box' });
  const draw = async () => {
    const span = +range.value;
    const from = Math.floor(Date.now() / 1000) - span;
    const step = `${Math.max(Math.round(span / 120), 1)}s`;
    const d = await get(`/api/v1/agents/${encodeURIComponent(agent)}/telemetry?param=${encodeURIComponent(sel.value)}&from=${from}&step=${step}`);
    const pts = (d.points || []).map(p => ({ t: new Date(p.t), v: p.v === null ? NaN : p.v }));
    clear(box, lineChart(`${sel.value} over the last ${range.selectedOptions[0].textContent}`, [{ name: sel.value, points: pts }]));
  };
  sel.addEventListener('change', draw);
  range.addEventListener('change', draw);
  clear(el, h('div', { class: 'row' }, h('label', { for: 'tel-param' }, 'Parameter'), sel, h('label', { for: 'tel-range' }, 'Period'), range), box);
  await draw();
}

/** chartsPage plots the fleet's figures from /api/v1/summary, read every 5 s. */
export async function chartsPage(main, ctx) {
  const samples = [];
  const online = h('div', { class: 'chart-box', id: 'chart-online' });
  const rates = h('div', { class: 'chart-box', id: 'chart-rates' });
  const figures = h('dl', { class: 'figures', id: 'figures' });
  clear(main, h('h1', {}, 'Charts'),
    h('p', {}, 'The controller\'s own figures, read every 5 seconds while this page is open.'), figures,
    h('h2', {}, 'Agents online'), online, h('h2', {}, 'Requests and errors per second'), rates);
  const tick = async () => {
    let s;
    try { s = await get('/api/v1/summary'); } catch { return; }
    samples.push({ t: new Date(s.time), ...s });
    if (samples.length > 360) samples.shift();
    const rate = k => samples.slice(1).map((p, i) => ({ t: p.t, v: Math.max(p[k] - samples[i][k], 0) / Math.max((p.t - samples[i].t) / 1000, 0.001) }));
    clear(figures, ...[['Agents', s.agents], ['Online', s.online], ['Requests in flight', s.in_flight], ['Queued', s.queued], ['Requests', s.requests_total], ['Errors', s.request_errors_total]]
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
    const on = [{ name: 'online', points: samples.map(p => ({ t: p.t, v: p.online })) }, { name: 'known', points: samples.map(p => ({ t: p.t, v: p.agents })) }];
    clear(online, lineChart('Agents online and known', on), legend(on));
    const rs = [{ name: 'requests/s', points: rate('requests_total') }, { name: 'errors/s', points: rate('request_errors_total') }];
    clear(rates, lineChart('Requests and errors per second', rs), legend(rs));
  };
  await tick();
  const timer = setInterval(tick, 5000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer));
}
