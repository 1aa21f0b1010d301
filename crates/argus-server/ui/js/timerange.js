// The time range picker of charts: presets (last 15 minutes … 30 days) or a custom
// range, kept in the URL as range=1h, or from= and to= (Unix seconds).

import { h, select, field } from './dom.js';
import { t, getTz } from './i18n.js';

export const PRESETS = [['5m', 300], ['15m', 900], ['1h', 3600], ['3h', 10800], ['6h', 21600], ['12h', 43200],
  ['24h', 86400], ['2d', 172800], ['7d', 604800], ['30d', 2592000]];

/** The range a page's URL gives: {range} or {from, to}. */
export function fromParams(params, def = '1h') {
  const from = Number(params.get('from'));
  const to = Number(params.get('to'));
  if (from > 0 && to > from) return { from, to };
  const r = params.get('range');
  return { range: PRESETS.some(([k]) => k === r) ? r : def };
}

export function toParams(range, params) {
  params.delete('range'); params.delete('from'); params.delete('to');
  if (range.range) params.set('range', range.range);
  else { params.set('from', String(Math.round(range.from))); params.set('to', String(Math.round(range.to))); }
}

/** [start, end] in Unix seconds, now for a preset. */
export function resolve(range) {
  if (range.range) {
    const secs = PRESETS.find(([k]) => k === range.range)[1];
    const end = Date.now() / 1000;
    return [end - secs, end];
  }
  return [range.from, range.to];
}

/** A step giving about `points` points over the range, rounded to a readable one. */
export function autoStep(start, end, points = 300) {
  const raw = Math.max(1, (end - start) / points);
  const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  return nice.find((n) => n >= raw) || Math.ceil(raw / 86400) * 86400;
}

// datetime-local inputs hold wall time without a zone: read and write them in the
// chosen zone (the browser's, or UTC). `seconds`: to the second (an input with step=1).
export function toInput(secs, seconds = false) {
  const d = new Date(secs * 1000);
  const n = seconds ? 19 : 16;
  if (getTz() === 'UTC') return d.toISOString().slice(0, n);
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, n);
}
/** Unix seconds from a datetime-local value in the chosen zone; NaN when empty. */
export function fromInput(v) {
  if (!v) return NaN;
  return (getTz() === 'UTC' ? Date.parse(v + 'Z') : new Date(v).getTime()) / 1000;
}

/** The picker: a preset select, custom inputs when "custom" is chosen; calls onChange(range). */
export function picker(range, onChange) {
  const sel = select({ id: 'range-preset' },
    [...PRESETS.map(([k]) => [k, t('range.last_' + k)]), ['custom', t('range.custom')]],
    range.range || 'custom');
  const [s, e] = resolve(range);
  const fromI = h('input', { type: 'datetime-local', id: 'range-from', value: toInput(s) });
  const toI = h('input', { type: 'datetime-local', id: 'range-to', value: toInput(e) });
  const err = h('span', { class: 'error', role: 'alert' });
  const custom = h('div', { class: 'row', hidden: !!range.range },
    field(t('range.from'), fromI), field(t('range.to'), toI),
    h('button', { type: 'button', id: 'range-apply', onclick: () => {
      const from = fromInput(fromI.value);
      const to = fromInput(toI.value);
      if (!(from < to)) { err.textContent = t('range.invalid'); return; }
      err.textContent = '';
      onChange({ from, to });
    } }, t('range.apply')), err);
  sel.addEventListener('change', () => {
    if (sel.value === 'custom') { custom.hidden = false; fromI.focus(); return; }
    custom.hidden = true;
    onChange({ range: sel.value });
  });
  return h('div', { class: 'row' }, field(t('range.label'), sel), custom);
}
