# Nobody can claim someone else's src.  A src is the proof of authorship a
# reconnecting client resends its ops under, so only its owner ever sees it:
# everyone else (ops live and in catch-ups, from the ring and from
# PostgreSQL, on this worker and others; presence; the history API) sees its
# public form, HMAC-SHA256(collab_src_secret, src), the same everywhere.
# The owner, reconnected on any worker, gets its own ops with the real src
# (a src is live on one socket at a time: t/55-src-binding.t).
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];

# an extra reuseport listener spreads connections over the workers
$ENV{TEST_COLLAB_SPREAD_PORT} = free_port();

run_tests();
__DATA__

=== TEST 1: others see the public src only; a seen src cannot be claimed; the owner gets its own on every worker
--- workers: 2
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
    collab_snapshot_interval 2;
    server {
        listen 127.0.0.1:$TEST_COLLAB_SPREAD_PORT reuseport;
        location /ws { collab_websocket; }
    }
--- config
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const spread = `ws://127.0.0.1:${process.env.TEST_COLLAB_SPREAD_PORT}/ws`;
const http = process.env.COLLAB_HTTP_URL;
const c = 't54';
const d = 'doc';

// n raw clients served by distinct workers (each asking for id, if any)
async function onDistinctWorkers(n, id = null) {
  const pairs = await C.clientsOnDistinctWorkers(spread, n, {
    tries: 60, open: () => C.RawClient.open(spread, id) });
  return pairs.map(({ pid, client }) => ({ pid, r: client }));
}

// the owner back (hs with its src) on the worker pid, once the src it
// had is released (the release reaches Redis a moment after the close)
async function ownerOn(pid, src) {
  for (let i = 0; i < 80; i++) {
    const r = await C.RawClient.open(spread, src);
    await C.waitFor(() => C.serverPidOf(r, C.portOf(spread)) !== null, 2000,
                    'the server end of the connection is visible in /proc');
    if (r.id === src && C.serverPidOf(r, C.portOf(spread)) === pid) return r;
    r.close();
    await C.delay(20);
  }
  throw new Error(`the owner never got its src back on worker ${pid}`);
}

// every message r received so far, as text, must not contain secret
function neverSaw(r, secret, what) {
  const text = JSON.stringify(r.queue);
  C.check(!text.includes(secret), `${what} never saw the src`,
          text.slice(0, 400));
}

