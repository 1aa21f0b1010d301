// Explore: one or more PromQL queries (A, B, …), each in an editor completing metric
// names, label names and label values (from /api/v1/label/__name__/values,
// /api/v1/labels, /api/v1/label/<name>/values); a chart (query_range) where every query
// draws its own series, named after it in the legend, and a table (instant queries at
// the range's end); a time range with presets or a custom range, the step, and
// auto-refresh. The whole view is in the URL (expr= once per query).

import { h, mount, select, field, table } from '../dom.js';
import { t, tn, fmt } from '../i18n.js';
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

/** Query rows are named A, B, C… in the legend and the table. */
const letter = (i) => String.fromCharCode(65 + (i % 26)) + (i >= 26 ? String(Math.floor(i / 26)) : '');

/**
 * Completion for one editor: `list` is its listbox; `onRun` runs the queries (Enter).
 * Answers `hide`, which closes the list.
 */
function completion(editor, list, onRun) {
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
      id: list.id + '-' + i, role: 'option', 'aria-selected': 'false',
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
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); hide(); onRun(); }
    if (e.key === ' ' && e.ctrlKey) { e.preventDefault(); complete(); }
  });
  return hide;
}

export async function render(main, params) {
  const exprs = params.getAll('expr');
  const state = {
    range: fromParams(params, '1h'),
    step: params.get('step') || '',
    refresh: params.get('refresh') || '',
    view: params.get('view') === 'table' ? 'table' : 'chart',
  };
  let plot = null;
  let timer = null;
  let seq = 0;
  let rowSeq = 0;

  // One row per query: its editor (the first's ids: explore-expr, explore-completions), its completion
  // list and a button to remove it.
  const rows = [];
  const rowsBox = h('div', { id: 'explore-queries' });
  function addRow(text, focus) {
    const n = ++rowSeq;
    const id = n === 1 ? 'explore-expr' : 'explore-expr-' + n;
    const listId = n === 1 ? 'explore-completions' : id + '-completions';
    const editor = h('textarea', {
      id, class: 'code', rows: 2, spellcheck: 'false', autocomplete: 'off',
      role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
      placeholder: t('explore.placeholder'),
    });
    editor.value = text;
    const list = h('ul', { class: 'completions', id: listId, role: 'listbox', hidden: true, 'aria-label': t('explore.completions') });
    const hide = completion(editor, list, () => go());
    const label = h('label', { for: id });
    const remove = h('button', { type: 'button', class: 'ghost small query-remove', onclick: () => {
      rows.splice(rows.indexOf(row), 1);
      row.el.remove();
      names();
      rows[0].editor.focus();
      go();
    } });
    const row = { editor, hide, label, remove, el: h('div', { class: 'field editor query-row', dataset: { query: String(n) } },
      h('div', { class: 'query-head' }, label, remove), editor, list) };
    rows.push(row);
    rowsBox.append(row.el);
    names();
    if (focus) editor.focus();
    return row;
  }
  /** Each row's letter in its label; the remove buttons only when there are several. */
  function names() {
    rows.forEach((r, i) => {
      r.label.textContent = rows.length > 1 ? t('explore.query_n', { q: letter(i) }) : t('explore.expr');
      r.remove.textContent = t('explore.remove_query', { q: letter(i) });
      r.remove.hidden = rows.length < 2;
    });
  }
  for (const e of exprs.length ? exprs : ['']) addRow(e, false);

  const step = h('input', { id: 'explore-step', value: state.step, size: 6, placeholder: t('explore.step_auto') });
  const refresh = select({ id: 'explore-refresh' }, [['', t('explore.refresh_off')], ...REFRESH_SECS.map((n) => [String(n), fmt.duration(n)])], state.refresh);
  const run = h('button', { type: 'submit', id: 'explore-run' }, t('explore.run'));
  const add = h('button', { type: 'button', class: 'ghost', id: 'explore-add', onclick: () => addRow('', true) }, t('explore.add_query'));
  const status = h('p', { class: 'muted', 'aria-live': 'polite', id: 'explore-status' });
  const out = h('div', { id: 'explore-out' });
  const tabChart = h('button', { type: 'button', role: 'tab', id: 'tab-chart' }, t('explore.chart'));
  const tabTable = h('button', { type: 'button', role: 'tab', id: 'tab-table' }, t('explore.table'));
  const rangeBox = h('div');

  mount(main,
    h('h1', null, t('explore.title')),
    h('form', { class: 'card', onsubmit: (e) => { e.preventDefault(); for (const r of rows) r.hide(); go(); } },
      rowsBox,
      h('p', null, add, ' ', h('small', { class: 'hint' }, t('explore.keys'))),
      h('div', { class: 'toolbar' }, rangeBox, field(t('explore.step'), step, t('explore.step_hint')),
        field(t('explore.refresh'), refresh), run)),
    h('div', { role: 'tablist', 'aria-label': t('explore.view') }, tabChart, tabTable),
    status,
    h('div', { class: 'card', role: 'tabpanel' }, out));

  function drawRange() {
    mount(rangeBox, picker(state.range, (r) => { state.range = r; go(); }));
  }
  drawRange();

  // --- view ---
  function tabs() {
    tabChart.setAttribute('aria-selected', String(state.view === 'chart'));
    tabTable.setAttribute('aria-selected', String(state.view === 'table'));
  }
  tabChart.addEventListener('click', () => { state.view = 'chart'; go(); });
  tabTable.addEventListener('click', () => { state.view = 'table'; go(); });
  refresh.addEventListener('change', () => go());

  /** The queries to run: [letter, expression] of each row that has one. */
  const queries = () => rows.map((r, i) => [letter(i), r.editor.value.trim()]).filter(([, e]) => e);

  function save() {
    const p = new URLSearchParams();
    for (const [, e] of queries()) p.append('expr', e);
    toParams(state.range, p);
    if (state.step) p.set('step', state.step);
    if (state.refresh) p.set('refresh', state.refresh);
    if (state.view !== 'chart') p.set('view', state.view);
    replaceParams(p);
  }

  async function go() {
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
    const qs = queries();
    if (!qs.length) { mount(out, h('p', { class: 'muted' }, t('explore.empty'))); status.textContent = ''; return; }
    const many = rows.length > 1;
    const [start, end] = resolve(state.range);
    const stepSecs = state.step ? state.step : autoStep(start, end, 500);
    const t0 = performance.now();
    status.textContent = t('explore.running');
    // Every query at once; one that fails says why beside the others' results.
    const results = await Promise.all(qs.map(([, e]) => (state.view === 'chart'
      ? prom.range(e, start, end, stepSecs)
      : prom.query(e, state.range.range ? undefined : end)).then((data) => ({ data }), (error) => ({ error }))));
    if (mine !== seq) return;
    const ms = Math.round(performance.now() - t0);
    const errors = results.map((r, i) => r.error && h('p', { class: 'error', role: 'alert', id: i === 0 ? 'explore-error' : null },
      many ? t('explore.query_failed', { q: qs[i][0], error: r.error.message }) : r.error.message)).filter(Boolean);
    const ok = results.map((r, i) => [qs[i][0], r.data]).filter(([, d]) => d);
    if (!ok.length) { status.textContent = ''; mount(out, errors); return; }
    if (state.view === 'chart') {
      const series = [];
      const legend = [];
      for (const [q, data] of ok) {
        const res = data.result || [];
        const ns = seriesNames(res.map((s) => s.metric));
        res.forEach((s, k) => { series.push(s); legend.push(many ? `${q}: ${ns[k]}` : ns[k]); });
      }
      mount(out, errors, h('div', { class: 'chart', id: 'explore-chart' }));
      plot = drawChart(out.lastChild, {
        data: align(series, start, end), names: legend, height: 340,
        onZoom: (a, b) => { state.range = { from: a, to: b }; drawRange(); go(); },
      });
      status.textContent = t('explore.result_series', { n: series.length, ms })
        + ' · ' + t('explore.step_used', { step: Number.isFinite(Number(stepSecs)) ? fmt.duration(Number(stepSecs)) : stepSecs });
    } else {
      mount(out, errors, resultTable(ok, many));
      const n = ok.reduce((sum, [, d]) => sum + (Array.isArray(d.result) && d.resultType !== 'scalar' && d.resultType !== 'string' ? d.result.length : 1), 0);
      status.textContent = t('explore.result_series', { n, ms });
    }
  }

  tabs();
  if (queries().length) await go(); else mount(out, h('p', { class: 'muted' }, t('explore.empty')));
  rows[0].editor.focus();
  return () => { clearInterval(timer); if (plot) plot.destroy(); };
}

