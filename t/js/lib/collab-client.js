// Helpers for the black-box acceptance tests (t/4*.t): the unmodified
// sharedb 7 client over `ws`, ot-text-unicode as type and oracle, the op log
// read straight from PostgreSQL, and bounded waits that fail with a message
// saying what was expected.
//
//   const C = require(process.cwd() + '/lib/collab-client');
//   C.main(async () => { ... }, { timeout: 30000 });
//
// Everything here is protocol-level: nothing knows how the server is built.

'use strict';

const assert = require('assert');
const cp = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const ShareDB = require('sharedb/lib/client');
const WebSocket = require('ws');
const textUnicode = require('ot-text-unicode');

const TYPE = textUnicode.type;
const URI = TYPE.uri;

ShareDB.types.register(TYPE);

// sharedb logs rollbacks and bad messages with console.*; keep them visible
// (one line each, errors without stacks) and tagged
const brief = (a) => a.map((x) => (x instanceof Error
  ? `${x.code || 'Error'}: ${x.message}` + (x.data ? ' ' + show(x.data) : '')
  : typeof x === 'object' ? show(x) : String(x)));
ShareDB.logger.setMethods({
  info: (...a) => console.log('[sharedb info]', ...brief(a)),
  warn: (...a) => console.log('[sharedb warn]', ...brief(a)),
  error: (...a) => console.log('[sharedb error]', ...brief(a)),
});


// ------------------------------------------------------------ basics

function log(...a) {
  const t = ((Date.now() - T0) / 1000).toFixed(3);
  console.log(`[${t}]`, ...a);
}
const T0 = Date.now();

function check(cond, msg, extra) {
  if (!cond) {
    const e = new Error('check failed: ' + msg
                        + (extra !== undefined ? '\n  ' + show(extra) : ''));
    throw e;
  }
}

function eq(got, want, msg) {
  try {
    assert.deepStrictEqual(got, want);
  } catch (e) {
    throw new Error(`check failed: ${msg}\n  expected: ${show(want)}\n`
                    + `  got:      ${show(got)}`);
  }
}

function show(v) {
  let s;
  try { s = JSON.stringify(v); } catch (e) { s = String(v); }
  if (s === undefined) s = String(v);
  return s.length > 600 ? s.slice(0, 300) + ` ...(${s.length} chars)... `
                          + s.slice(-200) : s;
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));

// Runs the test body with a hard deadline; exit 0 only if it resolves.
function main(fn, opts = {}) {
  const timeout = opts.timeout || 50000;
  const timer = setTimeout(() => {
    console.log(`FAIL: the test did not finish within ${timeout} ms`
                + (main.stage ? ` (stage: ${main.stage})` : ''));
    process.exit(1);
  }, timeout);
  process.on('unhandledRejection', (e) => {
    console.log('FAIL: unhandled rejection'
                + (main.stage ? ` (stage: ${main.stage})` : '') + ': '
                + (e && e.stack || e));
    process.exit(1);
  });
  Promise.resolve().then(fn).then(() => {
    clearTimeout(timer);
    console.log('PASS');
    process.exit(0);
  }, (e) => {
    console.log('FAIL' + (main.stage ? ` (stage: ${main.stage})` : '')
                + ': ' + (e && e.stack || e));
    process.exit(1);
  });
}
main.stage = '';

function stage(name) {
  main.stage = name;
  log('--', name);
}