C.main(async () => {
  const [wa, wb] = await onDistinctWorkers(2);
  const a = wa.r;
  const b = wb.r;
  const pa = C.publicSrc(a.id);
  const pb = C.publicSrc(b.id);
  C.check(pa !== a.id && pa.length === a.id.length,
          'the public form differs from the src and has its length');

  C.stage('a creates and edits; b (another worker) is subscribed');
  await a.submit({ c, d, v: 0, seq: 1,
                  create: { type: 'text-unicode', data: 'ab' } }, 'create ack');
  b.send({ a: 's', c, d });
  await b.next((m) => m.a === 's' && m.d === d, 5000, 'b subscribed');
  a.send({ a: 's', c, d });
  await a.next((m) => m.a === 's' && m.d === d, 5000, 'a subscribed');
  for (let i = 0; i < 4; i++) {
    const ack = await a.submit({ c, d, v: 1 + i, seq: 2 + i,
                                 op: [1, String(i)] });
    C.eq(ack.src, a.id, 'the author\'s ack carries its real src');
    const got = await b.next((m) => m.a === 'op' && m.seq === 2 + i, 5000,
                             `b receives op ${i}`);
    C.eq(got.src, pa, 'b sees the public src of a');
    C.eq(got.op, [1, String(i)], 'with the op itself');
  }

  C.stage('presence shows the same public src as the ops');
  b.send({ a: 'ps', ch: `${c}.${d}`, seq: 1 });
  await b.next((m) => m.a === 'ps', 5000, 'b presence subscribed');
  a.send({ a: 'p', ch: `${c}.${d}`, id: 'cur', pv: 1, p: { i: 1 } });
  const pr = await b.next((m) => m.a === 'p' && m.id === 'cur', 5000,
                          'b receives a\'s presence');
  C.eq(pr.src, pa, 'the presence src is the public src of a');
  neverSaw(b, a.id, 'b');

  C.stage('b edits too: a sees b\'s public src');
  b.send({ a: 'op', c, d, v: 5, seq: 1, op: [3, 'B'] });
  await b.next((m) => m.a === 'op' && m.seq === 1 && m.src === b.id, 5000,
               'b\'s ack');
  const fromB = await a.next((m) => m.a === 'op' && m.src !== a.id
                                    && m.op, 5000, 'a receives b\'s op');
  C.eq(fromB.src, pb, 'a sees the public src of b');

  C.stage('what b saw cannot be claimed');
  const m = await C.RawClient.open(url, pa);
  C.check(m.id !== pa && m.id !== a.id, 'hs with a public src gets a fresh id',
          [m.id, pa]);
  m.send({ a: 'op', c, d, v: 6, src: pa, seq: 6, op: [1, 'M'] });
  const refused = await m.next((x) => x.a === 'op' && x.seq === 6, 5000,
                               'the reply to an op under a public src');
  C.eq(refused.error && refused.error.code, 'ERR_OP_SRC_NOT_OWNED',
       'an op under a seen src is refused');
  m.close();

  C.stage('a newcomer catching up from v0 on each worker sees public srcs');
  const late = await onDistinctWorkers(2);
  for (const { pid, r } of late) {
    r.send({ a: 's', c, d, v: 0 });
    const ops = [];
    for (let v = 0; v < 6; v++) {
      ops.push(await r.next((x) => x.a === 'op' && x.v === v, 5000,
                            `worker ${pid}: catch-up op v${v}`));
    }
    C.eq(ops.map((x) => x.src), [pa, pa, pa, pa, pa, pb],
         `worker ${pid}: the catch-up shows public srcs`);
    neverSaw(r, a.id, `the newcomer on worker ${pid}`);
    neverSaw(r, b.id, `the newcomer on worker ${pid}`);
    r.close();
  }

  C.stage('the owner, reconnected on each worker, gets its own ops back');
  a.close();
  let own = null;
  for (const pid of [wa.pid, wb.pid]) {
    if (own) own.close();
    own = await ownerOn(pid, a.id);
    const r = own;
    C.eq(r.id, a.id, `worker ${pid}: the reconnecting owner keeps its id`);
    r.send({ a: 's', c, d, v: 0 });
    const ops = [];
    for (let v = 0; v < 6; v++) {
      ops.push(await r.next((x) => x.a === 'op' && x.v === v, 5000,
                            `worker ${pid}: the owner's catch-up op v${v}`));
    }
    C.eq(ops.map((x) => x.src), [a.id, a.id, a.id, a.id, a.id, pb],
         `worker ${pid}: its own ops with its src, others' public`);
    C.eq(ops.slice(1, 5).map((x) => x.op),
         [[1, '0'], [1, '1'], [1, '2'], [1, '3']], 'with the ops');
  }

  C.stage('live: the owner commits; its ack has the real src, b not');
  own.send({ a: 'op', c, d, v: 6, seq: 9, op: [1, 'Z'] });
  const ownAck = await own.next((x) => x.a === 'op' && x.seq === 9, 5000,
                                'the owner\'s ack');
  C.eq(ownAck.src, a.id, 'the ack has the real src');
  own.close();
  const atB = await b.next((x) => x.a === 'op' && x.seq === 9, 5000,
                           'b receives it');
  C.eq(atB.src, pa, 'b still sees the public src');
  neverSaw(b, a.id, 'b');

  C.stage('the history API shows public srcs');
  const res = await fetch(`${http}/api/${c}/${d}/ops`);
  C.eq(res.status, 200, 'history status');
  const hist = await res.json();
  C.eq(hist.map((h) => h.src), [pa, pa, pa, pa, pa, pb, pa],
       'history srcs are public');
  C.check(!JSON.stringify(hist).includes(a.id), 'history never shows a src');

  C.stage('PostgreSQL keeps the real srcs (dedup)');
  const rows = await C.opLog(c, d);
  C.eq(rows.map((r) => r.src), [a.id, a.id, a.id, a.id, a.id, b.id, a.id],
       'the op log has the real srcs');
  b.close();
}, { timeout: 60000 });
--- no_error_log
[crit]



=== TEST 2: a short collab_src_secret fails nginx -t
--- http_config
    collab_src_secret short;
--- config
    location /ws { collab_websocket; }
--- must_die
--- error_log
"collab_src_secret" must be at least 16 characters



=== TEST 3: a duplicate collab_src_secret fails nginx -t
--- http_config
    collab_src_secret 0123456789abcdef;
    collab_src_secret 0123456789abcdef;
--- config
    location /ws { collab_websocket; }
--- must_die
--- error_log
"collab_src_secret" directive is duplicate
