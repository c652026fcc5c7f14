// Checks that the C encoders (src/protocol/collab_msg_enc.c) produce what
// the real sharedb 7 client accepts: a small C driver (embedded below) is
// compiled against src/protocol, prints one encoded message per line, and
// each is fed to Connection.handleMessage through a fake socket.
//
//   node t/js/msg-client.js        (from the repository root; needs cc, yajl)

'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const cp = require('child_process');

const root = path.resolve(__dirname, '..', '..');
const ShareDB = require('sharedb/lib/client');
const textUnicode = require('ot-text-unicode');

ShareDB.types.register(textUnicode.type);

const driver = String.raw`
#include <stdio.h>
#include <string.h>
#include "protocol/collab_msg_enc.h"

static collab_msg_enc_t  enc;

static void out(const char *name, int rc)
{
    if (rc != COLLAB_MSG_OK) { fprintf(stderr, "%s: %d\n", name, rc); return; }
    printf("%s\t%.*s\n", name, (int) enc.len, collab_msg_enc_data(&enc));
}

static int body(yajl_gen g, void *ctx)
{
    return collab_msg_emit_raw(g, (const char *) ctx, strlen(ctx));
}

#define S(x) { x, sizeof(x) - 1 }

int main(void)
{
    collab_msg_t           msg;
    collab_msg_err_t       err;
    collab_msg_str_t       id = S("srv1"), c = S("docs"), d = S("r");
    collab_msg_str_t       a = S("a"), b = S("b"), room = S("room");
    collab_msg_str_t       other = S("other"), nd = S("new");
    collab_msg_op_head_t   h;
    collab_msg_snapshot_t  snap = { 3, "h\xc3\xa9llo \xf0\x9f\x98\x80", 11, 1 };
    collab_msg_snapshot_t  sa = { 1, "A", 1, 1 }, none = { 0, NULL, 0, 0 };
    collab_msg_snapshot_t  old = { 2, "he", 2, 1 };
    const char            *rej = "{\"a\":\"op\",\"c\":\"docs\",\"d\":\"r\","
        "\"v\":5,\"src\":\"srv1\",\"seq\":2,\"x\":{},\"op\":[1,\"Z\"]}";
    const char            *pres = "{\"a\":\"p\",\"ch\":\"room\",\"id\":\"p9\","
        "\"p\":{\"x\":[1,\"\\u00e9\"]},\"pv\":0}";
    const char            *nf = "{\"a\":\"nf\",\"id\":1,\"c\":\"docs\","
        "\"d\":\"r\",\"v\":2}";

    collab_msg_init(&msg);
    collab_msg_enc_init(&enc);

    out("hs", collab_msg_enc_hs(&enc, &id));
    out("s", collab_msg_enc_snapshot(&enc, COLLAB_MSG_A_S, &c, &d, &snap));
    h.c = c; h.d = d; h.src = other; h.v = 3; h.seq = 1;
    out("op_other", collab_msg_enc_op(&enc, &h, body, "[2,\"X\"]"));
    h.src = id; h.v = 4; h.seq = 1;
    out("ack", collab_msg_enc_op_ack(&enc, &h));
    collab_msg_decode(rej, strlen(rej), &msg, &err);
    out("reject", collab_msg_enc_error(&enc, &msg, "ERR_OP_SUBMIT_REJECTED",
                                       "not allowed"));
    collab_msg_decode(nf, strlen(nf), &msg, &err);
    out("nf", collab_msg_enc_nf(&enc, msg.field[COLLAB_MSG_F_ID], &old));
    out("ps", collab_msg_enc_presence_sub(&enc, COLLAB_MSG_A_PS, &room, 1, 1));
    if (collab_msg_decode(pres, strlen(pres), &msg, &err) != COLLAB_MSG_OK) {
        return 1;
    }
    out("p", collab_msg_enc_presence(&enc, &msg, &other));
    out("pp", collab_msg_enc_pp(&enc));
    collab_msg_enc_bulk_begin(&enc, COLLAB_MSG_A_BS, &c);
    collab_msg_enc_bulk_snapshot(&enc, &a, &sa);
    collab_msg_enc_bulk_snapshot(&enc, &b, &none);
    out("bs", collab_msg_enc_bulk_end(&enc));
    h.d = b; h.src = other; h.v = 0; h.seq = 2;
    out("create", collab_msg_enc_op_create(&enc, &h, &nd));
    h.v = 1; h.seq = 3;
    out("del", collab_msg_enc_op_del(&enc, &h));
    out("u", collab_msg_enc_doc_reply(&enc, COLLAB_MSG_A_U, &c, &d));

    collab_msg_free(&msg);
    collab_msg_enc_free(&enc);
    return 0;
}
`;

