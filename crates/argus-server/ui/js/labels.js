// Labels as people type them in a form: "k=v, k2=v2".

import { t } from './i18n.js';

/** "k=v, k2=v2" → {k: v, k2: v2}; throws naming the bad part. */
export function parseLabels(text) {
  const out = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(t('hosts.bad_label', { part }));
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}
export function formatLabels(labels) {
  return Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`).join(', ');
}
