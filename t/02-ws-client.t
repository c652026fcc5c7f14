# The runner's WebSocket client and --- ws script language, checked
# through nginx's proxy against a tiny Perl WebSocket echo backend (our
# module's WebSocket behaviour is tested in t/1*.t).
use lib 't/lib';
use Test::Collab;
use IO::Socket::INET;
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, ReuseAddr => 1)
    or die "listen: $!";
$ENV{TEST_COLLAB_BACKEND} = $listen->sockport;

my $backend = fork // die "fork: $!";
if ($backend == 0) {
    while (my $c = $listen->accept) {
        serve($c);
        close $c;
    }
    POSIX::_exit(0);
}
close $listen;

END { kill 'KILL', $backend if $backend; }

# echo server: text/binary echoed (text "frag:X" comes back in two
# fragments with a ping in between, "bye" gets close 1008 and a TCP close),
# ping answered with pong, close echoed then TCP closed
sub serve {
    my ($c) = @_;
    my $ws = bless { sock => $c, buf => '', timeout => 10, eof => 0 },
                   'Test::Collab::WS';
    $ws->_fill(time + 5) while $ws->{buf} !~ /\r\n\r\n/ && !$ws->{eof};
    my ($key) = $ws->{buf} =~ /Sec-WebSocket-Key:\s*(\S+)/i or return;
    $ws->{buf} =~ s/^.*?\r\n\r\n//s;
    my $accept = encode_base64(sha1($key . Test::Collab::WS::WS_GUID()), '');
    $ws->send_raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  . "Connection: Upgrade\r\nSec-WebSocket-Accept: $accept"
                  . "\r\n\r\n");
    my $send = sub { $ws->send_frame(mask => 0, @_) };
    while (my $f = $ws->recv_message(30)) {
        return if $f->{eof};
        if ($f->{op} == 1 && $f->{payload} =~ /^frag:(.*)/s) {
            my $p = $1;
            my $half = int(length($p) / 2);
            $send->(op => 1, fin => 0, payload => substr($p, 0, $half));
            $send->(op => 9, payload => 'mid');
            $send->(op => 0, fin => 1, payload => substr($p, $half));
        } elsif ($f->{op} == 1 && $f->{payload} eq 'bye') {
            $send->(op => 8, payload => pack('n', 1008) . 'policy');
            return;
        } elsif ($f->{op} == 1 || $f->{op} == 2) {
            $send->(op => $f->{op}, payload => $f->{payload});
        } elsif ($f->{op} == 9) {
            $send->(op => 10, payload => $f->{payload});
        } elsif ($f->{op} == 8) {
            $send->(op => 8, payload => $f->{payload});
            return;
        }
    }
}

run_tests();

__DATA__

=== TEST 1: text, binary, ping, close round trip
--- config
    location /ws {
        proxy_pass http://127.0.0.1:$TEST_COLLAB_BACKEND;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
--- ws
# comments and blank lines are ignored

send text {"a":"hs","id":null}
expect text {"a":"hs","id":null}
send text héllo wörld ✓
expect text_like ^h.llo w.rld ✓$
send text ünïcode ✓
expect text ünïcode ✓
send binary 00ff10
expect binary 00ff10
send ping abc
expect pong abc
send close 1000 done
expect close 1000
expect eof


=== TEST 2: hand-built frames, chunked writes and large payloads
--- config
    location /ws {
        proxy_pass http://127.0.0.1:$TEST_COLLAB_BACKEND;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
--- ws
send frame op=1 fin=0 text=hel
send frame op=0 fin=1 chunk=1 text=lo there
expect text hello there
send frame op=1 hex=616263
expect text abc
send text frag:0123456789
expect ping mid
expect text 0123456789
send raw 8183000000004142 43
expect text ABC
expect nothing 0.3
send text bye
expect close 1008
expect eof


=== TEST 3: procedural client through the same proxy
--- config
    location /ws {
        proxy_pass http://127.0.0.1:$TEST_COLLAB_BACKEND;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
--- node
const WebSocket = require('ws');
const ws = new WebSocket(process.env.COLLAB_WS_URL);
const big = 'x'.repeat(200000);
ws.on('open', () => ws.send(big));
ws.on('message', (m) => {
    if (m.toString() !== big) process.exit(2);
    ws.close(1000);
});
ws.on('close', (code) => process.exit(code === 1000 ? 0 : 3));
ws.on('error', (e) => { console.error(e); process.exit(4); });


=== TEST 4: handshake status when the upstream refuses
--- config
    location /ws { return 403; }
--- ws
send text never sent
--- error_code: 403
