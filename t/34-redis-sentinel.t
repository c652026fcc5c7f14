# Redis Sentinel failover while stock sharedb clients on two workers type:
# a master (this file's Redis), a replica and three Sentinels on loopback;
# nginx knows only the Sentinels (collab_redis sentinel=t34 ...).  A forced
# failover (SENTINEL FAILOVER) promotes the replica; Sentinel closes the
# clients of both, every worker asks the Sentinels again, finds the new
# master (and checks its ROLE), re-subscribes and re-takes its locks.
# Commits go on (the op log is the fence), no acknowledged op is lost or
# doubled, an op made after the failover reaches every client within 5 s,
# and the replicas converge.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);
use IO::Socket::INET;

sub port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

my (undef, $master) = split /:/, redis_addr();
my $dir = tempdir('collab-sentinel-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $replica = port();
my @sentinels = (port(), port(), port());
my @pids;

sub cli {
    my ($port, @a) = @_;
    my $out = `redis-cli -h 127.0.0.1 -p $port @a 2>&1`;
    chomp $out;
    return $out;
}

sub daemon {
    my ($name, $conf, @cmd) = @_;
    open(my $fh, '>', "$dir/$name.conf") or die "$name.conf: $!";
    print $fh $conf, "daemonize yes\npidfile $dir/$name.pid\n",
              "logfile $dir/$name.log\ndir $dir\n";
    close $fh;
    system(@cmd, "$dir/$name.conf") == 0 or die "$name did not start";
    push @pids, "$dir/$name.pid";
}

END {
    for my $f (@pids) {
        open(my $fh, '<', $f) or next;
        my $pid = <$fh>;
        kill 'TERM', $pid if $pid;
    }
}

daemon('replica', "bind 127.0.0.1\nport $replica\nsave \"\"\n"
       . "appendonly no\nreplicaof 127.0.0.1 $master\n", 'redis-server');
for my $i (0 .. 2) {
    daemon("sentinel$i", "bind 127.0.0.1\nport $sentinels[$i]\n"
           . "sentinel monitor t34 127.0.0.1 $master 2\n"
           . "sentinel down-after-milliseconds t34 1000\n"
           . "sentinel failover-timeout t34 10000\n", 'redis-sentinel');
}
# every Sentinel knows the replica before anything starts
for (1 .. 100) {
    last if 3 == grep { cli($_, qw(SENTINEL replicas t34)) =~ /$replica/ }
                      @sentinels;
    select(undef, undef, undef, 0.1);
}
die 'the Sentinels did not find the replica'
    unless cli($sentinels[0], qw(SENTINEL replicas t34)) =~ /$replica/;

my $rp = port();
my $http = "    collab_postgres \"\$TEST_COLLAB_PG\";\n"
         . "    collab_redis sentinel=t34 "
         . join(' ', map { "127.0.0.1:$_" } @sentinels) . ";\n"
         . "    server {\n        listen 127.0.0.1:$rp reuseport;\n"
         . "        location /ws { collab_websocket; }\n    }\n";

my $js = <<'JS';
const C = require(process.env.COLLAB_ROOT + '/t/js/lib/collab-client');
const T = require(process.env.COLLAB_ROOT + '/t/js/lib/typing');
const cp = require('child_process');
const url = process.env.COLLAB_WS_URL;
const S = process.env.T34_SENTINEL;
const cli = (port, ...a) => new Promise((res, rej) => cp.execFile(
  'redis-cli', ['-h', '127.0.0.1', '-p', port, ...a],
  (e, out) => (e ? rej(e) : res(out.trim()))));

C.main(async () => {
  const { clients, docs } = await T.open(url, 4, 't34', 'd');
  const t = T.type(docs, { seed: 34, ackMs: 30000 });

  await C.delay(1500);
  C.stage('SENTINEL FAILOVER');
  const before = t.acked.size;
  C.eq(await cli(S, 'SENTINEL', 'FAILOVER', 't34'), 'OK', 'failover begun');
  await C.waitFor(async () => (await cli(S, 'SENTINEL',
    'get-master-addr-by-name', 't34')).endsWith(process.env.T34_REPLICA),
    15000, 'the replica is the master');
  const tFo = Date.now();
  C.log(`failover done; ${t.acked.size - before} acks meanwhile`);
  await C.waitFor(() => t.acked.size > before + 40, 15000,
                  'commits go on after the failover');
  C.log(`commits went on ${Date.now() - tFo} ms after the failover`);

  C.stage('an op after the failover reaches every client within 5 s');
  const mark = '<after-failover>';
  const t0 = Date.now();
  await C.within(C.submit(docs[0], [mark]), 5000, 'the mark is acked');
  await C.waitFor(() => docs.every((d) => d.data.includes(mark)), 5000,
                  'every client has the mark');
  C.log(`every client had it ${Date.now() - t0} ms after it was sent, `
        + `${Date.now() - tFo} ms after the failover`);
  await C.delay(1000);
  await t.stop();
  C.log(`${t.acked.size} acked (${before} before the failover), `
        + `${t.failed.length} failed`);
  await T.check(t, docs, 't34', 'd', 5000);
  clients.forEach((c) => c.close());
}, { timeout: 90000 });
JS

start_nginx(workers => 2, http_config => $http,
            config => "    location /ws { collab_websocket; }\n");
my ($rc, $out) = run_node($js, COLLAB_WS_URL => "ws://127.0.0.1:$rp/ws",
                          T34_SENTINEL => $sentinels[0],
                          T34_REPLICA => $replica, timeout => 100);
ok($rc == 0, 'Sentinel failover while clients type: commits go on, nothing '
             . 'lost or doubled, every client has every op') or diag($out);
note($out);
stop_nginx();
check_error_log('sentinel', must_not => ['[crit]'],
                must => [qr/redis master "t34" is at 127\.0\.0\.1:$master /,
                         qr/redis master "t34" is at 127\.0\.0\.1:$replica /]);
done_testing();