/** The table view: a row per series of each query ([letter, data] pairs); with several
 * queries, a first column says which one. */
function resultTable(results, many) {
  const rows = [];
  for (const [q, data] of results) {
    const type = data.resultType;
    const cell = many ? h('td', { class: 'query' }, q) : null;
    if (type === 'scalar' || type === 'string') {
      rows.push(h('tr', null, cell, h('td', { class: 'mono' }, type), h('td', { class: 'num' }, String(data.result[1])), h('td', null, fmt.dateTime(data.result[0] * 1000))));
      continue;
    }
    for (const s of data.result || []) {
      const v = type === 'matrix' ? s.values[s.values.length - 1] : s.value;
      rows.push(h('tr', null, many ? cell.cloneNode(true) : null, h('td', { class: 'mono' }, fullName(s.metric)),
        h('td', { class: 'num' }, type === 'matrix' ? tn('explore.points', s.values.length) + ' · ' + v[1] : v[1]),
        h('td', null, fmt.dateTime(v[0] * 1000))));
    }
  }
  if (!rows.length) return h('p', { class: 'muted', id: 'explore-table' }, t('explore.no_result'));
  return table([many ? t('explore.query') : null, t('explore.series'), h('th', { class: 'num', scope: 'col' }, t('explore.value')), t('explore.time')].filter(Boolean),
    rows, { id: 'explore-table' });
}
