# Per-connection limits: subscriptions (collab_max_subscriptions), ops in
# flight (collab_max_ops_in_flight), presence channels
# (collab_max_presence_channels) and presence size: past each, a clear
# ShareDB error, the connection keeps working, memory stays bounded.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
my %defaults = (
    http_config => <<'END',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);
__DATA__

=== TEST 1: collab_max_subscriptions bounds subscriptions and documents requested at once
--- config
    location /ws { collab_websocket; collab_max_subscriptions 3; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const r = await C.RawClient.open(url);
  const reply = (a, d) => r.next((m) => m.a === a && m.d === d, 5000,
                                  `the ${a} reply for ${d}`);
  C.stage('three subscriptions');
  for (const d of ['d1', 'd2', 'd3']) {
    r.send({ a: 's', c: 't51', d });
    const m = await reply('s', d);
    C.check(!m.error && m.data, `s ${d} answered with a snapshot`, m);
  }
  C.stage('a fourth is refused; subscribing again to d1 is not');
  r.send({ a: 's', c: 't51', d: 'd4' });
  const e4 = await reply('s', 'd4');
  C.check(e4.error, 'the fourth subscription is an error', e4);
  C.eq(e4.error.code, 'ERR_SNAPSHOT_READS_REJECTED', 'code');
  C.check(/collab_max_subscriptions 3/.test(e4.error.message), 'message',
          e4.error);
  r.send({ a: 's', c: 't51', d: 'd1' });
  C.check(!(await reply('s', 'd1')).error, 's d1 again is fine');
  r.send({ a: 'bs', c: 't51', b: ['d5', 'd6'] });
  const eb = await r.next((m) => m.a === 'bs', 5000, 'the bs reply');
  C.eq(eb.error && eb.error.code, 'ERR_SNAPSHOT_READS_REJECTED',
       'a bulk subscribe past the limit');
  C.eq(eb.b, ['d5', 'd6'], 'the bulk request is echoed');

  C.stage('fetches of more documents at once than the limit');
  r.send({ a: 'bf', c: 't51', b: ['f1', 'f2', 'f3', 'f4'] });
  const ef = await r.next((m) => m.a === 'bf', 5000, 'the bf reply');
  C.eq(ef.error && ef.error.code, 'ERR_SNAPSHOT_READS_REJECTED',
       'a bulk fetch of 4 documents');
  r.send({ a: 'f', c: 't51', d: 'f1' });
  C.check(!(await reply('f', 'f1')).error, 'a single fetch still works');

  C.stage('after an unsubscribe there is room again');
  r.send({ a: 'u', c: 't51', d: 'd2' });
  await reply('u', 'd2');
  r.send({ a: 's', c: 't51', d: 'd4' });
  C.check(!(await reply('s', 'd4')).error, 's d4 after u d2');

  C.stage('the stock client sees the error on subscribe');
  const c = await C.Client.open(url, { name: 'c' });
  for (const d of ['d1', 'd2', 'd3']) {
    await C.within(C.subscribe(c.doc('t51', d)), 5000, `subscribe ${d}`);
  }
  const err = await C.within(C.rejects(C.subscribe(c.doc('t51', 'd4')),
                                       'the 4th subscribe'), 5000, 'error');
  C.eq(err.code, 'ERR_SNAPSHOT_READS_REJECTED', 'client error code');
  c.close();
  r.close();
}, { timeout: 30000 });
--- no_error_log
[crit]


