# A client whose socket dies while an op is in flight reconnects (sharedb's
# Connection.bindToSocket with a new socket), resends the op with its
# original src/seq, and the op is committed exactly once.
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

=== TEST 1: the ack is lost (op committed), the socket dies, the resend is deduplicated
--- workers: 2
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const coll = 't41';

// one round: `a` submits op; the connection dies at `when`:
//   'ack'  - the ack arrives, is swallowed, and the socket is killed (the op
//            is committed, the client does not know it)
//   'send' - the socket is killed right after the op is written (the op may
//            or may not have reached the server)
// while `a` is away, `b` commits a concurrent op, so the resend carries a
// stale version and must be transformed and recognised as a duplicate.
async function round(a, b, id, when) {
  const da = a.doc(coll, id);
  const db = b.doc(coll, id);
  C.stage(`${id}: create and subscribe`);
  await C.within(C.create(da, 'one two', C.URI), 5000, 'create ack');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(db), 5000, 'b subscribes');

  C.stage(`${id}: submit with the connection dying at '${when}'`);
  const op = [3, ' 😀 and'];
  let seen = null;
  let swallowed = 0;
  const onReceive = (req) => {
    const m = req.data;
    if (when === 'ack' && m && m.a === 'op' && m.d === id && !m.error
        && da.inflightOp && m.src === da.inflightOp.src
        && m.seq === da.inflightOp.seq) {
      seen = { src: m.src, seq: m.seq };
      swallowed++;
      req.data = null;          // the ack never reaches the doc
      a.drop();
    }
  };
  a.conn.on('receive', onReceive);
  const acked = C.submit(da, op);
  await C.tick();               // sharedb flushes on the next tick
  const inflight = da.inflightOp;
  C.check(inflight && inflight.seq != null, 'the op is in flight');
  const src = a.id;
  const seq = inflight.seq;
  if (when === 'send') a.drop();

  if (when === 'ack') {
    await C.waitFor(() => swallowed === 1, 5000, 'the ack arrives (to be '
                    + 'swallowed)');
    const rows = await C.opLog(coll, id);
    C.eq(rows.filter((r) => r.src === src && r.seq === seq).length, 1,
         'the op is committed before the client reconnects');
  }
  await C.waitFor(() => a.state === 'disconnected', 5000,
                  'a notices the dead socket');
  a.conn.removeListener('receive', onReceive);

  C.stage(`${id}: b commits a concurrent op while a is away`);
  await C.within(C.submit(db, ['Zz ']), 5000, 'b\'s op ack');

  C.stage(`${id}: a reconnects and resends`);
  a.reconnect();
  await a.connected(5000);
  await C.within(acked, 5000, 'the ack of the resent op');
  await C.converge([da, db], 5000, 'a and b converge',
                   () => C.headVersion(coll, id));

  C.stage(`${id}: committed exactly once`);
  const rows = await C.opLog(coll, id);
  C.checkLog(rows, id);
  C.eq(rows.filter((r) => r.src === src && r.seq === seq).length, 1,
       `op log rows for (${src}, ${seq})`);
  C.eq(rows.length, 3, 'create + a\'s op + b\'s op');
  const want = 'Zz one 😀 and two';
  C.eq(da.data, want, 'a\'s text');
  C.eq(db.data, want, 'b\'s text');
  C.eq(C.replay(rows, id).text, want, 'op log replay');
  const c = await C.Client.open(url, { name: 'c' });
  const dc = c.doc(coll, id);
  await C.within(C.fetch(dc), 5000, 'fresh fetch');
  C.eq([dc.data, dc.version], [want, rows.length], 'fresh fetch');
  c.close();
  if (seen) C.eq(seen, { src, seq }, 'the swallowed ack matched the op');
}

C.main(async () => {
  const a = await C.Client.open(url, { name: 'a' });
  const b = await C.Client.open(url, { name: 'b' });
  await round(a, b, 'lost-ack', 'ack');
  await round(a, b, 'lost-send', 'send');
  C.check(a.sockets === 3, 'a used three sockets (two reconnects)', a.sockets);
  a.close();
  b.close();
}, { timeout: 50000 });
--- no_error_log
[crit]


