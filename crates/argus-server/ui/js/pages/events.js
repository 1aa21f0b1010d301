// Events: the fleet's events (alarms, matched log lines, script output, task results),
// newest first, filtered by host, type and time range, a page at a time
// (GET /api/argus/events). The filters are in the address.
//
// The API answers the newest `limit` events between `start` and `end`, oldest first. A
// page is the newest PAGE events up to a bound; the next (older) page asks again with
// the oldest time shown as the bound, and leaves out the events of that millisecond it
// already showed (the store answers events of one millisecond in the same order each
// time), so no event is skipped or shown twice.

import { h, mount, field, table } from '../dom.js';
import { t, fmt } from '../i18n.js';
import { api } from '../api.js';
import { picker, fromParams, toParams, resolve } from '../timerange.js';
import { replaceParams } from '../router.js';

const PAGE = 100;
// Offered while typing a type; the types of the events shown are added.
const TYPES = ['alarm', 'log', 'script', 'task'];

/** What an event says besides its time, type and host: `k=v` pairs. */
export function details(e) {
  return Object.entries(e).filter(([k]) => !['ts', 'type', 'host'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('  ');
}

export async function render(main, params) {
  const state = { host: params.get('host') || '', type: params.get('type') || '', range: fromParams(params, '24h') };
  // The pages seen: each one's bound (ms) and how many events of that millisecond the
  // pages before it showed; the last is the page on screen.
  let pages = [];
  let seq = 0;

  const host = h('input', { id: 'events-host', value: state.host, list: 'dl-event-hosts', size: 20 });
  const type = h('input', { id: 'events-type', value: state.type, list: 'dl-event-type-list', size: 14 });
  const hostList = h('datalist', { id: 'dl-event-hosts' });
  const types = new Set(TYPES);
  const typeList = h('datalist', { id: 'dl-event-type-list' }, TYPES.map((x) => h('option', { value: x })));
  const rangeBox = h('div');
  const count = h('p', { class: 'muted', 'aria-live': 'polite', id: 'events-count' });
  const out = h('div', { class: 'table-wrap' });
  const pager = h('div', { class: 'pager' });
  const msg = h('p', { class: 'error', role: 'alert' });
  api('/api/argus/hosts', { query: { limit: 1000 } })
    .then((r) => mount(hostList, (r.data || []).map((x) => h('option', { value: x.hostname })))).catch(() => {});

  mount(main,
    h('h1', null, t('events.title')),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); apply(); } },
      field(t('events.host'), host, t('events.any')), field(t('events.type'), type, t('events.any')), rangeBox,
      h('button', { type: 'submit', id: 'events-apply' }, t('events.apply'))),
    msg, count, out, pager, hostList, typeList);

  function drawRange() {
    mount(rangeBox, picker(state.range, (r) => { state.range = r; apply(); }));
  }
  drawRange();
  for (const i of [host, type]) i.addEventListener('change', () => apply());

  function apply() {
    state.host = host.value.trim();
    state.type = type.value.trim();
    const p = new URLSearchParams();
    if (state.host) p.set('host', state.host);
    if (state.type) p.set('type', state.type);
    toParams(state.range, p);
    replaceParams(p);
    const [, end] = resolve(state.range);
    pages = [{ end: Math.floor(end * 1000), skip: 0 }];
    return load();
  }

  async function load() {
    const mine = ++seq;
    const { end, skip } = pages[pages.length - 1];
    const [start] = resolve(state.range);
    msg.textContent = '';
    let found;
    try {
      // One more than a page tells whether older events remain.
      found = (await api('/api/argus/events', { query: {
        host: state.host, type: state.type, start: Math.floor(start), end: (end / 1000).toFixed(3), limit: PAGE + skip + 1,
      } })).data || [];
    } catch (e) {
      if (mine === seq) msg.textContent = e.message;
      return;
    }
    if (mine !== seq) return;
    for (const e of found) if (!types.has(e.type)) { types.add(e.type); typeList.append(h('option', { value: e.type })); }
    // Newest first, without those the newer pages showed.
    const list = found.slice(0, found.length - skip).reverse();
    const more = list.length > PAGE;
    const shown = list.slice(0, PAGE);
    mount(out, shown.length
      ? table([t('events.time'), t('events.host'), t('events.type'), t('events.details')], shown.map((e) => h('tr', null,
        h('td', { class: 'nowrap' }, fmt.dateTime(e.ts)),
        h('td', null, e.host ? h('a', { href: '#/events?' + new URLSearchParams({ host: e.host }), class: 'event-host' }, e.host) : ''),
        h('td', null, h('a', { href: '#/events?' + new URLSearchParams({ type: e.type }), class: 'event-type' }, e.type)),
        h('td', { class: 'mono' }, details(e)))), { id: 'events-table' })
      : h('p', { class: 'muted', id: 'events-table' }, t('events.none')));
    const first = (pages.length - 1) * PAGE + 1;
    count.textContent = shown.length ? t('events.showing', { from: fmt.int(first), to: fmt.int(first + shown.length - 1) }) : '';
    const oldest = shown.length ? shown[shown.length - 1].ts : null;
    mount(pager,
      h('button', { type: 'button', class: 'ghost', id: 'events-newer', disabled: pages.length < 2, onclick: () => { pages.pop(); load(); } }, t('events.newer')),
      h('span', null, t('events.page', { page: pages.length })),
      h('button', { type: 'button', class: 'ghost', id: 'events-older', disabled: !more, onclick: () => {
        // Of the oldest millisecond shown: how many were shown (by this page and, when the
        // bound is the same, by the pages before).
        const same = shown.filter((e) => e.ts === oldest).length + (oldest === end ? skip : 0);
        pages.push({ end: oldest, skip: same });
        load();
      } }, t('events.older')));
  }

  await apply();
  host.focus();
}