=== TEST 2: collab_max_ops_in_flight: pipelined ops past the limit are rejected (ERR_OP_SUBMIT_REJECTED), the rest commit
--- config
    location /ws { collab_websocket; collab_max_ops_in_flight 2; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const r = await C.RawClient.open(url);
  r.send({ a: 'op', c: 't51', d: 'fl', v: 0, seq: 1,
           create: { type: 'text-unicode', data: '' } });
  await r.next((m) => m.seq === 1, 5000, 'create ack');

  C.stage('50 ops written at once');
  const sock = r.ws._socket;
  sock.cork();
  for (let i = 0; i < 50; i++) {
    r.send({ a: 'op', c: 't51', d: 'fl', v: 1, seq: 2 + i, op: ['x'] });
  }
  sock.uncork();
  const acked = [], refused = [];
  for (let i = 0; i < 50; i++) {
    // acks carry no op (an op sent before an ack is one it had not seen)
    const m = await r.next((x) => x.a === 'op' && x.seq >= 2
                                  && (x.error || !x.op), 10000,
                           `reply ${i + 1} of 50`);
    if (m.error) {
      C.eq(m.error.code, 'ERR_OP_SUBMIT_REJECTED', `seq ${m.seq} code`);
      C.check(/collab_max_ops_in_flight 2/.test(m.error.message),
              `seq ${m.seq} message`, m.error);
      refused.push(m.seq);
    } else {
      acked.push(m.seq);
    }
  }
  C.log(`acked ${acked.length}, refused ${refused.length}`);
  C.check(refused.length > 0, 'some ops were refused', acked);
  C.check(acked.length >= 2, 'at least the first two were committed', acked);

  C.stage('the op log has exactly the acked ops');
  const rows = await C.opLog('t51', 'fl');
  C.checkLog(rows, 'fl');
  C.eq(rows.slice(1).map((x) => x.seq).sort((x, y) => x - y),
       acked.sort((x, y) => x - y), 'logged seqs are the acked ones');

  C.stage('after the burst, one op at a time works');
  r.send({ a: 'op', c: 't51', d: 'fl', v: rows.length, seq: 100, op: ['y'] });
  const ok = await r.next((m) => m.seq === 100, 5000, 'ack');
  C.check(!ok.error, 'acked', ok);
  r.close();
}, { timeout: 30000 });
--- no_error_log
[crit]


=== TEST 3: collab_max_presence_channels bounds presence subscriptions and presences set
--- config
    location /ws { collab_websocket; collab_max_presence_channels 2; collab_max_presence_size 1k; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const r = await C.RawClient.open(url);
  const ps = async (ch, seq) => {
    r.send({ a: 'ps', ch, seq });
    return r.next((m) => m.a === 'ps' && m.seq === seq, 5000, `ps ${ch}`);
  };
  C.check(!(await ps('c1', 1)).error, 'ps c1');
  C.check(!(await ps('c2', 2)).error, 'ps c2');
  C.check(!(await ps('c1', 3)).error, 'ps c1 again');
  const e3 = await ps('c3', 4);
  C.eq(e3.error && e3.error.code, 'ERR_SNAPSHOT_READS_REJECTED', 'ps c3');
  C.check(/collab_max_presence_channels 2/.test(e3.error.message),
          'ps c3 message', e3.error);

  C.stage('presences set count too');
  r.send({ a: 'pu', ch: 'c2', seq: 5 });
  await r.next((m) => m.a === 'pu', 5000, 'pu');
  const p = async (ch, id, pv, val) => {
    r.send({ a: 'p', ch, id, pv, p: val });
    return r.next((m) => m.a === 'p' && m.ch === ch && m.id === id, 5000,
                  `p ${ch}/${id}`);
  };
  C.check(!(await p('c1', 'i1', 1, { x: 1 })).error, 'p c1/i1');
  C.check(!(await p('c1', 'i1', 2, { x: 2 })).error, 'p c1/i1 updated');
  const e = await p('c9', 'i2', 1, { x: 1 });
  C.eq(e.error && e.error.code, 'ERR_OP_SUBMIT_REJECTED', 'p c9/i2 refused');
  C.check(!(await p('c1', 'i1', 3, null)).error, 'p c1/i1 cleared');
  C.check(!(await p('c9', 'i2', 2, { x: 1 })).error, 'then p c9/i2 works');

  C.stage('collab_max_presence_size 1k');
  const big = await p('c9', 'i2', 3, { x: 'y'.repeat(1024) });
  C.eq(big.error && big.error.code, 'ERR_OP_SUBMIT_REJECTED', 'a 1k presence');
  C.check(!(await p('c9', 'i2', 4, { x: 'y'.repeat(900) })).error,
          'a 0.9k presence');
  r.send({ a: 'pp' });
  await r.next((m) => m.a === 'pp', 5000, 'ping');
  r.close();
}, { timeout: 30000 });
--- no_error_log
[crit]


=== TEST 4: a limit of 0 fails nginx -t
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
--- config
    location /ws { collab_websocket; collab_max_ops_in_flight 0; }
--- must_die
--- error_log
"collab_max_presence_size" must not be 0
