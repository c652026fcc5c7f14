# Reload and shutdown: every open socket gets close 1001 and the old
# workers exit promptly.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Test::Collab;
use Time::HiRes qw(time sleep);

$SIG{PIPE} = 'IGNORE';

my $config = <<'END';
    location /ws { collab_websocket; collab_ping_interval 60s; }
END

sub alive { kill 0, $_[0] }

sub open_sockets {
    my ($n) = @_;
    my @ws;
    for (1 .. $n) {
        my $ws = ws_connect(path => '/ws');
        $ws->send_text('{"a":"pp"}');
        my $f = $ws->recv_frame(5);
        return () unless $f && !$f->{eof} && $f->{payload} eq '{"a":"pp"}';
        push @ws, $ws;
    }
    return @ws;
}

# --- 1: reload with 100 open sockets whose clients answer the close

start_nginx(config => $config, workers => 2);
my ($master, @old) = nginx_pids();
my @ws = open_sockets(100);
is(scalar @ws, 100, '100 sockets open and answering');

reload_nginx();

my ($n1001, $neof) = (0, 0);
for my $ws (@ws) {
    my $f = $ws->recv_frame(5);
    if ($f && !$f->{eof} && $f->{op} == 8 && ($f->{close_code} // 0) == 1001)
    {
        $n1001++;
        $ws->send_close(1001);
    }
}
for my $ws (@ws) {
    my $f = $ws->recv_frame(5);
    $neof++ if $f && $f->{eof};
    $ws->close;
}
is($n1001, 100, 'all 100 sockets got close 1001 on reload');
is($neof, 100, 'and then the server closed TCP');

my $t0 = time;
sleep 0.05 while (grep { alive($_) } @old) && time - $t0 < 5;
my $took = time - $t0;
ok(!(grep { alive($_) } @old), 'old workers exited')
    or diag("still alive after 5 s: @old");
cmp_ok($took, '<', 2, 'promptly (clients answered the close)');

# the new workers serve new connections
my @new = open_sockets(2);
is(scalar @new, 2, 'new workers accept WebSockets');
$_->close for @new;

stop_nginx();
my $log = error_log_text();
unlike($log, qr/open socket .* left in connection/, 'no socket left open');
unlike($log, qr/\[alert\]|\[emerg\]|exited on signal/, 'no alert or crash');

# --- 2: clients that never answer the close: the worker still leaves

start_nginx(config => $config, workers => 1);
(undef, @old) = nginx_pids();
@ws = open_sockets(20);
is(scalar @ws, 20, '20 mute sockets open');

reload_nginx();
$n1001 = 0;
for my $ws (@ws) {
    my $f = $ws->recv_frame(5);
    $n1001++ if $f && !$f->{eof} && ($f->{close_code} // 0) == 1001;
}
is($n1001, 20, 'all 20 got 1001');

$t0 = time;
sleep 0.05 while (grep { alive($_) } @old) && time - $t0 < 8;
$took = time - $t0;
ok(!(grep { alive($_) } @old), 'the old worker exited without answers');
cmp_ok($took, '<', 4, 'within the close linger time');
$_->close for @ws;

stop_nginx();
$log = error_log_text();
unlike($log, qr/open socket .* left in connection/, 'no socket left open');
unlike($log, qr/\[alert\]|\[emerg\]|exited on signal/, 'no alert or crash');

# --- 3: a client that stops reading cannot hold an exiting worker past
#        worker_shutdown_timeout

start_nginx(config => $config, workers => 1,
            main_config => 'worker_shutdown_timeout 1s;');
(undef, @old) = nginx_pids();
my $ws = ws_connect(path => '/ws');
# fill the pipe: large error echoes the client never reads
my $big = '{"a":"zz","x":"' . ('y' x 60000) . '"}';
$ws->socket->blocking(0);
for (1 .. 100) { $ws->send_text($big) }
sleep 0.3;

$t0 = time;
kill 'QUIT', $master = (nginx_pids())[0];
sleep 0.05 while alive($old[0]) && time - $t0 < 8;
$took = time - $t0;
ok(!alive($old[0]), 'the worker exited despite a stuck client');
cmp_ok($took, '<', 4, 'bounded by the close linger / shutdown timeout');
$ws->close;
stop_nginx();
$log = error_log_text();
unlike($log, qr/\[alert\]|\[emerg\]|exited on signal/, 'no alert or crash');

done_testing();
