# Document locks do not outlive their worker nor a Redis restart: a
# worker leaving gracefully (reload, QUIT) gives back the locks it holds,
# and after a Redis reconnect a worker takes back its own stale lock at
# once, so writes to a busy document resume well within a lock TTL.
# With Redis not answering, the exiting worker waits for its releases
# only briefly (500 ms).
# Uses its own Redis with AOF persistence, so that a lock key survives
# the restart as it would in production.
use lib 't/lib';
use Test::Collab with => ['postgres'];
use File::Temp qw(tempdir);
use IO::Socket::INET;

my $root = "$Test::Collab::ROOT";
my $dir = tempdir('collab-t32-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $probe = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die "no port: $!";
my $rport = $probe->sockport;
close $probe;

open my $conf, '>', "$dir/redis.conf" or die "$dir/redis.conf: $!";
print $conf <<EOF;
bind 127.0.0.1
port $rport
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly yes
appendfsync always
EOF
close $conf;

# shell commands, for the Node side too
my $redis_start = "redis-server $dir/redis.conf && for i in \$(seq 100); do"
                  . " redis-cli -p $rport ping 2>/dev/null | grep -q PONG"
                  . " && exit 0; sleep 0.05; done; exit 1";
my $redis_stop = "redis-cli -p $rport shutdown > /dev/null 2>&1;"
                 . " while redis-cli -p $rport ping > /dev/null 2>&1;"
                 . " do sleep 0.05; done";

sub redis_up   { system('sh', '-c', $redis_start) == 0
                     or die "redis did not start" }
sub redis_down { system('sh', '-c', $redis_stop) }

END { redis_down() if $dir && -e "$dir/redis.conf" }

redis_up();

my $prelude = <<'JS';
const C = require(process.cwd() + '/lib/collab-client');
const util = require('util');
const execFile = util.promisify(require('child_process').execFile);
const sh = (cmd) => execFile('sh', ['-c', cmd]);
const url = process.env.COLLAB_WS_URL;
const master = Number(process.env.T32_MASTER);
const alive = (pid) => { try { process.kill(pid, 0); return true; }
                         catch (e) { return false; } };
const lockKeys = async (d) => (await execFile('redis-cli', [
  '-p', process.env.T32_REDIS_PORT, '--raw', 'KEYS', `collab:lock:*/${d}`,
])).stdout.split('\n').filter((k) => k);

// one writer: each op sent when the last is acked (after `gap` ms), in
// the background until the server closes the socket or stop()
class Writer {
  constructor(c, d) { this.c = c; this.d = d; this.seq = 0; this.v = 0; }

  async open(id = null) {
    this.r = await C.RawClient.open(url, id);
    return this;
  }

  // sends the next op (or resends the unacked one); the ack's latency
  async op(ms = 5000) {
    if (!this.pending) {
      this.seq++;
      this.pending = this.seq === 1
        ? { c: this.c, d: this.d, v: 0, seq: 1,
            create: { type: 'text-unicode', data: '' } }
        : { c: this.c, d: this.d, v: this.v, seq: this.seq,
            op: [`${this.seq % 10}`] };
    }
    const t0 = Date.now();
    const ack = await this.r.submit(this.pending, `ack of seq ${this.seq}`,
                                    ms);
    this.pending = null;
    this.v = ack.v + 1;
    return Date.now() - t0;
  }

  run(gap = 0) {
    this.gap = gap;
    this.worst = 0;
    this.acks = 0;
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          this.worst = Math.max(this.worst, await this.op());
          this.acks++;
        } catch (e) {
          if (this.r.closedByPeer) return 'closed';
          throw e;
        }
        if (this.gap) await C.delay(this.gap);
      }
      return 'stopped';
    })();
    return this;
  }

  stop() { this.stopped = true; return this.loop; }
}
JS

my $http = <<"END";
    collab_postgres "\$TEST_COLLAB_PG";
    collab_redis 127.0.0.1:$rport;
    collab_redis_connect_timeout 500ms;
    collab_lock_ttl 3s;
END

my $config = <<'END';
    location /ws { collab_websocket; collab_ping_interval 60s; }
    location = /status { collab_status; }
END

# ------------------------------------------------------------ reload

my $reload_js = $prelude . <<'JS';
C.main(async () => {
  const w = await new Writer('t32', 'reload').open();
  w.run();
  await C.delay(300);
  C.eq((await lockKeys(w.d)).length, 1, 'the busy document holds its lock');

  C.stage('reload while the document is busy');
  const old = C.serverPidOf(w.r, C.portOf(url));
  process.kill(master, 'SIGHUP');
  C.eq(await C.within(w.loop, 5000, 'the socket closed'), 'closed',
       'the old worker closes the socket');
  await C.waitFor(() => !alive(old), 5000, 'the old worker exits');
  C.eq(await lockKeys(w.d), [], 'no lock key left behind by the old worker');

  C.stage('the next op, on a new worker');
  await w.open(w.r.id);
  const ms = await w.op();
  C.log(`first ack after the reload: ${ms} ms`);
  C.check(ms < 1000, `acked within 1 s (lock TTL 3 s): took ${ms} ms`);

  C.stage('a second reload, the client back at once');
  w.run();
  await C.delay(300);
  process.kill(master, 'SIGHUP');
  C.eq(await C.within(w.loop, 5000, 'the socket closed'), 'closed',
       'the old worker closes the socket');
  await w.open(w.r.id);
  w.run();
  await C.delay(1500);
  await w.stop();
  C.log(`${w.acks} acks after the second reload, slowest ${w.worst} ms`);
  C.check(w.worst < 1000, `each acked within 1 s: slowest ${w.worst} ms`);
  w.r.close();
}, { timeout: 40000 });
JS

