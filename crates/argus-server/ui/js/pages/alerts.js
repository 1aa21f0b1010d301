// Alerts: the firing and pending alerts (the rules', and those the notifier holds from
// event rules and other senders, with what silences them), their history, the rules
// (with a create and edit form whose default is the threshold form; also expressions,
// no data of series or of a host, and events), silences and maintenance windows (both
// created and edited). Viewers see all of it; edit controls render for editors only, and
// the API refuses a viewer's writes anyway.

import { h, mount, field, select, table } from '../dom.js';
import { t, tn, fmt } from '../i18n.js';
import { api, canEdit, prom, activeAlerts, sameLabels } from '../api.js';
import { replaceParams, route } from '../router.js';
import { parseLabels, formatLabels } from '../labels.js';
import { toInput, fromInput } from '../timerange.js';

const TABS = [['active', 'alerts.tab_active'], ['history', 'alerts.tab_history'], ['rules', 'alerts.tab_rules'],
  ['silences', 'alerts.tab_silences'], ['maintenance', 'alerts.tab_maintenance']];

const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
/** A weekday's name in the chosen language (2024-01-01 was a Monday). */
function weekday(d) {
  const i = WEEKDAYS.indexOf(d);
  if (i < 0) return d;
  return new Intl.DateTimeFormat(document.documentElement.lang, { weekday: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(2024, 0, 1 + i)));
}

