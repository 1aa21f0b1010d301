// Settings: notification receivers (with "send test"), users (admins: create, change
// roles, set a user's password, delete), API tokens (one's own; an admin's: everyone's)
// and the agent configuration layers (default, per group, per host). Controls to change
// render only for the roles that may.

import { h, mount, field, select, table } from '../dom.js';
import { t, fmt } from '../i18n.js';
import { api, canEdit, isAdmin, me } from '../api.js';
import { replaceParams, route } from '../router.js';

const TABS = [['receivers', 'settings.tab_receivers'], ['users', 'settings.tab_users'], ['tokens', 'settings.tab_tokens'],
  ['configs', 'settings.tab_configs'], ['account', 'settings.tab_account']];
const ROLES = ['viewer', 'editor', 'admin'];

export async function render(main, params) {
  const tabs = TABS.filter(([k]) => (k !== 'users' || isAdmin()) && (k !== 'account' || (me.user && me.session)));
  let tab = tabs.some(([k]) => k === params.get('tab')) ? params.get('tab') : 'receivers';
  const panel = h('div', { role: 'tabpanel' });
  const buttons = tabs.map(([k, key]) => h('button', { type: 'button', role: 'tab', id: 'tab-' + k, onclick: () => show(k) }, t(key)));
  mount(main, h('h1', null, t('settings.title')), h('div', { role: 'tablist', 'aria-label': t('settings.title') }, buttons), panel);

  async function show(k) {
    tab = k;
    buttons.forEach((b, i) => b.setAttribute('aria-selected', String(tabs[i][0] === k)));
    const p = route().params;
    p.set('tab', k);
    replaceParams(p);
    await ({ receivers, users, tokens, configs, account }[k])(panel);
  }
  await show(tab);
}

async function receivers(el) {
  const list = (await api('/api/argus/receivers')).data || [];
  const out = h('div', { 'aria-live': 'polite', id: 'receiver-result' });
  mount(el, list.length ? table([t('common.name'), t('settings.channels'), canEdit() ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))) : null],
    list.map((r) => h('tr', { dataset: { receiver: r.name } }, h('td', null, r.name),
      h('td', null, (r.channels || []).join(', ')),
      canEdit() ? h('td', null, h('button', { type: 'button', class: 'ghost small send-test', onclick: async (e) => {
        e.target.disabled = true;
        mount(out, h('p', { class: 'muted' }, t('settings.sending')));
        try {
          const r2 = await api('/api/argus/receivers/' + encodeURIComponent(r.name) + '/test', { method: 'POST' });
          mount(out, h('p', { class: 'ok' }, t('settings.test_ok', { name: r.name })), h('pre', null, JSON.stringify(r2.data ?? r2, null, 2)));
        } catch (err) {
          mount(out, h('p', { class: 'error' }, t('settings.test_failed', { name: r.name, error: err.message })),
            err.body ? h('pre', null, JSON.stringify(err.body.data ?? err.body, null, 2)) : null);
        } finally { e.target.disabled = false; }
      } }, t('settings.send_test'))) : null)), { id: 'receivers-table' })
    : h('p', { class: 'muted' }, t('settings.no_receivers')), out);
}

/** An admin sets another user's password (PATCH /api/argus/users/{name}): the user's
 * sessions end, their API tokens stay. */
