# What one op costs end to end stays linear in its size: an op of k
# inserts over a document of k characters ([1,"k",1,"k",...], the shape
# that once took memory quadratic in k) is committed, served by REST at
# ?v=2 and replayed by a fresh worker from PostgreSQL, each time with the
# worker's peak memory and the time bounded by a constant times k.
use strict;
use warnings;
use lib 't/lib';
use Test::More;

BEGIN {
    $ENV{ASAN_OPTIONS} //= 'abort_on_error=0:detect_leaks=1'
        . ':detect_stack_use_after_return=0:quarantine_size_mb=1';
}

use Test::Collab with => [qw(postgres redis)];
use HTTP::Tiny;
use Time::HiRes qw(time);

my $K = 10000;
my $sanitized = $ENV{TEST_COLLAB_SANITIZE};

# allowance per insert on top of a warm worker: the old reservation took
# gigabytes at k = 1,000; linear cost is a few hundred bytes per component
# in the engine plus the message, the tree and PostgreSQL's copies
my $kb_per_insert = $sanitized ? 12 : 3;
my $slack_kb = 16 * 1024;
my $max_kb = $slack_kb + $kb_per_insert * $K;

my %conf = (
    http_config => qq{collab_postgres "} . pg_conninfo() . qq{";\n}
                   . 'collab_redis ' . redis_addr() . ";\n"
                   . 'collab_max_op_lag 1000;',
    config => <<'END',
    location /ws {
        collab_websocket;
        collab_max_message_size 1m;
    }
    location /api/ { collab_api; }
END
);

sub peak_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    local $/;
    my ($kb) = <$fh> =~ /^VmHWM:\s+(\d+)/m;
    return $kb;
}

start_nginx(%conf);
my (undef, $worker) = nginx_pids();

# a warm worker: one small document written and read first
my $warm = run_node(<<'EOF');
const C = require(process.cwd() + '/lib/collab-client');
C.main(async () => {
  const r = await C.RawClient.open(process.env.COLLAB_WS_URL);
  r.send({ a: 's', c: 't26', d: 'warm' });
  await r.next((m) => m.a === 's', 5000, 'subscribe');
  await r.submit({ c: 't26', d: 'warm', v: 0, seq: 1,
                   create: { type: 'text-unicode', data: 'w' } });
  r.close();
});
EOF
is($warm, 0, 'a warm worker');
my $base = peak_kb($worker);

my $t0 = time;
my ($rc, $out) = run_node(<<'EOF', K => $K, timeout => 60);
const C = require(process.cwd() + '/lib/collab-client');
const K = Number(process.env.K);
C.main(async () => {
  const r = await C.RawClient.open(process.env.COLLAB_WS_URL);
  r.send({ a: 's', c: 't26', d: 'big' });
  await r.next((m) => m.a === 's', 5000, 'subscribe');
  await r.submit({ c: 't26', d: 'big', v: 0, seq: 1,
                   create: { type: 'text-unicode', data: 'x'.repeat(K) } });
  const op = [];
  for (let i = 0; i < K; i++) op.push(1, 'k');
  await r.submit({ c: 't26', d: 'big', v: 1, seq: 2, op }, 'the big op',
                 30000);
  r.close();
}, { timeout: 50000 });
EOF
my $commit_s = time - $t0;
is($rc, 0, "an op of $K inserts is acknowledged") or diag($out);
my $grew = peak_kb($worker) - $base;
cmp_ok($grew, '<=', $max_kb,
       "commit: the worker's peak grew $grew KB (bound $max_kb KB)");
note(sprintf 'commit of %d inserts: %.2f s, peak +%d KB', $K, $commit_s,
     $grew);

my $want = 'xk' x $K;
my $rows = pg_query('SELECT count(*) FROM collab_ops o JOIN collab_docs d'
                    . " ON o.doc = d.id WHERE d.collection = 't26'"
                    . " AND d.name = 'big'");
is($rows, 2, 'the create and the op are stored');

# a fresh worker: the document is replayed from PostgreSQL
stop_nginx();
my $port = start_nginx(%conf);
(undef, $worker) = nginx_pids();
my $http = HTTP::Tiny->new(timeout => 30);
my $r = $http->get("http://127.0.0.1:$port/api/t26/warm");
is($r->{status}, 200, 'fresh worker: warm');
$base = peak_kb($worker);

for my $q ('?v=2', '') {
    $t0 = time;
    $r = $http->get("http://127.0.0.1:$port/api/t26/big$q");
    my $s = time - $t0;
    is($r->{status}, 200, "replay$q: 200");
    like($r->{content}, qr/"data":"\Q$want\E"/,
         "replay$q: the text has every insert");
    cmp_ok($s, '<', $sanitized ? 20 : 5, "replay$q took $s s");
}
$grew = peak_kb($worker) - $base;
cmp_ok($grew, '<=', $max_kb,
       "replay: the worker's peak grew $grew KB (bound $max_kb KB)");

# transforming against history is bounded too: by versions behind the head
# (collab_max_op_lag) and by components times versions (2^24)
($rc, $out) = run_node(<<'EOF', timeout => 90);
const C = require(process.cwd() + '/lib/collab-client');
C.main(async () => {
  const r = await C.RawClient.open(process.env.COLLAB_WS_URL);
  const d = 'lag';
  r.send({ a: 's', c: 't26', d });
  await r.next((m) => m.a === 's', 5000, 'subscribe');
  let seq = 1;
  await r.submit({ c: 't26', d, v: 0, seq: seq++,
                   create: { type: 'text-unicode',
                             data: 'x'.repeat(20000) } });
  for (let v = 1; v < 1100; v++) {
    await r.submit({ c: 't26', d, v, seq: seq++, op: ['a'] });
  }
  const refused = async (msg, what) => {
    r.send({ a: 'op', c: 't26', d, ...msg });
    const m = await r.next((x) => x.a === 'op' && x.seq === msg.seq
                                  && (x.error || !x.op), 10000, what);
    C.eq(m.error && m.error.code, 'ERR_OP_SUBMIT_REJECTED', what);
  };
  C.stage('1,099 versions behind: refused');
  await refused({ v: 1, seq: seq++, op: ['old'] }, 'an op 1,099 behind');
  C.stage('999 versions behind: transformed and committed');
  await r.submit({ v: 101, seq: seq++, c: 't26', d, op: ['ok'] });
  C.stage('10,000 inserts 900 versions behind: more than 2^24 of work');
  const op = [];
  for (let i = 0; i < 10000; i++) op.push('k', 1);
  op.pop();
  await refused({ v: 201, seq: seq++, op }, 'a big op 900 behind');
  C.stage('the same op 10 versions behind: committed');
  await r.submit({ v: 1091, seq: seq++, c: 't26', d, op }, 'a big op', 20000);
  r.close();
}, { timeout: 85000 });
EOF
is($rc, 0, 'ops too far behind are refused, others transformed')
    or diag($out);

stop_nginx();
check_error_log('op lag', must => ['versions behind the head']);
check_error_log('op cost', must_not => ['[crit]', '[alert]']);

done_testing();
