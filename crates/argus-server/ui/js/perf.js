// Marks for the browser test and for anyone curious: when the first data of a page was
// on screen (performance.getEntriesByName('argus:first-data')), and the chart benchmark.

import { benchmark } from './chart.js';

export function firstData(page) {
  if (performance.getEntriesByName('argus:first-data').length) return;
  performance.mark('argus:first-data', { detail: page });
}

// The browser test calls window.argusBench(el) to time 50 series × 2 000 points, and
// reads how many times the page broke its Content-Security-Policy (none, it checks).
window.argusCspViolations = 0;
document.addEventListener('securitypolicyviolation', () => { window.argusCspViolations++; });
window.argusBench = (el, series, points) => benchmark(el, series, points);
