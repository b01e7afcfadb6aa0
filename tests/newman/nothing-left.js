#!/usr/bin/env node
// What a user of the server can see, before and after Postman runs: proof that the collection
// leaves nothing behind and posts nothing into rooms it did not create (scripts/newman-twice.sh).
//
//   BASE_URL=http://127.0.0.1:9000 node tests/newman/nothing-left.js before STATE.json
//   ... run the collection ...
//   BASE_URL=http://127.0.0.1:9000 node tests/newman/nothing-left.js after STATE.json
//
// `before` signs up a checker user, creates a sentinel room (a room the runs did not create: they
// must post nothing into it) and records, as that user sees them, every user the collection could
// have made (GET /v1/users by the prefixes `qa_` to `qz_`, all pages) and every room with its last message number (GET /v1/chat/rooms, `last_seq`).
// `after` logs the checker in again and compares: the same users, the same rooms, no room with a
// new message (even one deleted since: `last_seq` only grows), an empty inbox; then deletes the
// checker with its sentinel room (DELETE /v1/qa/account: the server needs QA_ROUTES=true).
// Exit status 1, naming what is left, when anything differs. Node's standard library only.
'use strict';

const fs = require('fs');

const BASE_URL = (process.env.BASE_URL || '').replace(/\/$/, '');
const [mode, stateFile] = process.argv.slice(2);
if (!BASE_URL || !['before', 'after'].includes(mode) || !stateFile) {
  console.error('usage: BASE_URL=http://host:port node nothing-left.js before|after STATE.json');
  process.exit(2);
}

// One HTTP request; node's http/https, so that Node.js 16 (as for newman) is enough.
function call(method, path, { token, body } = {}) {
  const url = new URL(BASE_URL + path);
  const lib = url.protocol === 'https:' ? require('https') : require('http');
  const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (data) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers, timeout: 15000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
        resolve({ status: res.statusCode, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 15 s`)));
    req.on('error', reject);
    req.end(data || undefined);
  });
}

async function expect(status, method, path, opts) {
  const res = await call(method, path, opts);
  if (res.status !== status) {
    throw new Error(`${method} ${path}: expected ${status}, got ${res.status} ${res.text.slice(0, 300)}`);
  }
  return res.json;
}

// Every username the collection could have made, through all pages of GET /v1/users. The
// server lists names only by a prefix of at least 3 characters (the directory cannot be read
// whole), and every user of the collection is named `q<letter>_...`: those 26 prefixes. The
// database check of scripts/newman-twice.sh counts every user, whatever the name.
async function allUsers(token) {
  const names = [];
  for (const letter of 'abcdefghijklmnopqrstuvwxyz') {
    let after = '';
    for (;;) {
      const query = `prefix=q${letter}_&limit=50${after ? '&after=' + encodeURIComponent(after) : ''}`;
      const page = await expect(200, 'GET', `/v1/users?${query}`, { token });
      names.push(...page.users.map((u) => u.username));
      if (!page.next) break;
      after = page.next;
    }
  }
  return names.sort();
}

// Every room, through all pages of GET /v1/chat/rooms (200 a page, by name).
async function allRooms(token) {
  const rooms = [];
  for (;;) {
    const after = rooms.length ? `&after=${rooms[rooms.length - 1].id}` : '';
    const page = await expect(200, 'GET', `/v1/chat/rooms?limit=200${after}`, { token });
    rooms.push(...page);
    if (page.length < 200) break;
  }
  return rooms.map((r) => ({ id: r.id, name: r.name, last_seq: r.last_seq })).sort((a, b) => a.id - b.id);
}

async function before() {
  const run = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
  const checker = { username: 'qcheck_' + run, email: 'qcheck_' + run + '@example.com', password: 'Pw-' + run + '-check' };
  const session = await expect(201, 'POST', '/v1/auth/signup', { body: checker });
  const sentinel = await expect(201, 'POST', '/v1/chat/rooms', { token: session.token, body: { name: 'QA sentinel ' + run } });
  const state = {
    checker,
    sentinel: sentinel.id,
    users: await allUsers(session.token),
    rooms: await allRooms(session.token),
  };
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
  console.log(`before: ${state.users.length} user(s) and ${state.rooms.length} room(s) visible, the checker ${checker.username} and its sentinel room included`);
}

async function after() {
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  const { token } = await expect(200, 'POST', '/v1/auth/login', { body: { username: state.checker.username, password: state.checker.password } });
  const problems = [];
  const users = await allUsers(token);
  const newUsers = users.filter((u) => !state.users.includes(u));
  const goneUsers = state.users.filter((u) => !users.includes(u));
  if (newUsers.length) problems.push(`users left behind: ${newUsers.join(', ')}`);
  if (goneUsers.length) problems.push(`users that were there before are gone: ${goneUsers.join(', ')}`);

  const rooms = await allRooms(token);
  const was = new Map(state.rooms.map((r) => [r.id, r]));
  for (const r of rooms) {
    const old = was.get(r.id);
    if (!old) problems.push(`room left behind: ${r.id} "${r.name}" (last_seq ${r.last_seq})`);
    else if (old.last_seq !== r.last_seq) problems.push(`room ${r.id} "${r.name}", which the runs did not create, got messages: last_seq ${old.last_seq} -> ${r.last_seq}`);
  }
  const now = new Set(rooms.map((r) => r.id));
  for (const r of state.rooms) if (!now.has(r.id)) problems.push(`room that was there before is gone: ${r.id} "${r.name}"`);

  const inbox = await expect(200, 'GET', '/v1/chat/inbox', { token });
  if (inbox.length) problems.push(`the checker has direct messages: ${JSON.stringify(inbox).slice(0, 300)}`);

  // The checker goes too, with its sentinel room; its token must then be refused.
  await expect(204, 'DELETE', '/v1/qa/account', { token });
  await expect(401, 'GET', '/v1/auth/me', { token });

  if (problems.length) {
    console.error('after: the runs left something behind:\n  ' + problems.join('\n  '));
    process.exit(1);
  }
  console.log(`after: the same ${users.length} user(s) and ${rooms.length} room(s) as before, no new message in any room the runs did not create; checker deleted`);
}

(mode === 'before' ? before() : after()).catch((e) => {
  console.error(`${mode}: ${e.message}`);
  process.exit(1);
});
