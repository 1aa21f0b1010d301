// Explore: a PromQL editor completing metric names, label names and label values (from
// /api/v1/label/__name__/values, /api/v1/labels, /api/v1/label/<name>/values), a chart
// (query_range) and a table (instant query at the range's end), a time range with presets
// or a custom range, the step, and auto-refresh. The whole view is in the URL.

import { h, mount, select, field, table } from '../dom.js';
import { t, fmt } from '../i18n.js';
import { prom } from '../api.js';
import { drawChart, align, seriesNames, fullName } from '../chart.js';
import { picker, fromParams, toParams, resolve, autoStep } from '../timerange.js';
import { replaceParams, route } from '../router.js';

const FUNCTIONS = ['abs', 'absent', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min',
  'count', 'count_over_time', 'delta', 'deriv', 'floor', 'histogram_quantile', 'idelta', 'increase', 'irate', 'label_join',
  'label_replace', 'last_over_time', 'max', 'max_over_time', 'min', 'min_over_time', 'predict_linear', 'quantile',
  'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sort', 'sort_desc', 'stddev', 'sum', 'sum_over_time',
  'time', 'timestamp', 'topk', 'vector'];
const REFRESH_SECS = [5, 10, 30, 60, 300];

// Completion sources, fetched once per page visit.
const cache = { metrics: null, labels: null, values: new Map() };

/** What to complete at the caret: {kind, prefix, label?, metric?}. */
export function context(text) {
  const open = text.lastIndexOf('{');
  if (open > text.lastIndexOf('}')) {
    const inside = text.slice(open + 1);
    const metric = (text.slice(0, open).match(/([a-zA-Z_:][\w:]*)\s*$/) || [])[1];
    const val = inside.match(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/);
    if (val) return { kind: 'value', label: val[1], prefix: val[3], metric };
    const name = inside.match(/(?:^|,)\s*([a-zA-Z_]\w*)?$/);
    if (name) return { kind: 'label', prefix: name[1] || '', metric };
    return null;
  }
  const by = text.match(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*?)([a-zA-Z_]\w*)?$/);
  if (by) return { kind: 'label', prefix: by[2] || '' };
  const word = text.match(/([a-zA-Z_:][\w:]*)$/);
  if (word) return { kind: 'metric', prefix: word[1] };
  return null;
}

async function candidates(ctx) {
  if (ctx.kind === 'metric') {
    cache.metrics ??= await prom.labelValues('__name__').catch(() => []);
    const p = ctx.prefix.toLowerCase();
    const m = cache.metrics.filter((n) => n.toLowerCase().includes(p)).map((n) => [n, 'metric']);
    const f = FUNCTIONS.filter((n) => n.startsWith(p)).map((n) => [n, 'function']);
    return [...m.filter(([n]) => n.toLowerCase().startsWith(p)), ...f, ...m.filter(([n]) => !n.toLowerCase().startsWith(p))];
  }
  if (ctx.kind === 'label') {
    cache.labels ??= await prom.labels().catch(() => []);
    return cache.labels.filter((n) => n !== '__name__' && n.startsWith(ctx.prefix)).map((n) => [n, 'label']);
  }
  const key = ctx.label + '\0' + (ctx.metric || '');
  if (!cache.values.has(key)) {
    cache.values.set(key, await prom.labelValues(ctx.label, ctx.metric ? ctx.metric : undefined).catch(() => []));
  }
  return cache.values.get(key).filter((v) => v.includes(ctx.prefix)).map((v) => [v, 'value']);
}

