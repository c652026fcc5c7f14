# Hostile or broken ShareDB clients: every bad message gets a clear error
# (the request echoed with error {code, message}, as sharedb does) or a
# clear close code, nothing reaches the op log, and the same connection
# and worker keep working.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
my %defaults = (
    http_config => <<'END',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
END
    config => <<'END',
    location /ws { collab_websocket; }
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);
__DATA__

=== TEST 1: bad JSON, non-objects, unknown actions, missing or ill-typed fields of every action
--- ws
send text {"a":"hs","id":null,"protocol":1,"protocolMinor":2}
expect text_like ^\{"a":"hs","protocol":1,"protocolMinor":2,"id":"[0-9a-f]{32}"
# not JSON, not an object
send text {"a":"op","c":
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid JSON"}}
send text {"a":"pp"}}
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid JSON"}}
send text null
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Received non-object message"}}
send text "op"
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Received non-object message"}}
send text [{"a":"pp"}]
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Received non-object message"}}
# unknown or missing action
send text {}
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid or unknown message"}}
send text {"a":"zz","d":"x"}
expect text {"a":"zz","d":"x","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid or unknown message"}}
send text {"a":5}
expect text {"a":5,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid or unknown message"}}
send text {"a":"opx","c":"t50","d":"x"}
expect text {"a":"opx","c":"t50","d":"x","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid or unknown message"}}
# hs
send text {"a":"hs","protocol":{}}
expect text {"a":"hs","protocol":{},"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"hs: Invalid protocol"}}
send text {"a":"hs","id":5}
expect text {"a":"hs","id":5,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"hs: id must be a string or null"}}
# s, f, u
send text {"a":"s","d":"x"}
expect text {"a":"s","d":"x","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"s: Invalid collection"}}
send text {"a":"s","c":5,"d":"x"}
expect text {"a":"s","c":5,"d":"x","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"s: Invalid collection"}}
send text {"a":"s","c":"t50","d":["x"]}
expect text {"a":"s","c":"t50","d":["x"],"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"s: Invalid id"}}
send text {"a":"s","c":"t50","d":"x","v":-1}
expect text {"a":"s","c":"t50","d":"x","v":-1,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"s: v must be a non-negative integer"}}
send text {"a":"f","c":"t50","d":"x","v":"1"}
expect text {"a":"f","c":"t50","d":"x","v":"1","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"f: v must be a non-negative integer"}}
send text {"a":"f","c":"t50","d":"x","v":1.5}
expect text {"a":"f","c":"t50","d":"x","v":1.5,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"f: v must be a non-negative integer"}}
send text {"a":"u","c":"t50"}
expect text {"a":"u","c":"t50","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"u: Invalid id"}}
# bs, bf, bu
send text {"a":"bs","c":"t50"}
expect text {"a":"bs","c":"t50","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"bs: Invalid bulk subscribe data"}}
send text {"a":"bs","c":"t50","b":[1]}
expect text {"a":"bs","c":"t50","b":[1],"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"bs: Invalid id"}}
send text {"a":"bs","c":"t50","b":{"x":"a"}}
expect text {"a":"bs","c":"t50","b":{"x":"a"},"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"bs: Invalid version"}}
send text {"a":"bf","b":["x"]}
expect text {"a":"bf","b":["x"],"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"bf: Invalid collection"}}
send text {"a":"bu","c":"t50","b":null}
expect text {"a":"bu","c":"t50","b":null,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"bu: Invalid bulk subscribe data"}}
# op
send text {"a":"op","c":"t50","d":"x","v":1}
expect text {"a":"op","c":"t50","d":"x","v":1,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"op: Invalid op message"}}
send text {"a":"op","c":"t50","d":"x","v":1,"op":[1,"x"]}
expect text {"a":"op","c":"t50","d":"x","v":1,"op":[1,"x"],"error":{"code":"ERR_OT_OP_BADLY_FORMED","message":"op: Both src and seq must be set together"}}
send text {"a":"op","c":"t50","d":"x","v":1,"seq":"1","op":[1,"x"]}
expect text {"a":"op","c":"t50","d":"x","v":1,"seq":"1","op":[1,"x"],"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"op: seq must be a non-negative integer"}}
send text {"a":"op","c":"t50","d":"x","v":"1","seq":3,"op":[1,"x"]}
expect text {"a":"op","c":"t50","d":"x","v":"1","seq":3,"op":[1,"x"],"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"op: v must be a non-negative integer"}}
send text {"a":"op","c":"t50","d":"x","seq":4,"op":{"0":1}}
expect text {"a":"op","c":"t50","d":"x","seq":4,"op":{"0":1},"error":{"code":"ERR_OT_OP_BADLY_FORMED","message":"op: op must be an array"}}
send text {"a":"op","c":"t50","d":"x","seq":5,"op":[1,"x"],"src":5}
expect text {"a":"op","c":"t50","d":"x","seq":5,"op":[1,"x"],"src":5,"error":{"code":"ERR_OT_OP_BADLY_FORMED","message":"op: src must be a string"}}
send text {"a":"op","c":"t50","d":"x","v":0,"seq":6,"create":5}
expect text {"a":"op","c":"t50","d":"x","v":0,"seq":6,"create":5,"error":{"code":"ERR_OT_OP_BADLY_FORMED","message":"op: Create data must be an object"}}
send text {"a":"op","c":"t50","d":"x","v":0,"seq":7,"create":{"data":"x"}}
expect text {"a":"op","c":"t50","d":"x","v":0,"seq":7,"create":{"data":"x"},"error":{"code":"ERR_OT_OP_BADLY_FORMED","message":"op: Missing create type"}}
send text {"a":"op","c":"t50","d":"x","v":0,"seq":8,"create":{"type":"text-unicode","data":7}}
expect text {"a":"op","c":"t50","d":"x","v":0,"seq":8,"create":{"type":"text-unicode","data":7},"error":{"code":"ERR_OT_OP_BADLY_FORMED","message":"op: Initial data must be a string"}}
send text {"a":"op","c":"t50","d":"x","v":1,"seq":9,"del":1}
expect text {"a":"op","c":"t50","d":"x","v":1,"seq":9,"del":1,"error":{"code":"ERR_OT_OP_BADLY_FORMED","message":"op: del value must be true"}}
send text {"a":"op","c":"t50","d":"x","v":1,"seq":1e300,"op":[1,"x"]}
expect text {"a":"op","c":"t50","d":"x","v":1,"seq":1e300,"op":[1,"x"],"error":{"code":"ERR_CONNECTION_SEQ_INTEGER_OVERFLOW","message":"op: Connection seq has exceeded the max safe integer"}}
# nf, nt, queries
send text {"a":"nf","c":"t50","d":"x","v":1}
expect text {"a":"nf","c":"t50","d":"x","v":1,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"nf: Invalid snapshot request id"}}
send text {"a":"nt","c":"t50","d":"x","id":1}
expect text {"a":"nt","c":"t50","d":"x","id":1,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"nt: Invalid timestamp"}}
send text {"a":"qf","id":"x"}
expect text {"a":"qf","id":"x","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"qf: Missing query ID"}}
# presence
send text {"a":"p","ch":"x"}
expect text {"a":"p","ch":"x","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"p: Invalid presence ID"}}
send text {"a":"p","ch":"x","id":"i"}
expect text {"a":"p","ch":"x","id":"i","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"p: Invalid presence version"}}
send text {"a":"p","ch":5,"id":"i","pv":1,"p":1}
expect text {"a":"p","ch":5,"id":"i","pv":1,"p":1,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"p: Invalid presence channel"}}
send text {"a":"ps"}
expect text {"a":"ps","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"ps: Invalid presence channel"}}
send text {"a":"pu","ch":[]}
expect text {"a":"pu","ch":[],"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"pu: Invalid presence channel"}}
send text {"a":"pr"}
expect text {"a":"pr","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"pr: Invalid presence channel"}}
# the connection still works
send text {"a":"pp"}
expect text {"a":"pp"}
send text {"a":"f","c":"t50","d":"never"}
expect text {"a":"f","c":"t50","d":"never","data":{"v":0,"type":null}}
send close 1000
expect close 1000
expect eof
--- node
// nothing of the above reached the database
const C = require(process.cwd() + '/lib/collab-client');
C.main(async () => {
  C.eq(await C.psql("SELECT count(*) FROM collab_ops o JOIN collab_docs d "
                    + "ON d.id = o.doc WHERE d.collection = 't50'"), '0',
       'no op logged in collection t50');
  C.eq(await C.docRow('t50', 'x'), null, 'no document row');
});
--- no_error_log
[error]
[crit]


=== TEST 2: bad ops: missing, deleted or newer docs, unknown type, invalid components, U+0000, lone surrogates, huge and deep ops
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const r = await C.RawClient.open(url);
  const w = await C.RawClient.open(url);   // a subscriber
  let seq = 1;

  // sends m (an object, or raw JSON text with seq as $SEQ) and returns the
  // reply to it (matched by its seq)
  async function req(m, what) {
    const s = seq++;
    r.send(typeof m === 'string' ? m.replace('$SEQ', s) : { ...m, seq: s });
    return r.next((x) => x.a === 'op' && x.seq === s, 5000, what);
  }
  async function refused(m, code, what, re) {
    C.stage(what);
    const rep = await req(m, `the reply to ${what}`);
    C.check(rep.error, `${what}: an error reply`, rep);
    C.eq(rep.error.code, code, `${what}: error code`);
    C.check(typeof rep.error.message === 'string' && rep.error.message,
            `${what}: an error message`, rep.error);
    if (re) C.check(re.test(rep.error.message), `${what}: message ${re}`,
                    rep.error);
    C.eq([rep.c, rep.d], ['t50', JSON.parse(typeof m === 'string'
                                             ? m.replace('$SEQ', 0) : '{}').d
                                   || m.d], `${what}: c and d echoed`);
    return rep;
  }
  const op = (d, v, o) => ({ a: 'op', c: 't50', d, v, op: o });

  await refused(op('never', 0, ['x']), 'ERR_DOC_DOES_NOT_EXIST',
                'an op on a document never created');
  await refused({ a: 'op', c: 't50', d: 'typeless', v: 0,
                  create: { type: 'http://example.com/nope', data: 'x' } },
                'ERR_DOC_TYPE_NOT_RECOGNIZED', 'a create with an unknown type');

  C.stage('create "doc" and subscribe to it from another connection');
  const cr = await req({ a: 'op', c: 't50', d: 'doc', v: 0,
                         create: { type: 'text-unicode', data: 'héllo😀' } },
                       'create ack');
  C.check(!cr.error, 'create acked', cr);
  w.send({ a: 's', c: 't50', d: 'doc' });
  const snap = await w.next((m) => m.a === 's', 5000, 'subscribe reply');
  C.eq(snap.data && snap.data.v, 1, 'subscribed at v1');

  await refused(op('doc', 7, ['x']), 'ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT',
                'an op newer than the head');
  for (const bad of [[{ d: 0 }], [0, 'x'], [1, 2, 'x'], [''], [1],
                     [{ x: 1 }], [null], [true], [{ d: -1 }], [-1, 'x'],
                     [1.5, 'x'], 'x', [[1]]]) {
    await refused(op('doc', 1, bad), 'ERR_OT_OP_BADLY_FORMED',
                  `invalid components ${JSON.stringify(bad)}`);
  }
  await refused(op('doc', 1, [{ d: 7 }]), 'ERR_OT_OP_NOT_APPLIED',
                'a delete past the end');
  await refused(op('doc', 1, [7, 'x']), 'ERR_OT_OP_NOT_APPLIED',
                'a skip past the end');
  await refused(op('doc', 1, [{ d: 'hello' }]), 'ERR_OT_OP_NOT_APPLIED',
                'a {d:"str"} that does not match the text');
  await refused(op('doc', 1, [5, { d: '😁' }]), 'ERR_OT_OP_NOT_APPLIED',
                'a {d:"str"} with another emoji');
  await refused('{"a":"op","c":"t50","d":"doc","v":1,"seq":$SEQ,'
                + '"op":[1,"a\\u0000b"]}', 'ERR_OT_OP_BADLY_FORMED',
                'an insert with \\u0000', /U\+0000/);
  await refused('{"a":"op","c":"t50","d":"doc","v":1,"seq":$SEQ,'
                + '"op":[1,"\\ud800x"]}', 'ERR_OT_OP_BADLY_FORMED',
                'an insert with a lone high surrogate', /surrogate/);
  await refused('{"a":"op","c":"t50","d":"doc","v":1,"seq":$SEQ,'
                + '"op":[1,"x\\udc00"]}', 'ERR_OT_OP_BADLY_FORMED',
                'an insert with a lone low surrogate', /surrogate/);
  const big = [];
  for (let i = 0; i < 100000; i++) big.push(i % 2 ? 'x' : 1);
  await refused(op('doc', 1, big), 'ERR_OT_OP_BADLY_FORMED',
                'an op with 100k components');
  let deep = '1';
  for (let i = 0; i < 1000; i++) deep = `[${deep}]`;
  await refused(`{"a":"op","c":"t50","d":"doc","v":1,"seq":$SEQ,"op":${deep}}`,
                'ERR_OT_OP_BADLY_FORMED', 'an op nested 1000 deep',
                /nested too deeply/);
  C.stage('deeply nested JSON without an action or as an array');
  r.send(`{"x":${deep}}`);
  const nd = await r.next((m) => m.error && !m.a, 5000, 'deep object reply');
  C.eq(nd.error.code, 'ERR_MESSAGE_BADLY_FORMED', 'deep object without a');
  r.send(deep);
  const na = await r.next((m) => m.error && !m.a, 5000, 'deep array reply');
  C.eq(na.error.code, 'ERR_MESSAGE_BADLY_FORMED', 'deep array');

  C.stage('the same connection still commits a valid op');
  const ok = await req(op('doc', 1, [6, '!']), 'the valid op ack');
  C.check(!ok.error, 'the valid op is acked', ok);
  C.eq([ok.v, ok.src], [1, r.id], 'ack version and src');
  const got = await w.next((m) => m.a === 'op', 5000, 'the subscriber op');
  C.eq([got.v, got.op], [1, [6, '!']], 'the subscriber got only the valid op');

  C.stage('delete, then ops on the deleted doc');
  const del = await req({ a: 'op', c: 't50', d: 'doc', v: 2, del: true },
                        'the delete ack');
  C.check(!del.error, 'delete acked', del);
  await refused(op('doc', 3, ['x']), 'ERR_DOC_WAS_DELETED',
                'an op on a deleted document');
  await refused(op('doc', 2, ['x']), 'ERR_DOC_WAS_DELETED',
                'an op made before the delete');
  await refused({ a: 'op', c: 't50', d: 'doc', v: 3, del: true },
                'ERR_DOC_WAS_DELETED', 'a second delete');

  C.stage('the op log holds the create, the valid op and the delete only');
  const rows = await C.opLog('t50', 'doc');
  C.checkLog(rows, 'doc');
  C.eq(rows.map((x) => x.kind), ['create', 'op', 'del'], 'op log kinds');
  C.eq(rows[1].op, [6, '!'], 'the logged op');
  C.eq(await C.docRow('t50', 'never'), null, 'no row for the missing doc');
  C.eq(await C.docRow('t50', 'typeless'), null, 'no row for the bad type');
  r.send({ a: 'pp' });
  await r.next((m) => m.a === 'pp', 5000, 'a ping reply at the end');
  r.close();
  w.close();
}, { timeout: 50000 });
--- no_error_log
[error]
[crit]


=== TEST 3: a message just under collab_max_message_size commits, one just over closes 1009 and commits nothing
--- config
    location /ws { collab_websocket; collab_max_message_size 4k; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const r = await C.RawClient.open(url);
  r.send({ a: 'op', c: 't50', d: 'size', v: 0, seq: 1,
           create: { type: 'text-unicode', data: '' } });
  C.check(!(await r.next((m) => m.seq === 1, 5000, 'create ack')).error,
          'create acked');
  const msg = (seq, n) => JSON.stringify({ a: 'op', c: 't50', d: 'size', v: 1,
                                           seq, op: ['x'.repeat(n)] });
  const fill = 4096 - msg(2, 0).length;
  C.stage(`a ${msg(2, fill).length}-byte op`);
  r.send(msg(2, fill));
  const ack = await r.next((m) => m.seq === 2, 5000, 'the ack of 4096 bytes');
  C.check(!ack.error, 'the op of exactly 4096 bytes is acked', ack);

  C.stage(`a ${msg(3, fill + 1).length}-byte op on another connection`);
  const o = await C.RawClient.open(url);
  const code = new Promise((res) => o.ws.once('close', (c) => res(c)));
  o.send(msg(3, fill + 1));
  C.eq(await C.within(code, 5000, 'the close'), 1009,
       'the op of 4097 bytes closes the socket with 1009');

  C.stage('the op log');
  const rows = await C.opLog('t50', 'size');
  C.eq(rows.length, 2, 'create and the 4096-byte op only');
  C.eq(rows[1].op[0].length, fill, 'the logged insert');
  r.send({ a: 'pp' });
  await r.next((m) => m.a === 'pp', 5000, 'the first connection still works');
  r.close();
}, { timeout: 30000 });
--- no_error_log
[crit]


=== TEST 4: the src of another connection is refused; a reused seq is refused, not acked as a duplicate
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const a = await C.RawClient.open(url);
  const b = await C.RawClient.open(url);
  a.send({ a: 'op', c: 't50', d: 'seq', v: 0, seq: 1,
           create: { type: 'text-unicode', data: 'abc' } });
  C.check(!(await a.next((m) => m.seq === 1, 5000, 'create ack')).error,
          'create acked');

  C.stage('b submits with a\'s src');
  b.send({ a: 'op', c: 't50', d: 'seq', v: 1, src: a.id, seq: 2,
           op: [1, 'B'] });
  const rb = await b.next((m) => m.a === 'op' && m.seq === 2, 5000,
                          'the reply to an op with another src');
  C.check(rb.error, 'an op with another connection\'s src is an error', rb);
  C.eq([rb.error.code, rb.src], ['ERR_OP_SRC_NOT_OWNED', a.id],
       'code, and the request echoed');

  C.stage('a commits seq 2, then sends seq 2 again with other content');
  a.send({ a: 'op', c: 't50', d: 'seq', v: 1, seq: 2, op: [3, 'X'] });
  const ok = await a.next((m) => m.a === 'op' && m.seq === 2, 5000, 'ack');
  C.check(!ok.error, 'seq 2 acked', ok);
  for (const [v, what] of [[2, 'at the head'], [1, 'at the old version']]) {
    a.send({ a: 'op', c: 't50', d: 'seq', v, seq: 2, op: ['Y'] });
    const re = await a.next((m) => m.a === 'op' && m.seq === 2, 5000,
                            `the reply to the reused seq ${what}`);
    C.check(re.error, `a reused seq ${what} is an error, not an ack`, re);
    C.eq(re.error.code, 'ERR_OP_SEQ_TAKEN', 'reused seq code');
    C.check(/seq 2 was already used/.test(re.error.message),
            'reused seq message', re.error);
  }
  C.stage('a lower seq is refused too; a higher one works');
  a.send({ a: 'op', c: 't50', d: 'seq', v: 2, seq: 1, op: ['Z'] });
  const lo = await a.next((m) => m.a === 'op' && m.seq === 1, 5000, 'seq 1');
  C.eq(lo.error && lo.error.code, 'ERR_OP_SEQ_TAKEN', 'seq 1 refused');
  a.send({ a: 'op', c: 't50', d: 'seq', v: 2, seq: 3, op: ['W'] });
  const hi = await a.next((m) => m.a === 'op' && m.seq === 3, 5000, 'seq 3');
  C.check(!hi.error, 'seq 3 acked', hi);

  C.stage('the op log');
  const rows = await C.opLog('t50', 'seq');
  C.checkLog(rows, 'seq');
  C.eq(rows.map((r) => [r.src, r.seq, r.op]),
       [[a.id, 1, null], [a.id, 2, [3, 'X']], [a.id, 3, ['W']]], 'op log');
  C.eq(C.replay(rows, 'seq').text, 'WabcX', 'replayed text');

  C.stage('a resend on a new connection is still deduplicated');
  // a src is live on one socket at a time: a goes first
  a.close();
  let a2 = null;
  for (let i = 0; i < 50 && !(a2 && a2.id === a.id); i++) {
    if (a2) { a2.close(); await C.delay(20); }
    a2 = await C.RawClient.open(url, a.id);
  }
  C.eq(a2.id, a.id, 'the id is kept');
  a2.send({ a: 'op', c: 't50', d: 'seq', v: 1, src: a.id, seq: 2,
            op: [3, 'X'] });
  const dup = await a2.next((m) => m.a === 'op' && m.seq === 2, 5000, 'dup');
  C.check(!dup.error, 'the resend is acked', dup);
  C.eq((await C.opLog('t50', 'seq')).length, 3, 'no extra row');
  for (const x of [b, a2]) x.close();
}, { timeout: 30000 });
--- no_error_log
[crit]


=== TEST 5: subscribe/unsubscribe storms leave no subscription behind
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const w = await C.RawClient.open(url);
  w.send({ a: 'op', c: 't50', d: 'storm', v: 0, seq: 1,
           create: { type: 'text-unicode', data: '' } });
  await w.next((m) => m.seq === 1, 5000, 'create ack');

  C.stage('200 s/u pairs on one doc and 200 distinct docs, unanswered');
  const r = await C.RawClient.open(url);
  for (let i = 0; i < 200; i++) {
    r.send({ a: 's', c: 't50', d: 'storm' });
    r.send({ a: 'u', c: 't50', d: 'storm' });
    r.send({ a: 's', c: 't50', d: `s${i}` });
    r.send({ a: 'u', c: 't50', d: `s${i}` });
  }
  r.send({ a: 'pp' });
  await r.next((m) => m.a === 'pp', 20000, 'the ping after the storm');
  let subs = 0, unsubs = 0;
  await C.waitFor(() => {
    for (const m of r.queue.splice(0)) {
      if (m.error) C.check(false, 'no error during the storm', m);
      if (m.a === 's') subs++;
      if (m.a === 'u') unsubs++;
    }
    return subs === 400 && unsubs === 400;
  }, 10000, 'every s and u answered', () => `s ${subs} u ${unsubs}`);

  C.stage('an op on the doc does not reach the storm connection');
  w.send({ a: 'op', c: 't50', d: 'storm', v: 1, seq: 2, op: ['x'] });
  await w.next((m) => m.seq === 2, 5000, 'the op ack');
  r.send({ a: 'pp' });
  await r.next((m) => m.a === 'pp', 5000, 'a ping');
  await C.delay(300);
  C.eq(r.queue.filter((m) => m.a === 'op'), [],
       'no op delivered to the unsubscribed connection');
  r.close();
  w.close();
}, { timeout: 40000 });
--- no_error_log
[crit]


=== TEST 6: presence with a huge payload is refused and not relayed; a normal one is
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const a = await C.RawClient.open(url);
  const b = await C.RawClient.open(url);
  b.send({ a: 'ps', ch: 't50.pres', seq: 1 });
  await b.next((m) => m.a === 'ps', 5000, 'ps reply');

  C.stage('a 500 kB presence');
  a.send({ a: 'p', ch: 't50.pres', id: 'big', pv: 1,
           p: { name: 'x'.repeat(500000) } });
  const rep = await a.next((m) => m.a === 'p', 5000, 'the reply');
  C.check(rep.error, 'a huge presence is an error', { ...rep, p: '...' });
  C.eq(rep.error.code, 'ERR_OP_SUBMIT_REJECTED', 'huge presence code');
  C.check(/collab_max_presence_size 16384/.test(rep.error.message),
          'huge presence message', rep.error);

  C.stage('a small presence is relayed');
  a.send({ a: 'p', ch: 't50.pres', id: 'small', pv: 1, p: { i: 1 } });
  const ack = await a.next((m) => m.a === 'p', 5000, 'the echo');
  C.check(!ack.error, 'the small presence is echoed', ack);
  const got = await b.next((m) => m.a === 'p', 5000, 'relay');
  C.eq([got.id, got.p], ['small', { i: 1 }], 'b got only the small one');
  a.close();
  await C.delay(200);
  C.eq(b.queue.filter((m) => m.a === 'p').map((m) => [m.id, m.p]),
       [['small', null]], 'on close, b is told the small presence is gone');
  b.close();
}, { timeout: 30000 });
--- no_error_log
[crit]
