// Small DOM and formatting helpers shared by the views. Everything that puts
// user data on the page goes through textContent (el(..., { text })), never
// innerHTML. Holds no state and knows nothing of chat: what a message is and
// how messages sort belongs to model.js.

/**
 * Create an element. `opts`: className, text (set with textContent), attrs
 * (setAttribute; values coerced to strings), dataset, children.
 */
export function el(tag, opts = {}, children = []) {
  const node = document.createElement(tag);
  if (opts.className) node.className = opts.className;
  if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
  if (opts.attrs) {
    for (const [k, v] of Object.entries(opts.attrs)) {
      if (v === undefined || v === null || v === false) continue;
      node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  if (opts.testid) node.dataset.testid = opts.testid;
  if (opts.dataset) {
    for (const [k, v] of Object.entries(opts.dataset)) {
      if (v !== undefined && v !== null) node.dataset[k] = String(v);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

export function show(node, visible = true) {
  node.hidden = !visible;
}

/** A random id for correlating a sent frame with its echo (server allows 64 chars). */
export function newClientId() {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return `c-${s}`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const yearFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** Short, human time for a message: "14:03", "Mar 3, 14:03", "Mar 3, 2024, 14:03". */
export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  if (sameDay) return timeFmt.format(d);
  if (d.getFullYear() === now.getFullYear()) return `${dayFmt.format(d)}, ${timeFmt.format(d)}`;
  return `${yearFmt.format(d)}, ${timeFmt.format(d)}`;
}

export function formatFullTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : fullFmt.format(d);
}

/** Relative-ish label for the inbox list. */
export function formatShortDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeFmt.format(d);
  return d.getFullYear() === now.getFullYear() ? dayFmt.format(d) : yearFmt.format(d);
}

/** Stable colour bucket (0..7) for a username's avatar. */
export function colourIndex(name) {
  let h = 0;
  for (const ch of String(name).toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 8;
}

export function initials(name) {
  const s = String(name || '?').replace(/[^A-Za-z0-9]/g, '');
  return (s.slice(0, 2) || '?').toUpperCase();
}

export function avatar(name, extraClass = '') {
  return el('span', {
    className: `avatar av-${colourIndex(name)} ${extraClass}`.trim(),
    text: initials(name),
    attrs: { 'aria-hidden': 'true' },
  });
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Disable a form's submit button while `fn` runs, so a double click sends once. */
export async function withBusy(form, fn) {
  const btn = form.querySelector('button[type="submit"]');
  btn.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    await fn();
  } finally {
    btn.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

const FIELD_LABEL = { username: 'Username', email: 'Email', password: 'Password', name: 'Name' };

/** A sentence for one entry of a problem's `errors` (a code such as "taken", or the server's own words). */
export function describeFieldError(field, value) {
  const v = String(value);
  if (v === 'taken') return `This ${field === 'email' ? 'email' : field} is already taken.`;
  if (v === 'reserved') return `This ${field} is reserved.`;
  if (v === 'required') return `${FIELD_LABEL[field] || field} is required.`;
  return v ? v[0].toUpperCase() + v.slice(1) + (/[.!?]$/.test(v) ? '' : '.') : '';
}
