// The public APIs the UI reads, with the session cookie that login set (the cookie is
// HttpOnly: scripts never see it). A 401 from any call means the session ended: the app
// returns to the login page.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(f) { onUnauthorized = f; }

/** Calls `path`; answers the parsed JSON (or text with `text: true`). */
export async function api(path, { method = 'GET', body, query, text = false, raw = false, signal, quiet401 = false } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v == null || v === '') continue;
      for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
    }
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const init = { method, credentials: 'same-origin', headers: {}, signal };
  if (body !== undefined) {
    if (raw) {
      init.body = body;
      init.headers['Content-Type'] = 'text/plain; charset=utf-8';
    } else {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
  }
  const resp = await fetch(url, init);
  if (resp.status === 401 && path !== '/api/argus/login' && !quiet401) {
    onUnauthorized();
    throw new ApiError(401, 'unauthorized');
  }
  const ct = resp.headers.get('content-type') || '';
  let data = null;
  if (resp.status !== 204 && resp.status !== 304) {
    data = text || !ct.includes('json') ? await resp.text() : await resp.json().catch(() => null);
  }
  if (!resp.ok) {
    const msg = (data && (data.error || data.message)) || (typeof data === 'string' && data) || resp.statusText;
    throw new ApiError(resp.status, msg, data);
  }
  return data;
}

/** The Prometheus query API. Times in Unix seconds. */
export const prom = {
  async query(expr, time, signal) {
    const r = await api('/api/v1/query', { query: { query: expr, time }, signal });
    return r.data;
  },
  async range(expr, start, end, step, signal) {
    const r = await api('/api/v1/query_range', { query: { query: expr, start, end, step }, signal });
    return r.data;
  },
  async labelValues(name, match) {
    const r = await api(`/api/v1/label/${encodeURIComponent(name)}/values`, { query: { 'match[]': match } });
    return r.data || [];
  },
  async labels(match) {
    const r = await api('/api/v1/labels', { query: { 'match[]': match } });
    return r.data || [];
  },
};

/** Whether two label sets are the same. */
export const sameLabels = (a, b) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/**
 * The alerts active now (of one host, if given): the rules' pending and firing ones
 * (`GET /api/argus/alerts`), then, as firing, those the notifier holds that no rule
 * made: event rules' and those other systems post (`POST /api/v2/alerts`); these have
 * `external: true` and no value. Answers `{alerts, held}`, `held` being the notifier's
 * alerts as `GET /api/v2/alerts` gives them (with what silences each).
 */
export async function activeAlerts(host) {
  const [alerts, held] = await Promise.all([
    api('/api/argus/alerts', { query: { host } }).then((r) => r.data || []),
    api('/api/v2/alerts').catch(() => []),
  ]);
  const rules = new Set(alerts.map((a) => a.rule));
  for (const x of held || []) {
    const labels = x.labels || {};
    if ((host && labels.host !== host) || rules.has(labels.alertname) || alerts.some((a) => sameLabels(a.labels, labels))) continue;
    alerts.push({ rule: labels.alertname || '', state: 'firing', labels, value: null, annotations: x.annotations || {},
      active_at_ms: Date.parse(x.startsAt), external: true });
  }
  return { alerts, held: held || [] };
}

/** Who is logged in: {name, user, role}, or null when nobody is. */
export let me = null;
export async function loadMe() {
  try {
    me = await api('/api/argus/me', { quiet401: true });
  } catch (e) {
    me = null;
    if (e.status !== 401) throw e;
  }
  return me;
}
export function setMe(m) { me = m; }

/** Whether the current user may change things (editor or admin): edit controls render only then. */
export function canEdit() { return !!me && (me.role === 'editor' || me.role === 'admin'); }
export function isAdmin() { return !!me && me.role === 'admin'; }