{
    start_nginx(http_config => $http, config => $config, workers => 2);
    my ($master) = nginx_pids();
    my ($rc, $out) = run_node($reload_js, T32_MASTER => $master,
                              T32_REDIS_PORT => $rport, timeout => 50);
    ok($rc == 0, 'reload: the next op is acked well within a lock TTL and '
                 . 'the old worker leaves no lock') or diag($out);
    note($out);
    stop_nginx();
    check_error_log('reload', must_not => ['[crit]']);
}

# ------------------------------------------------------------ QUIT

{
    start_nginx(http_config => $http, config => $config, workers => 1);
    my ($master) = nginx_pids();
    my $js = $prelude . <<'JS';
C.main(async () => {
  const w = await new Writer('t32', 'quit').open();
  w.run();
  await C.delay(300);
  C.eq((await lockKeys(w.d)).length, 1, 'the busy document holds its lock');
  process.kill(master, 'SIGQUIT');
  C.eq(await C.within(w.loop, 5000, 'the socket closed'), 'closed',
       'the worker closes the socket');
  await C.waitFor(() => !alive(master), 5000, 'nginx exits');
  C.eq(await lockKeys(w.d), [], 'no lock key left after the graceful exit');
}, { timeout: 20000 });
JS
    my ($rc, $out) = run_node($js, T32_MASTER => $master,
                              T32_REDIS_PORT => $rport, timeout => 30);
    ok($rc == 0, 'graceful exit: the lock key is gone') or diag($out);
    note($out);
    stop_nginx();
    check_error_log('quit', must_not => ['[crit]']);
}

# ------------------------------------- QUIT with Redis not answering

{
    start_nginx(http_config => $http, config => $config, workers => 1);
    my ($master) = nginx_pids();
    my ($rpid) = `cat $dir/redis.pid` =~ /(\d+)/;
    my $js = $prelude . <<'JS';
C.main(async () => {
  const w = await new Writer('t32', 'frozen').open();
  w.run();
  await C.delay(300);
  C.eq((await lockKeys(w.d)).length, 1, 'the busy document holds its lock');
  process.kill(Number(process.env.T32_REDIS_PID), 'SIGSTOP');
  await C.delay(100);
  const worker = C.serverPidOf(w.r, C.portOf(url));
  const t0 = Date.now();
  process.kill(master, 'SIGQUIT');
  await C.within(w.loop, 5000, 'the socket closed');
  await C.waitFor(() => !alive(worker), 5000, 'the worker exits');
  const ms = Date.now() - t0;
  process.kill(Number(process.env.T32_REDIS_PID), 'SIGCONT');
  C.log(`the worker exited ${ms} ms after QUIT with Redis stopped`);
  C.check(ms < 1500, `the lock drain is bounded: exit took ${ms} ms`);
}, { timeout: 20000 });
JS
    my ($rc, $out) = run_node($js, T32_MASTER => $master,
                              T32_REDIS_PORT => $rport,
                              T32_REDIS_PID => $rpid, timeout => 30);
    kill 'CONT', $rpid;
    ok($rc == 0, 'graceful exit with Redis not answering: not held up for '
                 . 'long') or diag($out);
    note($out);
    stop_nginx();
    check_error_log('frozen', must => ['document locks not given back'],
                    must_not => ['[crit]']);
}

# ------------------------------------------------ Redis restart

{
    # a long TTL: a stale lock would stall writes for seconds
    (my $h = $http) =~ s/collab_lock_ttl 3s/collab_lock_ttl 10s/;
    start_nginx(http_config => $h, config => $config, workers => 1);
    my $js = $prelude . <<'JS';
const redis = async () => (await (await fetch(
  `${process.env.COLLAB_HTTP_URL}/status`)).json()).redis;
const redisUp = async () => {
  const c = (await redis()).connections;
  return c.lock.up === 1 && c.command.up === 1;
};

C.main(async () => {
  const w = await new Writer('t32', 'restart').open();
  w.run();
  await C.delay(300);
  C.eq((await lockKeys(w.d)).length, 1, 'the busy document holds its lock');

  C.stage('Redis stops while the lock is held; typing goes on');
  await sh(process.env.T32_REDIS_STOP);
  w.gap = 60;
  await C.delay(800);

  C.stage('Redis is back, with the lock key');
  await sh(process.env.T32_REDIS_START);
  C.log('lock keys after the restart:', await lockKeys(w.d));
  await C.waitFor(redisUp, 15000, 'the worker reconnects to Redis');
  await w.stop();
  C.log(`${w.acks} acks up to the reconnect, slowest ${w.worst} ms`);

  w.run(60);
  await C.delay(2000);
  await w.stop();
  C.log(`${w.acks} acks after the reconnect, slowest ${w.worst} ms;`,
        'locks:', (await redis()).locks);
  C.check(w.worst < 1000, `each op acked within 1 s after the reconnect `
          + `(lock TTL 10 s): slowest ${w.worst} ms`);
  w.r.close();
}, { timeout: 40000 });
JS
    my ($rc, $out) = run_node($js, T32_REDIS_PORT => $rport, timeout => 50,
        T32_REDIS_STOP => $redis_stop, T32_REDIS_START => $redis_start);
    ok($rc == 0, 'Redis restart: writes resume promptly after the '
                 . 'reconnect') or diag($out);
    note($out);
    stop_nginx();
    check_error_log('restart', must_not => ['[crit]']);
}

done_testing();
