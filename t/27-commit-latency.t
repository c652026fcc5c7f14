# collab_status times every acknowledged op by stage (commit_latency): the
# stages add up to the total, op for op, and each has count, sum and
# quantiles, in JSON and in Prometheus text.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
run_tests();
__DATA__

=== TEST 1: 60 acknowledged ops: six stages that add up, lock and publish round trips
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
    location = /status { collab_status; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const N = 60;

async function latency() {
  const res = await fetch(`${process.env.COLLAB_HTTP_URL}/status`);
  C.eq(res.status, 200, 'status answers');
  return (await res.json()).commit_latency;
}

C.main(async () => {
  const before = await latency();
  C.eq(before.total.count, 0, 'nothing timed yet');

  const w = await C.RawClient.open(url);
  // a subscriber, so that every PUBLISH has a listener
  const r = await C.RawClient.open(url);
  await w.submit({ c: 't27', d: 'd', v: 0, seq: 1,
                   create: { type: 'text-unicode', data: '' } }, 'create');
  r.send({ a: 's', c: 't27', d: 'd' });
  await r.next((m) => m.a === 's', 5000, 'subscribed');
  for (let i = 0; i < N; i++) {
    await w.submit({ c: 't27', d: 'd', v: 1 + i, seq: 2 + i, op: i ? [i, 'x'] : ['x'] });
  }

  const l = await latency();
  C.log('commit_latency', l);
  const stages = ['queue', 'transform', 'prepare', 'store', 'deliver',
                  'total'];
  for (const s of stages) {
    C.eq(l[s].count, N + 1, `${s}: one sample per acknowledged op`);
    C.check(l[s].p50_us <= l[s].p99_us && l[s].p99_us <= l[s].max_us,
            `${s}: p50 <= p99 <= max`, l[s]);
  }
  C.eq(l.queue.sum_us + l.prepare.sum_us + l.store.sum_us
       + l.deliver.sum_us, l.total.sum_us,
       'queue + prepare + store + deliver is the total, to the us');
  C.check(l.store.sum_us > 0, 'PostgreSQL takes some time', l.store);
  C.check(l.total.max_us < 5e6, 'no op took 5 s', l.total);
  C.check(l.lock_acquire.count >= 1, 'the lock was acquired and timed',
          l.lock_acquire);
  C.check(l.publish.count >= 1, 'publishes were timed', l.publish);

  C.stage('Prometheus text');
  const text = await (await fetch(`${process.env.COLLAB_HTTP_URL}`
                                  + '/status?format=prometheus')).text();
  const m = /collab_commit_latency_total_count_total\{pid="\d+"\} (\d+)/
    .exec(text);
  C.check(m && Number(m[1]) === N + 1, 'the total count as a counter',
          text.split('\n').filter((x) => /commit_latency_total/.test(x)));
  C.check(/collab_commit_latency_store_p99_us\{pid="\d+"\} \d+/.test(text),
          'a quantile as a gauge');
  w.close();
  r.close();
}, { timeout: 30000 });
--- no_error_log
[error]
