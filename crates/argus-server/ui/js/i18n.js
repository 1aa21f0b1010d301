// Messages and formats. Every visible string comes from a catalog (i18n/en.js,
// i18n/zh-CN.js) through t(); numbers, sizes and dates go through Intl for the chosen
// language. The language is the browser's by default, chosen in the header and kept in
// localStorage. Times show in the browser's time zone or in UTC (also a header choice).

import en from '../i18n/en.js';
import zhCN from '../i18n/zh-CN.js';

export const LANGS = [['en', 'English'], ['zh-CN', '简体中文']];
const CATALOGS = { en, 'zh-CN': zhCN };

function stored(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}
function store(key, v) {
  try { localStorage.setItem(key, v); } catch { /* private mode: not remembered */ }
}

function browserLang() {
  for (const l of navigator.languages || [navigator.language || 'en']) {
    if (/^zh\b/i.test(l)) return 'zh-CN';
    if (/^en\b/i.test(l)) return 'en';
  }
  return 'en';
}

let lang = CATALOGS[stored('argus.lang')] ? stored('argus.lang') : browserLang();
let tz = stored('argus.tz') === 'UTC' ? 'UTC' : 'local';

export function getLang() { return lang; }
export function setLang(l) {
  if (!CATALOGS[l]) return;
  lang = l;
  store('argus.lang', l);
  document.documentElement.lang = l;
  formats = null;
}
export function getTz() { return tz; }
export function setTz(z) {
  tz = z === 'UTC' ? 'UTC' : 'local';
  store('argus.tz', tz);
  formats = null;
}

/** The message of `key`, with {name} replaced from `vars`. */
export function t(key, vars) {
  let s = CATALOGS[lang][key] ?? en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** A message for a count `n`: `key_one`, `key_few`… by the language's plural rules when
 * the catalog has it, else `key`; {n} is the count formatted for the language. */
export function tn(key, n, vars) {
  const k = `${key}_${new Intl.PluralRules(lang).select(n)}`;
  return t(CATALOGS[lang][k] != null ? k : key, { ...vars, n: fmt.int(n) });
}

let formats = null;
function f() {
  if (formats) return formats;
  const timeZone = tz === 'UTC' ? 'UTC' : undefined;
  formats = {
    num: new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }),
    num3: new Intl.NumberFormat(lang, { maximumSignificantDigits: 3 }),
    int: new Intl.NumberFormat(lang, { maximumFractionDigits: 0 }),
    dateTime: new Intl.DateTimeFormat(lang, { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }),
    hm: new Intl.DateTimeFormat(lang, { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }),
    hms: new Intl.DateTimeFormat(lang, { timeZone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }),
    md: new Intl.DateTimeFormat(lang, { timeZone, month: 'short', day: 'numeric' }),
    rel: new Intl.RelativeTimeFormat(lang, { numeric: 'auto' }),
  };
  return formats;
}

export const fmt = {
  num: (v) => (v == null || Number.isNaN(v) ? '—' : f().num.format(v)),
  int: (v) => (v == null ? '—' : f().int.format(v)),
  pct: (v) => (v == null ? '—' : f().num3.format(v) + '%'),
  /** Bytes in binary units (KiB, MiB, …), 3 significant digits. */
  bytes(v) {
    if (v == null || Number.isNaN(v)) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    let x = Math.abs(v);
    while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
    return (v < 0 ? '-' : '') + f().num3.format(x) + ' ' + units[i];
  },
  /** Plain numbers with SI prefixes (1.2k, 3.4M), 3 significant digits. */
  short(v) {
    if (v == null || Number.isNaN(v)) return '—';
    const a = Math.abs(v);
    const p = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']].find(([n]) => a >= n);
    return p ? f().num3.format(v / p[0]) + p[1] : f().num3.format(v);
  },
  /** A date and time from Unix milliseconds. */
  dateTime: (ms) => (ms == null ? '—' : f().dateTime.format(new Date(ms))),
  hm: (ms) => f().hm.format(new Date(ms)),
  hms: (ms) => f().hms.format(new Date(ms)),
  md: (ms) => f().md.format(new Date(ms)),
  /** "3 minutes ago" from Unix milliseconds. */
  ago(ms) {
    if (ms == null) return '—';
    const s = (ms - Date.now()) / 1000;
    const a = Math.abs(s);
    const [n, u] = a < 60 ? [s, 'second'] : a < 3600 ? [s / 60, 'minute'] : a < 86400 ? [s / 3600, 'hour'] : [s / 86400, 'day'];
    return f().rel.format(Math.round(n), u);
  },
  /** A duration in seconds as "1h 5m" (units from the catalog). */
  duration(secs) {
    if (secs == null) return '—';
    const d = Math.floor(secs / 86400);
    const hh = Math.floor((secs % 86400) / 3600);
    const m = Math.floor((secs % 3600) / 60);
    const parts = [];
    if (d) parts.push(t('unit.days', { n: d }));
    if (hh) parts.push(t('unit.hours', { n: hh }));
    if (!d && m) parts.push(t('unit.minutes', { n: m }));
    if (!parts.length) parts.push(t('unit.seconds', { n: Math.floor(secs) }));
    return parts.join(' ');
  },
};

/** Formats a value for a unit: 'percent', 'bytes', 'bytes/s', 'short' (default). */
export function fmtUnit(unit, v) {
  if (v == null || Number.isNaN(v)) return '—';
  switch (unit) {
    case 'percent': return fmt.pct(v);
    case 'bytes': return fmt.bytes(v);
    case 'bytes/s': return fmt.bytes(v) + '/s';
    default: return fmt.short(v);
  }
}