function build() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-msg-'));
  const src = path.join(dir, 'driver.c');
  const bin = path.join(dir, 'driver');
  fs.writeFileSync(src, driver);
  const pure = fs.readdirSync(path.join(root, 'src/protocol'))
    .filter((f) => /^collab_msg.*\.c$/.test(f))
    .map((f) => path.join(root, 'src/protocol', f));
  cp.execFileSync('cc', ['-std=gnu99', '-O1', '-I' + path.join(root, 'src'),
    '-o', bin, src].concat(pure, ['-lyajl']), {stdio: 'inherit'});
  const out = cp.execFileSync(bin, {encoding: 'utf8'});
  fs.rmSync(dir, {recursive: true, force: true});
  const m = {};
  for (const line of out.split('\n')) {
    if (!line) continue;
    const tab = line.indexOf('\t');
    m[line.slice(0, tab)] = line.slice(tab + 1);
  }
  return m;
}

const wire = build();
const sent = [];
const socket = {
  readyState: 1,
  send(m) { sent.push(JSON.parse(m)); },
  close() {},
};
const conn = new ShareDB.Connection(socket);
let checks = 0;
let failed = 0;

function deliver(name) {
  assert.ok(wire[name], 'driver printed ' + name);
  socket.onmessage({data: wire[name]});
}

function tick() { return new Promise((res) => setImmediate(res)); }

function lastSent() { return sent[sent.length - 1]; }

function check(name, fn) {
  checks++;
  try {
    fn();
  } catch (e) {
    failed++;
    console.error('FAIL ' + name + ': ' + e.message);
  }
}

conn.on('error', (e) => { failed++; console.error('connection error', e); });

