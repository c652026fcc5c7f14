# PostgreSQL restarted, then stopped for 10 s, while stock sharedb clients
# on two workers type: no op is refused (they wait, within
# collab_commit_wait, and commit when it is back), none is lost or
# committed twice, and the replicas converge on the op log's text; a fetch
# that needs PostgreSQL while it is down waits for it too.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use IO::Socket::INET;

my ($pg_port) = pg_conninfo() =~ /port=(\d+)/;
my $pg_dir = pg_query('SHOW data_directory') =~ s{/data/?$}{}r;
my $root = $Test::Collab::ROOT;

my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                              Listen => 1) or die "no free port: $!";
my $rp = $s->sockport;
close $s;

my $js = <<'JS';
const C = require(process.env.COLLAB_ROOT + '/t/js/lib/collab-client');
const T = require(process.env.COLLAB_ROOT + '/t/js/lib/typing');
const cp = require('child_process');
const url = process.env.COLLAB_WS_URL;
const pg = (...a) => new Promise((res, rej) => cp.execFile('bash',
  [`${process.env.COLLAB_ROOT}/.ci/pg.sh`, ...a],
  (e, out, err) => (e ? rej(new Error(err || e.message)) : res(out))));

C.main(async () => {
  const { clients, docs } = await T.open(url, 4, 't57', 'd');
  const t = T.type(docs, { seed: 57 });

  await C.delay(1000);
  C.stage('PostgreSQL restarted (fast shutdown, then start)');
  await pg('stop', process.env.RT_PG_DIR);
  await pg('start', process.env.RT_PG_DIR, process.env.RT_PG_PORT);
  await C.delay(2000);
  const beforeStop = t.acked.size;

  C.stage('PostgreSQL stopped for 10 s');
  await pg('stop', process.env.RT_PG_DIR);
  await C.delay(1000);
  // a fetch of a document no worker holds needs PostgreSQL: it waits too
  const late = await C.Client.open(url, { name: 'late' });
  const t0 = Date.now();
  const fetched = C.fetch(late.doc('t57', 'cold'));
  await C.delay(9000);
  const duringStop = t.acked.size;
  await pg('start', process.env.RT_PG_DIR, process.env.RT_PG_PORT);
  await C.within(fetched, 15000, 'the fetch made while PostgreSQL was down');
  C.check(Date.now() - t0 > 8000, 'it was answered after PostgreSQL came '
          + 'back, not refused');
  late.close();
  await C.delay(3000);
  await t.stop();

  C.log(`${t.acked.size} acked (${beforeStop} before the stop, `
        + `${duringStop - beforeStop} while stopped), `
        + `${t.failed.length} failed`);
  C.check(t.acked.size > duringStop,
          'ops were acked after PostgreSQL came back');
  C.stage('quiescence');
  await T.check(t, docs, 't57', 'd');
  clients.forEach((c) => c.close());
}, { timeout: 120000 });
JS

my $http = <<"EOF";
    collab_postgres "\$TEST_COLLAB_PG";
    collab_redis \$TEST_COLLAB_REDIS;
    server {
        listen 127.0.0.1:$rp reuseport;
        location /ws { collab_websocket; }
    }
EOF

start_nginx(workers => 2, http_config => $http,
            config => "    location /ws { collab_websocket; }\n");
my ($rc, $out) = run_node($js, COLLAB_WS_URL => "ws://127.0.0.1:$rp/ws",
                          RT_PG_DIR => $pg_dir, RT_PG_PORT => $pg_port,
                          timeout => 130);
ok($rc == 0, 'PostgreSQL restarted and stopped for 10 s while clients '
             . 'type: nothing refused, lost or doubled; replicas converge')
    or diag($out);
note($out);
system("bash '$root/.ci/pg.sh' start '$pg_dir' $pg_port > /dev/null 2>&1");

# an op far behind the head needs history from PostgreSQL: that read
# waits for it too, instead of failing the op
my $behind = <<'JS';
const C = require(process.env.COLLAB_ROOT + '/t/js/lib/collab-client');
const cp = require('child_process');
const url = process.env.COLLAB_WS_URL;
const pg = (...a) => new Promise((res, rej) => cp.execFile('bash',
  [`${process.env.COLLAB_ROOT}/.ci/pg.sh`, ...a],
  (e, out, err) => (e ? rej(new Error(err || e.message)) : res(out))));

C.main(async () => {
  const w = await C.RawClient.open(url);
  await w.submit({ c: 't57', d: 'old', v: 0, seq: 1,
                   create: { type: 'text-unicode', data: '' } }, 'create');
  // more than the ring keeps (128 KB beyond its last 16 ops)
  for (let i = 0; i < 300; i++) {
    await w.submit({ c: 't57', d: 'old', v: 1 + i, seq: 2 + i,
                     op: [`${i}:`.padEnd(1000, 'x')] });
  }
  await pg('stop', process.env.RT_PG_DIR);
  const t0 = Date.now();
  w.send({ a: 'op', c: 't57', d: 'old', v: 1, seq: 400, op: ['<old>'] });
  await C.delay(3000);
  await pg('start', process.env.RT_PG_DIR, process.env.RT_PG_PORT);
  const ack = await w.next((m) => m.a === 'op' && m.seq === 400, 20000,
                           'the answer to the op made at v1');
  C.check(!ack.error, 'acked after PostgreSQL came back, not refused', ack);
  C.check(Date.now() - t0 > 3000, 'it waited for the database');
  const rows = await C.opLog('t57', 'old');
  C.check(C.replay(rows, 'old').text.startsWith('<old>'),
          'transformed against the 300 ops and committed');
  w.close();
}, { timeout: 60000 });
JS
($rc, $out) = run_node($behind, COLLAB_WS_URL => "ws://127.0.0.1:$rp/ws",
                       RT_PG_DIR => $pg_dir, RT_PG_PORT => $pg_port,
                       timeout => 70);
ok($rc == 0, 'an op behind the ring waits for its history while '
             . 'PostgreSQL is down') or diag($out);
system("bash '$root/.ci/pg.sh' start '$pg_dir' $pg_port > /dev/null 2>&1");
stop_nginx();
check_error_log('PostgreSQL ride-through', must_not => ['[crit]', '[alert]']);

done_testing();
