// Just enough of a document for the views' builders (util.el) under node: elements
// (SVG ones too) with attributes, a dataset, a style, children, textContent and
// listeners (`fire` calls them). innerHTML and insertAdjacentHTML throw, so a
// test fails if a builder ever reaches for them.

class FakeText {
  constructor(text) {
    this.nodeType = 3;
    this.textContent = String(text);
  }
}

class FakeElement {
  constructor(tag, namespace = null) {
    this.nodeType = 1;
    this.namespaceURI = namespace;
    // An SVG element keeps its name's case, as in a browser.
    this.tagName = namespace ? tag : tag.toUpperCase();
    this.style = {};
    this.className = '';
    this.attributes = new Map();
    this.dataset = {};
    this.childNodes = [];
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  addEventListener(type, fn) {
    (this.listeners ||= []).push({ type, fn });
  }

  /** Calls this element's listeners of `type`, as a user's action would. */
  fire(type) {
    for (const l of this.listeners || []) if (l.type === type) l.fn({ type, target: this });
  }

  get firstChild() {
    return this.childNodes[0] || null;
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  append(...nodes) {
    for (const n of nodes) this.childNodes.push(typeof n === 'string' ? new FakeText(n) : n);
  }

  get children() {
    return this.childNodes.filter((n) => n.nodeType === 1);
  }

  get textContent() {
    return this.childNodes.map((n) => n.textContent).join('');
  }

  set textContent(text) {
    this.childNodes = [new FakeText(text)];
  }

  set innerHTML(_) {
    throw new Error('innerHTML used');
  }

  insertAdjacentHTML() {
    throw new Error('insertAdjacentHTML used');
  }
}

/** Installs the fake as globalThis.document (once) and returns it. */
export function installFakeDocument() {
  if (!globalThis.document) {
    globalThis.document = {
      createElement: (tag) => new FakeElement(tag),
      createElementNS: (namespace, tag) => new FakeElement(tag, namespace),
      createTextNode: (text) => new FakeText(text),
    };
  }
  return globalThis.document;
}

/** Every element under `roots` (nodes or arrays of them), depth first. */
export function* elements(roots) {
  for (const n of [roots].flat()) {
    if (n.nodeType !== 1) continue;
    yield n;
    yield* elements(n.childNodes);
  }
}

/** The elements under `roots` with this data-testid. */
export function byTestId(roots, testid) {
  return [...elements(roots)].filter((e) => e.dataset.testid === testid);
}
