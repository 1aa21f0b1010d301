// Light and dark themes: the system's preference by default, a toggle in the header kept
// in localStorage. Colors are CSS variables (app.css); charts read them when drawn.

function stored() {
  try { return localStorage.getItem('argus.theme'); } catch { return null; }
}

export function theme() {
  const s = stored();
  if (s === 'light' || s === 'dark') return s;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function applyTheme() {
  document.documentElement.dataset.theme = theme();
}

export function toggleTheme() {
  const next = theme() === 'dark' ? 'light' : 'dark';
  try { localStorage.setItem('argus.theme', next); } catch { /* not remembered */ }
  applyTheme();
}

/** A CSS variable's value, for canvas drawing. */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