=== TEST 2: a hand-built resend of a committed op (same src, seq, old v) is acked, not re-applied
--- workers: 2
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const a = await C.Client.open(url, { name: 'a' });
  const da = a.doc('t41', 'raw');
  await C.within(C.create(da, 'abc', C.URI), 5000, 'create ack');
  await C.within(C.subscribe(da), 5000, 'subscribe');

  C.stage('first connection commits an op, then goes away');
  const r1 = await C.RawClient.open(url);
  r1.send({ a: 'op', c: 't41', d: 'raw', v: 1, seq: 7, op: [1, 'X'] });
  const ack1 = await r1.next((m) => m.a === 'op' && m.seq === 7, 5000,
                             'the first ack');
  C.check(!ack1.error, 'first submit acked', ack1);
  const src = r1.id;
  r1.close();
  await C.waitFor(() => da.version === 2, 5000, 'the subscriber receives the '
                  + 'first op', () => `v${da.version} ${JSON.stringify(da.data)}`);
  await C.within(C.submit(da, [4, 'Y']), 5000, 'another op lands on top');
  await C.converge([da], 5000, 'a catches up', () => C.headVersion('t41', 'raw'));
  C.eq(da.data, 'aXbcY', 'text before the resend');

  C.stage('a new connection resends it with the old src, seq and v');
  // like the stock client, the reconnecting side asks for its old id
  const r2 = await C.RawClient.open(url, src);
  r2.send({ a: 's', c: 't41', d: 'raw' });
  await r2.next((m) => m.a === 's' && m.d === 'raw', 5000, 'subscribe reply');
  r2.send({ a: 'op', c: 't41', d: 'raw', v: 1, src, seq: 7, op: [1, 'X'] });
  const ack2 = await r2.next((m) => m.a === 'op' && m.src === src
                                    && m.seq === 7, 5000,
                             'the ack of the resend (matched by src+seq)');
  C.check(!ack2.error, 'the resend is acked, not refused', ack2);
  C.eq(ack2.v, 1, 'the ack names the version it was committed at');
  C.eq(await C.headVersion('t41', 'raw'), 3, 'head unchanged by the resend');
  const rows = await C.opLog('t41', 'raw');
  C.checkLog(rows, 'raw');
  C.eq(rows.length, 3, 'no extra row');
  C.eq(da.data, 'aXbcY', 'the subscriber text is unchanged');
  r2.close();
  a.close();
}, { timeout: 40000 });
--- no_error_log
[crit]



=== TEST 3: a submitter that is not subscribed and is older than the ring gets every op it missed, then its ack
--- workers: 2
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
// more than a document's ring of recent ops holds (1024)
const N = 1100;

C.main(async () => {
  const w = await C.RawClient.open(url);
  const r = await C.RawClient.open(url);
  const a = await C.Client.open(url, { name: 'a' });
  const da = a.doc('t41', 'old');

  await w.submit({ c: 't41', d: 'old', v: 0, seq: 1,
                  create: { type: 'text-unicode', data: '' } }, 'create ack');
  await C.within(C.fetch(da), 5000, 'a fetches v1 (not subscribed)');
  C.eq(da.version, 1, 'a is at v1');

  C.stage(`${N} ops by someone else`);
  for (let i = 0; i < N; i++) {
    await w.submit({ c: 't41', d: 'old', v: 1 + i, seq: 2 + i, op: ['w'] });
  }

  C.stage('a raw submitter at v1: the missed ops in order, then the ack');
  r.send({ a: 'op', c: 't41', d: 'old', v: 1, seq: 1, op: ['r'] });
  const ack = await r.next((m) => m.a === 'op' && m.seq === 1 && !m.op,
                           10000, 'the raw submitter\'s ack');
  C.eq([ack.v, ack.error], [1 + N, undefined], 'acked at the head');
  const missed = r.queue.filter((m) => m.a === 'op' && m.op);
  C.eq(missed.length, N, 'every missed op came');
  C.check(missed.every((m, i) => m.v === 1 + i), 'in version order, before '
          + 'the ack', missed.slice(0, 3));
  r.queue.length = 0;

  C.stage('the stock client, not subscribed, submits from v1');
  let warned = false;
  a.conn.on('error', () => { warned = true; });
  await C.within(C.submit(da, ['a']), 10000, 'a\'s submit is acked');
  C.eq(da.version, 3 + N, 'a\'s version is right after its op');
  C.eq(da.data, 'a' + 'r' + 'w'.repeat(N),
       'a applied every missed op before its own');
  C.check(!warned, 'no error on a\'s connection');
  const rows = await C.opLog('t41', 'old');
  C.checkLog(rows, 'old');
  C.eq(C.replay(rows, 'old').text, da.data, 'the op log agrees');
  w.close();
  r.close();
  a.close();
}, { timeout: 60000 });
--- no_error_log
[crit]
