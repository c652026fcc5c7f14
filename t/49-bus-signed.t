# Nobody else can speak on the Redis bus: messages between workers and
# hosts carry an HMAC made from collab_src_secret.  Two stock clients on
# distinct workers type into a document while an attacker with access to
# Redis PUBLISHes on its channels: an op at the head (unsigned, and signed
# with another secret), a forwarded submit, a genuine signed message moved
# to another document's channel, and a forged presence.  None of them is
# applied, forwarded, committed or shown; no document is reloaded; every
# worker counts and logs the drops; the clients' own ops go on and
# converge, and the op log holds only theirs.  The role change notice is
# the one unsigned message taken (it grants nothing; t/71).
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
run_tests();
__DATA__

=== TEST 1: forged and moved messages on the bus change nothing
--- workers: 2
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
--- config
    location /ws { collab_websocket; }
    location = /status { collab_status; }
--- node_timeout: 60
--- node
const cp = require('child_process');
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const [host, port] = process.env.COLLAB_REDIS.split(':');
const publish = (channel, payload) => new Promise((res, rej) =>
  cp.execFile('redis-cli', ['-h', host, '-p', port, 'PUBLISH', channel,
                            payload],
              (e, out) => (e ? rej(e) : res(Number(out.trim())))));
const channel = (d) => `collab:doc:3:t49/${d}`;

C.main(async () => {
  const pairs = await C.clientsOnDistinctWorkers(url, 2);
  const [a, b] = pairs.map((p) => p.client);
  const da = a.doc('t49', 'd');
  const db = b.doc('t49', 'd');
  await C.within(C.create(da, 'ok', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(db), 5000, 'b subscribes');
  const other = a.doc('t49', 'other');
  await C.within(C.create(other, 'other', C.URI), 5000, 'create other');
  await C.within(C.subscribe(other), 5000, 'a subscribes to other');
  const pa = a.conn.getDocPresence('t49', 'd');
  const pb = b.conn.getDocPresence('t49', 'd');
  await C.within(new Promise((res, rej) => pb.subscribe((e) =>
    (e ? rej(e) : res()))), 5000, 'b subscribes to presence');
  await C.within(new Promise((res, rej) => pa.subscribe((e) =>
    (e ? rej(e) : res()))), 5000, 'a subscribes to presence');
  const closes = [];
  for (const c of [a, b]) {
    c.conn.on('closed', (e) => closes.push(e && e.code));
  }

  C.stage('the attacker publishes');
  const head = da.version;
  const op = (v, text, src = 'forger', seq = 1) =>
    JSON.stringify({ a: 'op', c: 't49', d: 'd', v, src, seq, op: [text] });
  const forgedOp = `O6 forger${op(head, 'EVIL ')}`;
  let n = await publish(channel('d'), forgedOp);
  C.check(n >= 2, 'both workers are subscribed and got the message', n);
  await publish(channel('d'), C.busSign(channel('d'), forgedOp,
                                        'some-other-deployment-secret'));
  // a submit forwarded to the lock holder, as a worker sends it
  const raw = op(head, 'FORWARDED ', a.conn.id, 99);
  const fwd = `S1 ${a.conn.id.length} 0 ${a.conn.id}${raw}`;
  await publish(channel('d'), fwd);
  // a genuine signed message of another document, moved to this one
  const moved = C.busSign(channel('other'), `O6 forger${op(head,
    'MOVED ')}`);
  await publish(channel('d'), moved);
  // presence as if from a third user
  n = await publish(`collab:presence:t49.d`,
    JSON.stringify({ a: 'p', ch: 't49.d', id: 'mallory', pv: 0,
                     p: { name: 'Mallory', sel: [0, 0] } }));
  C.check(n >= 2, 'both workers listen to the presence channel', n);
  await C.delay(1000);

  C.stage('nothing of it arrived');
  C.eq([da.data, db.data], ['ok', 'ok'], 'no forged text on either client');
  C.eq(da.version, head, 'no version was added');
  C.check(!Object.keys(pa.remotePresences).length
          && !Object.keys(pb.remotePresences).length,
          'no forged presence', [pa.remotePresences, pb.remotePresences]);

  C.stage('the clients go on');
  for (let i = 0; i < 10; i++) {
    await C.within(C.submit(i % 2 ? da : db, [C.cpLen((i % 2 ? da : db)
      .data), ` ${i}`]), 5000, 'op');
  }
  await C.converge([da, db], 5000, 'the replicas converge',
                   () => C.headVersion('t49', 'd'));
  const rows = await C.opLog('t49', 'd');
  C.checkLog(rows, 'd');
  const text = C.replay(rows, 'd').text;
  C.eq(text, da.data, 'the op log is the clients\' text');
  C.check(!/EVIL|FORWARDED|MOVED/.test(text), 'nothing forged committed',
          text);
  C.eq(rows.length, 11, 'the create and the ten real ops');
  C.eq(closes, [], 'nobody was closed (no document was reloaded)');
  a.close();
  b.close();
});
--- error_log eval
[qr/\[warn\].*collab: dropped a message on "collab:doc:3:t49\/d" without this deployment's signature/]
--- no_error_log
disagrees with PostgreSQL
[error]



=== TEST 2: collab_status counts the drops
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
    location = /status { collab_status; }
--- node
const cp = require('child_process');
const C = require(process.cwd() + '/lib/collab-client');
const [host, port] = process.env.COLLAB_REDIS.split(':');
const publish = (channel, payload) => new Promise((res, rej) =>
  cp.execFile('redis-cli', ['-h', host, '-p', port, 'PUBLISH', channel,
                            payload],
              (e, out) => (e ? rej(e) : res(Number(out.trim())))));
const status = async () => (await (await fetch(
  `${process.env.COLLAB_HTTP_URL}/status`)).json()).redis.messages_forged;

C.main(async () => {
  const c = await C.Client.open(process.env.COLLAB_WS_URL);
  const d = c.doc('t49', 'count');
  await C.within(C.create(d, 'x', C.URI), 5000, 'create');
  await C.within(C.subscribe(d), 5000, 'subscribe');
  const before = await status();
  for (let i = 0; i < 5; i++) {
    C.eq(await publish('collab:doc:3:t49/count', `forged ${i}`), 1,
         'the worker is subscribed');
  }
  await C.waitFor(async () => (await status()) === before + 5, 3000,
                  'five drops counted');
  C.eq(d.data, 'x', 'the document is unchanged');
  c.close();
});
--- no_error_log
[error]
