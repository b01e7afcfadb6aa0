// A stand-in for the page, for tests that run the chat controller (web/chat.js)
// in node: enough of the DOM for chat*.js and the views (elements with
// children, classes, attributes, listeners and a dataset; getElementById
// makes any element asked for), localStorage, location and history.

class FakeClassList {
  constructor() { this.set = new Set(); }
  add(...names) { for (const n of names) this.set.add(n); }
  remove(...names) { for (const n of names) this.set.delete(n); }
  contains(name) { return this.set.has(name); }
  toggle(name, force = !this.set.has(name)) {
    if (force) this.set.add(name);
    else this.set.delete(name);
    return force;
  }
}

export class FakeNode {
  constructor(tag = 'div', text = null) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parentNode = null;
    this.dataset = {};
    this.attributes = new Map();
    this.classList = new FakeClassList();
    this.style = {};
    this.hidden = false;
    this.disabled = false;
    this.value = '';
    this.placeholder = '';
    this.title = '';
    this.scrollTop = 0;
    this.scrollHeight = 0;
    this.clientHeight = 0;
    this.listeners = [];
    this.text = text;
  }

  get className() { return [...this.classList.set].join(' '); }
  set className(v) {
    this.classList = new FakeClassList();
    this.classList.add(...String(v).split(/\s+/).filter(Boolean));
  }

  get textContent() { return this.text ?? this.children.map((c) => c.textContent).join(''); }
  set textContent(v) {
    this.replaceChildren();
    this.text = String(v);
  }

  get firstChild() { return this.children[0] || null; }
  get previousElementSibling() { return this.sibling(-1); }
  get nextElementSibling() { return this.sibling(1); }
  sibling(step) {
    if (!this.parentNode) return null;
    const list = this.parentNode.children;
    return list[list.indexOf(this) + step] || null;
  }

  setAttribute(k, v) { this.attributes.set(k, String(v)); }
  getAttribute(k) { return this.attributes.has(k) ? this.attributes.get(k) : null; }
  removeAttribute(k) { this.attributes.delete(k); }
  addEventListener(type, fn) { this.listeners.push({ type, fn }); }
  focus() {}
  querySelector() { return null; }

  detach(node) {
    if (node.parentNode) node.parentNode.children.splice(node.parentNode.children.indexOf(node), 1);
    node.parentNode = this;
    return node;
  }

  append(...nodes) {
    this.text = null;
    for (const n of nodes) this.children.push(this.detach(typeof n === 'string' ? new FakeNode('#text', n) : n));
  }

  insertBefore(node, ref) {
    this.detach(node);
    const at = ref ? this.children.indexOf(ref) : -1;
    if (at < 0) this.children.push(node);
    else this.children.splice(at, 0, node);
    return node;
  }

  replaceChildren(...nodes) {
    for (const c of this.children) c.parentNode = null;
    this.children = [];
    this.append(...nodes);
  }

  replaceWith(node) {
    const parent = this.parentNode;
    if (!parent) return;
    parent.insertBefore(node, this);
    this.remove();
  }

  remove() {
    if (!this.parentNode) return;
    this.parentNode.children.splice(this.parentNode.children.indexOf(this), 1);
    this.parentNode = null;
  }

  /** Every descendant with this data-testid. */
  findAll(testid, found = []) {
    for (const c of this.children) {
      if (c.dataset.testid === testid) found.push(c);
      c.findAll(testid, found);
    }
    return found;
  }
}

export class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

/** Installs the stand-in page as the globals chat.js and its modules use (document, window, storage, location). */
export function installPage() {
  const byId = new Map();
  const bySelector = new Map();
  globalThis.document = {
    visibilityState: 'visible',
    title: '',
    getElementById(id) {
      if (!byId.has(id)) byId.set(id, new FakeNode());
      return byId.get(id);
    },
    querySelector(sel) {
      if (!bySelector.has(sel)) bySelector.set(sel, new FakeNode());
      return bySelector.get(sel);
    },
    createElement: (tag) => new FakeNode(tag),
    createTextNode: (text) => new FakeNode('#text', text),
    addEventListener() {},
  };
  globalThis.window = globalThis;
  globalThis.localStorage = new MemoryStorage();
  globalThis.location = { hash: '', pathname: '/', protocol: 'http:', host: 'chat.test' };
  globalThis.history = { replaceState(_state, _title, url) { globalThis.location.hash = url.startsWith('#') ? url : ''; } };
}
