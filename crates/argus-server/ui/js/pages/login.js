// Login with a user of the server's database (POST /api/argus/login sets the session
// cookie), then back to the page asked for.

import { h, mount, field } from '../dom.js';
import { t } from '../i18n.js';
import { api, loadMe } from '../api.js';

export function render(main, params) {
  const name = h('input', { id: 'login-name', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const submit = h('button', { type: 'submit', id: 'login-submit' }, t('login.submit'));
  const form = h('form', { class: 'card login', onsubmit: async (e) => {
    e.preventDefault();
    msg.textContent = '';
    submit.disabled = true;
    try {
      await api('/api/argus/login', { method: 'POST', body: { name: name.value.trim(), password: password.value } });
      await loadMe();
      const next = params.get('next');
      location.hash = '#' + (next && next.startsWith('/') && !next.startsWith('/login') ? next : '/');
    } catch (err) {
      msg.textContent = err.status === 401 ? t('login.wrong') : String(err.message);
      password.select();
    } finally {
      submit.disabled = false;
    }
  } },
  h('h1', null, t('login.title')),
  field(t('login.name'), name),
  field(t('login.password'), password),
  msg, submit);
  mount(main, form);
  name.focus();
}