function passwordForm(u, done) {
  const pw = h('input', { id: 'user-new-password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const pw2 = h('input', { id: 'user-new-password2', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const msg = h('p', { class: 'error', role: 'alert', id: 'user-password-msg' });
  const form = h('form', { class: 'card', id: 'user-password-form', onsubmit: async (e) => {
    e.preventDefault();
    msg.textContent = '';
    if (pw.value !== pw2.value) { msg.textContent = t('settings.passwords_differ'); return; }
    try {
      await api('/api/argus/users/' + encodeURIComponent(u.name), { method: 'PATCH', body: { password: pw.value } });
      done(t('settings.password_set', { name: u.name }));
    } catch (err) { msg.textContent = err.message; }
  } },
  h('h2', null, t('settings.set_password_of', { name: u.name })),
  h('p', { class: 'hint' }, t('settings.set_password_note')),
  h('div', { class: 'row' }, field(t('settings.new_password'), pw, t('settings.password_hint')), field(t('settings.repeat_password'), pw2)),
  msg,
  h('button', { type: 'submit', id: 'user-password-save' }, t('settings.set_password')), ' ',
  h('button', { type: 'button', class: 'ghost', onclick: () => form.remove() }, t('common.cancel')));
  setTimeout(() => pw.focus());
  return form;
}

/** `error`: why the last change was refused, shown after the list is drawn again;
 * `note`: what the last change did. */
async function users(el, error, note) {
  const list = (await api('/api/argus/users')).data || [];
  const msg = h('p', { class: 'error', role: 'alert' }, error || '');
  const done = h('p', { class: 'ok', role: 'status', id: 'users-note' }, note || '');
  const formBox = h('div');
  const name = h('input', { id: 'user-name', required: true, autocomplete: 'off' });
  const display = h('input', { id: 'user-display' });
  const pw = h('input', { id: 'user-password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const role = select({ id: 'user-role' }, ROLES.map((r) => [r, t('role.' + r)]), 'viewer');
  mount(el,
    table([t('settings.user'), t('settings.display_name'), t('settings.role'), t('settings.created'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions')))],
      list.map((u) => h('tr', { dataset: { user: u.name } }, h('td', null, u.name), h('td', null, u.display_name),
        h('td', null, select({ 'aria-label': t('settings.role_of', { name: u.name }), onchange: async (e) => {
          try { await api('/api/argus/users/' + encodeURIComponent(u.name), { method: 'PATCH', body: { role: e.target.value } }); msg.textContent = ''; }
          catch (err) { users(el, err.message); }
        } }, ROLES.map((r) => [r, t('role.' + r)]), u.role)),
        h('td', null, fmt.dateTime(u.created_ms)),
        // One's own password is changed under My account (it asks for it twice, and
        // keeps this session).
        h('td', { class: 'actions' }, u.name === (me.user && me.user.name) ? null : [
          h('button', { type: 'button', class: 'ghost small user-password', onclick: () => {
            mount(formBox, passwordForm(u, (n) => users(el, '', n)));
            formBox.scrollIntoView({ block: 'nearest' });
          } }, t('settings.set_password')), ' ',
          h('button', { type: 'button', class: 'danger small', onclick: async () => {
            if (!confirm(t('common.confirm_delete', { what: u.name }))) return;
            try { await api('/api/argus/users/' + encodeURIComponent(u.name), { method: 'DELETE' }); users(el); }
            catch (err) { msg.textContent = err.message; }
          } }, t('common.delete'))]))), { id: 'users-table' }),
    msg, done, formBox,
    h('form', { class: 'card', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('/api/argus/users', { method: 'POST', body: { name: name.value.trim(), password: pw.value, role: role.value, display_name: display.value } });
        users(el);
      } catch (err) { msg.textContent = err.message; }
    } }, h('h2', null, t('settings.new_user')),
    h('div', { class: 'row' }, field(t('settings.user'), name), field(t('settings.display_name'), display), field(t('login.password'), pw, t('settings.password_hint')),
      field(t('settings.role'), role), h('button', { type: 'submit', id: 'user-create' }, t('common.create')))));
}

/** `made`: a token just created, shown this once above the form. */
async function tokens(el, made) {
  const list = (await api('/api/argus/tokens')).data || [];
  const msg = h('div', { role: 'alert' },
    made ? [h('p', { class: 'ok' }, t('settings.token_made')), h('pre', { id: 'token-value' }, made)] : null);
  const name = h('input', { id: 'token-name', required: true });
  const allowed = ROLES.slice(0, ROLES.indexOf(me.role) + 1);
  const role = select({ id: 'token-role' }, allowed.map((r) => [r, t('role.' + r)]), 'viewer');
  const days = h('input', { id: 'token-days', type: 'number', min: 1, size: 5 });
  const canMake = me.session || me.user;
  mount(el,
    list.length ? table([t('common.name'), t('settings.user'), t('settings.role'), t('settings.namespaces'), t('settings.created'), t('settings.expires'), t('settings.last_used'),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions')))],
    list.map((k) => h('tr', null, h('td', null, k.name), h('td', null, k.user), h('td', null, t('role.' + k.role)),
      h('td', null, (k.namespaces || []).join(', ') || t('settings.all_namespaces')),
      h('td', null, fmt.dateTime(k.created_ms)), h('td', null, k.expires_ms ? fmt.dateTime(k.expires_ms) : t('settings.never_expires')),
      h('td', null, k.last_used_ms ? fmt.ago(k.last_used_ms) : t('hosts.never')),
      h('td', null, h('button', { type: 'button', class: 'danger small', onclick: async () => {
        if (!confirm(t('common.confirm_delete', { what: k.name }))) return;
        await api('/api/argus/tokens/' + encodeURIComponent(k.id), { method: 'DELETE' });
        tokens(el);
      } }, t('settings.revoke'))))), { id: 'tokens-table' }) : h('p', { class: 'muted' }, t('settings.no_tokens')),
    msg,
    canMake ? h('form', { class: 'card', onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { name: name.value.trim(), role: role.value };
        if (days.value) body.expires_days = Number(days.value);
        const r = (await api('/api/argus/tokens', { method: 'POST', body })).data;
        await tokens(el, r.token);
      } catch (err) { mount(msg, h('p', { class: 'error' }, err.message)); }
    } }, h('h2', null, t('settings.new_token')),
    h('div', { class: 'row' }, field(t('common.name'), name), field(t('settings.role'), role), field(t('settings.expires_days'), days, t('settings.expires_hint')),
      h('button', { type: 'submit', id: 'token-create' }, t('common.create')))) : null);
}

async function configs(el) {
  const list = (await api('/api/argus/agent/configs')).data || [];
  const edit = canEdit();
  const box = h('div');
  const scopeName = (c) => (c.scope === 'default' ? t('settings.scope_default') : c.scope === 'group' ? t('settings.scope_group', { name: c.name }) : t('settings.scope_host', { name: c.name }));
  const query = (scope, name) => (scope === 'group' ? { group: name } : scope === 'host' ? { host: name } : {});
  function editor(scope, name, text) {
    const scopeSel = select({ id: 'config-scope' }, [['default', t('settings.scope_default_short')], ['group', t('settings.scope_group_short')], ['host', t('settings.scope_host_short')]], scope);
    const nameI = h('input', { id: 'config-name', value: name });
    const area = h('textarea', { id: 'config-text', class: 'code', rows: 12, cols: 80, spellcheck: 'false' });
    area.value = text;
    const msg = h('p', { role: 'alert' });
    return h('form', { class: 'card', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('/api/argus/agent/config', { method: 'PUT', query: query(scopeSel.value, nameI.value.trim()), body: area.value, raw: true });
        configs(el);
      } catch (err) { msg.className = 'error'; msg.textContent = err.message; }
    } }, h('h2', null, t('settings.edit_config')),
    h('div', { class: 'row' }, field(t('settings.scope'), scopeSel), field(t('common.name'), nameI, t('settings.config_name_hint'))),
    field(t('settings.config_text'), area), msg,
    h('button', { type: 'submit', id: 'config-save' }, t('common.save')), ' ',
    h('button', { type: 'button', class: 'ghost', onclick: () => mount(box) }, t('common.cancel')));
  }
  mount(el,
    h('p', { class: 'muted' }, t('settings.configs_note')),
    edit ? h('p', null, h('button', { type: 'button', id: 'config-new', onclick: () => mount(box, editor('group', '', '[agent]\n')) }, t('settings.new_config'))) : null,
    box,
    list.length ? list.map((c) => h('section', { class: 'card' },
      h('h2', null, scopeName(c)),
      h('p', { class: 'muted' }, t('settings.config_updated', { time: fmt.dateTime(c.updated_ms), by: c.updated_by, etag: c.etag })),
      h('pre', null, c.text),
      edit ? h('p', null,
        h('button', { type: 'button', class: 'ghost small', onclick: () => { mount(box, editor(c.scope, c.name, c.text)); box.scrollIntoView(); } }, t('common.edit')), ' ',
        h('button', { type: 'button', class: 'danger small', onclick: async () => {
          if (!confirm(t('common.confirm_delete', { what: scopeName(c) }))) return;
          await api('/api/argus/agent/config', { method: 'DELETE', query: query(c.scope, c.name) });
          configs(el);
        } }, t('common.delete'))) : null))
      : h('p', { class: 'muted' }, t('settings.no_configs')));
}

/** One's own display name, email and password (in a session: an API token may not). */
async function account(el) {
  const u = me.user;
  const display = h('input', { id: 'account-display', value: u.display_name || '' });
  const email = h('input', { id: 'account-email', type: 'email', value: u.email || '' });
  const pw = h('input', { id: 'account-password', type: 'password', minlength: 8, autocomplete: 'new-password' });
  const pw2 = h('input', { id: 'account-password2', type: 'password', minlength: 8, autocomplete: 'new-password' });
  const msg = h('p', { role: 'alert' });
  mount(el, h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    msg.className = 'error';
    if (pw.value !== pw2.value) { msg.textContent = t('settings.passwords_differ'); return; }
    const body = { display_name: display.value, email: email.value.trim() };
    if (pw.value) body.password = pw.value;
    try {
      const r = await api('/api/argus/users/' + encodeURIComponent(u.name), { method: 'PATCH', body });
      Object.assign(u, r.data);
      pw.value = ''; pw2.value = '';
      msg.className = 'ok';
      msg.textContent = t('common.saved');
    } catch (err) { msg.textContent = err.message; }
  } },
  h('h2', null, t('settings.account_of', { name: u.name, role: t('role.' + u.role) })),
  field(t('settings.display_name'), display), field(t('settings.email'), email),
  field(t('settings.new_password'), pw, t('settings.password_keep')), field(t('settings.repeat_password'), pw2),
  msg, h('button', { type: 'submit', id: 'account-save' }, t('common.save'))));
}
