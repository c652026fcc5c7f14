# Faults, with the stock sharedb client (reconnecting by bindToSocket):
#  (a) kill -9 of a worker during a burst of submits from several clients:
#      no acknowledged op is lost, clients reconnect to the respawned
#      workers and converge;
#  (b) Redis stopped and restarted while two clients on different workers
#      edit: fan-out resumes, gaps are filled, texts converge;
#  (c) PostgreSQL stopped: submits fail with clear errors and are never
#      acked while it is down; once back, new submits succeed and all
#      clients converge.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use IO::Socket::INET;

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    splice @l, 0, @l - $n if @l > $n;
    return join '', map { "    $_\n" } @l;
}

# where the runner's PostgreSQL and Redis live, to stop and restart them
# with the .ci scripts (same directory, same port)
my ($pg_port) = pg_conninfo() =~ /port=(\d+)/;
my $pg_dir = pg_query('SHOW data_directory') =~ s{/data/?$}{}r;
my (undef, $redis_dir) = split /\n/, redis_cmd('CONFIG', 'GET', 'dir');
my (undef, $redis_port) = split /:/, redis_addr();

my $root = $Test::Collab::ROOT;

my $rp = free_port();
my $http = <<"EOF";
    collab_postgres "\$TEST_COLLAB_PG";
    collab_redis \$TEST_COLLAB_REDIS;
    server {
        listen 127.0.0.1:$rp reuseport;
        location /ws { collab_websocket; }
    }
EOF
my $config = "    location /ws { collab_websocket; }\n";

my %env = (
    COLLAB_WS_URL => "ws://127.0.0.1:$rp/ws",
    FAULT_PG_DIR => $pg_dir, FAULT_PG_PORT => $pg_port,
    FAULT_REDIS_DIR => $redis_dir, FAULT_REDIS_PORT => $redis_port,
);

my $prelude = <<'JS';
const C = require(process.env.COLLAB_ROOT + '/t/js/lib/collab-client');
const cp = require('child_process');
const url = process.env.COLLAB_WS_URL;
const root = process.env.COLLAB_ROOT;
const sh = (...args) => new Promise((res, rej) =>
  cp.execFile('bash', args, (e, out, err) =>
    e ? rej(new Error(`${args.join(' ')}: ${err || e.message}`)) : res(out)));
// tokens inserted only at the start or the end can never be split
const tokenOp = (doc, tok, rng) =>
  rng() < 0.5 ? [tok] : [C.cpLen(doc.data), tok];
JS


# ------------------------------------------------------------------ (a)

my $kill_js = $prelude . <<'JS';
C.main(async () => {
  C.stage('open 6 reconnecting clients over both workers');
  const pairs = await C.clientsOnDistinctWorkers(url, 2,
                                                 { reconnect: true });
  const clients = pairs.map((p) => p.client);
  for (let i = clients.length; i < 6; i++) {
    clients.push(await C.Client.open(url, { name: 'x' + i, reconnect: true }));
  }
  const victim = pairs[0].pid;
  const onVictim = clients.filter((c) =>
    C.serverPidOf(c, C.portOf(url)) === victim);
  C.log(`victim worker ${victim} serves ${onVictim.length} client(s)`);

  const docs = clients.map((c) => c.doc('t44', 'burst'));
  await C.within(C.create(docs[0], '|', C.URI), 5000, 'create');
  await Promise.all(docs.map((d) => C.within(C.subscribe(d), 5000, 'subscribe')));

  C.stage('burst of submits; SIGKILL the worker in the middle');
  const acked = new Set();
  const failed = [];
  let killedAt = -1;
  let ackedAfterKill = 0;
  const perClient = 120;
  await Promise.all(clients.map(async (c, ci) => {
    const rng = C.prng(100 + ci);
    const doc = docs[ci];
    const waits = [];
    for (let k = 0; k < perClient; k++) {
      const tok = `<${ci}.${k}>`;
      const p = C.submit(doc, tokenOp(doc, tok, rng)).then(() => {
        acked.add(tok);
        if (killedAt >= 0) ackedAfterKill++;
      }, (e) => { failed.push(`${tok}: ${e.code} ${e.message}`); });
      if (ci % 2) waits.push(p);          // types ahead
      else await C.within(p, 20000, `ack of ${tok}`);
      if (killedAt < 0 && acked.size >= clients.length * perClient / 3) {
        killedAt = acked.size;
        process.kill(victim, 'SIGKILL');
        console.log(`KILLED ${victim} after ${killedAt} acks`);
      }
      await C.delay(rng.int(4));
    }
    await C.within(Promise.all(waits), 20000, `${c.name}'s last acks`);
  }));
  C.check(killedAt > 0, 'the worker was killed during the burst');
  C.check(!failed.length, 'no submit failed (in-flight ops are resent '
          + 'after the reconnect)', failed.slice(0, 5));
  C.check(ackedAfterKill > 0, 'ops were acked after the kill');
  C.check(onVictim.every((c) => c.sockets > 1),
          'the victim\'s clients reconnected',
          onVictim.map((c) => [c.name, c.sockets, c.state]));

  C.stage('quiescence');
  await C.converge(docs, 20000, 'all clients converge',
                   () => C.headVersion('t44', 'burst'));
  const rows = await C.opLog('t44', 'burst');
  C.checkLog(rows, 'burst');
  const text = C.replay(rows, 'burst').text;
  C.check(text === docs[0].data, 'the op log replays to the replicas\' text');
  const count = new Map();
  for (const m of text.matchAll(/<\d+\.\d+>/g)) {
    count.set(m[0], (count.get(m[0]) || 0) + 1);
  }
  const lost = [...acked].filter((t) => !count.has(t));
  const twice = [...count].filter(([, n]) => n > 1).map(([t]) => t);
  C.check(!lost.length, 'every acked op is in the op log', lost.slice(0, 10));
  C.check(!twice.length, 'no op was committed twice', twice.slice(0, 10));
  C.eq(count.size, clients.length * perClient, 'every submitted op committed');
  C.log(`${acked.size} acked, ${rows.length} ops logged, ${killedAt} `
        + `acked before the kill`);
  clients.forEach((c) => c.close());
}, { timeout: 80000 });
JS

