// Time series charts on uPlot (vendor/uplot, a canvas library: 50 series of 2 000
// points draw in a few tens of milliseconds). Hover shows values in the legend, a
// click on a legend entry hides or shows its series, dragging across the plot zooms
// and a double click zooms back out. Times follow the chosen time zone and language;
// colors follow the theme.

import { h } from './dom.js';
import { t, fmt, fmtUnit, getTz } from './i18n.js';
import { cssVar } from './theme.js';

const PALETTE = ['#3b82f6', '#e8590c', '#2f9e44', '#d6336c', '#7950f2', '#0c8599', '#c2255c', '#f08c00', '#5c940d', '#1864ab',
  '#ae3ec9', '#e67700', '#087f5b', '#a61e4d', '#4263eb'];

// Axis steps for sizes: 1, 2, 5, 10, 20, 50, 100, 200, 500 of each binary unit, so the
// ticks read 512 MiB, 1 GiB, 2 GiB rather than 9.31 GiB.
const BYTE_INCRS = [0, 1, 2, 3, 4, 5].flatMap((k) => [1, 2, 5, 10, 20, 50, 100, 200, 500].map((m) => m * 1024 ** k));

/** A series' name as PromQL writes it: `name{k="v", …}`. */
export function fullName(m) {
  const inner = Object.keys(m).filter((k) => k !== '__name__').sort().map((k) => `${k}="${m[k]}"`).join(', ');
  return (m.__name__ || '') + (inner || !m.__name__ ? `{${inner}}` : '');
}

/** Short names for a chart's legend: only the labels that differ between the series. */
export function seriesNames(metrics) {
  if (metrics.length <= 1) return metrics.map(fullName);
  const keys = [...new Set(metrics.flatMap((m) => Object.keys(m)))].sort();
  const varying = keys.filter((k) => metrics.some((m) => m[k] !== metrics[0][k]));
  return metrics.map((m) => {
    const inner = varying.filter((k) => k !== '__name__').map((k) => `${k}="${m[k] ?? ''}"`).join(', ');
    const name = varying.includes('__name__') ? (m.__name__ || '') : '';
    return name && inner ? `${name}{${inner}}` : name || inner || fullName(m);
  });
}

/**
 * uPlot's aligned data from Prometheus matrix series: [xs, ys…], nulls where a series has
 * no point. `start` and `end` (seconds) become the first and last x, so the chart spans
 * the range asked for even when the data covers part of it.
 */
export function align(result, start, end) {
  const set = new Set();
  if (result.length && start != null) { set.add(start); set.add(end); }
  for (const s of result) for (const [ts] of s.values) set.add(ts);
  const xs = Float64Array.from(set).sort();
  const index = new Map();
  xs.forEach((x, i) => index.set(x, i));
  const ys = result.map((s) => {
    const y = new Array(xs.length).fill(null);
    for (const [ts, v] of s.values) {
      const n = Number(v);
      y[index.get(ts)] = Number.isFinite(n) ? n : null;
    }
    return y;
  });
  return [Array.from(xs), ...ys];
}

function xValues(u, splits, axisIdx, space, incr) {
  // Ticks a day or more apart show the date; finer ones the time, with the date where
  // a day begins.
  if (incr >= 86400) return splits.map((s) => fmt.md(s * 1000));
  let prevDay = null;
  return splits.map((s) => {
    const day = fmt.md(s * 1000);
    const time = incr < 60 ? fmt.hms(s * 1000) : fmt.hm(s * 1000);
    const out = prevDay !== null && day !== prevDay ? time + '\n' + day : time;
    prevDay = day;
    return out;
  });
}

/**
 * Draws a chart into `el`; answers the uPlot instance (null when there is no data).
 * `data` is uPlot's aligned data; `names` the series' names; `unit` formats the values.
 */
export function drawChart(el, { data, names, unit = 'short', height = 220, onZoom, onDraw, stacked = false }) {
  el.replaceChildren();
  if (!data || data.length < 2 || data[0].length === 0) {
    el.append(h('p', { class: 'empty' }, t('chart.no_data')));
    return null;
  }
  const fg = cssVar('--fg');
  const grid = cssVar('--grid');
  const width = Math.max(200, el.clientWidth || el.parentElement?.clientWidth || 600);
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const opts = {
    width,
    height,
    tzDate: getTz() === 'UTC' ? (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC') : undefined,
    cursor: { drag: { x: true, y: false, setScale: true }, focus: { prox: 16 } },
    focus: { alpha: 0.35 },
    legend: { live: true },
    scales: { x: { time: true }, y: unit === 'percent' && !stacked ? { range: (u, min, max) => [0, Math.max(100, max)] } : {} },
    axes: [
      { ...axis, values: xValues, space: 70 },
      { ...axis, size: 70, values: (u, splits) => splits.map((v) => fmtUnit(unit, v)), incrs: unit.startsWith('bytes') ? BYTE_INCRS : undefined },
    ],
    series: [
      { label: t('chart.time'), value: (u, ts) => (ts == null ? '—' : fmt.dateTime(ts * 1000)) },
      ...names.map((n, i) => ({
        label: n,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        value: (u, v) => fmtUnit(unit, v),
      })),
    ],
    hooks: {
      draw: onDraw ? [onDraw] : [],
      setSeries: [(self, i) => {
        const tr = self.root.querySelectorAll('.u-legend tr.u-series')[i];
        if (tr && i > 0) tr.setAttribute('aria-pressed', String(self.series[i].show));
      }],
      setSelect: [(u) => {
        if (onZoom && u.select.width > 2) {
          const a = u.posToVal(u.select.left, 'x');
          const b = u.posToVal(u.select.left + u.select.width, 'x');
          onZoom(a, b);
        }
      }],
    },
  };
  const u = new uPlot(opts, data, el);
  // The legend's entries toggle their series on a click; make them keys too.
  u.root.querySelectorAll('.u-legend tr.u-series').forEach((tr, i) => {
    if (i === 0) return; // the time
    tr.tabIndex = 0;
    tr.setAttribute('role', 'button');
    tr.setAttribute('aria-pressed', 'true');
    tr.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      e.preventDefault();
      u.setSeries(i, { show: !u.series[i].show });
    });
  });
  // Follow the container's width (window resizes, a sidebar opening).
  const ro = new ResizeObserver(() => {
    const w = el.clientWidth;
    if (w && Math.abs(w - u.width) > 2) u.setSize({ width: w, height });
  });
  ro.observe(el);
  const destroy = u.destroy.bind(u);
  u.destroy = () => { ro.disconnect(); destroy(); };
  return u;
}

/**
 * The chart speed check of the browser test: draws `nSeries` series of `nPoints` points
 * into `el` and answers the milliseconds from the call until uPlot's draw finished.
 */
export function benchmark(el, nSeries = 50, nPoints = 2000) {
  const now = Math.floor(Date.now() / 1000);
  const xs = Array.from({ length: nPoints }, (_, i) => now - (nPoints - i) * 15);
  const data = [xs];
  for (let s = 0; s < nSeries; s++) {
    data.push(xs.map((x, i) => 50 + 40 * Math.sin(i / 50 + s) + 5 * Math.sin(i * (s + 1) / 7)));
  }
  const names = Array.from({ length: nSeries }, (_, i) => `series_${i}`);
  return new Promise((resolve) => {
    let u = null;
    const t0 = performance.now();
    u = drawChart(el, {
      data, names, unit: 'percent', height: 300,
      onDraw: () => resolve({ ms: performance.now() - t0, series: nSeries, points: nPoints }),
    });
    if (!u) resolve({ ms: -1 });
  });
}
