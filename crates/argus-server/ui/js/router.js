// The hash route: #/path?query. Pages keep their state (filters, the query, the range)
// in the query so a view can be shared by link.

/** The current route: path and query of the hash. */
export function route() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  return { path: i < 0 ? raw : raw.slice(0, i), params: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

/** Sets the hash's query without a new history entry or a re-render. */
export function replaceParams(params) {
  const { path } = route();
  const q = params.toString();
  const next = '#' + path + (q ? '?' + q : '');
  if (next !== location.hash) history.replaceState(null, '', next);
}
