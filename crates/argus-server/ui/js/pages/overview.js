// Overview: hosts up and down (all, by location, by group), the firing alerts (the
// rules' and those the notifier holds from event rules and other senders), the
// hosts nobody has placed yet (unmanaged), and the server's ingest rate, series and
// storage use (from its own /metrics).

import { h, mount, card, table } from '../dom.js';
import { t, fmt } from '../i18n.js';
import { api, activeAlerts } from '../api.js';
import { firstData } from '../perf.js';

const REFRESH_MS = 10000;
// Readings of the samples ingested ([total, ms]) of the last minute, kept between visits.
// The rate is taken over at least 10 s: agents send every 10 s by default, and a shorter
// window would often see no batch at all and say 0/s.
let readings = [];
const RATE_MIN_MS = 10000;

/** Values of unlabelled series in Prometheus's text format. */
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
    if (!m) continue;
    const v = Number(m[3]);
    out[m[1]] = (out[m[1]] || 0) + v; // labelled series of one name: their sum
  }
  return out;
}

function stat(id, label, value, cls, href) {
  const v = h('span', { class: 'v', id }, value);
  return h(href ? 'a' : 'div', { class: 'stat ' + (cls || ''), href }, v, h('span', { class: 'k' }, label));
}

function countsTable(rows, param) {
  if (!rows.length) return h('p', { class: 'muted' }, t('overview.none'));
  return table(
    [t('overview.name'), h('th', { class: 'num', scope: 'col' }, t('status.up')), h('th', { class: 'num', scope: 'col' }, t('status.down')), h('th', { class: 'num', scope: 'col' }, t('overview.total'))],
    rows.map((r) => h('tr', null,
      h('td', null, h('a', { href: `#/hosts?${param}=${encodeURIComponent(r.name)}` }, r.name)),
      h('td', { class: 'num status-up' }, fmt.int(r.up)),
      h('td', { class: 'num' + (r.down ? ' status-down' : '') }, fmt.int(r.down)),
      h('td', { class: 'num' }, fmt.int(r.hosts)))));
}

export async function render(main) {
  const stats = h('div', { class: 'stats', 'aria-live': 'polite' });
  const tiles = h('div', { class: 'tiles', id: 'host-tiles' });
  const alerts = h('div');
  const unmanaged = h('div');
  const byLoc = h('div');
  const byGroup = h('div');
  const updated = h('p', { class: 'muted' });
  mount(main,
    h('h1', null, t('overview.title')),
    stats,
    card(t('overview.hosts'), tiles),
    h('div', { class: 'grid' },
      card(t('overview.alerts'), alerts),
      card(t('overview.unmanaged'), unmanaged),
      card(t('overview.by_location'), byLoc),
      card(t('overview.by_group'), byGroup)),
    updated);

  let stopped = false;
  async function load() {
    const [up, down, hosts, unm, locs, groups, firing, metricsText] = await Promise.all([
      api('/api/argus/hosts', { query: { status: 'up', limit: 1 } }),
      api('/api/argus/hosts', { query: { status: 'down', limit: 1 } }),
      api('/api/argus/hosts', { query: { sort: 'status', limit: 200 } }),
      api('/api/argus/hosts', { query: { unmanaged: 'true', limit: 50 } }),
      api('/api/argus/locations'),
      api('/api/argus/groups'),
      activeAlerts().catch(() => ({ alerts: [] })),
      api('/metrics', { text: true }).catch(() => ''),
    ]);
    if (stopped) return;
    const m = parseMetrics(metricsText);
    const now = Date.now();
    let rate = null;
    const ingested = m.argus_ingest_samples_total;
    if (ingested != null) {
      // A counter that went back: the server restarted; start again.
      if (readings.length && ingested < readings[readings.length - 1][0]) readings = [];
      readings.push([ingested, now]);
      readings = readings.filter(([, at]) => now - at <= 60000);
      const [v0, t0] = readings[0];
      if (now - t0 >= RATE_MIN_MS) rate = ((ingested - v0) * 1000) / (now - t0);
    }
    const act = firing.alerts;
    const nFiring = act.filter((a) => a.state === 'firing').length;
    const nPending = act.length - nFiring;
    mount(stats,
      stat('stat-up', t('overview.hosts_up'), fmt.int(up.total), 'up', '#/hosts?status=up'),
      stat('stat-down', t('overview.hosts_down'), fmt.int(down.total), down.total ? 'down' : '', '#/hosts?status=down'),
      stat('stat-unmanaged', t('overview.unmanaged'), fmt.int(unm.total), unm.total ? 'warn' : '', '#/hosts?unmanaged=true'),
      stat('stat-firing', t('overview.firing'), fmt.int(nFiring), nFiring ? 'down' : '', '#/alerts'),
      stat('stat-pending', t('overview.pending'), fmt.int(nPending), nPending ? 'warn' : '', '#/alerts'),
      stat('stat-ingest', t('overview.ingest_rate'), rate == null ? '…' : fmt.short(rate) + '/s'),
      stat('stat-series', t('overview.series'), fmt.short(m.argus_storage_series)),
      stat('stat-storage', t('overview.storage'), fmt.bytes(m.argus_storage_bytes)));

    const list = hosts.data || [];
    mount(tiles, list.length
      ? list.map((x) => h('a', {
        class: 'tile ' + x.status,
        href: '#/host/' + encodeURIComponent(x.id),
        title: `${x.hostname}: ${t('status.' + x.status)}`,
      }, x.hostname, h('span', { class: 'sr-only' }, ' (' + t('status.' + x.status) + ')')))
      : h('p', { class: 'muted' }, t('overview.no_hosts')));
    if (hosts.total > list.length) tiles.append(h('a', { href: '#/hosts' }, t('overview.more', { n: hosts.total - list.length })));

    mount(alerts, act.length
      ? table([t('alerts.name'), t('alerts.state'), t('alerts.host'), t('alerts.value'), t('alerts.since')],
        act.map((a) => h('tr', null,
          h('td', null, a.rule),
          h('td', { class: 'state-' + a.state }, t('alerts.' + a.state)),
          h('td', null, a.labels.host || ''),
          h('td', { class: 'num' }, fmt.num(a.value)),
          h('td', null, fmt.ago(a.fired_at_ms || a.active_at_ms)))))
      : h('p', { class: 'ok' }, t('overview.no_alerts')));

    const un = unm.data || [];
    mount(unmanaged, un.length
      ? h('ul', null, un.map((x) => h('li', null,
        h('a', { href: x.id ? '#/host/' + encodeURIComponent(x.id) : `#/host/${encodeURIComponent(x.hostname)}?series=1` }, x.hostname),
        ' ', h('span', { class: 'muted' }, x.registered ? t('overview.no_location') : t('overview.not_registered')))))
      : h('p', { class: 'ok' }, t('overview.none_unmanaged')));
    mount(byLoc, countsTable(locs.data || [], 'location'));
    mount(byGroup, countsTable(groups.data || [], 'group'));
    updated.textContent = t('common.updated', { time: fmt.hms(now) });
    firstData('overview');
  }

  await load();
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  return () => { stopped = true; clearInterval(timer); };
}
