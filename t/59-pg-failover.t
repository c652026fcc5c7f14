# PostgreSQL failover while stock sharedb clients on two workers type: a
# primary and a streaming replica (pg_basebackup) with synchronous
# replication; collab_postgres names both hosts with
# target_session_attrs=read-write.  The primary crashes (immediate
# shutdown: commits in flight lose their answer), the replica is promoted
# a second later; the pools find the new primary, the commits whose answer
# was lost are resolved by their (doc, src, seq) key, nothing is refused,
# every acknowledged op is in the new primary's op log exactly once, and
# the replicas converge on it.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);
use IO::Socket::INET;

my ($pg_port) = pg_conninfo() =~ /port=(\d+)/;
my $pg_dir = pg_query('SHOW data_directory') =~ s{/data/?$}{}r;
my $root = $Test::Collab::ROOT;

sub port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# the replica, synchronous: a commit is acknowledged once it is on both
my $sb_dir = tempdir('collab-standby-XXXXXX', TMPDIR => 1, CLEANUP => 0);
chmod 0755, $sb_dir;
my $sb_port = port();
my $out = `bash '$root/.ci/pg.sh' standby '$sb_dir' $sb_port $pg_port 2>&1`;
die "standby: $out" if $?;
my $su = "psql -X -qtA -h 127.0.0.1 -p $pg_port -U postgres -d postgres";
system("$su -c \"ALTER SYSTEM SET synchronous_standby_names = '*'\" "
       . "-c 'SELECT pg_reload_conf()' > /dev/null") == 0 or die 'sync';
my $sync = '';
for (1 .. 50) {
    $sync = `$su -c 'SELECT sync_state FROM pg_stat_replication'`;
    last if $sync =~ /^sync$/m;
    select(undef, undef, undef, 0.1);
}
die "the replica is not synchronous: $sync" unless $sync =~ /^sync$/m;

my $both = "host=127.0.0.1,127.0.0.1 port=$pg_port,$sb_port dbname=collab "
         . "user=collab target_session_attrs=read-write";
my $rp = port();

my $js = <<'JS';
const C = require(process.env.COLLAB_ROOT + '/t/js/lib/collab-client');
const T = require(process.env.COLLAB_ROOT + '/t/js/lib/typing');
const cp = require('child_process');
const url = process.env.COLLAB_WS_URL;
const pg = (...a) => new Promise((res, rej) => cp.execFile('bash',
  [`${process.env.COLLAB_ROOT}/.ci/pg.sh`, ...a],
  (e, out, err) => (e ? rej(new Error(err || e.message)) : res(out))));

C.main(async () => {
  const { clients, docs } = await T.open(url, 4, 't59', 'd');
  const t = T.type(docs, { seed: 59, gap: [10, 30] });

  await C.delay(2000);
  C.stage('the primary crashes; the replica is promoted a second later');
  const before = t.acked.size;
  await pg('crash', process.env.FO_PRIMARY_DIR);
  await C.delay(1000);
  await pg('promote', process.env.FO_STANDBY_DIR);
  const t0 = Date.now();
  await C.waitFor(() => t.acked.size > before + 20, 20000,
                  'acks from the new primary');
  C.log(`first acks after the promotion within ${Date.now() - t0} ms`);
  await C.delay(2000);
  await t.stop();
  C.log(`${t.acked.size} acked (${before} before the crash), `
        + `${t.failed.length} failed`);

  C.stage('quiescence, read from the new primary');
  C.eq(await C.psql('SELECT inet_server_port()'),
       process.env.FO_STANDBY_PORT, 'the log read is the new primary\'s');
  await T.check(t, docs, 't59', 'd');
  clients.forEach((c) => c.close());
}, { timeout: 100000 });
JS

my $http = <<"EOF";
    collab_postgres "$both";
    collab_redis \$TEST_COLLAB_REDIS;
    server {
        listen 127.0.0.1:$rp reuseport;
        location /ws { collab_websocket; }
    }
EOF

start_nginx(workers => 2, http_config => $http,
            config => "    location /ws { collab_websocket; }\n");
my ($rc, $nout) = run_node($js, COLLAB_WS_URL => "ws://127.0.0.1:$rp/ws",
                           COLLAB_PG => $both,
                           FO_PRIMARY_DIR => $pg_dir,
                           FO_STANDBY_DIR => $sb_dir,
                           FO_STANDBY_PORT => $sb_port, timeout => 110);
ok($rc == 0, 'failover to a synchronous replica while clients type: '
             . 'nothing refused, lost or doubled; replicas converge')
    or diag($nout);
note($nout);
stop_nginx();
check_error_log('failover', must_not => ['[crit]']);
system("bash '$root/.ci/pg.sh' stop '$sb_dir' > /dev/null 2>&1");
system('rm', '-rf', $sb_dir);
done_testing();
