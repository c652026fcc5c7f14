# Fragmented messages, with control frames interleaved.
use lib 't/lib';
use Test::Collab;
my %defaults = (
    config => <<'END',
    location /ws { collab_websocket; }
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);
__DATA__

=== TEST 1: a message in three fragments with a ping in between
--- ws
send frame op=1 fin=0 text={"a"
send frame op=9 text=mid
expect pong mid
send frame op=0 fin=0 text=:"p
send frame op=0 fin=1 text=p"}
expect text {"a":"pp"}
send close 1000
expect close 1000
expect eof


=== TEST 2: empty fragments around the payload
--- ws
send frame op=1 fin=0
send frame op=0 fin=0 text={"a":"pp"}
send frame op=0 fin=1
expect text {"a":"pp"}
send close 1000
expect close 1000
expect eof


=== TEST 3: a close in the middle of a fragmented message is honoured
--- ws
send frame op=1 fin=0 text={"a"
send close 1000
expect close 1000
expect eof


=== TEST 4: a large message in many fragments (the error echoes it whole)
--- ws eval
my $s = "send frame op=1 fin=0 text={\"a\":\"zz\",\"x\":\"\n";
$s .= "send frame op=0 fin=0 text=" . ("y" x 10000) . "\n" for 1 .. 20;
$s .= "send frame op=9 text=p\nexpect pong p\n";
$s .= "send frame op=0 fin=1 text=\"}\n";
$s .= "expect text_like ^\\{\"a\":\"zz\",\"x\":\"(?:y{10000}){20}\",\"error\":\\{\"code\":\"ERR_MESSAGE_BADLY_FORMED\"\n";
$s .= "send close 1000\nexpect close 1000\nexpect eof\n";
$s
--- no_error_log
[error]
