#!/usr/bin/env node
// Saved example responses of the Postman collection, taken from a real run (docs/postman.md).
//
//   QA_ROUTES=true bash scripts/with-server.sh node tests/newman/examples.js capture [--all]
//   node tests/newman/examples.js check
//
// capture: runs the whole collection once with newman against BASE_URL (a server with
//   QA_ROUTES=true, as for scripts/newman.sh) and gives every request that has no example the
//   answer it got: status, the headers a client reads (Content-Type, Retry-After, Allow, Link)
//   and the body as it came, pretty-printed, with the secrets replaced by placeholders (tokens,
//   refresh tokens, access keys: `<access token>`, `<refresh token>`, `<expired access token>`,
//   `<access key id>`, `<secret access key>`). Ids, names and timestamps stay as they came. With
//   --all, every request's examples are replaced by this run's answer. A request that ran more
//   than once (a retried one) keeps its last answer. The run must pass: examples are only taken
//   from a run whose assertions all held.
// check: exits 1 naming every request without an example.
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const COLLECTION = path.join(ROOT, 'postman', 'tickertalk.postman_collection.json');
const ENVIRONMENT = path.join(ROOT, 'postman', 'local.postman_environment.json');

// Headers worth showing in an example, by their lower-case name, as they are usually written.
const KEPT_HEADERS = {
  'content-type': 'Content-Type',
  'retry-after': 'Retry-After',
  allow: 'Allow',
  link: 'Link',
};
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

function log(msg) {
  process.stderr.write(`examples: ${msg}\n`);
}

// Every request of the collection (JSON), with its folder path as its key.
function requests(collection) {
  const out = new Map();
  (function walk(items, folders) {
    for (const item of items) {
      if (Array.isArray(item.item)) walk(item.item, folders.concat(item.name));
      else out.set(folders.concat(item.name).join(' / '), item);
    }
  })(collection.item, []);
  return out;
}

// Secrets in an answer's JSON, replaced by placeholders; everything else as it came.
function mask(value, expiredToken) {
  if (Array.isArray(value)) return value.map((v) => mask(v, expiredToken));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && k === 'token') out[k] = expiredToken ? '<expired access token>' : '<access token>';
      else if (typeof v === 'string' && k === 'refresh_token') out[k] = '<refresh token>';
      else if (typeof v === 'string' && k === 'access_key_id') out[k] = '<access key id>';
      else if (typeof v === 'string' && k === 'secret_access_key') out[k] = '<secret access key>';
      else out[k] = mask(v, expiredToken);
    }
    return out;
  }
  return typeof value === 'string' ? value.replace(JWT, '<access token>') : value;
}

// A saved example (collection format v2.1) of `response` to the request `item` (JSON).
function example(item, response) {
  const original = JSON.parse(JSON.stringify(item.request));
  delete original.description;
  const header = [];
  response.headers.each((h) => {
    const name = KEPT_HEADERS[String(h.key).toLowerCase()];
    if (name && !header.some((x) => x.key === name)) header.push({ key: name, value: h.value });
  });
  const text = response.stream ? response.stream.toString('utf8') : '';
  const type = (header.find((h) => h.key === 'Content-Type') || {}).value || '';
  let body = text;
  let language = 'text';
  if (/json/.test(type) && text) {
    const expired = (item.request.url.path || []).join('/') === 'v1/qa/expired-token';
    body = JSON.stringify(mask(JSON.parse(text), expired), null, 2);
    language = 'json';
  }
  return {
    name: `${response.code} ${response.status}`,
    originalRequest: original,
    status: response.status,
    code: response.code,
    _postman_previewlanguage: language,
    header,
    cookie: [],
    body,
  };
}

function capture(all) {
  const base = (process.env.BASE_URL || '').replace(/\/$/, '');
  if (!base) {
    log('set BASE_URL (run me through scripts/with-server.sh with QA_ROUTES=true)');
    process.exit(2);
  }
  const newman = require(path.join(__dirname, 'node_modules', 'newman'));
  const collection = JSON.parse(fs.readFileSync(COLLECTION, 'utf8'));
  const byKey = requests(collection);
  const ordered = [...byKey];
  const url = new URL(base);
  const answers = new Map();
  newman
    .run({
      collection,
      environment: ENVIRONMENT,
      envVar: [
        { key: 'scheme', value: url.protocol.replace(/:$/, '') },
        { key: 'host', value: url.hostname },
        { key: 'port', value: url.port || (url.protocol === 'https:' ? '443' : '80') },
        { key: 'base_url', value: base },
      ],
      timeoutRequest: 15000,
      insecureFileReadDisabled: true,
      reporters: ['cli'],
      color: 'off',
    })
    .on('request', (err, args) => {
      // The cursor's position is the request's place in the collection, folders flattened.
      // Requests that scripts send (pm.sendRequest) come as items without a name.
      if (err || !args.response || !args.item.name) return;
      const [key, item] = ordered[args.cursor.position] || [];
      if (!item || item.name !== args.item.name) {
        log(`cannot place the answer to "${args.item.name}" (position ${args.cursor.position})`);
        return;
      }
      answers.set(key, args.response);
    })
    .on('done', (err, summary) => {
      if (err || summary.run.failures.length) {
        log(`the run failed (${err ? err.message : summary.run.failures.length + ' failure(s)'}); nothing written`);
        process.exit(1);
      }
      let added = 0;
      for (const [key, item] of byKey) {
        if (!all && item.response && item.response.length) continue;
        const response = answers.get(key);
        if (!response) {
          log(`no answer captured for "${key}"`);
          continue;
        }
        item.response = [example(item, response)];
        added++;
      }
      fs.writeFileSync(COLLECTION, JSON.stringify(collection, null, '\t') + '\n');
      log(`${added} example(s) written to ${path.relative(ROOT, COLLECTION)}`);
      process.exit(missing(collection).length ? 1 : 0);
    });
}

function missing(collection) {
  return [...requests(collection)].filter(([, item]) => !(item.response && item.response.length)).map(([k]) => k);
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'capture') {
  capture(rest.includes('--all'));
} else if (cmd === 'check') {
  const without = missing(JSON.parse(fs.readFileSync(COLLECTION, 'utf8')));
  for (const k of without) log(`no example: ${k}`);
  log(without.length ? `${without.length} request(s) without an example` : 'every request has an example');
  process.exit(without.length ? 1 : 0);
} else {
  log('usage: examples.js capture [--all] | check');
  process.exit(2);
}
