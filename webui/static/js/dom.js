// Small DOM helpers. Text always goes in as text, never as HTML.

/**
 * h builds an element: h('button', {class: 'x', onclick: f}, 'text', child).
 * Attributes whose name starts with "on" become listeners; a false, null or
 * undefined attribute is left out; true sets it empty.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** svg builds an SVG element with attributes and children. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c instanceof Node) el.appendChild(c);
    else if (c !== null && c !== undefined) el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** clear empties an element and appends the children given. */
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** fmtTime renders an ISO time as local date and time, or a dash. */
export function fmtTime(s) {
  if (!s || s.startsWith('0001-')) return '—';
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

/** ago renders how long ago an ISO time was. */
export function ago(s) {
  if (!s || s.startsWith('0001-')) return 'never';
  const sec = Math.round((Date.now() - new Date(s).getTime()) / 1000);
  if (sec < 60) return `${Math.max(sec, 0)} s ago`;
  if (sec < 3600) return `${Math.round(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.round(sec / 3600)} h ago`;
  return `${Math.round(sec / 86400)} d ago`;
}

/** status shows a message in the page's live region, for screen readers too. */
export function status(msg, kind = 'info') {
  const el = document.getElementById('status');
  if (!el) return;
  el.textContent = msg;
  el.dataset.kind = kind;
}
