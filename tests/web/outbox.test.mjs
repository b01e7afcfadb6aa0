// The outbox: unacknowledged messages kept across reloads, in order, once each.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Outbox } from '../../web/outbox.js';

class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

describe('outbox', () => {
  it('keeps messages in order across a reload, once each, per user', () => {
    const storage = new MemoryStorage();
    const box = new Outbox('Alice', storage);
    box.add({ kind: 'room', ref: 1, client_id: 'c-1', text: 'one' });
    box.add({ kind: 'dm', ref: 'bob', client_id: 'c-2', text: 'two' });
    box.add({ kind: 'room', ref: 1, client_id: 'c-1', text: 'one' });
    const reloaded = new Outbox('alice', storage);
    assert.deepEqual(reloaded.all().map((i) => i.client_id), ['c-1', 'c-2']);
    assert.deepEqual(new Outbox('bob', storage).all(), [], 'another user sees none of them');
    reloaded.remove('c-1');
    assert.deepEqual(new Outbox('alice', storage).all().map((i) => i.text), ['two']);
    reloaded.remove('c-2');
    assert.equal(storage.getItem('tickertalk.outbox.alice'), null, 'nothing left behind');
  });

  it('ignores a damaged store', () => {
    const storage = new MemoryStorage();
    storage.setItem('tickertalk.outbox.alice', '{not json');
    assert.deepEqual(new Outbox('alice', storage).all(), []);
    storage.setItem('tickertalk.outbox.alice', JSON.stringify([{ kind: 'room', ref: 1, client_id: 'c', text: 'ok' }, { kind: 'x' }, null]));
    assert.deepEqual(new Outbox('alice', storage).all().map((i) => i.text), ['ok']);
  });
});
