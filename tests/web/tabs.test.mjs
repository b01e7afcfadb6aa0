// Unit tests for the tab lists' keys (web/tabs.js).
// Run: node --test tests/web/ (see model.test.mjs for why web/ has a package.json).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { markSelected, tabKeyTarget } from '../../web/tabs.js';

describe('tabKeyTarget', () => {
  it('moves with the arrows, wrapping around, and jumps with Home and End', () => {
    assert.equal(tabKeyTarget('ArrowRight', 0, 2), 1);
    assert.equal(tabKeyTarget('ArrowRight', 1, 2), 0);
    assert.equal(tabKeyTarget('ArrowLeft', 0, 2), 1);
    assert.equal(tabKeyTarget('ArrowDown', 1, 3), 2);
    assert.equal(tabKeyTarget('ArrowUp', 0, 3), 2);
    assert.equal(tabKeyTarget('Home', 2, 3), 0);
    assert.equal(tabKeyTarget('End', 0, 3), 2);
  });

  it('leaves every other key alone (Tab moves on through the page)', () => {
    for (const key of ['Tab', 'Enter', ' ', 'a', 'Escape']) assert.equal(tabKeyTarget(key, 0, 2), null, key);
  });
});

describe('markSelected', () => {
  it('selects one tab and keeps every tab in the Tab order', () => {
    const tab = () => ({ attrs: {}, tabIndex: -1, setAttribute(k, v) { this.attrs[k] = v; } });
    const [a, b] = [tab(), tab()];
    markSelected([a, b], b);
    assert.deepEqual([a.attrs['aria-selected'], b.attrs['aria-selected']], ['false', 'true']);
    assert.deepEqual([a.tabIndex, b.tabIndex], [0, 0]);
  });
});
