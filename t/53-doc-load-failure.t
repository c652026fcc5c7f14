# The document layer when things go wrong:
#  (a) with collab_commit_wait 0 (t/57 has the default, which waits), a
#      failed load (PostgreSQL stopped) answers every waiter at once with
#      a clear error, and the next request for the same document on the
#      same worker starts a new load: fetch, subscribe, submit and the REST
#      snapshot each get an error quickly while it is down (no hang), and
#      succeed within seconds once it is back;
#  (b) a batch in which one op repeats an already committed (src, seq) (a
#      client resuming its id resends it at a later version): only that op
#      is answered (acked, as ShareDB does), the other ops of the batch are
#      committed instead of all failing after the retries.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use HTTP::Tiny;
use Time::HiRes qw(time sleep);

my $root = $Test::Collab::ROOT;
my ($pg_port) = pg_conninfo() =~ /port=(\d+)/;
my $pg_dir = pg_dir();

sub pg { system("bash $root/.ci/pg.sh @_ >/dev/null 2>&1") == 0 }

END { pg('start', $pg_dir, $pg_port) if $pg_dir && $? }

my $port = start_nginx(
    http_config => 'collab_postgres "' . pg_conninfo() . '";'
                   . ' collab_postgres_pool 2;'
                   . ' collab_commit_wait 0;'
                   . ' collab_redis ' . redis_addr() . ';',
    config => 'location /ws { collab_websocket; }'
              . ' location /api/ { collab_api; }',
);

my $http = HTTP::Tiny->new(timeout => 10);

