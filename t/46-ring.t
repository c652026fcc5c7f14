# The ring of recent ops a worker keeps per document is bounded in bytes
# (about 128 KB beyond its last 16 ops), not only in ops; what it no longer
# holds comes from PostgreSQL, so catch-ups and late submits are whole.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
run_tests();
__DATA__

=== TEST 1: 1500 large ops: the ring stays small, a catch-up from v0 is whole
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
    location = /status { collab_status; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const N = 1500;
const piece = (i) => `${i}:`.padEnd(200, 'é');

async function status() {
  const res = await fetch(`${process.env.COLLAB_HTTP_URL}/status`);
  C.eq(res.status, 200, 'status answers');
  return (await res.json()).docs;
}

C.main(async () => {
  const w = await C.RawClient.open(url);
  await w.submit({ c: 't46', d: 'big', v: 0, seq: 1,
                  create: { type: 'text-unicode', data: '' } }, 'create ack');

  C.stage(`${N} ops of 200 code points`);
  for (let i = 0; i < N; i++) {
    await w.submit({ c: 't46', d: 'big', v: 1 + i, seq: 2 + i,
                     op: [piece(i)] });
  }

  C.stage('the worker holds a bounded ring');
  const st = await status();
  C.log('docs status', st);
  C.check(st.loaded >= 1, 'the document is loaded', st);
  C.check(st.ring_ops >= 16 && st.ring_ops < 1024, 'fewer ops than the '
          + 'count bound alone would keep', st);
  C.check(st.ring_bytes <= 128 * 1024, 'at most 128 KB', st);

  C.stage('a newcomer catches up from v0: every op, in order');
  const r = await C.RawClient.open(url);
  r.send({ a: 's', c: 't46', d: 'big', v: 0 });
  for (let v = 0; v <= N; v++) {
    const m = await r.next((x) => x.a === 'op' && x.v === v, 10000,
                           `catch-up op v${v}`);
    if (v > 0) C.eq(m.op, [piece(v - 1)], `op v${v}`);
  }
  await r.next((x) => x.a === 's', 5000, 'the subscribe reply after them');
  const rows = await C.opLog('t46', 'big');
  C.checkLog(rows, 'big');
  C.eq(rows.length, N + 1, 'the op log is whole');
  w.close();
  r.close();
}, { timeout: 60000 });
--- no_error_log
[crit]
