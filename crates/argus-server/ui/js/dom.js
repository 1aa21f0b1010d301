// A tiny DOM builder: h('tag', {attrs}, ...children). No framework: pages build their
// elements with it and replace them when data changes. Text is always set as text, never
// parsed as HTML, so nothing from the APIs can inject markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2).toLowerCase(), v);
      } else if (k === 'class') {
        el.className = v;
      } else if (k === 'for') {
        el.htmlFor = v;
      } else if (k === 'value' || k === 'checked' || k === 'selected') {
        el[k] = v;
      } else if (k === 'dataset') {
        Object.assign(el.dataset, v);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A <select> whose options are [value, text] pairs. */
export function select(attrs, options, current) {
  return h('select', attrs,
    options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(current ?? '') }, text)));
}

/** A labelled form field: <label> text, then the control (ids tie them). */
let seq = 0;
export function field(labelText, control, hint) {
  if (!control.id) control.id = 'f' + (++seq);
  return h('div', { class: 'field' },
    h('label', { for: control.id }, labelText), control,
    hint ? h('small', { class: 'hint' }, hint) : null);
}

/** A <section> card with a heading. */
export function card(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

/** A table from column headers and rows of cells. */
export function table(headers, rows, attrs) {
  return h('table', attrs,
    h('thead', null, h('tr', null, headers.map((x) => (x instanceof Node ? x : h('th', { scope: 'col' }, x))))),
    h('tbody', null, rows));
}