export async function render(main, params) {
  const state = {
    expr: params.get('expr') || '',
    range: fromParams(params, '1h'),
    step: params.get('step') || '',
    refresh: params.get('refresh') || '',
    view: params.get('view') === 'table' ? 'table' : 'chart',
  };
  let plot = null;
  let timer = null;
  let seq = 0;

  const editor = h('textarea', {
    id: 'explore-expr', class: 'code', rows: 2, spellcheck: 'false', autocomplete: 'off',
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'explore-completions',
    placeholder: t('explore.placeholder'),
  });
  editor.value = state.expr;
  const list = h('ul', { class: 'completions', id: 'explore-completions', role: 'listbox', hidden: true, 'aria-label': t('explore.completions') });
  const step = h('input', { id: 'explore-step', value: state.step, size: 6, placeholder: t('explore.step_auto') });
  const refresh = select({ id: 'explore-refresh' }, [['', t('explore.refresh_off')], ...REFRESH_SECS.map((n) => [String(n), fmt.duration(n)])], state.refresh);
  const run = h('button', { type: 'submit', id: 'explore-run' }, t('explore.run'));
  const status = h('p', { class: 'muted', 'aria-live': 'polite', id: 'explore-status' });
  const out = h('div', { id: 'explore-out' });
  const tabChart = h('button', { type: 'button', role: 'tab', id: 'tab-chart' }, t('explore.chart'));
  const tabTable = h('button', { type: 'button', role: 'tab', id: 'tab-table' }, t('explore.table'));
  const rangeBox = h('div');

  mount(main,
    h('h1', null, t('explore.title')),
    h('form', { class: 'card', onsubmit: (e) => { e.preventDefault(); hide(); go(); } },
      h('div', { class: 'field editor' }, h('label', { for: 'explore-expr' }, t('explore.expr')), editor, list,
        h('small', { class: 'hint' }, t('explore.keys'))),
      h('div', { class: 'toolbar' }, rangeBox, field(t('explore.step'), step, t('explore.step_hint')),
        field(t('explore.refresh'), refresh), run)),
    h('div', { role: 'tablist', 'aria-label': t('explore.view') }, tabChart, tabTable),
    status,
    h('div', { class: 'card', role: 'tabpanel' }, out));

  function drawRange() {
    mount(rangeBox, picker(state.range, (r) => { state.range = r; go(); }));
  }
  drawRange();

  // --- completion ---
  let items = [];
  let active = -1;
  let compSeq = 0;
  function hide() {
    list.hidden = true;
    editor.setAttribute('aria-expanded', 'false');
    editor.removeAttribute('aria-activedescendant');
    items = [];
  }
  function highlight(i) {
    active = i;
    [...list.children].forEach((li, j) => li.setAttribute('aria-selected', j === i ? 'true' : 'false'));
    const li = list.children[i];
    if (li) { editor.setAttribute('aria-activedescendant', li.id); li.scrollIntoView({ block: 'nearest' }); }
  }
  function accept(i) {
    const item = items[i];
    if (!item) return;
    const caret = editor.selectionStart;
    const before = editor.value.slice(0, caret);
    const ctx = context(before);
    if (!ctx) return hide();
    let insert = item[0];
    if (ctx.kind === 'value') insert = insert.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
    const start = caret - ctx.prefix.length;
    editor.setRangeText(insert, start, caret, 'end');
    hide();
    editor.focus();
  }
  async function complete() {
    const mine = ++compSeq;
    const before = editor.value.slice(0, editor.selectionStart);
    const ctx = context(before);
    if (!ctx || (ctx.kind === 'metric' && ctx.prefix.length < 1)) return hide();
    const found = (await candidates(ctx)).slice(0, 50);
    if (mine !== compSeq) return;
    if (!found.length || (found.length === 1 && found[0][0] === ctx.prefix)) return hide();
    items = found;
    mount(list, found.map(([v, kind], i) => h('li', {
      id: 'cmp-' + i, role: 'option', 'aria-selected': 'false',
      onmousedown: (e) => { e.preventDefault(); accept(i); },
    }, v, h('span', { class: 'kind' }, t('explore.kind_' + kind)))));
    list.hidden = false;
    editor.setAttribute('aria-expanded', 'true');
    highlight(0);
  }
  editor.addEventListener('input', complete);
  editor.addEventListener('blur', () => setTimeout(hide, 100));
  editor.addEventListener('keydown', (e) => {
    if (!list.hidden && items.length) {
      if (e.key === 'ArrowDown') { e.preventDefault(); highlight((active + 1) % items.length); return; }
      if (e.key === 'ArrowUp') { e.preventDefault(); highlight((active - 1 + items.length) % items.length); return; }
      if (e.key === 'Tab' || (e.key === 'Enter' && !e.ctrlKey && !e.metaKey)) { e.preventDefault(); accept(active); return; }
      if (e.key === 'Escape') { e.preventDefault(); hide(); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); hide(); go(); }
    if (e.key === ' ' && e.ctrlKey) { e.preventDefault(); complete(); }
  });

  // --- view ---
  function tabs() {
    tabChart.setAttribute('aria-selected', String(state.view === 'chart'));
    tabTable.setAttribute('aria-selected', String(state.view === 'table'));
  }
  tabChart.addEventListener('click', () => { state.view = 'chart'; go(); });
  tabTable.addEventListener('click', () => { state.view = 'table'; go(); });
  refresh.addEventListener('change', () => go());

  function save() {
    const p = new URLSearchParams();
    if (state.expr) p.set('expr', state.expr);
    toParams(state.range, p);
    if (state.step) p.set('step', state.step);
    if (state.refresh) p.set('refresh', state.refresh);
    if (state.view !== 'chart') p.set('view', state.view);
    replaceParams(p);
  }

  async function go() {
    state.expr = editor.value.trim();
    state.step = step.value.trim();
    state.refresh = refresh.value;
    save();
    tabs();
    clearInterval(timer);
    if (state.refresh) timer = setInterval(() => query().catch(() => {}), Number(state.refresh) * 1000);
    await query();
  }

  async function query() {
    const mine = ++seq;
    if (plot) { plot.destroy(); plot = null; }
    if (!state.expr) { mount(out, h('p', { class: 'muted' }, t('explore.empty'))); status.textContent = ''; return; }
    const [start, end] = resolve(state.range);
    const stepSecs = state.step ? state.step : autoStep(start, end, 500);
    const t0 = performance.now();
    status.textContent = t('explore.running');
    try {
      if (state.view === 'chart') {
        const data = await prom.range(state.expr, start, end, stepSecs);
        if (mine !== seq) return;
        const res = data.result || [];
        const names = seriesNames(res.map((s) => s.metric));
        mount(out, h('div', { class: 'chart', id: 'explore-chart' }));
        plot = drawChart(out.firstChild, {
          data: align(res, start, end), names, height: 340,
          onZoom: (a, b) => { state.range = { from: a, to: b }; drawRange(); go(); },
        });
        status.textContent = t('explore.result_series', { n: res.length, ms: Math.round(performance.now() - t0) })
          + ' · ' + t('explore.step_used', { step: Number.isFinite(Number(stepSecs)) ? fmt.duration(Number(stepSecs)) : stepSecs });
      } else {
        const data = await prom.query(state.expr, state.range.range ? undefined : end);
        if (mine !== seq) return;
        mount(out, resultTable(data));
        const n = Array.isArray(data.result) ? data.result.length : 1;
        status.textContent = t('explore.result_series', { n, ms: Math.round(performance.now() - t0) });
      }
    } catch (e) {
      if (mine !== seq) return;
      status.textContent = '';
      mount(out, h('p', { class: 'error', role: 'alert', id: 'explore-error' }, e.message));
    }
  }

  tabs();
  if (state.expr) await go(); else mount(out, h('p', { class: 'muted' }, t('explore.empty')));
  editor.focus();
  return () => { clearInterval(timer); if (plot) plot.destroy(); };
}

function resultTable(data) {
  const type = data.resultType;
  if (type === 'scalar' || type === 'string') {
    return table([t('explore.value'), t('explore.time')],
      [h('tr', null, h('td', { class: 'num' }, String(data.result[1])), h('td', null, fmt.dateTime(data.result[0] * 1000)))], { id: 'explore-table' });
  }
  const rows = data.result || [];
  if (!rows.length) return h('p', { class: 'muted', id: 'explore-table' }, t('explore.no_result'));
  return table([t('explore.series'), h('th', { class: 'num', scope: 'col' }, t('explore.value')), t('explore.time')],
    rows.map((s) => {
      const v = type === 'matrix' ? s.values[s.values.length - 1] : s.value;
      return h('tr', null, h('td', { class: 'mono' }, fullName(s.metric)),
        h('td', { class: 'num' }, type === 'matrix' ? t('explore.points', { n: s.values.length }) + ' · ' + v[1] : v[1]),
        h('td', null, fmt.dateTime(v[0] * 1000)));
    }), { id: 'explore-table' });
}