function chips(obj, skip = []) {
  return h('span', { class: 'chips' }, Object.entries(obj || {}).filter(([k]) => !skip.includes(k))
    .map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`)));
}

/** `a="x", b=~"y.*"` → Alertmanager matchers. */
export function parseMatchers(text) {
  const out = [];
  const re = /\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
  let m;
  let at = 0;
  while (at < text.length && (m = re.exec(text))) {
    out.push({ name: m[1], value: m[3].replace(/\\(.)/g, '$1'), isRegex: m[2].includes('~'), isEqual: !m[2].startsWith('!') });
    at = re.lastIndex;
  }
  if (text.slice(at).trim() || !out.length) throw new Error(t('alerts.bad_matchers'));
  return out;
}
function matcherText(ms) {
  return ms.map(showMatcher).join(', ');
}
function showMatcher(m) {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : (m.isEqual ? '=' : '!=');
  return `${m.name}${op}"${m.value}"`;
}

export async function render(main, params) {
  let tab = TABS.some(([k]) => k === params.get('tab')) ? params.get('tab') : 'active';
  const panel = h('div', { role: 'tabpanel', id: 'alerts-panel' });
  const buttons = TABS.map(([k, key]) => h('button', {
    type: 'button', role: 'tab', id: 'tab-' + k, 'aria-selected': String(k === tab),
    onclick: () => show(k),
  }, t(key)));
  mount(main, h('h1', null, t('alerts.title')), h('div', { role: 'tablist', 'aria-label': t('alerts.title') }, buttons), panel);
  let timer = null;

  async function show(k) {
    tab = k;
    buttons.forEach((b, i) => b.setAttribute('aria-selected', String(TABS[i][0] === k)));
    const p = route().params;
    p.set('tab', k);
    replaceParams(p);
    clearInterval(timer);
    const view = { active, history, rules, silences, maintenance }[k];
    await view(panel);
    if (k === 'active') timer = setInterval(() => active(panel, true).catch(() => {}), 10000);
  }

  // --- firing and pending ---
  async function active(el, quiet) {
    const { alerts: act, held } = await activeAlerts();
    if (quiet && el.querySelector('form')) return; // a silence being written: do not wipe it
    const formBox = h('div');
    const silencedBy = (a) => {
      const x = (held || []).find((y) => sameLabels(y.labels, a.labels));
      return x && x.status && x.status.silencedBy && x.status.silencedBy.length ? x.status.silencedBy : null;
    };
    mount(el, act.length
      ? table([t('alerts.name'), t('alerts.state'), t('alerts.labels'), t('alerts.value'), t('alerts.since'), t('alerts.summary'), t('alerts.silenced'),
        canEdit() ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))) : null],
      act.map((a) => {
        const sil = silencedBy(a);
        return h('tr', { dataset: { rule: a.rule } },
          h('td', null, a.rule),
          h('td', { class: 'state-' + a.state }, t('alerts.' + a.state)),
          h('td', null, chips(a.labels, ['alertname'])),
          h('td', { class: 'num', title: a.external ? t('alerts.from_notifier') : null }, a.external ? '—' : fmt.num(a.value)),
          h('td', { title: fmt.dateTime(a.active_at_ms) }, fmt.ago(a.fired_at_ms || a.active_at_ms)),
          h('td', null, a.annotations.summary || a.annotations.description || ''),
          h('td', { class: 'silenced' }, sil ? t('alerts.silenced_yes') : ''),
          canEdit() ? h('td', { class: 'actions' }, sil ? null : h('button', {
            type: 'button', class: 'ghost small silence', onclick: () => {
              const pre = Object.entries(a.labels).filter(([k]) => k === 'alertname' || k === 'host')
                .map(([k, v]) => ({ name: k, value: v, isRegex: false, isEqual: true }));
              mount(formBox, silenceForm({ prefill: pre }, () => { mount(formBox); active(el); }));
            },
          }, t('alerts.silence'))) : null);
      }), { id: 'alerts-active' })
      : h('p', { class: 'ok', id: 'alerts-active' }, t('overview.no_alerts')),
    formBox);
  }

  // --- history ---
  async function history(el) {
    const rows = (await api('/api/argus/alerts/history', { query: { limit: 200 } })).data || [];
    mount(el, rows.length
      ? table([t('alerts.time'), t('alerts.name'), t('alerts.state'), t('alerts.labels'), t('alerts.value')], rows.map((x) => h('tr', null,
        h('td', null, fmt.dateTime(x.ts_ms)), h('td', null, x.rule), h('td', { class: 'state-' + x.state }, t('alerts.' + x.state)),
        h('td', null, chips(x.labels, ['alertname'])), h('td', { class: 'num' }, fmt.num(x.value)))))
      : h('p', { class: 'muted' }, t('common.none')));
  }

  // --- rules ---
  async function rules(el) {
    const list = (await api('/api/argus/rules')).data || [];
    const formBox = h('div');
    const edit = canEdit();
    mount(el,
      edit ? h('p', null, h('button', { type: 'button', id: 'rule-new', onclick: () => mount(formBox, ruleForm(null, () => rules(el))) }, t('alerts.new_rule'))) : null,
      formBox,
      list.length ? table([t('alerts.rule'), t('alerts.source'), t('alerts.expression'), t('alerts.state'), t('alerts.health'), t('alerts.enabled'),
        edit ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))) : null],
      list.map((r) => {
        const st = r.status || {};
        const name = r.rule ? r.rule.name : st.name;
        return h('tr', { dataset: { rule: name } },
          h('td', null, name),
          h('td', null, r.source === 'api' ? t('alerts.source_api') : r.file),
          h('td', { class: 'mono' }, st.query || (r.rule && ruleText(r.rule)) || ''),
          h('td', { class: 'state-' + (st.state || '') }, st.state ? t('alerts.' + st.state) : r.rule && r.rule.event ? t('alerts.on_event') : ''),
          h('td', { class: st.health === 'err' ? 'error' : '' }, st.health || '', st.lastError ? ': ' + st.lastError : ''),
          h('td', null, r.enabled ? t('common.yes') : t('common.no')),
          edit ? h('td', { class: 'actions' }, r.source === 'api' ? [
            h('button', { type: 'button', class: 'ghost small rule-edit', onclick: () => mount(formBox, ruleForm(r, () => rules(el))) }, t('common.edit')), ' ',
            h('button', { type: 'button', class: 'ghost small rule-toggle', onclick: async () => {
              await api('/api/argus/rules/' + encodeURIComponent(r.id), { method: 'PATCH', body: { enabled: !r.enabled } });
              rules(el);
            } }, r.enabled ? t('alerts.disable') : t('alerts.enable')), ' ',
            h('button', { type: 'button', class: 'danger small', onclick: async () => {
              if (!confirm(t('common.confirm_delete', { what: name }))) return;
              await api('/api/argus/rules/' + encodeURIComponent(r.id), { method: 'DELETE' });
              rules(el);
            } }, t('common.delete'))] : null) : null);
      }), { id: 'rules-table' }) : h('p', { class: 'muted' }, t('alerts.no_rules')));
  }

  // --- silences ---
  /** `note`: what the last change did, shown above the list drawn again. */
  async function silences(el, note) {
    const list = await api('/api/v2/silences');
    const formBox = h('div');
    const edit = canEdit();
    const msg = h('p', { class: 'ok', role: 'status', id: 'silence-note' }, note || '');
    const again = (n) => silences(el, n);
    const open = (opts) => { mount(formBox, silenceForm(opts, again)); formBox.scrollIntoView({ block: 'nearest' }); };
    mount(el,
      edit ? h('p', null, h('button', { type: 'button', id: 'silence-new', onclick: () => open({}) }, t('alerts.new_silence'))) : null,
      msg, formBox,
      list.length ? table([t('alerts.state'), t('alerts.matchers'), t('alerts.starts'), t('alerts.ends'), t('alerts.created_by'), t('alerts.comment'),
        edit ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))) : null],
      list.map((s) => h('tr', { dataset: { silence: s.id }, title: s.id },
        h('td', null, t('alerts.silence_' + s.status.state)),
        h('td', { class: 'mono' }, s.matchers.map(showMatcher).join(', ')),
        h('td', null, fmt.dateTime(Date.parse(s.startsAt))),
        h('td', null, fmt.dateTime(Date.parse(s.endsAt))),
        h('td', null, s.createdBy), h('td', null, s.comment),
        edit ? h('td', { class: 'actions' }, s.status.state !== 'expired' ? [
          h('button', { type: 'button', class: 'ghost small silence-edit', onclick: () => open({ silence: s }) }, t('common.edit')), ' ',
          h('button', { type: 'button', class: 'ghost small expire', onclick: async () => {
            await api('/api/v2/silence/' + encodeURIComponent(s.id), { method: 'DELETE' });
            silences(el);
          } }, t('alerts.expire'))]
          // As Alertmanager's UI: an expired silence is made again, as a new one.
          : h('button', { type: 'button', class: 'ghost small silence-recreate', onclick: () => open({ silence: s, recreate: true }) }, t('alerts.recreate'))) : null)),
      { id: 'silences-table' })
        : h('p', { class: 'muted' }, t('alerts.no_silences')));
  }

  // --- maintenance windows ---
  async function maintenance(el) {
    const list = (await api('/api/argus/maintenance')).data || [];
    const edit = canEdit();
    const formBox = h('div');
    const scope = (w) => [
      ...(w.hosts || []).map((x) => t('alerts.mw_host', { x })), ...(w.groups || []).map((x) => t('alerts.mw_group', { x })),
      ...(w.locations || []).map((x) => t('alerts.mw_location', { x })), ...(w.matchers || []).map(showMatcher)].join(', ');
    const when = (s) => (s.type === 'once'
      ? `${fmt.dateTime(Date.parse(s.startsAt))} – ${fmt.dateTime(Date.parse(s.endsAt))}`
      : t('alerts.mw_weekly', { days: (s.weekdays || []).map(weekday).join(', '), start: s.start, end: s.end, tz: s.timeZone || 'UTC' }));
    mount(el,
      edit ? h('p', null, h('button', { type: 'button', id: 'mw-new', onclick: () => mount(formBox, maintenanceForm(null, () => maintenance(el))) }, t('alerts.new_window'))) : null,
      formBox,
      list.length ? table([t('common.name'), t('alerts.mw_scope'), t('alerts.mw_when'), t('alerts.mw_open'),
        edit ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))) : null],
      list.map((w) => h('tr', { dataset: { window: w.name || w.id } }, h('td', null, w.name || w.id), h('td', null, scope(w)), h('td', null, when(w.schedule || {})),
        h('td', { class: w.open ? 'state-pending' : '' }, w.open ? t('common.yes') : t('common.no')),
        edit ? h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'ghost small mw-edit', onclick: () => {
            mount(formBox, maintenanceForm(w, () => maintenance(el)));
            formBox.scrollIntoView({ block: 'nearest' });
          } }, t('common.edit')), ' ',
          h('button', { type: 'button', class: 'danger small', onclick: async () => {
            if (!confirm(t('common.confirm_delete', { what: w.name || w.id }))) return;
            await api('/api/argus/maintenance/' + encodeURIComponent(w.id), { method: 'DELETE' });
            maintenance(el);
          } }, t('common.delete'))) : null)), { id: 'windows-table' }) : h('p', { class: 'muted' }, t('alerts.no_windows')));
  }

  await show(tab);
  return () => clearInterval(timer);
}

/** What a rule evaluates, in a line: its expression, or its event match. */
function ruleText(r) {
  if (r.event) return `${t('alerts.event_of_type', { type: r.event.type })}${(r.event.match || []).length ? ': ' + r.event.match.join(', ') : ''}`;
  return r.expr || '';
}

/** An ISO time from a datetime-local input, or `orig` when the input still shows it. */
function timeOf(input, shown, orig) {
  if (orig && input.value === shown) return orig;
  const secs = fromInput(input.value);
  if (!Number.isFinite(secs)) throw new Error(t('alerts.bad_time'));
  return new Date(secs * 1000).toISOString();
}

/**
 * The silence form. New: matchers (`prefill`, from an alert), how long from now, a
 * comment. Editing `silence`: its matchers, start, end and comment, posted with its id;
 * the API changes it in place when the matchers and an active one's start stay, and
 * otherwise expires it and makes a new one (Alertmanager's rule). `recreate`: an expired
 * silence made again as a new one. `done(note)` is called with what happened.
 */
function silenceForm({ silence: s = null, prefill = [], recreate = false }, done) {
  const editing = !!s && !recreate;
  const matchers = h('input', { id: 'silence-matchers', class: 'mono', value: matcherText(s ? s.matchers : prefill), size: 50, required: true });
  const span = s ? (Date.parse(s.endsAt) - Date.parse(s.startsAt)) / 3600e3 : 2;
  const hours = h('input', { id: 'silence-hours', type: 'number', min: '0.01', step: 'any', value: String(Math.max(0.01, Math.round(span * 100) / 100)), size: 5 });
  const starts = h('input', { id: 'silence-starts', type: 'datetime-local', step: 1, value: editing ? toInput(Date.parse(s.startsAt) / 1000, true) : '' });
  const ends = h('input', { id: 'silence-ends', type: 'datetime-local', step: 1, value: editing ? toInput(Date.parse(s.endsAt) / 1000, true) : '' });
  // As the inputs hold them (they normalize what they are given): an input still showing
  // this sends the silence's own time, to the millisecond.
  const shown = [starts.value, ends.value];
  const comment = h('input', { id: 'silence-comment', size: 40, value: s ? s.comment : '' });
  const msg = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card', id: 'silence-form', onsubmit: async (e) => {
    e.preventDefault();
    msg.textContent = '';
    try {
      const body = { matchers: parseMatchers(matchers.value), createdBy: editing ? s.createdBy : '', comment: comment.value };
      if (editing) {
        body.id = s.id;
        body.startsAt = timeOf(starts, shown[0], s.startsAt);
        body.endsAt = timeOf(ends, shown[1], s.endsAt);
      } else {
        const now = Date.now();
        body.startsAt = new Date(now).toISOString();
        body.endsAt = new Date(now + Number(hours.value) * 3600e3).toISOString();
      }
      const r = await api('/api/v2/silences', { method: 'POST', body });
      done(editing && r.silenceID !== s.id ? t('alerts.silence_replaced', { id: r.silenceID }) : t('common.saved'));
    } catch (err) { msg.textContent = err.message; }
  } },
  h('h2', null, editing ? t('alerts.edit_silence') : recreate ? t('alerts.recreate_silence') : t('alerts.new_silence')),
  field(t('alerts.matchers'), matchers, t('alerts.matchers_hint')),
  editing
    ? [h('div', { class: 'row' }, field(t('alerts.starts'), starts), field(t('alerts.ends'), ends), field(t('alerts.comment'), comment)),
      h('p', { class: 'hint' }, t('alerts.silence_edit_note'))]
    : h('div', { class: 'row' }, field(t('alerts.duration_hours'), hours), field(t('alerts.comment'), comment)),
  msg,
  h('button', { type: 'submit', id: 'silence-save' }, editing ? t('common.save') : t('alerts.silence')), ' ',
  h('button', { type: 'button', class: 'ghost', onclick: () => form.remove() }, t('common.cancel')));
  setTimeout(() => matchers.focus());
  return form;
}

/** Comma-separated words of an input. */
const words = (i) => i.value.split(',').map((x) => x.trim()).filter(Boolean);

/** The rule form. Its default is the threshold form (metric, label filters, operator,
 * value); or an expression, or no data (of a series selector, or of a host: no
 * heartbeat), or events of a type whose fields match. `r` is the rule being edited, or
 * null. */
function ruleForm(r, done) {
  const spec = (r && r.rule) || {};
  const mode0 = spec.expr ? 'expr' : spec.no_data ? 'no_data' : spec.event ? 'event' : 'threshold';
  const th = spec.threshold || {};
  const nd = spec.no_data || {};
  const ev = spec.event || {};
  const name = h('input', { id: 'rule-name', value: spec.name || '', required: true, pattern: '[A-Za-z_:][A-Za-z0-9_:]*' });
  const mode = select({ id: 'rule-mode' }, [['threshold', t('alerts.mode_threshold')], ['expr', t('alerts.mode_expr')],
    ['no_data', t('alerts.mode_no_data')], ['event', t('alerts.mode_event')]], mode0);
  const metric = h('input', { id: 'rule-metric', value: th.metric || '', list: 'dl-metrics', class: 'mono', size: 30 });
  const filters = h('input', { id: 'rule-filters', value: formatLabels(th.labels), placeholder: 'cpu=cpu-total', class: 'mono' });
  const op = select({ id: 'rule-op' }, ['>', '>=', '<', '<=', '==', '!='].map((o) => [o, o]), th.op || '>');
  const value = h('input', { id: 'rule-value', type: 'number', step: 'any', value: th.value ?? '' });
  const expr = h('textarea', { id: 'rule-expr', class: 'code', rows: 2, spellcheck: 'false' });
  expr.value = spec.expr || '';
  const ndKind = select({ id: 'rule-nodata-kind' }, [['selector', t('alerts.nodata_series')], ['host', t('alerts.nodata_host')]], nd.host != null ? 'host' : 'selector');
  const ndSel = h('input', { id: 'rule-nodata-selector', class: 'mono', value: nd.selector || '', placeholder: 'up{job="node"}' });
  const ndHost = h('input', { id: 'rule-nodata-host', value: nd.host || '', list: 'dl-hostnames', placeholder: '*' });
  const ndMin = h('input', { id: 'rule-nodata-minutes', type: 'number', min: 1, max: 1440, value: nd.minutes || 5 });
  const evType = h('input', { id: 'rule-event-type', value: ev.type || '', list: 'dl-event-types', placeholder: 'alarm' });
  const evMatch = h('textarea', { id: 'rule-event-match', class: 'code', rows: 3, spellcheck: 'false', placeholder: 'code=disk_full\nlevel=~crit|warn' });
  evMatch.value = (ev.match || []).join('\n');
  const evLabels = h('input', { id: 'rule-event-labels', value: (ev.labels_from || []).join(', '), placeholder: 'mount' });
  const evResolve = h('input', { id: 'rule-event-resolve', value: ev.resolve_after || '', placeholder: '5m', size: 6 });
  const forI = h('input', { id: 'rule-for', value: spec.for || '', placeholder: '5m', size: 6 });
  const interval = h('input', { id: 'rule-interval', value: spec.interval || '', placeholder: t('explore.step_auto'), size: 6 });
  const labels = h('input', { id: 'rule-labels', value: formatLabels(spec.labels), placeholder: 'severity=page' });
  const summary = h('input', { id: 'rule-summary', value: (spec.annotations || {}).summary || '', size: 50, placeholder: '{{ $labels.host }}: {{ $value }}' });
  const msg = h('p', { role: 'alert', id: 'rule-msg' });
  const metrics = h('datalist', { id: 'dl-metrics' });
  const hostnames = h('datalist', { id: 'dl-hostnames' }, h('option', { value: '*' }, t('alerts.every_host')));
  const eventTypes = h('datalist', { id: 'dl-event-types' }, ['alarm', 'log', 'script', 'task'].map((x) => h('option', { value: x })));
  prom.labelValues('__name__').then((ns) => mount(metrics, ns.map((n) => h('option', { value: n })))).catch(() => {});
  api('/api/argus/hosts', { query: { limit: 1000 } }).then((x) => hostnames.append(...(x.data || []).map((o) => h('option', { value: o.hostname })))).catch(() => {});
  const ndParts = { selector: field(t('alerts.nodata_selector'), ndSel), host: field(t('alerts.nodata_host_name'), ndHost, t('alerts.nodata_host_hint')) };
  const parts = {
    threshold: h('div', { class: 'row' }, field(t('alerts.metric'), metric), field(t('alerts.filters'), filters, t('alerts.filters_hint')),
      field(t('alerts.op'), op), field(t('alerts.threshold'), value)),
    expr: field(t('explore.expr'), expr),
    no_data: h('div', { class: 'row' }, field(t('alerts.nodata_of'), ndKind), ndParts.selector, ndParts.host, field(t('alerts.nodata_minutes'), ndMin)),
    event: h('div', null, h('div', { class: 'row' }, field(t('alerts.event_type'), evType, t('alerts.event_type_hint')),
      field(t('alerts.event_labels_from'), evLabels, t('alerts.event_labels_from_hint')),
      field(t('alerts.event_resolve_after'), evResolve, t('alerts.event_resolve_after_hint'))),
    field(t('alerts.event_match'), evMatch, t('alerts.event_match_hint'))),
  };
  // An event rule fires as its events come: "pending for" and "evaluate every" do not apply.
  const timing = [field(t('alerts.for'), forI, t('alerts.for_hint')), field(t('alerts.interval'), interval)];
  const showMode = () => {
    for (const [k, el] of Object.entries(parts)) el.hidden = k !== mode.value;
    for (const [k, el] of Object.entries(ndParts)) el.hidden = k !== ndKind.value;
    for (const el of timing) el.hidden = mode.value === 'event';
  };
  mode.addEventListener('change', showMode);
  ndKind.addEventListener('change', showMode);
  showMode();

  function input() {
    const body = { name: name.value.trim(), labels: parseLabels(labels.value), annotations: { ...(spec.annotations || {}) } };
    delete body.annotations.summary;
    if (summary.value.trim()) body.annotations.summary = summary.value.trim();
    if (mode.value !== 'event') {
      if (forI.value.trim()) body.for = forI.value.trim();
      if (interval.value.trim()) body.interval = interval.value.trim();
    }
    if (mode.value === 'threshold') {
      body.threshold = { metric: metric.value.trim(), labels: parseLabels(filters.value), op: op.value, value: Number(value.value) };
    } else if (mode.value === 'expr') {
      body.expr = expr.value.trim();
    } else if (mode.value === 'no_data') {
      body.no_data = ndKind.value === 'host'
        ? { host: ndHost.value.trim() || '*', minutes: Number(ndMin.value) }
        : { selector: ndSel.value.trim(), minutes: Number(ndMin.value) };
    } else {
      body.event = { type: evType.value.trim(), match: evMatch.value.split('\n').map((x) => x.trim()).filter(Boolean), labels_from: words(evLabels) };
      if (evResolve.value.trim()) body.event.resolve_after = evResolve.value.trim();
    }
    if (r) body.enabled = r.enabled;
    return body;
  }
  const form = h('form', { class: 'card', id: 'rule-form', onsubmit: async (e) => {
    e.preventDefault();
    msg.className = 'error';
    msg.textContent = '';
    try {
      if (r) await api('/api/argus/rules/' + encodeURIComponent(r.id), { method: 'PUT', body: input() });
      else await api('/api/argus/rules', { method: 'POST', body: input() });
      done();
    } catch (err) { msg.textContent = err.message; }
  } },
  h('h2', null, r ? t('alerts.edit_rule', { name: spec.name }) : t('alerts.new_rule')),
  h('div', { class: 'row' }, field(t('alerts.rule_name'), name), field(t('alerts.mode'), mode)),
  parts.threshold, parts.expr, parts.no_data, parts.event, metrics, hostnames, eventTypes,
  h('div', { class: 'row' }, timing, field(t('alerts.rule_labels'), labels), field(t('alerts.summary'), summary)),
  msg,
  h('button', { type: 'submit', id: 'rule-save' }, t('common.save')), ' ',
  h('button', { type: 'button', class: 'ghost', id: 'rule-preview', onclick: async () => {
    msg.className = 'muted';
    try {
      const p = (await api('/api/argus/rules/preview', { method: 'POST', body: input() })).data;
      if (p.alerts) {
        mount(msg, t('alerts.preview_events', { n: fmt.int(p.matched), of: fmt.int(p.events_scanned) }),
          p.alerts.length ? h('ul', null, p.alerts.slice(0, 5).map((a) => h('li', { class: 'mono' }, formatLabels(a.labels)))) : null);
      } else {
        msg.textContent = tn('alerts.preview_result', (p.series || []).length, { expr: p.expr || '' });
      }
    } catch (err) { msg.className = 'error'; msg.textContent = err.message; }
  } }, t('alerts.preview')), ' ',
  h('button', { type: 'button', class: 'ghost', onclick: () => form.remove() }, t('common.cancel')));
  setTimeout(() => name.focus());
  return form;
}


/** A maintenance window for hosts, groups or locations: once, or every week on chosen
 * days between two times of day in a time zone. New: once means from now for some
 * hours; editing `w` (replaced whole, PUT): once between its start and end. What the
 * form does not show (matchers, the weekly validity) is kept. */
function maintenanceForm(w, done) {
  const s = (w && w.schedule) || {};
  const name = h('input', { id: 'mw-name', required: true, value: (w && w.name) || '' });
  const hosts = h('input', { id: 'mw-hosts', placeholder: 'web-1, web-2', value: ((w && w.hosts) || []).join(', ') });
  const groups = h('input', { id: 'mw-groups', value: ((w && w.groups) || []).join(', ') });
  const locations = h('input', { id: 'mw-locations', value: ((w && w.locations) || []).join(', ') });
  const comment = h('input', { id: 'mw-comment', value: (w && w.comment) || '', size: 40 });
  const kind = select({ id: 'mw-kind' }, [['once', w ? t('alerts.mw_once_between') : t('alerts.mw_once')], ['weekly', t('alerts.mw_every_week')]], s.type || 'once');
  const hours = h('input', { id: 'mw-hours', type: 'number', min: '0.1', step: 'any', value: '1', size: 5 });
  const now = Date.now() / 1000;
  const starts = h('input', { id: 'mw-starts', type: 'datetime-local', value: toInput(s.startsAt ? Date.parse(s.startsAt) / 1000 : now) });
  const ends = h('input', { id: 'mw-ends', type: 'datetime-local', value: toInput(s.endsAt ? Date.parse(s.endsAt) / 1000 : now + 3600) });
  const shown = [starts.value, ends.value];
  const days = WEEKDAYS.map((d) => h('input', { type: 'checkbox', value: d, id: 'mw-day-' + d, checked: (s.weekdays || []).includes(d) }));
  const dayBoxes = h('fieldset', { class: 'chips' }, h('legend', null, t('alerts.mw_days')),
    days.map((c) => h('label', { for: c.id }, c, ' ', weekday(c.value))));
  const from = h('input', { id: 'mw-start', type: 'time', value: s.start || '02:00' });
  const to = h('input', { id: 'mw-end', type: 'time', value: s.end === '24:00' ? '00:00' : s.end || '04:00' });
  const zone = h('input', { id: 'mw-zone', value: s.timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', size: 18 });
  const once = h('div', { class: 'row' }, w
    ? [field(t('alerts.starts'), starts), field(t('alerts.ends'), ends)]
    : field(t('alerts.duration_hours'), hours));
  const weekly = h('div', null, dayBoxes, h('div', { class: 'row' },
    field(t('alerts.mw_from'), from), field(t('alerts.mw_to'), to), field(t('alerts.mw_zone'), zone, t('alerts.mw_zone_hint'))));
  const showKind = () => { once.hidden = kind.value !== 'once'; weekly.hidden = kind.value !== 'weekly'; };
  kind.addEventListener('change', showKind);
  showKind();
  const msg = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card', id: 'mw-form', onsubmit: async (e) => {
    e.preventDefault();
    msg.textContent = '';
    try {
      let schedule;
      if (kind.value === 'weekly') {
        schedule = { type: 'weekly', weekdays: days.filter((c) => c.checked).map((c) => c.value), start: from.value, end: to.value, timeZone: zone.value.trim() || 'UTC' };
        if (s.type === 'weekly') {
          if (s.validFrom) schedule.validFrom = s.validFrom;
          if (s.validUntil) schedule.validUntil = s.validUntil;
        }
      } else if (w) {
        schedule = { type: 'once', startsAt: timeOf(starts, shown[0], s.startsAt), endsAt: timeOf(ends, shown[1], s.endsAt) };
      } else {
        const t0 = Date.now();
        schedule = { type: 'once', startsAt: new Date(t0).toISOString(), endsAt: new Date(t0 + Number(hours.value) * 3600e3).toISOString() };
      }
      const body = { name: name.value.trim(), hosts: words(hosts), groups: words(groups), locations: words(locations), comment: comment.value, schedule };
      if (w) {
        body.matchers = w.matchers || [];
        body.createdBy = w.createdBy || '';
        await api('/api/argus/maintenance/' + encodeURIComponent(w.id), { method: 'PUT', body });
      } else {
        await api('/api/argus/maintenance', { method: 'POST', body });
      }
      done();
    } catch (err) { msg.textContent = err.message; }
  } },
  h('h2', null, w ? t('alerts.edit_window', { name: w.name || w.id }) : t('alerts.new_window')),
  h('div', { class: 'row' }, field(t('common.name'), name), field(t('alerts.mw_hosts'), hosts), field(t('alerts.mw_groups'), groups),
    field(t('alerts.mw_locations'), locations), field(t('alerts.mw_kind'), kind)),
  once, weekly, field(t('alerts.comment'), comment),
  msg, h('button', { type: 'submit', id: 'mw-save' }, w ? t('common.save') : t('common.create')), ' ',
  h('button', { type: 'button', class: 'ghost', onclick: () => form.remove() }, t('common.cancel')));
  setTimeout(() => name.focus());
  return form;
}
