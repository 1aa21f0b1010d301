// One host: what the inventory knows (facts, location, groups, labels, agent version and
// the configuration it applied), charts of CPU, memory, disk, disk I/O, network and load
// from the agent's series, its plugins and their state, its alerts, its no-data alert
// (a rule firing when the host sends no heartbeat: editors set its minutes here) and
// events, and every other metric it sends (each a link to Explore).

import { h, mount, card, table, field } from '../dom.js';
import { t, fmt } from '../i18n.js';
import { api, prom, canEdit, activeAlerts } from '../api.js';
import { details } from './events.js';
import { drawChart, align, seriesNames } from '../chart.js';
import { picker, fromParams, toParams, resolve, autoStep } from '../timerange.js';
import { replaceParams, route } from '../router.js';
import { firstData } from '../perf.js';

/** A PromQL string literal. */
export function quote(s) {
  return '"' + String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

// The charts: PromQL for the host's series (names of docs/plugins: the agent's inputs),
// a unit, and how a series is named in the legend.
function charts(sel, w) {
  const strip = (p) => (m) => (m.__name__ || '').replace(p, '');
  return [
    { id: 'cpu', title: 'host.cpu', unit: 'percent', queries: [
      [`{__name__=~"cpu_usage_(user|system|iowait|steal|nice|irq|softirq)",${sel},cpu="cpu-total"}`, strip('cpu_usage_')]] },
    { id: 'memory', title: 'host.memory', unit: 'bytes', queries: [
      [`{__name__=~"mem_(used|cached|buffered|available)",${sel}}`, strip('mem_')]] },
    { id: 'disk', title: 'host.disk', unit: 'percent', queries: [[`disk_used_percent{${sel}}`, (m) => m.path || m.device || '']] },
    { id: 'diskio', title: 'host.diskio', unit: 'bytes/s', queries: [
      [`rate(diskio_read_bytes{${sel}}[${w}])`, (m) => t('host.read') + ' ' + (m.name || '')],
      [`rate(diskio_write_bytes{${sel}}[${w}])`, (m) => t('host.write') + ' ' + (m.name || '')]] },
    { id: 'network', title: 'host.network', unit: 'bytes/s', queries: [
      [`rate(net_bytes_recv{${sel},interface!="lo"}[${w}])`, (m) => t('host.received') + ' ' + (m.interface || '')],
      [`rate(net_bytes_sent{${sel},interface!="lo"}[${w}])`, (m) => t('host.sent') + ' ' + (m.interface || '')]] },
    { id: 'load', title: 'host.load', unit: 'short', queries: [
      [`{__name__=~"system_load(1|5|15)",${sel}}`, strip('system_')]] },
  ];
}

function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(([, v]) => v != null && v !== '').flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function chips(list) {
  return h('span', { class: 'chips' }, list.map((x) => h('span', { class: 'chip' }, x)));
}

export async function render(main, params, id) {
  // A host known only from its series (no agent, not in the inventory) has no record:
  // its page shows what its series hold.
  const host = params.get('series') === '1'
    ? { id: '', hostname: id, status: 'unknown', registered: false, heartbeat: {}, groups: [], labels: {} }
    : (await api('/api/argus/hosts/' + encodeURIComponent(id))).data;
  const name = host.hostname;
  const sel = `host=${quote(name)}`;
  let range = fromParams(params, '1h');
  let plots = [];
  let timer = null;

  const chartGrid = h('div', { class: 'grid' });
  const rangeBox = h('div');
  const events = h('div');
  const alerts = h('div');
  const history = h('div');
  const other = h('div');
  const config = h('div');
  const nodata = h('div', { id: 'host-nodata' });
  const hb = host.heartbeat || {};
  const plugins = hb.plugins || [];
  document.title = `${name} · Argus`;

  mount(main,
    h('h1', null, name, ' ', h('span', { class: 'badge status-' + host.status, id: 'host-status' }, t('status.' + host.status))),
    host.registered ? null : h('p', { class: 'muted', id: 'host-series-only' }, t('host.series_only')),
    rangeBox,
    chartGrid,
    h('div', { class: 'grid' },
      card(t('host.facts'), facts([
        [t('host.id'), h('code', null, host.id)],
        [t('hosts.ips'), (host.ips || []).join(', ')],
        [t('hosts.os'), host.os],
        [t('host.kernel'), host.kernel],
        [t('hosts.agent_version'), h('span', { id: 'host-agent-version' }, host.agent_version || '—')],
        [t('hosts.last_seen'), h('span', { id: 'host-last-seen' }, host.last_seen_ms ? `${fmt.dateTime(host.last_seen_ms)} (${fmt.ago(host.last_seen_ms)})` : t('hosts.never'))],
        [t('host.first_seen'), fmt.dateTime(host.first_seen_ms)],
        [t('host.uptime'), hb.uptime_secs != null ? fmt.duration(hb.uptime_secs) : null],
        [t('hosts.location'), host.location],
        [t('hosts.groups'), (host.groups || []).length ? chips(host.groups) : null],
        [t('hosts.labels'), Object.keys(host.labels || {}).length ? chips(Object.entries(host.labels).map(([k, v]) => `${k}=${v}`)) : null],
        [t('host.owner'), host.owner],
        [t('host.description'), host.description],
      ])),
      card(t('host.agent'), facts([
        [t('hosts.agent_version'), host.agent_version || '—'],
        [t('host.interval'), host.interval_ms ? fmt.duration(host.interval_ms / 1000) : null],
        [t('host.buffer'), hb.buffer_bytes != null ? fmt.bytes(hb.buffer_bytes) : null],
        [t('host.config_version'), host.config_version ? h('code', null, host.config_version) : t('host.config_none')],
        [t('host.config_error'), host.config_error ? h('span', { class: 'error' }, host.config_error) : null],
      ]), h('h3', null, t('host.plugins')),
      plugins.length
        ? table([t('host.plugin'), t('host.plugin_state'), t('host.plugin_error')], plugins.map((p) => h('tr', null,
          h('td', null, p.name), h('td', { class: p.last_error ? 'status-down' : '' }, p.state), h('td', { class: 'error' }, p.last_error || ''))), { id: 'host-plugins' })
        : h('p', { class: 'muted' }, t('host.no_plugins')))),
    h('div', { class: 'grid' },
      card(t('host.alerts'), alerts),
      card(t('host.alert_history'), history),
      host.registered ? card(t('host.nodata'), nodata) : null),
    card(t('host.events'), events,
      h('p', null, h('a', { href: '#/events?' + new URLSearchParams({ host: name }), id: 'host-all-events' }, t('host.all_events')))),
    card(t('host.other_series'), other),
    card(t('host.applied_config'), config));

  function setRange(r) {
    range = r;
    const p = route().params;
    toParams(range, p);
    replaceParams(p);
    drawCharts();
  }
  function drawPicker() {
    mount(rangeBox, h('div', { class: 'toolbar' }, picker(range, setRange),
      h('button', { type: 'button', class: 'ghost', id: 'host-refresh', onclick: () => drawCharts() }, t('common.refresh'))));
  }
  drawPicker();

  const boxes = new Map();
  async function drawCharts() {
    const [start, end] = resolve(range);
    const step = autoStep(start, end, 400);
    const w = `${Math.max(60, step * 2)}s`;
    const list = charts(sel, w);
    if (!boxes.size) {
      mount(chartGrid, list.map((c) => {
        const box = h('div', { class: 'chart', id: 'chart-' + c.id, role: 'figure', 'aria-label': t(c.title) });
        boxes.set(c.id, box);
        return card(t(c.title), box);
      }));
    }
    const results = await Promise.all(list.map((c) => Promise.all(c.queries.map(([q]) => prom.range(q, start, end, step).catch(() => ({ result: [] }))))));
    for (const p of plots) p.destroy();
    plots = [];
    list.forEach((c, i) => {
      const series = [];
      const names = [];
      results[i].forEach((r, j) => {
        const res = r.result || [];
        const label = c.queries[j][1];
        const fallback = seriesNames(res.map((s) => s.metric));
        res.forEach((s, k) => { series.push(s); names.push(label(s.metric) || fallback[k]); });
      });
      const u = drawChart(boxes.get(c.id), {
        data: align(series, start, end), names, unit: c.unit,
        onZoom: (a, b) => { setRange({ from: a, to: b }); drawPicker(); },
      });
      if (u) plots.push(u);
    });
    firstData('host');
  }

  async function loadLists() {
    const now = Date.now();
    const [act, hist, ev, names, cfg] = await Promise.all([
      activeAlerts(name).then((r) => r.alerts).catch(() => []),
      api('/api/argus/alerts/history', { query: { host: name, limit: 20 } }).then((r) => r.data || []).catch(() => []),
      api('/api/argus/events', { query: { host: name, start: Math.floor(now / 1000) - 86400, limit: 1000 } }).then((r) => r.data || []).catch(() => []),
      prom.labelValues('__name__', `{${sel}}`).catch(() => []),
      host.registered
        ? api('/api/argus/agent/config', { query: { host: name, id: host.id }, text: true }).catch((e) => (e.status === 404 ? null : Promise.reject(e)))
        : null,
    ]);
    mount(alerts, act.length
      ? table([t('alerts.name'), t('alerts.state'), t('alerts.value'), t('alerts.since')], act.map((a) => h('tr', null,
        h('td', null, a.rule), h('td', { class: 'state-' + a.state }, t('alerts.' + a.state)),
        h('td', { class: 'num' }, fmt.num(a.value)), h('td', null, fmt.ago(a.fired_at_ms || a.active_at_ms)))))
      : h('p', { class: 'ok' }, t('host.no_alerts')));
    mount(history, hist.length
      ? table([t('alerts.time'), t('alerts.name'), t('alerts.state'), t('alerts.value')], hist.map((x) => h('tr', null,
        h('td', null, fmt.dateTime(x.ts_ms)), h('td', null, x.rule), h('td', { class: 'state-' + x.state }, t('alerts.' + x.state)),
        h('td', { class: 'num' }, fmt.num(x.value)))))
      : h('p', { class: 'muted' }, t('host.no_history')));
    const recent = ev.slice(-50).reverse();
    mount(events, recent.length
      ? table([t('events.time'), t('events.type'), t('events.details')], recent.map((e) => h('tr', null,
        h('td', null, fmt.dateTime(e.ts)), h('td', null, e.type),
        h('td', { class: 'mono' }, details(e)))))
      : h('p', { class: 'muted' }, t('host.no_events')));
    mount(other, names.length
      ? h('ul', { class: 'chips', id: 'host-series' }, names.map((n) => h('li', { class: 'chip' },
        h('a', { href: '#/explore?' + new URLSearchParams({ expr: `${n}{${sel}}` }) }, n))))
      : h('p', { class: 'muted' }, t('host.no_series')));
    mount(config, cfg == null
      ? h('p', { class: 'muted' }, t('host.config_none'))
      : [h('p', { class: 'muted' }, t('host.config_note')), h('pre', { id: 'host-config' }, cfg)]);
  }

  // The no-data alert: API rules of the "no data of a host" form naming this host, or
  // every host (*). Editors create this host's own, change its minutes or delete it.
  async function loadNoData(note) {
    const rules = (await api('/api/argus/rules')).data || [];
    const applies = rules.filter((r) => r.source === 'api' && r.rule && r.rule.no_data && (r.rule.no_data.host === name || r.rule.no_data.host === '*'));
    const own = applies.find((r) => r.rule.no_data.host === name);
    const edit = canEdit();
    const msg = h('p', { role: 'alert', id: 'nodata-msg', class: note ? 'ok' : 'error' }, note || '');
    const minutes = h('input', { id: 'nodata-minutes', class: 'narrow', type: 'number', min: 1, max: 1440, size: 5, value: own ? own.rule.no_data.minutes : 5 });
    const fail = (e) => { msg.className = 'error'; msg.textContent = e.message; };
    const save = async () => {
      try {
        const n = Number(minutes.value);
        const summary = t('host.nodata_summary', { n });
        if (own) {
          const spec = { ...own.rule, no_data: { host: name, minutes: n } };
          if (spec.annotations && spec.annotations.summary === t('host.nodata_summary', { n: own.rule.no_data.minutes })) spec.annotations = { ...spec.annotations, summary };
          await api('/api/argus/rules/' + encodeURIComponent(own.id), { method: 'PUT', body: spec });
        } else {
          await api('/api/argus/rules', { method: 'POST', body: { name: 'HostNoData', no_data: { host: name, minutes: n }, annotations: { summary } } });
        }
        await loadNoData(t('common.saved'));
      } catch (e) { fail(e); }
    };
    mount(nodata,
      applies.length ? h('ul', { id: 'nodata-rules' }, applies.map((r) => h('li', { dataset: { rule: r.id } },
        h('strong', null, r.rule.name), ' ',
        t(r.rule.no_data.host === '*' ? 'host.nodata_every' : 'host.nodata_this', { n: r.rule.no_data.minutes }), ' ',
        h('span', { class: 'muted' }, r.enabled ? '' : '(' + t('host.nodata_disabled') + ')'),
        r.status && r.status.state && r.status.state !== 'inactive' ? h('span', { class: 'state-' + r.status.state }, ' ' + t('alerts.' + r.status.state)) : null)))
        : h('p', { class: 'muted' }, t('host.nodata_none')),
      edit ? h('form', { class: 'row', id: 'nodata-form', onsubmit: (e) => { e.preventDefault(); save(); } },
        field(t(own ? 'host.nodata_minutes_own' : 'host.nodata_minutes_new'), minutes),
        h('button', { type: 'submit', id: own ? 'nodata-save' : 'nodata-create' }, own ? t('common.save') : t('common.create')),
        own ? h('button', { type: 'button', class: 'danger', id: 'nodata-delete', onclick: async () => {
          if (!confirm(t('common.confirm_delete', { what: own.rule.name }))) return;
          try {
            await api('/api/argus/rules/' + encodeURIComponent(own.id), { method: 'DELETE' });
            await loadNoData(t('host.nodata_deleted'));
          } catch (e) { fail(e); }
        } }, t('common.delete')) : null) : null,
      msg);
  }

  await Promise.all([drawCharts(), loadLists(), host.registered ? loadNoData().catch((e) => mount(nodata, h('p', { class: 'error' }, e.message))) : null]);
  timer = setInterval(() => {
    if (range.range) drawCharts().catch(() => {});
  }, 30000);
  return () => { clearInterval(timer); for (const p of plots) p.destroy(); };
}