{
    start_nginx(workers => 2, http_config => $http, config => $config);
    my ($rc, $out) = run_node($kill_js, %env, timeout => 90);
    ok($rc == 0, '(a) kill -9 of a worker mid-burst: no acked op lost, '
                 . 'clients reconnect and converge')
        or diag(tail($out, 40));
    note($out);
    my ($victim) = $out =~ /KILLED (\d+)/;
    stop_nginx();
    check_error_log('(a) kill -9',
                    must => [$victim ? ("worker process $victim exited on "
                                        . "signal 9") : ()],
                    must_not => ['[crit]']);
}


# ------------------------------------------------------------------ (b)

my $redis_js = $prelude . <<'JS';
C.main(async () => {
  const pairs = await C.clientsOnDistinctWorkers(url, 2, { reconnect: true });
  const [a, b] = pairs.map((p) => p.client);
  const da = a.doc('t44', 'redis');
  const db = b.doc('t44', 'redis');
  await C.within(C.create(da, 'start\n', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(db), 5000, 'b subscribes');
  const rng = C.prng(5);
  // n ops from each side; resolves with {token: error or null}
  const result = {};
  const edit = async (n, tag) => {
    const ps = [];
    for (let i = 0; i < n; i++) {
      for (const [w, d] of [['a', da], ['b', db]]) {
        const tok = `<${w}${tag}${i}>`;
        ps.push(C.submit(d, tokenOp(d, tok, rng)).then(
          () => { result[tok] = null; },
          (e) => { result[tok] = e; }));
      }
      await C.delay(rng.int(5));
    }
    await Promise.all(ps);
    const failed = Object.keys(result).filter((t) => t.includes(tag)
                                                     && result[t]);
    return failed;
  };

  C.stage('edits with Redis up');
  C.eq(await C.within(edit(20, 'up'), 10000, 'acks with Redis up'), [],
       'ops that failed with Redis up');
  await C.converge([da, db], 10000, 'converge with Redis up');

  C.stage('stop Redis; keep editing');
  await sh(`${root}/.ci/redis.sh`, 'stop', process.env.FAULT_REDIS_DIR);
  const during = edit(20, 'down');
  await C.delay(1500);

  C.stage('start Redis again');
  await sh(`${root}/.ci/redis.sh`, 'start', process.env.FAULT_REDIS_DIR,
           process.env.FAULT_REDIS_PORT);
  // they may be acked (committed without the lock or once Redis is back)
  // or refused with a clear error, but not left hanging
  const downFailed = await C.within(during, 30000, 'an answer to every op '
                                    + 'submitted while Redis was down');
  downFailed.forEach((t) => C.check(/^ERR_/.test(result[t].code || ''),
    `op ${t} submitted while Redis was down failed with an ERR_ code`,
    { code: result[t].code, message: result[t].message }));
  C.log(`${40 - downFailed.length} of 40 ops submitted while Redis was `
        + `down were acked`);

  C.stage('edits after the restart reach the other worker');
  C.eq(await C.within(edit(20, 'back'), 15000, 'acks after the restart'),
       [], 'ops that failed after the Redis restart');
  await C.converge([da, db], 20000, 'a and b converge after the Redis '
                   + 'restart', () => C.headVersion('t44', 'redis'));
  const rows = await C.opLog('t44', 'redis');
  C.checkLog(rows, 'redis');
  C.check(C.replay(rows, 'redis').text === da.data,
          'the op log replays to the replicas\' text');
  for (const [tok, e] of Object.entries(result)) {
    const n = da.data.split(tok).length - 1;
    C.check(n === (e ? 0 : 1), `op ${tok} (${e ? 'refused' : 'acked'}) is `
            + `in the text ${e ? 'zero times' : 'once'} (found ${n})`);
  }
  C.log(`converged at v${da.version}`);
  a.close();
  b.close();
}, { timeout: 80000 });
JS

{
    start_nginx(workers => 2, http_config => $http, config => $config);
    my ($rc, $out) = run_node($redis_js, %env, timeout => 90);
    ok($rc == 0, '(b) Redis restart while two workers edit: fan-out resumes '
                 . 'and the texts converge')
        or diag(tail($out, 40));
    note($out);
    # whatever happened in the script, Redis runs again (idempotent)
    system("bash '$root/.ci/redis.sh' start '$redis_dir' $redis_port"
           . " > /dev/null 2>&1");
    is(redis_cmd('PING'), 'PONG', '(b) Redis is back for the next tests');
    stop_nginx();
    check_error_log('(b) Redis restart', must_not => ['[crit]']);
}


# ------------------------------------------------------------------ (c)

my $pg_js = $prelude . <<'JS';
C.main(async () => {
  const pairs = await C.clientsOnDistinctWorkers(url, 2, { reconnect: true });
  const [a, b] = pairs.map((p) => p.client);
  const da = a.doc('t44', 'pg');
  const db = b.doc('t44', 'pg');
  await C.within(C.create(da, 'abc', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(db), 5000, 'b subscribes');
  await C.within(C.submit(db, [3, '<b0>']), 5000, 'first op');
  await C.converge([da, db], 5000, 'converge before the outage');
  const v0 = da.version;

  // any op message without an error for a's ops counts as an ack
  const acks = [];
  a.conn.on('receive', (req) => {
    const m = req.data;
    if (m && m.a === 'op' && m.d === 'pg' && !m.error && m.src === a.id) {
      acks.push(m.seq);
    }
  });

  C.stage('stop PostgreSQL');
  await sh(`${root}/.ci/pg.sh`, 'stop', process.env.FAULT_PG_DIR);
  let upAgain = false;

  C.stage('a submit while PostgreSQL is down fails with a clear error');
  const t0 = Date.now();
  const err = await C.within(C.rejects(C.submit(da, ['<down>']),
                                       'a submit while PostgreSQL is down'),
                             20000, 'an error for the submit while '
                             + 'PostgreSQL is down');
  C.check(!upAgain, 'the error came while PostgreSQL was down');
  C.check(typeof err.code === 'string' && /^ERR_/.test(err.code)
          && err.code !== 'ERR_OP_SUBMIT_REJECTED'
          && typeof err.message === 'string' && err.message.length > 0,
          'the error has an ERR_ code (not the silent '
          + 'ERR_OP_SUBMIT_REJECTED) and a message',
          { code: err.code, message: err.message });
  C.log(`error after ${Date.now() - t0} ms: ${err.code}: ${err.message}`);
  C.eq(acks, [], 'nothing was acked while PostgreSQL was down');
  await C.converge([da], 10000, 'a rolls back');
  C.check(!da.data.includes('<down>') && !db.data.includes('<down>'),
          'the refused op is in no replica', [da.data, db.data]);
  C.eq([da.version, db.version], [v0, v0], 'versions unchanged');

  C.stage('start PostgreSQL again');
  await sh(`${root}/.ci/pg.sh`, 'start', process.env.FAULT_PG_DIR,
           process.env.FAULT_PG_PORT);
  upAgain = true;

  C.stage('new submits succeed once it is back (retrying for a while)');
  let ok = false;
  const errors = [];
  for (let i = 0; i < 60 && !ok; i++) {
    try {
      await C.within(C.submit(da, [`<a${i}>`]), 10000,
                     'an ack after PostgreSQL is back');
      ok = true;
    } catch (e) {
      errors.push(e.code || e.message);
      await C.delay(500);
    }
  }
  C.check(ok, 'a submit succeeds within 30 s of PostgreSQL coming back',
          errors.slice(-3));
  await C.within(C.submit(db, ['<b1>']), 10000,
                 'b\'s submit after the restart');
  await C.converge([da, db], 15000, 'a and b converge after the restart',
                   () => C.headVersion('t44', 'pg'));
  const rows = await C.opLog('t44', 'pg');
  C.checkLog(rows, 'pg');
  const text = C.replay(rows, 'pg').text;
  C.check(text === da.data, 'the op log replays to the replicas\' text');
  C.check(!text.includes('<down>'), 'the refused op was never committed');
  C.log(`after ${errors.length} failed retries; final v${da.version}`);
  a.close();
  b.close();
}, { timeout: 100000 });
JS

{
    # past collab_commit_wait the op gets its error (t/57: within it, none)
    start_nginx(workers => 2, config => $config,
                http_config => $http . "    collab_commit_wait 2s;\n");
    my ($rc, $out) = run_node($pg_js, %env, timeout => 110);
    ok($rc == 0, '(c) PostgreSQL down: submits fail clearly and are never '
                 . 'acked; after it is back, submits succeed and clients '
                 . 'converge')
        or diag(tail($out, 40));
    note($out);
    system("bash '$root/.ci/pg.sh' start '$pg_dir' $pg_port > /dev/null 2>&1");
    ok(eval { pg_query('SELECT 1') eq '1' },
       '(c) PostgreSQL is back for the next tests');
    stop_nginx();
    check_error_log('(c) PostgreSQL outage', must_not => ['[crit]']);
}

done_testing();