# the next text frame, or a description of what came instead
sub next_text {
    my ($ws, $secs) = @_;
    my $f = $ws->recv_frame($secs // 5);
    return 'timeout' unless defined $f;
    return 'eof' if !ref $f || "$f" eq 'eof';
    return "op $f->{op}" if $f->{op} != 1;
    return $f->{payload};
}

sub hs {
    my ($id) = @_;
    my $ws = ws_connect(path => '/ws');
    $ws->send_text('{"a":"hs","id":' . (defined $id ? qq{"$id"} : 'null')
                   . ',"protocol":1,"protocolMinor":2}');
    my $t = next_text($ws);
    my ($got) = $t =~ /"id":"([0-9a-f]{32})"/;
    return ($ws, $got);
}

# sends a request, returns its reply and how long it took
sub ask {
    my ($ws, $msg) = @_;
    my $t0 = time;
    $ws->send_text($msg);
    my $r = next_text($ws, 8);
    return ($r, time - $t0);
}


# ------------------------------------------------ (a) failed loads

my ($ws) = hs();
ok($ws, 'connected');

ok(pg('stop', $pg_dir), 'PostgreSQL stopped');

for my $try (1 .. 2) {
    my ($r, $dt) = ask($ws, '{"a":"f","c":"t53","d":"x"}');
    like($r, qr/"a":"f".*"error":\{"code":"ERR_UNKNOWN_ERROR",
                 "message":"Database/x,
         "fetch $try while down: an error");
    cmp_ok($dt, '<', 5, sprintf("fetch $try answered at once (%.2fs)", $dt));

    ($r, $dt) = ask($ws, '{"a":"s","c":"t53","d":"x"}');
    like($r, qr/"a":"s".*"error":\{"code":"ERR_UNKNOWN_ERROR"/,
         "subscribe $try while down: an error");
    cmp_ok($dt, '<', 5,
           sprintf("subscribe $try answered at once (%.2fs)", $dt));
}

my ($r, $dt) = ask($ws, '{"a":"op","c":"t53","d":"x","v":0,"seq":1,'
                        . '"create":{"type":"http://sharejs.org/types/'
                        . 'text-unicode","data":"hi"}}');
like($r, qr/"seq":1.*"error":\{"code":"ERR_UNKNOWN_ERROR",
             "message":"Database/x,
     'create while down: an error');
cmp_ok($dt, '<', 5, sprintf('create answered at once (%.2fs)', $dt));

my $t0 = time;
my $res = $http->get("http://127.0.0.1:$port/api/t53/x");
is($res->{status}, 503, 'REST snapshot while down: 503');
cmp_ok(time - $t0, '<', 5, 'REST snapshot answered at once');

ok(pg('start', $pg_dir, $pg_port), 'PostgreSQL restarted');

# the pool reconnects by itself; each try must answer, one must succeed
my ($ok, $slow) = (0, 0);
$t0 = time;
while (time - $t0 < 15) {
    ($r, $dt) = ask($ws, '{"a":"f","c":"t53","d":"x"}');
    $slow = $dt if $dt > $slow;
    if ($r =~ /^\{"a":"f","c":"t53","d":"x","data":\{"v":0,"type":null\}\}$/) {
        $ok = 1;
        last;
    }
    last if $r eq 'timeout' || $r eq 'eof';
    sleep 0.2;
}
ok($ok, sprintf('fetch succeeds after the restart (%.1fs)', time - $t0))
    or diag("last reply: $r");
cmp_ok($slow, '<', 5, 'no fetch hung meanwhile');

($r) = ask($ws, '{"a":"s","c":"t53","d":"x"}');
like($r, qr/^\{"a":"s","c":"t53","d":"x","data":\{"v":0,"type":null\}\}$/,
     'subscribe succeeds');

($r) = ask($ws, '{"a":"op","c":"t53","d":"x","v":0,"seq":2,'
                . '"create":{"type":"http://sharejs.org/types/'
                . 'text-unicode","data":"hi"}}');
like($r, qr/^\{"a":"op".*"seq":2/, 'create is acked');
unlike($r, qr/error/, 'create: no error');

$res = $http->get("http://127.0.0.1:$port/api/t53/x");
is($res->{status}, 200, 'REST snapshot served again');
like($res->{content}, qr/"data":"hi"/, 'REST snapshot has the text');

$ws->close;


# ------------------------------------------------ (b) one duplicate

my ($wa, $ida) = hs();
ok($ida, "client A has id $ida");

($r) = ask($wa, '{"a":"op","c":"t53","d":"d","v":0,"seq":1,'
                . '"create":{"type":"http://sharejs.org/types/'
                . 'text-unicode","data":""}}');
unlike($r, qr/error/, 'A creates the document');
($r) = ask($wa, '{"a":"op","c":"t53","d":"d","v":1,"seq":2,"op":["a"]}');
like($r, qr/"seq":2,"v":1\}$|"v":1.*"seq":2/, 'A op seq 2 acked at v1');
$wa->close;

# B follows the document
my ($wb) = hs();
($r) = ask($wb, '{"a":"s","c":"t53","d":"d"}');
like($r, qr/"data":\{"v":2,/, 'B subscribed at v2');

# A is back with its id, and resends seq 2 at the head (v2)
my ($wa2, $ida2) = hs($ida);
is($ida2, $ida, 'A resumes its id');

# one write each, back to back: they meet in one or two batches
$wb->send_text('{"a":"op","c":"t53","d":"d","v":2,"seq":1,"op":["b"]}');
$wa2->send_text('{"a":"op","c":"t53","d":"d","v":2,"seq":2,"op":["a"]}');
$wb->send_text('{"a":"op","c":"t53","d":"d","v":2,"seq":2,"op":["c"]}');

$r = next_text($wa2, 10);
like($r, qr/^\{"a":"op".*"seq":2/, 'the resent op is answered');
unlike($r, qr/error/, 'the resent op is acked (dedup), not failed')
    or diag($r);

my @b;
while (@b < 2) {
    my $m = next_text($wb, 10);
    last if $m eq 'timeout' || $m eq 'eof';
    push @b, $m if $m =~ /"src":|"error"/ && $m =~ /"seq":[12]\b/
                   && $m !~ /"src":"$ida"/;
}
is(scalar(grep { !/error/ } @b), 2, 'both ops of B are committed')
    or diag(join "\n", @b);

($r) = ask($wb, '{"a":"f","c":"t53","d":"d"}');
like($r, qr/"data":\{"v":4,/, 'the document is at v4');
like($r, qr/"data":"[bc]*a[bc]*"/, 'the resent op was not applied twice');

# another op under a committed (src, seq), at the head: refused, and an
# op of B's in the same moment still commits
$wa2->send_text('{"a":"op","c":"t53","d":"d","v":4,"seq":2,"op":["z"]}');
$wb->send_text('{"a":"op","c":"t53","d":"d","v":4,"seq":3,"op":["e"]}');
$r = next_text($wa2, 10);
like($r, qr/"seq":2.*ERR_OP_SEQ_TAKEN/,
     'another op under that (src, seq) is refused');
my $b3 = '';
for (1 .. 5) {
    $b3 = next_text($wb, 10);
    last if $b3 =~ /"seq":3/ || $b3 eq 'timeout' || $b3 eq 'eof';
}
unlike($b3, qr/error/, "B's op beside it commits") or diag($b3);
($r) = ask($wb, '{"a":"f","c":"t53","d":"d"}');
like($r, qr/"data":\{"v":5,/, 'the document is at v5, without "z"');
unlike($r, qr/z/, 'the refused op is not in the text');

my $rows = pg_query("SELECT count(*) FROM collab_ops o JOIN collab_docs d"
                    . " ON o.doc = d.id WHERE d.collection = 't53'"
                    . " AND d.name = 'd'");
is($rows, 5, 'five ops in the log');

$wa2->close;
$wb->close;

stop_nginx();

my $log = error_log_text();
unlike($log, qr/Maximum submit retries/, 'no batch failed after retries');
like($log, qr{"3:t53/d" entry \d+ is committed at v1},
     'the store named the duplicate entry');

done_testing();
