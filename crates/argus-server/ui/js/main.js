// The shell: header with navigation, language, time zone, theme and the user; a hash
// router (#/hosts, #/host/<id>, #/explore?expr=…, #/events) that renders one page at a time into
// <main>. Every page is a module exporting render(main, params) → optional cleanup.

import { h, mount, select } from './dom.js';
import { t, LANGS, getLang, setLang, getTz, setTz } from './i18n.js';
import { api, loadMe, me, setMe, whenUnauthorized } from './api.js';
import { applyTheme, toggleTheme, theme } from './theme.js';
import { route } from './router.js';
import './perf.js';

const ROUTES = [
  [/^\/login$/, () => import('./pages/login.js'), 'login'],
  [/^\/?$/, () => import('./pages/overview.js'), 'overview'],
  [/^\/hosts$/, () => import('./pages/hosts.js'), 'hosts'],
  [/^\/host\/(.+)$/, () => import('./pages/host.js'), 'hosts'],
  [/^\/explore$/, () => import('./pages/explore.js'), 'explore'],
  [/^\/events$/, () => import('./pages/events.js'), 'events'],
  [/^\/alerts$/, () => import('./pages/alerts.js'), 'alerts'],
  [/^\/settings$/, () => import('./pages/settings.js'), 'settings'],
];

const NAV = [
  ['overview', '#/', 'nav.overview'],
  ['hosts', '#/hosts', 'nav.hosts'],
  ['explore', '#/explore', 'nav.explore'],
  ['events', '#/events', 'nav.events'],
  ['alerts', '#/alerts', 'nav.alerts'],
  ['settings', '#/settings', 'nav.settings'],
];

const header = document.getElementById('header');
const main = document.getElementById('main');
let cleanup = null;
let renderSeq = 0;

// Made once: the header is rebuilt at each page change, and a new <img> would ask for
// the logo again each time.
const brand = h('a', { class: 'brand', href: '#/' }, h('img', { src: '/ui/favicon.svg', alt: '', width: 22, height: 22 }), 'Argus');

function renderHeader(active) {
  const loggedIn = !!me;
  const langSel = select({ id: 'lang', 'aria-label': t('header.language'), onchange: (e) => { setLang(e.target.value); render(); } },
    LANGS, getLang());
  const tzSel = select({ id: 'tz', 'aria-label': t('header.timezone'), onchange: (e) => { setTz(e.target.value); render(); } },
    [['local', t('header.tz_local')], ['UTC', 'UTC']], getTz());
  mount(header,
    h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, t('header.skip')),
    brand,
    loggedIn ? h('nav', { 'aria-label': t('header.nav') }, h('ul', null,
      NAV.map(([id, href, key]) => h('li', null,
        h('a', { href, 'aria-current': id === active ? 'page' : null }, t(key)))))) : h('span', { class: 'grow' }),
    h('div', { class: 'prefs' },
      langSel, tzSel,
      h('button', {
        type: 'button', id: 'theme', class: 'ghost',
        'aria-label': t('header.theme'), title: t('header.theme'),
        onclick: () => { toggleTheme(); render(); },
      }, theme() === 'dark' ? t('header.theme_light') : t('header.theme_dark')),
      loggedIn ? [
        h('span', { class: 'who', title: me.name }, (me.user && (me.user.display_name || me.user.name)) || me.name,
          ' ', h('span', { class: 'badge', id: 'role' }, t('role.' + me.role))),
        h('button', { type: 'button', id: 'logout', class: 'ghost', onclick: logout }, t('header.logout')),
      ] : null));
}

async function logout() {
  try { await api('/api/argus/logout', { method: 'POST' }); } catch { /* ended anyway */ }
  await loadMe();
  location.hash = '#/login';
}

export async function render() {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch { /* a page's leftovers */ } cleanup = null; }
  const { path, params } = route();
  const found = ROUTES.find(([re]) => re.test(path));
  if (me && path === '/login') {
    location.replace('#' + (params.get('next') || '/'));
    return;
  }
  if (!me && path !== '/login') {
    location.replace('#/login?next=' + encodeURIComponent(location.hash.replace(/^#/, '') || '/'));
    return;
  }
  const [re, load, active] = found || [null, null, null];
  renderHeader(active);
  const nav = NAV.find(([id]) => id === active);
  document.title = nav ? `${t(nav[2])} · Argus` : 'Argus';
  if (!found) {
    mount(main, h('h1', null, t('page.not_found')), h('p', null, h('a', { href: '#/' }, t('nav.overview'))));
    return;
  }
  let mod;
  try {
    mod = await load();
  } catch (e) {
    mount(main, h('p', { class: 'error', role: 'alert' }, String(e.message || e)));
    return;
  }
  if (seq !== renderSeq) return;
  main.replaceChildren();
  const m = path.match(re);
  const arg = m && m[1] ? decodeURIComponent(m[1]) : null;
  try {
    cleanup = (await mod.render(main, params, arg)) || null;
  } catch (e) {
    if (e.status !== 401) mount(main, h('p', { class: 'error', role: 'alert' }, String(e.message || e)));
  }
}

whenUnauthorized(() => {
  // The session ended (expired, revoked, logged out elsewhere): log in again, then come
  // back here.
  setMe(null);
  const { path } = route();
  if (path !== '/login') {
    location.hash = '#/login?next=' + encodeURIComponent(location.hash.replace(/^#/, '') || '/');
  }
});

window.addEventListener('hashchange', () => {
  // Moving the focus to the page lets keyboard and screen reader users start there.
  render().then(() => { if (document.activeElement === document.body) main.focus({ preventScroll: true }); });
});

// Tabs (Explore's views, Alerts' and Settings' sections): arrows, Home and End move
// between them, as the ARIA tabs pattern has it.
document.addEventListener('keydown', (e) => {
  const tab = e.target.closest && e.target.closest('[role=tab]');
  if (!tab || !['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
  const tabs = [...tab.parentElement.querySelectorAll('[role=tab]')];
  const i = tabs.indexOf(tab);
  const j = e.key === 'Home' ? 0 : e.key === 'End' ? tabs.length - 1
    : (i + (e.key === 'ArrowRight' ? 1 : -1) + tabs.length) % tabs.length;
  e.preventDefault();
  tabs[j].focus();
  tabs[j].click();
});

applyTheme();
document.documentElement.lang = getLang();
loadMe().then(render, (e) => mount(main, h('p', { class: 'error', role: 'alert' }, String(e.message || e))));
