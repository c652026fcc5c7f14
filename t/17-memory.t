# Worker memory stays bounded: the send queue limit closes a client that
# stops reading, so does the send timeout (freeing its queue, without
# slowing anyone else), a huge declared frame allocates nothing, and idle
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
use Socket ();
use Time::HiRes qw(time sleep);

$SIG{PIPE} = 'IGNORE';

start_nginx(config => <<'END');
    location /ws {
        collab_websocket;
        collab_send_queue_limit 256k;
        collab_max_message_size 128k;
    }
    location /ws-slow {
        collab_websocket;
        collab_send_queue_limit 64m;
        collab_max_message_size 128k;
        collab_send_timeout 1s;
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

# --- collab_send_timeout: a client that stops reading, under the queue
# limit, is closed once nothing was written to it for 1 s, and what was
# queued for it is freed; another client is answered meanwhile

$rss0 = rss_kb($worker);
my $other = ws_connect(path => '/ws-slow');
my $stuck = ws_connect(path => '/ws-slow');
setsockopt($stuck->socket, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096);
my $queued = 0;
for (1 .. 150) {                 # 9 MB of answers it will never read
    last unless $stuck->send_text($big);
    $queued++;
}
my $stall = time;
my $worst = 0;
my $closed;
while (time - $stall < 6) {
    my $s = time;
    $other->send_text('{"a":"pp"}');
    my $f = $other->recv_frame(2);
    $worst = time - $s if time - $s > $worst;
    if (error_log_text() =~ /client read nothing of (\d+) queued bytes for 1000 ms/) {
        $closed = $1;
        last;
    }
    sleep 0.1;
}
my $after = time - $stall;
ok($closed, "the client that stopped reading was closed after "
            . sprintf('%.1f', $after) . " s, $closed bytes queued for it");
cmp_ok($after, '<', 4, 'within a few seconds of the 1 s send timeout');
cmp_ok($worst, '<', 0.5, sprintf('the other client was answered meanwhile '
                                 . '(slowest %.0f ms)', $worst * 1000));
sleep 0.3;
$rss1 = rss_kb($worker);
SKIP: {
    # ASan's allocator keeps what was freed: RSS does not say
    skip 'RSS after the close under the sanitizer build', 1
        if $ENV{TEST_COLLAB_SANITIZE};
    cmp_ok($rss1 - $rss0, '<', 4096,
           "its queue was freed: worker RSS " . ($rss1 - $rss0) . " kB "
           . "above the start (< 4 MB)");
}
$stuck->close;
$other->close;

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
