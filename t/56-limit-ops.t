# Op rate limits of WebSocket sessions (collab_limit_ops_zone,
# collab_limit_ops): a stock sharedb client typing at ten times the rate
# loses nothing and commits at the rate, while another user on the same
# document is not slowed; one user's sockets on two workers share one
# bucket; a raw client past the burst gets ERR_RATE_LIMITED, then a 4429
# close; presence past its rate is dropped and counted; bad arguments fail
# nginx -t.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);

my $keys = tempdir('collab-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system("openssl rand -out $keys/hs.key -hex 32") == 0 or die 'openssl';
$ENV{TEST_COLLAB_KEYS} = $keys;

run_tests(defaults => {
    http_config => <<'EOF',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_redis_prefix t56:;
    collab_auth_jwt on;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key;
    collab_auth_jwt_issuer t56;
    collab_auth_admin_claim roles admin;
    collab_limit_ops_zone user zone=ops:1m rate=20r/s;
    # ack latencies are measured: no debug lines per frame
    error_log $TEST_NGINX_SERVROOT/logs/error.log info;
EOF
    config => <<'EOF',
    location /ws {
        collab_websocket;
        collab_limit_ops zone=ops burst=5 abuse=20 presence=5r/s
                         presence_burst=5;
    }
    location = /status { collab_status; }
EOF
});

__DATA__

=== TEST 1: typing at 10x the rate loses nothing and commits at the rate; another user keeps a fast ack
--- node
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');

const WS = process.env.COLLAB_WS_URL;
const HTTP = process.env.COLLAB_HTTP_URL;
const key = fs.readFileSync(`${process.env.TEST_COLLAB_KEYS}/hs.key`,
                            'utf8').trim();
function token(sub) {
  return C.hs256(key, { sub, iss: 't56',
    exp: Math.floor(Date.now() / 1000) + 600, roles: ['admin'] });
}
const open = (sub) => C.Client.open(WS, { name: sub,
  headers: { Authorization: `Bearer ${token(sub)}` } });
const RATE = 20, BURST = 5, SECONDS = 5;
const D = `d${process.pid}`;

C.main(async () => {
  const alice = await open('alice');
  const bob = await open('bob');
  const da = alice.doc('t56', D);
  await C.create(da, '');
  const db = bob.doc('t56', D);
  await C.subscribe(db);
  await C.subscribe(da);

  // alice's acks, as they come from the server
  const acks = [];
  alice.conn.on('receive', (req) => {
    const m = req.data;
    if (m.a === 'op' && !m.op && !m.error && m.src === alice.id) {
      acks.push(Date.now());
    }
  });

  C.stage(`alice types ${RATE * 10} chars/s for ${SECONDS} s, bob 20/s`);
  let typed = '';
  const lat = [];
  const t0 = Date.now();
  const end = t0 + SECONDS * 1000;
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const typing = (async () => {
    while (Date.now() < end) {
      // what is due by now: a late timer (a busy machine) types the
      // missed keystrokes at once, so the rate typed stays 10x
      const due = Math.floor((Date.now() - t0) * RATE * 10 / 1000) + 1;
      while (typed.length < due) {
        const ch = letters[typed.length % 26];
        // at the end of alice's own text (bob's are '#'s, ahead of it)
        const at = [...da.data].length;
        da.submitOp(at ? [at, ch] : [ch]);
        typed += ch;
      }
      await C.delay(1000 / (RATE * 10));
    }
  })();
  const bobTyping = (async () => {
    while (Date.now() < end) {
      const t = Date.now();
      await C.submit(db, ['#']);
      lat.push(Date.now() - t);
      await C.delay(50);
    }
  })();
  await Promise.all([typing, bobTyping]);
  const inWindow = acks.filter((t) => t >= t0 && t <= end).length;

  C.stage('everything alice typed is in the server\'s snapshot');
  await C.waitFor(() => C.settled(da), 15000, 'alice has nothing pending');
  const fresh = await open('carol');
  const df = fresh.doc('t56', D);
  await C.fetch(df);
  const text = df.data;
  C.eq(text.replace(/#/g, ''), typed, 'the snapshot holds all alice typed');
  C.eq((text.match(/#/g) || []).length, lat.length, 'and all bob typed');
  C.eq(da.data, text, 'alice sees the same');

  const want = RATE * SECONDS;
  const p99 = lat.slice().sort((a, b) => a - b)[Math.ceil(lat.length
                                                          * 0.99) - 1];
  C.log(`alice: ${typed.length} chars typed, ${inWindow} ops committed in `
        + `${SECONDS} s (${(inWindow / SECONDS).toFixed(1)}/s, rate `
        + `${RATE}r/s burst ${BURST}); bob: ${lat.length} ops, ack p99 `
        + `${p99} ms, median ${lat.slice().sort((x, y) => x - y)[lat.length
        >> 1]} ms, slowest ${lat.slice().sort((x, y) => y - x)
        .slice(0, 5)} ms`);
  C.check(typed.length >= want * 8, 'alice typed at about 10x the rate',
          typed.length);
  C.check(inWindow <= want * 1.1 + BURST + 1,
          `at most the rate (+10%, +burst) committed: ${inWindow}`);
  C.check(inWindow >= want * 0.9, `at least 90% of the rate: ${inWindow}`);
  // ASan's build is some 3x slower everywhere; behind alice's bucket,
  // bob would wait seconds either way
  const bound = process.env.TEST_COLLAB_SANITIZE ? 100 : 20;
  C.check(p99 < bound, `bob's ack p99 under ${bound} ms: ${p99}`);

  const st = await (await fetch(`${HTTP}/status`)).json();
  C.log('status', st.limit_ops);
  C.check(st.limit_ops.ops_delayed >= want * 0.9, 'ops_delayed counted',
          st.limit_ops);
  C.eq(st.limit_ops.ops_refused, 0, 'no op refused');
  alice.close();
  bob.close();
  fresh.close();
});
--- no_error_log
[error]


=== TEST 2: one user's sockets on two workers share one bucket
--- workers: 2
--- config
    location /ws {
        collab_websocket;
        collab_limit_ops zone=ops burst=5;
    }
--- node
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');

const WS = process.env.COLLAB_WS_URL;
const key = fs.readFileSync(`${process.env.TEST_COLLAB_KEYS}/hs.key`,
                            'utf8').trim();
function token(sub) {
  return C.hs256(key, { sub, iss: 't56',
    exp: Math.floor(Date.now() / 1000) + 600, roles: ['admin'] });
}
const RATE = 20, BURST = 5, SECONDS = 3;

C.main(async () => {
  const pair = await C.clientsOnDistinctWorkers(WS, 2, {
    open: (i) => C.Client.open(WS, { name: `dan${i}`,
      headers: { Authorization: `Bearer ${token('dan')}` } }),
  });
  C.check(pair[0].pid !== pair[1].pid, 'two workers');
  const docs = [];
  const acks = [];
  for (const [i, { client }] of pair.entries()) {
    const d = client.doc('t56', `w${process.pid}-${i}`);
    await C.create(d, '');
    client.conn.on('receive', (req) => {
      const m = req.data;
      if (m.a === 'op' && !m.op && !m.error && m.src === client.id) {
        acks.push(Date.now());
      }
    });
    docs.push(d);
  }
  await C.delay(1000);
  acks.length = 0;

  C.stage(`dan types ${RATE * 5}/s on each socket for ${SECONDS} s`);
  const typed = ['', ''];
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(docs.map(async (d, i) => {
    while (Date.now() < end) {
      const at = [...d.data].length;
      d.submitOp(at ? [at, 'x'] : ['x']);
      typed[i] += 'x';
      await C.delay(1000 / (RATE * 5));
    }
  }));
  const inWindow = acks.filter((t) => t <= end).length;
  await C.waitFor(() => docs.every(C.settled), 15000, 'nothing pending');
  for (const [i, d] of docs.entries()) {
    C.eq(d.data, typed[i], `socket ${i} lost nothing`);
  }
  const want = RATE * SECONDS;
  C.log(`dan: ${inWindow} ops committed over both workers in ${SECONDS} s `
        + `(${(inWindow / SECONDS).toFixed(1)}/s, rate ${RATE}r/s)`);
  C.check(inWindow <= want * 1.1 + BURST + 2,
          `the two sockets together at the rate: ${inWindow}`);
  C.check(inWindow >= want * 0.9, `and at 90% of it at least: ${inWindow}`);
  pair.forEach(({ client }) => client.close());
});
--- no_error_log
[error]


=== TEST 3: past the burst: ERR_RATE_LIMITED, then a close with 4429
--- node
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');

const WS = process.env.COLLAB_WS_URL;
const HTTP = process.env.COLLAB_HTTP_URL;
const key = fs.readFileSync(`${process.env.TEST_COLLAB_KEYS}/hs.key`,
                            'utf8').trim();
function token(sub) {
  return C.hs256(key, { sub, iss: 't56',
    exp: Math.floor(Date.now() / 1000) + 600, roles: ['admin'] });
}
const D = `f${process.pid}`;

C.main(async () => {
  const raw = await C.RawClient.open(WS, null,
    { headers: { Authorization: `Bearer ${token('eve')}` } });
  await raw.submit({ c: 't56', d: D, v: 0, seq: 1, src: raw.id,
                     create: { type: C.URI, data: '' } });
  await C.delay(1000);

  C.stage('60 ops without waiting for acks');
  for (let seq = 2; seq < 62; seq++) {
    raw.send({ a: 'op', c: 't56', d: D, v: 1, seq, src: raw.id,
               op: ['x'] });
  }
  await C.waitFor(() => raw.closedByPeer, 5000, 'the server closes');
  const ops = raw.queue.filter((m) => m.a === 'op' && m.d === D);
  const refused = ops.filter((m) => m.error
                                    && m.error.code === 'ERR_RATE_LIMITED');
  const others = ops.filter((m) => m.error
                                   && m.error.code !== 'ERR_RATE_LIMITED');
  C.log(`${refused.length} ERR_RATE_LIMITED, ${ops.length - refused.length
         - others.length} acks, close ${raw.closeCode}`);
  C.eq(others, [], 'no other error');
  C.eq(refused.length, 19, 'refused past the burst until abuse=20');
  C.check(refused.every((m) => m.seq > 6), 'only past the burst (5)',
          refused.map((m) => m.seq));
  C.eq(raw.closeCode, 4429, 'then closed with 4429');

  const st = await (await fetch(`${HTTP}/status`)).json();
  C.eq([st.limit_ops.ops_refused, st.limit_ops.closed_4429], [19, 1],
       'counted in collab_status');

  C.stage('a stock client of the same user is served once it leaked');
  await C.delay(500);
  const ok = await C.Client.open(WS, { name: 'eve2',
    headers: { Authorization: `Bearer ${token('eve')}` } });
  const d = ok.doc('t56', `${D}b`);
  await C.create(d, 'y');
  await C.submit(d, [1, 'z']);
  ok.close();
});
--- error_log
ops refused within 10 s
--- no_error_log
[error]


=== TEST 4: presence over its rate is dropped and counted
--- node
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');

const WS = process.env.COLLAB_WS_URL;
const HTTP = process.env.COLLAB_HTTP_URL;
const key = fs.readFileSync(`${process.env.TEST_COLLAB_KEYS}/hs.key`,
                            'utf8').trim();
function token(sub) {
  return C.hs256(key, { sub, iss: 't56',
    exp: Math.floor(Date.now() / 1000) + 600, roles: ['admin'] });
}
const open = (sub) => C.RawClient.open(WS, null,
  { headers: { Authorization: `Bearer ${token(sub)}` } });
const CH = `t56.p${process.pid}`;
const N = 100;

C.main(async () => {
  const a = await open('fay');
  const b = await open('gus');
  b.send({ a: 'ps', ch: CH, seq: 1 });
  await b.next((m) => m.a === 'ps', 5000, 'ps reply');

  C.stage(`${N} presence updates in 1 s (rate 5r/s, burst 5)`);
  const t0 = Date.now();
  for (let i = 1; i <= N; i++) {
    a.send({ a: 'p', ch: CH, id: 'c', pv: i, p: { i } });
    await C.delay(10);
  }
  const secs = (Date.now() - t0) / 1000;
  await C.delay(300);
  const got = b.queue.filter((m) => m.a === 'p' && m.ch === CH);
  const allowed = 1 + 5 + Math.ceil(5 * secs);
  C.log(`${got.length} of ${N} relayed in ${secs.toFixed(2)} s `
        + `(allowed ${allowed})`);
  C.check(got.length >= 5 && got.length <= allowed,
          `at most the rate and burst relayed: ${got.length}`);
  C.check(got.every((m) => !m.error), 'no error to anyone');
  C.eq(a.queue.filter((m) => m.error), [], 'nor to the sender');

  const st = await (await fetch(`${HTTP}/status`)).json();
  C.eq(st.limit_ops.presence_dropped, N - got.length,
       'the dropped ones are counted');
  C.eq(st.limit_ops.ops_delayed, 0, 'no op delayed');
  a.close();
  b.close();
});
--- no_error_log
[error]


=== TEST 5: collab_limit_ops_zone with a bad key
--- http_config
    collab_limit_ops_zone sub zone=z:1m rate=1r/s;
--- config
    location /ws { collab_websocket; }
--- must_die
--- error_log
invalid key "sub" (user or addr)


=== TEST 6: collab_limit_ops_zone with a bad rate
--- http_config
    collab_limit_ops_zone user zone=z:1m rate=10r/h;
--- config
    location /ws { collab_websocket; }
--- must_die
--- error_log
invalid rate "rate=10r/h"


=== TEST 7: collab_limit_ops_zone with a zero rate
--- http_config
    collab_limit_ops_zone user zone=z:1m rate=0r/s;
--- config
    location /ws { collab_websocket; }
--- must_die
--- error_log
invalid rate "rate=0r/s"


=== TEST 8: collab_limit_ops_zone with a zone too small
--- http_config
    collab_limit_ops_zone addr zone=z:1k rate=1r/s;
--- config
    location /ws { collab_websocket; }
--- must_die
--- error_log
zone "zone=z:1k" is too small


=== TEST 9: collab_limit_ops_zone without a rate
--- http_config
    collab_limit_ops_zone addr zone=z:1m burst=5;
--- config
    location /ws { collab_websocket; }
--- must_die
--- error_log
invalid parameter "burst=5"


=== TEST 10: collab_limit_ops naming no zone
--- http_config
    collab_limit_ops_zone user zone=z:1m rate=1r/s;
--- config
    location /ws { collab_websocket; collab_limit_ops burst=5; }
--- must_die
--- error_log
"collab_limit_ops" needs zone=


=== TEST 11: collab_limit_ops naming an undefined zone
--- http_config
    collab_limit_ops_zone user zone=z:1m rate=1r/s;
--- config
    location /ws { collab_websocket; collab_limit_ops zone=nope; }
--- must_die
--- error_log
zero size shared memory zone "nope"


=== TEST 12: collab_limit_ops with a negative burst
--- http_config
    collab_limit_ops_zone user zone=z:1m rate=1r/s;
--- config
    location /ws { collab_websocket; collab_limit_ops zone=z burst=-1; }
--- must_die
--- error_log
invalid parameter "burst=-1"


=== TEST 13: collab_limit_ops with a bad presence rate
--- http_config
    collab_limit_ops_zone user zone=z:1m rate=1r/s;
--- config
    location /ws { collab_websocket; collab_limit_ops zone=z presence=5; }
--- must_die
--- error_log
invalid parameter "presence=5"


=== TEST 14: collab_limit_ops twice in one location
--- http_config
    collab_limit_ops_zone user zone=z:1m rate=1r/s;
--- config
    location /ws {
        collab_websocket;
        collab_limit_ops zone=z;
        collab_limit_ops zone=z burst=2;
    }
--- must_die
--- error_log
"collab_limit_ops" directive is duplicate
