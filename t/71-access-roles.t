# Per-document roles (sql/002_access.sql, docs/access.md) over the
# WebSocket and REST, with tokens: the creator owns what it creates (in the
# create's transaction); none / viewer / commenter / editor / owner / admin
# each get exactly their cells of the matrix, with ERR_FORBIDDEN on the
# request that asked; REST hides unreadable documents (404, as if missing)
# and refuses history below editor (403); lists name only what the user may
# read; a collection default role reads but does not write; a revoked role
# takes effect on every worker within 2 s (a subscribed socket gets no more
# ops); forged change notices grant nothing; presence shows the token's
# name; the op log records the committing user.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);

my $keys = tempdir('collab-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system("openssl rand -out $keys/hs.key -hex 32") == 0 or die 'openssl';
$ENV{TEST_COLLAB_KEYS} = $keys;

run_tests();

__DATA__

=== TEST 1: the role matrix, REST, revocation on 2 workers, forged notices
--- workers: 2
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_redis_prefix t71:;
    collab_auth_jwt on;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key;
    collab_auth_jwt_issuer t71;
    collab_auth_jwt_cookie collab_token;
    collab_auth_admin_claim roles admin;
    collab_collection_role t71pub viewer;
--- config
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
--- node_timeout: 120
--- node
const assert = require('assert');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');

const WS = process.env.COLLAB_WS_URL;
const HTTP = process.env.COLLAB_HTTP_URL;
const key = fs.readFileSync(`${process.env.TEST_COLLAB_KEYS}/hs.key`,
                            'utf8').trim();
function token(sub, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return C.hs256(key, { sub, iss: 't71',
    exp: now + 600, name: sub[0].toUpperCase() + sub.slice(1), ...extra });
}
const TYPE = 'http://sharejs.org/types/text-unicode';
const run = process.pid;
const D = `d${run}`;
const seqs = {};

async function open(sub, extra) {
  const r = await C.RawClient.open(WS, null,
    { headers: { Authorization: `Bearer ${token(sub, extra)}` } });
  r.sub = sub;
  return r;
}
function reply(r, a, d, extra = () => true) {
  return r.next((m) => m.a === a && m.d === d && !m.op && extra(m), 5000,
                `${r.sub}: ${a} reply for ${d}`);
}
async function fetchDoc(r, c, d) {
  r.send({ a: 'f', c, d });
  return reply(r, 'f', d);
}
async function op(r, c, d, body) {
  const seq = seqs[r.sub] = (seqs[r.sub] || 0) + 1;
  r.send({ a: 'op', c, d, seq, src: r.id, ...body });
  return r.next((m) => m.a === 'op' && m.seq === seq && m.d === d
                       && (m.error || !m.op), 5000, `${r.sub}: op ack`);
}
const code = (m) => m.error && m.error.code;
async function grant(sub, role, c = 't71', d = D) {
  await C.psql(`INSERT INTO collab_users (principal, iss, sub)
    VALUES ('t71 ${sub}', 't71', '${sub}') ON CONFLICT DO NOTHING;
    DELETE FROM collab_members m USING collab_users u, collab_docs d
     WHERE m.user_id = u.id AND m.doc = d.id AND u.principal = 't71 ${sub}'
       AND d.collection = '${c}' AND d.name = '${d}';
    ${role ? `INSERT INTO collab_members (doc, user_id, role)
      SELECT d.id, u.id, '${role}' FROM collab_docs d, collab_users u
       WHERE d.collection = '${c}' AND d.name = '${d}'
         AND u.principal = 't71 ${sub}';` : ''}`);
  await C.redis('PUBLISH', 't71:access', JSON.stringify([c, d]));
  await new Promise((res) => setTimeout(res, 300));
}
async function rest(sub, path) {
  const res = await fetch(`${HTTP}/api/${path}`,
    { headers: { Authorization: `Bearer ${token(sub)}` } });
  return { status: res.status, body: await res.text() };
}

(async () => {
  // the creator owns it, from the create's own transaction
  const alice = await open('alice');
  let m = await fetchDoc(alice, 't71', D);
  assert.ok(!m.error && !m.data.type, 'a missing document reads as empty');
  m = await op(alice, 't71', D, { v: 0, create: { type: TYPE, data: 'x' } });
  assert.ok(!m.error, JSON.stringify(m));
  assert.strictEqual(await C.psql(`SELECT u.principal || ' ' || m.role
    FROM collab_members m JOIN collab_users u ON u.id = m.user_id
    JOIN collab_docs d ON d.id = m.doc
    WHERE d.collection = 't71' AND d.name = '${D}'`), 't71 alice owner');
  let v = 1;

  // none: every door shut, on the request that asked
  const bob = await open('bob');
  m = await fetchDoc(bob, 't71', D);
  assert.strictEqual(code(m), 'ERR_FORBIDDEN', JSON.stringify(m));
  bob.send({ a: 's', c: 't71', d: D });
  assert.strictEqual(code(await reply(bob, 's', D)), 'ERR_FORBIDDEN');
  bob.send({ a: 'bf', c: 't71', b: [D, 'other'] });
  m = await bob.next((x) => x.a === 'bf', 5000, 'bf reply');
  assert.strictEqual(code(m), 'ERR_FORBIDDEN');
  m = await op(bob, 't71', D, { v, op: ['bob'] });
  assert.strictEqual(code(m), 'ERR_FORBIDDEN');
  bob.send({ a: 'ps', ch: `t71.${D}`, seq: 1 });
  m = await bob.next((x) => x.a === 'ps', 5000, 'ps reply');
  assert.strictEqual(code(m), 'ERR_FORBIDDEN');
  bob.send({ a: 'ps', ch: 'lobby', seq: 2 });
  m = await bob.next((x) => x.a === 'ps', 5000, 'ps reply');
  assert.strictEqual(code(m), 'ERR_FORBIDDEN', 'no document channel');
  bob.send({ a: 'nf', id: 7, c: 't71', d: D, v: 1 });
  m = await bob.next((x) => x.a === 'nf', 5000, 'nf reply');
  assert.strictEqual(code(m), 'ERR_FORBIDDEN');
  let r = await rest('bob', `t71/${D}`);
  const missing = await rest('bob', `t71/nothing${run}`);
  assert.deepStrictEqual([r.status, r.body], [404, missing.body.trim()
    === r.body.trim() ? r.body : 'differs from a missing document']);
  assert.strictEqual((await rest('bob', `t71/${D}/ops`)).status, 404);
  assert.strictEqual((await rest('bob', `t71/${D}/role`)).status, 404);
  assert.ok(!JSON.parse((await rest('bob', 't71')).body)
    .some((x) => x.id === D), 'the list hides it');
  assert.ok(JSON.parse((await rest('alice', 't71')).body)
    .some((x) => x.id === D), 'the owner lists it');
  m = await op(bob, 't71', `nothing${run}`, { v: 1, op: ['no'] });
  assert.strictEqual(code(m), 'ERR_FORBIDDEN', 'no edits of a missing doc');

  // a forged change notice grants nothing
  await C.redis('PUBLISH', 't71:access', 'garbage');
  await C.redis('PUBLISH', 't71:access', JSON.stringify(['t71', D]));
  await C.redis('PUBLISH', 't71:access', '[]');
  m = await fetchDoc(bob, 't71', D);
  assert.strictEqual(code(m), 'ERR_FORBIDDEN');

  // viewer and commenter: read, subscribe, presence; no ops, no history
  for (const role of ['viewer', 'commenter']) {
    await grant('bob', role);
    m = await fetchDoc(bob, 't71', D);
    assert.ok(!m.error && m.data.data === 'x', `${role} reads`);
    m = await op(bob, 't71', D, { v, op: ['b'] });
    assert.strictEqual(code(m), 'ERR_FORBIDDEN', `${role} does not write`);
    bob.send({ a: 'nf', id: 8, c: 't71', d: D, v: 1 });
    m = await bob.next((x) => x.a === 'nf', 5000, 'nf reply');
    assert.strictEqual(code(m), 'ERR_FORBIDDEN', `${role}: no history`);
    r = await rest('bob', `t71/${D}`);
    assert.strictEqual(r.status, 200);
    assert.strictEqual((await rest('bob', `t71/${D}/ops`)).status, 403);
    assert.strictEqual(JSON.parse((await rest('bob', `t71/${D}/role`))
      .body).role, role);
  }

  // presence: allowed, and the name others see is the token's
  bob.send({ a: 'ps', ch: `t71.${D}`, seq: 3 });
  m = await bob.next((x) => x.a === 'ps' && x.seq === 3, 5000, 'ps reply');
  assert.ok(!m.error, JSON.stringify(m));
  alice.send({ a: 'p', ch: `t71.${D}`, id: 'pa', pv: 0,
               p: { name: 'Mallory', sel: [0, 0] } });
  m = await bob.next((x) => x.a === 'p' && x.id === 'pa', 5000, 'presence');
  assert.strictEqual(m.p.name, 'Alice');

  // editor: ops and history; not delete
  await grant('bob', 'editor');
  bob.send({ a: 's', c: 't71', d: D });
  m = await reply(bob, 's', D);
  assert.ok(!m.error);
  m = await op(bob, 't71', D, { v, op: ['B'] });
  assert.ok(!m.error, JSON.stringify(m));
  v++;
  bob.send({ a: 'nf', id: 9, c: 't71', d: D, v: 1 });
  m = await bob.next((x) => x.a === 'nf', 5000, 'nf reply');
  assert.ok(!m.error, JSON.stringify(m));
  assert.strictEqual((await rest('bob', `t71/${D}/ops`)).status, 200);
  m = await op(bob, 't71', D, { v, del: true });
  assert.strictEqual(code(m), 'ERR_FORBIDDEN', 'only the owner deletes');
  assert.strictEqual(await C.psql(`SELECT string_agg(o.principal, ',' ORDER
    BY o.version) FROM collab_ops o JOIN collab_docs d ON d.id = o.doc
    WHERE d.collection = 't71' AND d.name = '${D}'`), 't71 alice,t71 bob');

  // revoked while subscribed: within 2 s, no more ops reach it, and its
  // own are refused, whichever worker each socket is on
  const watchers = [];
  for (let i = 0; i < 4; i++) {
    const w = await open('bob');
    w.send({ a: 's', c: 't71', d: D });
    assert.ok(!(await reply(w, 's', D)).error);
    watchers.push(w);
  }
  m = await op(alice, 't71', D, { v, op: [1, 'a'] });
  assert.ok(!m.error);
  v++;
  for (const w of [bob, ...watchers]) {
    await w.next((x) => x.a === 'op' && x.op && x.v === v - 1, 5000,
                 'the op before the revocation');
  }
  const t0 = Date.now();
  await C.psql(`DELETE FROM collab_members m USING collab_users u
    WHERE m.user_id = u.id AND u.principal = 't71 bob'`);
  await C.redis('PUBLISH', 't71:access', JSON.stringify(['t71', D]));
  let refused = false;
  while (!refused && Date.now() - t0 < 2000) {
    m = await op(bob, 't71', D, { v, op: [1, 'z'] });
    refused = code(m) === 'ERR_FORBIDDEN';
    if (!refused) v++;
  }
  assert.ok(refused, 'refused within 2 s');
  await new Promise((res) => setTimeout(res, 300));
  m = await op(alice, 't71', D, { v, op: [1, 'after'] });
  assert.ok(!m.error);
  await new Promise((res) => setTimeout(res, 700));
  for (const w of [bob, ...watchers]) {
    assert.ok(!w.queue.some((x) => x.a === 'op' && x.op && x.v === v),
              'no op after the revocation');
  }
  m = await fetchDoc(watchers[0], 't71', D);
  assert.strictEqual(code(m), 'ERR_FORBIDDEN');

  // an admin does anything; the owner deletes
  const carol = await open('carol', { roles: ['staff', 'admin'] });
  m = await fetchDoc(carol, 't71', D);
  assert.ok(!m.error);
  v = m.data.v;
  m = await op(carol, 't71', D, { v, op: ['C'] });
  assert.ok(!m.error, JSON.stringify(m));
  v++;
  m = await op(alice, 't71', D, { v, del: true });
  assert.ok(!m.error, JSON.stringify(m));

  // a collection's default role: everyone reads, nobody else writes
  const P = `p${run}`;
  m = await op(alice, 't71pub', P, { v: 0, create: { type: TYPE,
                                                      data: 'pub' } });
  assert.ok(!m.error);
  const dave = await open('dave');
  m = await fetchDoc(dave, 't71pub', P);
  assert.ok(!m.error && m.data.data === 'pub');
  m = await op(dave, 't71pub', P, { v: 1, op: ['d'] });
  assert.strictEqual(code(m), 'ERR_FORBIDDEN');
  assert.ok(JSON.parse((await rest('dave', 't71pub')).body)
    .some((x) => x.id === P));

  // the stock client: a refused op reaches submitOp's callback, not
  // silence (ERR_OP_SUBMIT_REJECTED would look like success)
  const cl = await C.Client.open(WS, { headers: { Cookie:
                                         `collab_token=${token('dave')}` } });
  const doc = cl.conn.get('t71pub', P);
  await new Promise((res, rej) => doc.subscribe((e) => e ? rej(e) : res()));
  const err = await new Promise((res) => doc.submitOp(['x'], res));
  assert.strictEqual(err && err.code, 'ERR_FORBIDDEN');
  cl.close();

  for (const x of [alice, bob, carol, dave, ...watchers]) x.close();
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
--- node_stdout
ok
--- no_error_log
[alert]
[crit]
