# The close path: a client that goes away with ops in flight, subscriptions
# and presence.  Its ops still commit (and reach the others), nothing is
# written to the dead socket, its presence is cleared for the others, and
# nothing leaks (run under make test-asan).
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
run_tests();
__DATA__

=== TEST 1: ops in flight at close commit and are delivered; presence is cleared; the worker is fine
--- workers: 2
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
--- config
    location /ws { collab_websocket; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const w = await C.RawClient.open(url);
  w.send({ a: 'op', c: 't52', d: 'doc', v: 0, seq: 1,
           create: { type: 'text-unicode', data: '' } });
  await w.next((m) => m.seq === 1, 5000, 'create ack');
  w.send({ a: 's', c: 't52', d: 'doc' });
  await w.next((m) => m.a === 's', 5000, 's reply');
  w.send({ a: 'ps', ch: 't52.doc', seq: 1 });
  await w.next((m) => m.a === 'ps', 5000, 'ps reply');

  for (let round = 0; round < 5; round++) {
    C.stage(`round ${round}: a client subscribes, sets presence, submits `
            + 'and dies at once');
    const r = await C.RawClient.open(url);
    r.send({ a: 's', c: 't52', d: 'doc' });
    const s = await r.next((m) => m.a === 's', 5000, 's reply');
    r.send({ a: 'ps', ch: 't52.doc', seq: 1 });
    await r.next((m) => m.a === 'ps', 5000, 'ps reply');
    r.send({ a: 'p', ch: 't52.doc', id: 'cur', pv: 1, p: { i: round } });
    await r.next((m) => m.a === 'p', 5000, 'the presence echo');
    // w sees r's public src (t/54)
    const rsrc = C.publicSrc(r.id);
    const pres = await w.next((m) => m.a === 'p' && m.src === rsrc, 5000,
                              'the presence at w');
    C.eq(pres.p, { i: round }, 'w sees the presence');
    const sock = r.ws._socket;
    sock.cork();
    for (let i = 0; i < 3; i++) {
      r.send({ a: 'op', c: 't52', d: 'doc', v: s.data.v, seq: 10 + i,
               op: [String(round)] });
    }
    r.send({ a: 'f', c: 't52', d: 'doc' });
    r.send({ a: 'bs', c: 't52', b: ['other1', 'other2'] });
    sock.uncork();
    sock.destroy();

    const got = [];
    await C.waitFor(() => {
      for (const m of w.queue) {
        if (m.a === 'op' && m.src === rsrc && !got.includes(m.seq)) {
          got.push(m.seq);
        }
      }
      return got.length === 3;
    }, 10000, 'w receives the three ops of the dead client',
    () => JSON.stringify(got));
    const gone = await w.next((m) => m.a === 'p' && m.src === rsrc, 5000,
                              'the presence cleared at w');
    C.eq([gone.id, gone.p], ['cur', null], 'the presence is cleared');
    w.queue.length = 0;
  }

  C.stage('the op log is whole');
  const rows = await C.opLog('t52', 'doc');
  C.checkLog(rows, 'doc');
  C.eq(rows.length, 1 + 5 * 3, 'every op of the dead clients committed');
  const text = C.replay(rows, 'doc').text;
  C.eq([...text].sort().join(''), '000111222333444', 'replayed text');
  w.send({ a: 'f', c: 't52', d: 'doc' });
  const f = await w.next((m) => m.a === 'f', 5000, 'fetch');
  C.eq([f.data.v, f.data.data], [16, text], 'the fetched document');
  w.close();
}, { timeout: 60000 });
--- wait: 0.5
--- no_error_log
[crit]
[error]
