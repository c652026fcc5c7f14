# Worker memory stays bounded: the send queue limit closes a client that
# stops reading, a huge declared frame allocates nothing, and idle
# connections stay small.
use strict;
use warnings;
use lib 't/lib';
use Test::More;

# under the sanitizer build, keep ASan's quarantine of freed memory small
# so that RSS still says what the module holds
BEGIN {
    $ENV{ASAN_OPTIONS} //= 'abort_on_error=0:detect_leaks=1'
        . ':detect_stack_use_after_return=0:fast_unwind_on_malloc=0'
        . ':quarantine_size_mb=1';
}

use Test::Collab;
use Time::HiRes qw(time sleep);

$SIG{PIPE} = 'IGNORE';

start_nginx(config => <<'END');
    location /ws {
        collab_websocket;
        collab_send_queue_limit 256k;
        collab_max_message_size 128k;
    }
END

my (undef, $worker) = nginx_pids();

# --- a client that sends large requests and never reads

my $warm = ws_connect(path => '/ws');
$warm->send_text('{"a":"pp"}');
$warm->recv_frame(5);
my $rss0 = rss_kb($worker);

my $ws = ws_connect(path => '/ws');
my $big = '{"a":"zz","x":"' . ('y' x 60000) . '"}';
my ($sent, $failed) = (0, 0);
my $t0 = time;
for (1 .. 2000) {               # up to 120 MB of requests and echoes
    if (!$ws->send_text($big)) { $failed = 1; last }
    $sent++;
    last if time - $t0 > 20;
}
my $rss1 = rss_kb($worker);

ok($failed, "the server closed the non-reading client (after $sent "
            . "60 kB requests)");
like(error_log_text(), qr/send queue limit of 262144 bytes exceeded/,
     'and said why');
cmp_ok($rss1 - $rss0, '<', 8192,
       "worker RSS grew by " . ($rss1 - $rss0) . " kB (< 8 MB)");
$ws->close;

# --- a declared 1 TiB frame: 1009 at once, nothing allocated

$rss0 = rss_kb($worker);
my @t;
for (1 .. 20) {
    my $w = ws_connect(path => '/ws');
    my $s = time;
    $w->send_frame(op => 1, len => 1099511627776, payload => 'xx');
    my $f = $w->recv_frame(2);
    push @t, time - $s if $f && !$f->{eof} && ($f->{close_code} // 0) == 1009;
    $w->close;
}
$rss1 = rss_kb($worker);
is(scalar @t, 20, '20 declared 1 TiB frames all got 1009');
cmp_ok((sort { $b <=> $a } @t)[0], '<', 0.5, 'each within 0.5 s');
cmp_ok($rss1 - $rss0, '<', 1024,
       "worker RSS grew by " . ($rss1 - $rss0) . " kB");

# --- idle connections after the ShareDB handshake

my $n = 1000;
$rss0 = rss_kb($worker);
my @idle;
for (1 .. $n) {
    my $w = ws_connect(path => '/ws');
    $w->send_text('{"a":"hs","id":null,"protocol":1,"protocolMinor":2}');
    my $f = $w->recv_frame(5);
    last unless $f && !$f->{eof};
    push @idle, $w;
}
sleep 0.2;
$rss1 = rss_kb($worker);
is(scalar @idle, $n, "$n idle sessions open");
my $per = ($rss1 - $rss0) * 1024 / $n;
diag(sprintf "worker RSS per idle connection: %.0f bytes", $per);
SKIP: {
    # ASan's redzones and allocator make RSS figures meaningless
    skip 'RSS per connection under the sanitizer build', 1
        if $ENV{TEST_COLLAB_SANITIZE};
    # the request and its buffers are freed after the 101
    cmp_ok($per, '<=', 4096, 'at most 4 KiB of worker memory each');
}
$_->close for @idle;

stop_nginx();
unlike(error_log_text(), qr/\[alert\]|\[emerg\]|exited on signal/,
       'no alert or crash');

done_testing();
