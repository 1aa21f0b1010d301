// Hosts: the inventory as a table, searched, filtered (location, group, label, status,
// unmanaged) and sorted by the server (GET /api/argus/hosts); the filters live in the
// URL. Editors change a host's location, groups and labels in place (PATCH
// /api/argus/hosts/{id}), or select several and change them in one action: add or
// remove a group or labels, set the location (PATCH /api/argus/hosts, one transaction),
// or delete them (DELETE /api/argus/hosts/{id} each). Viewers get no edit control.

import { h, mount, select, field } from '../dom.js';
import { t, tn, fmt } from '../i18n.js';
import { api, canEdit } from '../api.js';
import { replaceParams } from '../router.js';
import { parseLabels, formatLabels } from '../labels.js';

const LIMIT = 100;
const COLUMNS = [
  ['status', 'hosts.status', 'status'],
  ['hostname', 'hosts.hostname', 'hostname'],
  ['location', 'hosts.location', 'location'],
  ['groups', 'hosts.groups', null],
  ['labels', 'hosts.labels', null],
  ['ips', 'hosts.ips', null],
  ['os', 'hosts.os', null],
  ['agent', 'hosts.agent_version', null],
  ['last_seen', 'hosts.last_seen', 'last_seen'],
];

export async function render(main, params) {
  const [locs, groups] = await Promise.all([
    api('/api/argus/locations').then((r) => r.data || []),
    api('/api/argus/groups').then((r) => r.data || []),
  ]);
  const edit = canEdit();
  const state = {
    q: params.get('q') || '', location: params.get('location') || '', group: params.get('group') || '',
    label: params.get('label') || '', status: params.get('status') || '', unmanaged: params.get('unmanaged') === 'true',
    sort: params.get('sort') || 'hostname', page: Math.max(1, Number(params.get('page')) || 1),
  };

  const q = h('input', { type: 'search', id: 'hosts-q', value: state.q, placeholder: t('hosts.search_hint') });
  const loc = select({ id: 'hosts-location' }, [['', t('common.all')], ...locs.map((l) => [l.name, l.name])], state.location);
  const grp = select({ id: 'hosts-group' }, [['', t('common.all')], ...groups.map((g) => [g.name, g.name])], state.group);
  const label = h('input', { id: 'hosts-label', value: state.label, placeholder: 'team:web', size: 12 });
  const status = select({ id: 'hosts-status' }, [['', t('common.all')], ['up', t('status.up')], ['down', t('status.down')]], state.status);
  const unmanaged = h('input', { type: 'checkbox', id: 'hosts-unmanaged', checked: state.unmanaged });
  const count = h('p', { class: 'muted', 'aria-live': 'polite', id: 'hosts-count' });
  const body = h('tbody');
  const headRow = h('tr');
  const pager = h('div', { class: 'pager' });
  const msg = h('p', { class: 'error', role: 'alert' });
  // Bulk edits: the ids selected on this page, and the bar acting on them.
  const selected = new Set();
  let pageIds = [];
  const selectAll = h('input', { type: 'checkbox', id: 'hosts-select-all', 'aria-label': t('hosts.select_page'), onchange: () => {
    for (const id of pageIds) { if (selectAll.checked) selected.add(id); else selected.delete(id); }
    for (const c of body.querySelectorAll('input.host-select')) c.checked = selectAll.checked;
    bulkState();
  } });
  const bulkCount = h('span', { id: 'bulk-count', class: 'badge' });
  const ACTIONS = [['add_groups', 'hosts.bulk_add_groups', 'canary, web'], ['remove_groups', 'hosts.bulk_remove_groups', 'canary'],
    ['labels', 'hosts.bulk_set_labels', 'team=web'], ['remove_labels', 'hosts.bulk_remove_labels', 'team'],
    ['location', 'hosts.bulk_set_location', 'dc1'], ['delete', 'hosts.bulk_delete', '']];
  const bulkAction = select({ id: 'bulk-action' }, ACTIONS.map(([k, key]) => [k, t(key)]), 'add_groups');
  const bulkValue = h('input', { id: 'bulk-value', list: 'dl-groups', size: 24 });
  const bulkValueField = field(t('hosts.bulk_value'), bulkValue);
  const bulkMsg = h('p', { role: 'status', id: 'bulk-msg' });
  const bulkApply = h('button', { type: 'submit', id: 'bulk-apply' }, t('hosts.bulk_apply'));
  const bulkBar = h('form', { class: 'toolbar bulk card', id: 'hosts-bulk', hidden: true, 'aria-label': t('hosts.bulk'), onsubmit: (e) => { e.preventDefault(); applyBulk(); } },
    h('div', { class: 'field' }, h('span', { class: 'label' }, t('hosts.bulk')), bulkCount),
    field(t('hosts.bulk_action'), bulkAction), bulkValueField, bulkApply,
    h('button', { type: 'button', class: 'ghost', id: 'bulk-clear', onclick: () => { selected.clear(); for (const c of body.querySelectorAll('input.host-select')) c.checked = false; bulkState(); } }, t('hosts.bulk_clear')));
  const actionShown = () => {
    const a = ACTIONS.find(([k]) => k === bulkAction.value);
    bulkValueField.hidden = a[0] === 'delete';
    bulkValue.placeholder = a[2];
    if (a[0].endsWith('groups')) bulkValue.setAttribute('list', 'dl-groups');
    else if (a[0] === 'location') bulkValue.setAttribute('list', 'dl-locations');
    else bulkValue.removeAttribute('list');
    bulkApply.className = a[0] === 'delete' ? 'danger' : '';
  };
  bulkAction.addEventListener('change', actionShown);
  actionShown();
  function bulkState() {
    const n = selected.size;
    bulkBar.hidden = n === 0;
    bulkCount.textContent = t('hosts.selected', { n: fmt.int(n) });
    const on = pageIds.filter((id) => selected.has(id)).length;
    selectAll.checked = on > 0 && on === pageIds.length;
    selectAll.indeterminate = on > 0 && on < pageIds.length;
  }
  async function applyBulk() {
    const ids = [...selected];
    const action = bulkAction.value;
    const v = bulkValue.value.trim();
    const list = v.split(',').map((x) => x.trim()).filter(Boolean);
    bulkMsg.className = 'error';
    bulkMsg.textContent = '';
    try {
      if (action === 'delete') {
        if (!confirm(tn('hosts.bulk_confirm_delete', ids.length))) return;
        // No bulk delete in the API: one DELETE per host, a few at a time.
        const failed = [];
        for (let i = 0; i < ids.length; i += 8) {
          await Promise.all(ids.slice(i, i + 8).map((id) => api('/api/argus/hosts/' + encodeURIComponent(id), { method: 'DELETE' })
            .then(() => selected.delete(id), (e) => failed.push(`${id}: ${e.message}`))));
        }
        if (failed.length) throw new Error(t('hosts.bulk_delete_failed', { n: failed.length, of: ids.length, errors: failed.join('; ') }));
        bulkMsg.className = 'ok';
        bulkMsg.textContent = tn('hosts.bulk_deleted', ids.length);
      } else {
        if (action !== 'location' && !list.length) throw new Error(t('hosts.bulk_value_needed'));
        const req = { ids };
        if (action === 'labels') req.labels = parseLabels(v);
        else if (action === 'location') req.set = { location: v };
        else req[action] = list;
        const r = await api('/api/argus/hosts', { method: 'PATCH', body: req });
        bulkMsg.className = 'ok';
        bulkMsg.textContent = tn('hosts.bulk_changed', (r.data || []).length);
      }
      bulkValue.value = '';
    } catch (e) {
      bulkMsg.textContent = e.message;
    }
    await load();
  }
  // Datalists offer the known names while typing a location or groups.
  const locList = h('datalist', { id: 'dl-locations' }, locs.map((l) => h('option', { value: l.name })));
  const grpList = h('datalist', { id: 'dl-groups' }, groups.map((g) => h('option', { value: g.name })));

  let timer = null;
  const apply = (resetPage = true) => {
    Object.assign(state, {
      q: q.value.trim(), location: loc.value, group: grp.value, label: label.value.trim(),
      status: status.value, unmanaged: unmanaged.checked,
    });
    if (resetPage) state.page = 1;
    load();
  };
  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(apply, 250); });
  for (const c of [loc, grp, status, unmanaged]) c.addEventListener('change', () => apply());
  label.addEventListener('change', () => apply());

  mount(main,
    h('h1', null, t('hosts.title')),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); apply(); } },
      field(t('hosts.search'), q), field(t('hosts.location'), loc), field(t('hosts.group'), grp),
      field(t('hosts.label'), label, t('hosts.label_hint')), field(t('hosts.status'), status),
      h('div', { class: 'field' }, h('label', { for: 'hosts-unmanaged' }, unmanaged, ' ', t('hosts.unmanaged_only')))),
    count, msg, edit ? [bulkBar, bulkMsg] : null,
    h('div', { class: 'table-wrap' }, h('table', { id: 'hosts-table' }, h('thead', null, headRow), body)),
    pager, locList, grpList);

  function header() {
    const desc = state.sort.startsWith('-');
    const key = state.sort.replace(/^-/, '');
    mount(headRow, edit ? h('th', { scope: 'col', class: 'select' }, selectAll) : null, COLUMNS.map(([id, label, sortKey]) => {
      if (!sortKey) return h('th', { scope: 'col' }, t(label));
      const sorted = key === sortKey;
      return h('th', { scope: 'col', 'aria-sort': sorted ? (desc ? 'descending' : 'ascending') : 'none' },
        h('button', { type: 'button', class: 'sort', dataset: { sort: sortKey }, onclick: () => {
          state.sort = sorted && !desc ? '-' + sortKey : sortKey;
          state.page = 1;
          load();
          // The header was drawn again: keep the keyboard where it was.
          headRow.querySelector(`button[data-sort="${sortKey}"]`)?.focus();
        } }, t(label)));
    }), edit ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))) : null);
  }

  function row(x) {
    const tr = h('tr', { dataset: { id: x.id } });
    // The selection box (hosts of the inventory only) stays the same element while the
    // row is edited and shown again.
    const box = () => h('input', {
      type: 'checkbox', class: 'host-select', value: x.id, checked: selected.has(x.id),
      'aria-label': t('hosts.select_host', { host: x.hostname }),
      onchange: (e) => { if (e.target.checked) selected.add(x.id); else selected.delete(x.id); bulkState(); },
    });
    const pick = !edit ? null : h('td', { class: 'select' }, x.registered ? box() : null);
    const cells = () => [
      h('td', { class: 'status-' + x.status }, t('status.' + x.status)),
      h('td', null, h('a', { href: x.id ? '#/host/' + encodeURIComponent(x.id) : `#/host/${encodeURIComponent(x.hostname)}?series=1` }, x.hostname)),
      h('td', null, x.location || ''),
      h('td', null, h('span', { class: 'chips' }, (x.groups || []).map((g) => h('span', { class: 'chip' }, g)))),
      h('td', null, h('span', { class: 'chips' }, Object.entries(x.labels || {}).map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`)))),
      h('td', { class: 'mono' }, (x.ips || []).join(' ')),
      h('td', null, x.os || ''),
      h('td', null, x.agent_version || ''),
      h('td', { title: fmt.dateTime(x.last_seen_ms) }, x.last_seen_ms ? fmt.ago(x.last_seen_ms) : t('hosts.never')),
    ];
    const show = () => {
      mount(tr, pick, cells(), !edit ? null : x.registered
        ? h('td', { class: 'actions' }, h('button', { type: 'button', class: 'ghost small edit', onclick: editRow, 'aria-label': t('hosts.edit_host', { host: x.hostname }) }, t('common.edit')))
        // A host known only from its series joins the inventory, to be placed and edited.
        : h('td', { class: 'actions' }, h('button', { type: 'button', class: 'ghost small adopt', onclick: adopt, 'aria-label': t('hosts.adopt_host', { host: x.hostname }) }, t('hosts.adopt'))));
    };
    async function adopt() {
      msg.textContent = '';
      try {
        const r = await api('/api/argus/hosts', { method: 'POST', body: { hostname: x.hostname } });
        Object.assign(x, r.data);
        tr.dataset.id = x.id;
        // Now in the inventory, it may be selected too.
        pageIds.push(x.id);
        mount(pick, box());
        show();
        editRow();
      } catch (e) {
        msg.textContent = t('hosts.save_failed', { host: x.hostname, error: e.message });
      }
    }
    function editRow() {
      const l = h('input', { value: x.location || '', list: 'dl-locations', 'aria-label': t('hosts.location'), class: 'edit-location' });
      const g = h('input', { value: (x.groups || []).join(', '), list: 'dl-groups', 'aria-label': t('hosts.groups_hint'), class: 'edit-groups' });
      const lb = h('input', { value: formatLabels(x.labels), 'aria-label': t('hosts.labels_hint'), placeholder: 'team=web', class: 'edit-labels' });
      const save = async () => {
        msg.textContent = '';
        try {
          const body = {
            location: l.value.trim(),
            groups: g.value.split(',').map((s) => s.trim()).filter(Boolean),
            labels: parseLabels(lb.value),
          };
          const r = await api('/api/argus/hosts/' + encodeURIComponent(x.id), { method: 'PATCH', body });
          Object.assign(x, r.data);
          show();
          tr.querySelector('button.edit')?.focus();
        } catch (e) {
          msg.textContent = t('hosts.save_failed', { host: x.hostname, error: e.message });
        }
      };
      const onKey = (e) => {
        if (e.key === 'Enter') { e.preventDefault(); save(); }
        if (e.key === 'Escape') { show(); tr.querySelector('button.edit')?.focus(); }
      };
      for (const i of [l, g, lb]) i.addEventListener('keydown', onKey);
      const c = cells();
      c[2] = h('td', { class: 'inline-edit' }, l);
      c[3] = h('td', { class: 'inline-edit' }, g);
      c[4] = h('td', { class: 'inline-edit' }, lb);
      mount(tr, pick, c, h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small save', onclick: save }, t('common.save')), ' ',
        h('button', { type: 'button', class: 'ghost small', onclick: () => show() }, t('common.cancel'))));
      l.focus();
    }
    show();
    return tr;
  }

  async function load() {
    const query = {
      q: state.q, location: state.location, group: state.group, status: state.status,
      label: state.label || null, unmanaged: state.unmanaged ? 'true' : null,
      sort: state.sort, page: state.page, limit: LIMIT,
    };
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v != null && v !== '' && k !== 'limit' && !(k === 'page' && v === 1) && !(k === 'sort' && v === 'hostname')) p.set(k, v);
    replaceParams(p);
    header();
    msg.textContent = '';
    let r;
    try {
      r = await api('/api/argus/hosts', { query });
    } catch (e) {
      msg.textContent = e.message;
      return;
    }
    // A selection is of the hosts on the page: what one sees is what an action changes.
    pageIds = (r.data || []).filter((x) => x.registered).map((x) => x.id);
    for (const id of [...selected]) if (!pageIds.includes(id)) selected.delete(id);
    mount(body, (r.data || []).map(row));
    if (!r.data?.length) body.append(h('tr', null, h('td', { colspan: COLUMNS.length + (edit ? 2 : 1), class: 'muted' }, t('hosts.none'))));
    if (edit) bulkState();
    count.textContent = tn('hosts.count', r.total);
    const pages = Math.max(1, Math.ceil(r.total / LIMIT));
    mount(pager, pages > 1 ? [
      h('button', { type: 'button', class: 'ghost', disabled: state.page <= 1, onclick: () => { state.page--; load(); } }, t('common.prev')),
      h('span', null, t('common.page', { page: state.page, pages })),
      h('button', { type: 'button', class: 'ghost', disabled: state.page >= pages, onclick: () => { state.page++; load(); } }, t('common.next')),
    ] : null);
  }
  await load();
  return () => clearTimeout(timer);
}