async function main() {
  check('hs', () => {
    assert.strictEqual(lastSent().a, 'hs');
    deliver('hs');
    assert.strictEqual(conn.state, 'connected');
    assert.strictEqual(conn.id, 'srv1');
  });

  const doc = conn.get('docs', 'r');
  const subscribed = new Promise((res, rej) => doc.subscribe((e) => e ? rej(e) : res()));
  check('s request', () => assert.deepStrictEqual(lastSent(), {a: "s", c: "docs", d: "r", v: null}));
  deliver('s');
  await subscribed;
  check('s snapshot', () => {
    assert.strictEqual(doc.version, 3);
    assert.strictEqual(doc.type.uri, 'http://sharejs.org/types/text-unicode');
    assert.strictEqual(doc.data, 'h\u00e9llo \u{1f600}');
  });

  deliver('op_other');
  check('remote op', () => {
    assert.strictEqual(doc.version, 4);
    assert.strictEqual(doc.data, 'h\u00e9Xllo \u{1f600}');
  });

  const acked = new Promise((res, rej) => doc.submitOp([1, 'Y'], (e) => e ? rej(e) : res()));
  await tick();  // the client flushes on the next tick
  check('op sent', () => {
    const m = lastSent();
    assert.strictEqual(m.a, 'op');
    assert.strictEqual(m.src, undefined);  // first send: the server knows it
    assert.strictEqual(m.seq, 1);
    assert.strictEqual(m.v, 4);
  });
  deliver('ack');
  await acked;
  check('ack', () => {
    assert.strictEqual(doc.version, 5);
    assert.strictEqual(doc.inflightOp, null);
    assert.strictEqual(doc.data, 'hY\u00e9Xllo \u{1f600}');
  });

  const rejected = new Promise((res) => doc.submitOp([1, 'Z'], (e) => res(e)));
  await tick();
  check('op 2 sent', () => assert.strictEqual(lastSent().seq, 2));
  deliver('reject');
  const rerr = await rejected;
  check('rejection rolls back quietly', () => {
    assert.strictEqual(rerr, null);  // ERR_OP_SUBMIT_REJECTED is silent
    assert.strictEqual(doc.inflightOp, null);
    assert.strictEqual(doc.data, 'hY\u00e9Xllo \u{1f600}');
    assert.strictEqual(doc.version, 5);
  });

  const snapshot = new Promise((res, rej) =>
    conn.fetchSnapshot('docs', 'r', 2, (e, s) => e ? rej(e) : res(s)));
  check('nf request', () => assert.deepStrictEqual(lastSent(),
    {a: 'nf', id: 1, c: 'docs', d: 'r', v: 2}));
  deliver('nf');
  const snap = await snapshot;
  check('nf reply', () => {
    assert.strictEqual(snap.v, 2);
    assert.strictEqual(snap.data, 'he');
    assert.strictEqual(snap.type, 'http://sharejs.org/types/text-unicode');
  });

  const presence = conn.getPresence('room');
  const psub = new Promise((res, rej) => presence.subscribe((e) => e ? rej(e) : res()));
  check('ps request', () => assert.deepStrictEqual(lastSent(), {a: 'ps', ch: 'room', seq: 1}));
  deliver('ps');
  await psub;
  const received = new Promise((res) => presence.on('receive', (id, value) => res([id, value])));
  deliver('p');
  const [pid, pval] = await received;
  check('presence relay', () => {
    assert.strictEqual(pid, 'p9');
    assert.deepStrictEqual(pval, {x: [1, '\u00e9']});
  });

  const pong = new Promise((res) => conn.once('pong', res));
  conn.ping();
  check('pp request', () => assert.deepStrictEqual(lastSent(), {a: 'pp'}));
  deliver('pp');
  await pong;

  conn.startBulk();
  const da = conn.get('docs', 'a');
  const db = conn.get('docs', 'b');
  const bsa = new Promise((res, rej) => da.subscribe((e) => e ? rej(e) : res()));
  const bsb = new Promise((res, rej) => db.subscribe((e) => e ? rej(e) : res()));
  conn.endBulk();
  check('bs request', () => assert.deepStrictEqual(lastSent(),
    {a: 'bs', c: 'docs', b: ['a', 'b']}));
  deliver('bs');
  await Promise.all([bsa, bsb]);
  check('bs reply', () => {
    assert.strictEqual(da.data, 'A');
    assert.strictEqual(da.version, 1);
    assert.strictEqual(db.type, null);
    assert.strictEqual(db.version, 0);
    assert.strictEqual(db.data, undefined);
  });

  deliver('create');
  check('remote create', () => {
    assert.strictEqual(db.type.uri, 'http://sharejs.org/types/text-unicode');
    assert.strictEqual(db.data, 'new');
    assert.strictEqual(db.version, 1);
  });
  deliver('del');
  check('remote del', () => {
    assert.strictEqual(db.type, null);
    assert.strictEqual(db.version, 2);
  });

  const unsub = new Promise((res, rej) => doc.unsubscribe((e) => e ? rej(e) : res()));
  check('u request', () => assert.deepStrictEqual(lastSent(), {a: 'u', c: 'docs', d: 'r'}));
  deliver('u');
  await unsub;
  check('u reply', () => assert.strictEqual(doc.subscribed, false));

  console.log((checks - failed) + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