// promise that rejects with `what` after ms
function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(
        `timeout: ${what} did not happen within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Polls cond() every `every` ms; rejects after ms with what + diag().
async function waitFor(cond, ms, what, diag, every = 10) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) {
      throw new Error(`timeout: ${what} (waited ${ms} ms)`
                      + (diag ? '\n  ' + await diag() : ''));
    }
    await delay(every);
  }
}

// Seeded PRNG (mulberry32): the same seed gives the same test.
function prng(seed) {
  let a = seed >>> 0;
  const r = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  r.int = (n) => Math.floor(r() * n);        // 0 .. n-1
  r.pick = (arr) => arr[r.int(arr.length)];
  return r;
}

// code points, the unit of text-unicode positions
const cpLen = (s) => { let n = 0; for (const _ of s) n++; return n; };


// text-unicode has no transformPresence; doc presence needs one.  This
// registers (for this process) the same type under the same name and URI
// with transformPresence built on transformSelection; a presence value is
// a cursor (number) or a selection [anchor, head] in code points.
function usePresenceType() {
  const t = Object.assign({}, TYPE, {
    transformPresence: (p, op, isOwnOp) =>
      (p == null ? p : TYPE.transformSelection(p, op, isOwnOp)),
  });
  ShareDB.types.register(t);
  return t;
}


// ------------------------------------------------------ random edits

// pieces with non-BMP code points, CJK, combining marks and ASCII
const PIECES = [
  'a', 'b', 'xyz', ' ', '\n', 'hello', 'é', 'e\u0301', 'a\u0308\u0323',
  '漢', '字と', '中文', '한국', '😀', '🎉🎉', '👍🏽', '𝄞', '🇫🇷', 'Ω', 'ß',
];

function randomInsertText(rng) {
  let s = '';
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) s += rng.pick(PIECES);
  return s;
}

// A random valid text-unicode op against `text` (insert, delete or both).
function randomOp(rng, text, opts = {}) {
  const len = cpLen(text);
  const delP = opts.deleteRatio === undefined ? 0.35 : opts.deleteRatio;
  if (len > 0 && rng() < delP) {
    const pos = rng.int(len);
    const n = 1 + rng.int(Math.min(6, len - pos));
    const op = pos ? [pos, { d: n }] : [{ d: n }];
    if (rng() < 0.3) op.push(randomInsertText(rng));
    return TYPE.normalize(op);
  }
  const pos = rng.int(len + 1);
  const ins = randomInsertText(rng);
  return pos ? [pos, ins] : [ins];
}


// --------------------------------------------------- sharedb clients

// A sharedb Connection over a `ws` socket that can be dropped and
// reconnected (bindToSocket with a new socket, as a reconnecting wrapper
// does).  opts: name, reconnect (auto-reconnect after a close, default
// false), backoff (ms, default 50..400 with jitter).
class Client {
  constructor(url, opts = {}) {
    this.url = url;
    this.name = opts.name || 'client';
    this.autoReconnect = !!opts.reconnect;
    this.backoff = opts.backoff || [50, 400];
    this.headers = opts.headers || {};  // of each upgrade (a token)
    this.closed = false;
    this.sockets = 0;
    this.errors = [];
    this.socket = this._newSocket();
    this.conn = new ShareDB.Connection(this.socket);
    this.conn.on('error', (e) => {
      this.errors.push(e);
      log(`${this.name}: connection error event:`, e && (e.code || e.message));
    });
  }

  static async open(url, opts = {}) {
    const c = new Client(url, opts);
    await c.connected(opts.timeout || 5000);
    return c;
  }

  _newSocket() {
    const ws = new WebSocket(this.url, { headers: this.headers });
    this.sockets++;
    // an 'error' without a listener would throw; sharedb's onerror is
    // removed when the socket is replaced
    ws.on('error', () => {});
    ws.on('close', () => {
      if (ws !== this.socket || this.closed || !this.autoReconnect) return;
      const [lo, hi] = this.backoff;
      setTimeout(() => {
        if (ws === this.socket && !this.closed) this.reconnect();
      }, lo + Math.random() * (hi - lo));
    });
    return ws;
  }

  get id() { return this.conn.id; }
  get state() { return this.conn.state; }

  connected(ms = 5000) {
    if (this.conn.state === 'connected') return Promise.resolve();
    return within(new Promise((res) => {
      const on = (s) => {
        if (s !== 'connected') return;
        this.conn.removeListener('state', on);
        res();
      };
      this.conn.on('state', on);
    }), ms, `${this.name} connects to ${this.url} (sharedb handshake)`);
  }

  // kill the TCP connection without a close handshake
  drop() {
    this.socket.terminate();
  }

  reconnect() {
    const ws = this._newSocket();
    this.socket = ws;
    this.conn.bindToSocket(ws);
  }

  close() {
    this.closed = true;
    try { this.conn.close(); } catch (e) { /* already closed */ }
  }

  // the TCP port of this client's end (to find the serving worker)
  localPort() {
    return this.socket._socket && this.socket._socket.localPort;
  }

  doc(c, d) { return this.conn.get(c, d); }
}


// promisified doc operations
function cb2p(fn) {
  return new Promise((res, rej) => fn((err, v) => err ? rej(err) : res(v)));
}
const create = (doc, data, type = URI) =>
  cb2p((cb) => doc.create(data, type, cb));
const submit = (doc, op) => cb2p((cb) => doc.submitOp(op, cb));
const fetch = (doc) => cb2p((cb) => doc.fetch(cb));
const subscribe = (doc) => cb2p((cb) => doc.subscribe(cb));
const unsubscribe = (doc) => cb2p((cb) => doc.unsubscribe(cb));
const del = (doc) => cb2p((cb) => doc.del(cb));
const fetchSnapshot = (conn, c, d, v) =>
  cb2p((cb) => conn.fetchSnapshot(c, d, v, cb));

// expect a promise to fail; returns the error
async function rejects(promise, what) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  check(err, `${what}: expected an error, the call succeeded`);
  return err;
}

// A doc is settled when nothing of its own is in flight or pending.
const settled = (doc) => !doc.hasWritePending() && !doc.inflightFetch.length
  && !doc.inflightSubscribe && !doc.pendingFetch.length;

// Waits until every doc has the same version and data, nothing pending, all
// connections connected, and (if `head` is given: async () => version)
// that version is the server's head.
async function converge(docs, ms, what = 'replicas converge', head) {
  let h = null;
  await waitFor(async () => {
    for (const d of docs) {
      if (d.connection.state !== 'connected' || !settled(d)) return false;
    }
    const v = docs[0].version;
    const data = docs[0].data;
    for (const d of docs) {
      if (d.version !== v || d.data !== data) return false;
    }
    if (head) {
      h = await head();
      if (h !== v) return false;
    }
    return true;
  }, ms, what, () => 'replicas: ' + docs.map((d) => {
    const c = d.connection;
    return `\n    ${c.id} state=${c.state} v=${d.version} `
      + `len=${typeof d.data === 'string' ? cpLen(d.data) : d.data} `
      + `inflight=${!!d.inflightOp} pending=${d.pendingOps.length}`;
  }).join('') + (head ? `\n    server head: ${h}` : ''), 20);
}


// A bare protocol client (no sharedb): for messages the stock client
// would never send (badly formed ops, hand-built resends).
class RawClient {
  // opts.autoPong false: a socket that never answers pings (half-open);
  // opts.headers: of the upgrade request (a token)
  constructor(url, opts = {}) {
    this.url = url;
    this.queue = [];
    this.waiters = [];
    this.ws = new WebSocket(url, { autoPong: opts.autoPong !== false,
                                   headers: opts.headers || {} });
    this.ws.on('error', () => {});
    this.ws.on('message', (data, binary) => {
      let m;
      try {
        m = JSON.parse(binary ? data : data.toString());
      } catch (e) {
        m = { unparsable: data.toString() };
      }
      this.queue.push(m);
      this._wake();
    });
    this.ws.on('close', (code) => {
      this.closedByPeer = true;
      this.closeCode = code;
      this._wake();
    });
  }

  // id: the previous src id to ask for again, as a reconnecting client
  // does; opts: autoPong, headers, hsTimeout (ms, 5000)
  static async open(url, id = null, opts = {}) {
    const r = new RawClient(url, opts);
    await within(new Promise((res, rej) => {
      r.ws.once('open', res);
      r.ws.once('error', rej);
    }), 5000, `raw connect to ${url}`);
    await r.hs(id, opts.hsTimeout || 5000);
    return r;
  }

  // a handshake asking for id; resolves to the id given
  async hs(id, ms = 5000) {
    this.send({ a: 'hs', id, protocol: 1, protocolMinor: 2 });
    const hs = await this.next((m) => m.a === 'hs', ms, 'handshake reply');
    check(typeof hs.id === 'string' && hs.id.length > 0,
          'handshake reply carries a string id', hs);
    this.id = hs.id;
    return hs.id;
  }

  _wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  // the first queued/arriving message matching pred (others stay queued)
  async next(pred, ms, what) {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.queue.findIndex(pred);
      if (i >= 0) return this.queue.splice(i, 1)[0];
      const left = end - Date.now();
      if (left <= 0 || this.closedByPeer) {
        throw new Error(`timeout: expected ${what} within ${ms} ms`
                        + (this.closedByPeer ? ' (server closed)' : '')
                        + '; received and unmatched: '
                        + show(this.queue.slice(-8)));
      }
      await new Promise((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => { clearTimeout(t); res(); });
      });
    }
  }

  // sends an op message and waits for its ack (by seq), which must not be
  // an error; returns the ack
  async submit(msg, what = `ack of seq ${msg.seq}`, ms = 5000) {
    this.send({ a: 'op', ...msg });
    const ack = await this.next((m) => m.a === 'op' && m.seq === msg.seq
                                       && m.d === msg.d && !m.op, ms, what);
    check(!ack.error, `${what}: acked`, ack);
    return ack;
  }

  localPort() { return this.ws._socket && this.ws._socket.localPort; }

  close() { try { this.ws.close(); } catch (e) { /* gone */ } }
}


// --------------------------------------------------------- PostgreSQL

function sqlLit(s) {
  return "'" + String(s).replace(/'/g, "''") + "'";
}

// psql -tA; resolves with stdout (rejects with stderr)
function psql(sql, conninfo = process.env.COLLAB_PG) {
  check(conninfo, 'COLLAB_PG is set (the test needs with => postgres)');
  return new Promise((res, rej) => {
    cp.execFile('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1',
                         conninfo, '-c', sql],
                { maxBuffer: 512 * 1024 * 1024 },
                (err, out, errout) => err
                  ? rej(new Error(`psql failed: ${errout || err.message}`))
                  : res(out.replace(/\n$/, '')));
  });
}

// redis-cli against COLLAB_REDIS; resolves with stdout, trimmed
function redis(...args) {
  const [host, port] = env('COLLAB_REDIS').split(':');
  return new Promise((res, rej) => {
    cp.execFile('redis-cli', ['-h', host, '-p', port, ...args],
                (err, out, errout) => err
                  ? rej(new Error(`redis-cli failed: ${errout || err.message}`))
                  : res(out.replace(/\n$/, '')));
  });
}

// the op log of one document, in version order:
// [{v, src, seq, kind, op, type, data}] (op and data parsed)
async function opLog(c, d) {
  const out = await psql(`
    SELECT coalesce(json_agg(json_build_object(
             'v', o.version, 'src', o.src, 'seq', o.seq, 'kind', o.kind,
             'op', o.op, 'type', o.create_type, 'data', o.create_data)
           ORDER BY o.version), '[]')
      FROM collab_ops o JOIN collab_docs d ON d.id = o.doc
     WHERE d.collection = ${sqlLit(c)} AND d.name = ${sqlLit(d)}`);
  return JSON.parse(out).map((r) => ({
    v: Number(r.v), src: r.src, seq: Number(r.seq), kind: r.kind,
    op: r.op == null ? null : JSON.parse(r.op),
    type: r.type,
    data: r.data == null ? undefined : JSON.parse(r.data),
  }));
}

// the document row: {version, type, deleted} or null
async function docRow(c, d) {
  const out = await psql(`
    SELECT json_build_object('version', version, 'type', type,
                             'deleted', deleted)
      FROM collab_docs
     WHERE collection = ${sqlLit(c)} AND name = ${sqlLit(d)}`);
  if (out === '') return null;
  const r = JSON.parse(out);
  r.version = Number(r.version);
  return r;
}

async function headVersion(c, d) {
  const r = await docRow(c, d);
  return r ? r.version : 0;
}

// versions exactly 1..N (or from..N), no (src, seq) twice
function checkLog(rows, what, from = 1) {
  const seen = new Map();
  rows.forEach((r, i) => {
    check(r.v === from + i, `${what}: op log versions are contiguous `
          + `(row ${i} should be v${from + i})`,
          rows.slice(Math.max(0, i - 2), i + 2).map((x) => x.v));
    const k = r.src + '/' + r.seq;
    check(!seen.has(k), `${what}: (src, seq) ${k} committed once, found at `
          + `v${seen.get(k)} and v${r.v}`);
    seen.set(k, r.v);
  });
}

// Applies the op log with ot-text-unicode; returns {text, type, deleted}.
function replay(rows, what) {
  let text;
  let type = null;
  let deleted = false;
  for (const r of rows) {
    if (r.kind === 'create') {
      check(type === null, `${what}: create at v${r.v} on an existing doc`);
      check(r.type === URI, `${what}: create type is the URI`, r.type);
      text = TYPE.create(r.data === undefined ? '' : r.data);
      type = r.type;
      deleted = false;
    } else if (r.kind === 'del') {
      check(type !== null, `${what}: del at v${r.v} on a missing doc`);
      type = null;
      text = undefined;
      deleted = true;
    } else {
      check(type !== null, `${what}: op at v${r.v} on a missing doc`);
      try {
        text = TYPE.apply(text, r.op);
      } catch (e) {
        throw new Error(`${what}: op log v${r.v} does not apply: `
                        + `${e.message} (op ${show(r.op)})`);
      }
    }
  }
  return { text, type, deleted };
}


// ------------------------------------------------------------ nginx

// The pid of the process (an nginx worker) that holds the server end of a
// client's TCP connection, found through /proc/net/tcp socket inodes.
function serverPidOf(client, serverPort) {
  const cport = client.localPort();
  if (!cport) return null;
  const hex = (p) => p.toString(16).toUpperCase().padStart(4, '0');
  let inode = null;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines;
    try { lines = fs.readFileSync(f, 'utf8').split('\n').slice(1); }
    catch (e) { continue; }
    for (const l of lines) {
      const c = l.trim().split(/\s+/);
      if (c.length < 10) continue;
      if (c[1].endsWith(':' + hex(serverPort))
          && c[2].endsWith(':' + hex(cport)) && c[9] !== '0') {
        inode = c[9];
      }
    }
  }
  if (!inode) return null;
  const want = `socket:[${inode}]`;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let comm;
    try { comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); }
    catch (e) { continue; }
    if (comm !== 'nginx') continue;
    let fds;
    try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch (e) { continue; }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === want) {
          return Number(pid);
        }
      } catch (e) { /* closed meanwhile */ }
    }
  }
  return null;
}

const portOf = (url) => Number(new URL(url).port);

// Opens clients on url until `n` of them are served by distinct worker
// pids (or fails after `tries` connections).  Returns [{client, pid}].
// opts.open(i) opens one (default: a sharedb Client named opts.name + i,
// with opts); COLLAB_ANY_PROCESS=1 skips the check (to run a test by hand
// against a server that is not nginx).
async function clientsOnDistinctWorkers(url, n, opts = {}) {
  const open = opts.open
    || ((i) => Client.open(url, { ...opts, name: `${opts.name || 'w'}${i}` }));
  if (process.env.COLLAB_ANY_PROCESS) {
    const out = [];
    for (let i = 0; i < n; i++) {
      out.push({ pid: null, client: await open(i) });
    }
    return out;
  }
  const tries = opts.tries || 40;
  const byPid = new Map();
  const spare = [];
  for (let i = 0; i < tries && byPid.size < n; i++) {
    const c = await open(i);
    await waitFor(() => serverPidOf(c, portOf(url)) !== null, 2000,
                  'the server end of the connection is visible in /proc');
    const pid = serverPidOf(c, portOf(url));
    if (byPid.has(pid)) spare.push(c); else byPid.set(pid, c);
  }
  spare.forEach((c) => c.close());
  check(byPid.size >= n, `${n} clients on distinct workers (got `
        + `${byPid.size} after ${tries} connections)`);
  return [...byPid].map(([pid, client]) => ({ pid, client }));
}


// ------------------------------------------------------------ traces

// A trace from /work/shared/traces style files:
// {startContent, endContent, txns: [{patches: [[pos, del, ins]]}]}
function loadTrace(file) {
  const zlib = require('zlib');
  const j = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)));
  check(typeof j.endContent === 'string' && Array.isArray(j.txns),
        `${file} has the {startContent, endContent, txns} shape`);
  return j;
}

// one patch as a text-unicode op
function patchOp(pos, delCount, ins) {
  const op = [];
  if (pos) op.push(pos);
  if (delCount) op.push({ d: delCount });
  if (ins) op.push(ins);
  return op;
}

// What everyone but its owner sees of a src: HMAC-SHA256 keyed with
// collab_src_secret, the first 16 bytes in hex.  Tests that compare srcs
// set `collab_src_secret $TEST_COLLAB_SRC_SECRET;`, which is this default.
const SRC_SECRET = 'collab-test-src-secret';

// an HS256 JSON Web Token of claims, signed with key (a kid-less header)
function hs256(key, claims) {
  const b64 = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const data = `${b64({ alg: 'HS256' })}.${b64(claims)}`;
  return `${data}.${crypto.createHmac('sha256', key).update(data)
    .digest('base64url')}`;
}

// a payload as this deployment's workers sign it for a Redis channel
// (src/redis/ngx_http_collab_redis_sign.c): what a host with the same
// collab_src_secret would PUBLISH
function busSign(channel, payload, secret = SRC_SECRET) {
  const key = crypto.createHmac('sha256', secret)
    .update('collab redis bus v1').digest();
  const sig = crypto.createHmac('sha256', key).update(channel)
    .update(Buffer.from([0])).update(payload).digest('base64url');
  return `${sig}.${payload}`;
}

function publicSrc(src, secret = SRC_SECRET) {
  return crypto.createHmac('sha256', secret).update(src).digest('hex')
    .slice(0, 32);
}

function env(name) {
  const v = process.env[name];
  check(v, `environment variable ${name} is set`);
  return v;
}


module.exports = {
  ShareDB, WebSocket, TYPE, URI, textUnicode, usePresenceType,
  log, check, eq, show, delay, tick, main, stage, within, waitFor, prng,
  cpLen, randomOp, randomInsertText, PIECES,
  Client, RawClient, create, submit, fetch, subscribe, unsubscribe, del,
  fetchSnapshot, rejects, settled, converge,
  psql, sqlLit, opLog, docRow, headVersion, checkLog, replay,
  serverPidOf, portOf, clientsOnDistinctWorkers, redis,
  loadTrace, patchOp, env, publicSrc, busSign, hs256, SRC_SECRET,
};
