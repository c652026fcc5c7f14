# UTF-8 validation of text messages, incrementally across fragments.
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

=== TEST 1: a code point split across fragments is valid
--- ws
send frame op=1 fin=0 hex=7b2261223a227a7a222c2278223a22f0
send frame op=0 fin=0 hex=9f
send frame op=0 fin=1 hex=98807d227d
expect text {"a":"zz","x":"😀}","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid or unknown message"}}
send close 1000
expect close 1000
expect eof


=== TEST 2: invalid UTF-8 in one frame: 1007
--- ws
send frame op=1 hex=7b2261223a22c0af227d
expect close 1007
expect eof


=== TEST 3: invalid UTF-8 split across fragments: 1007
--- ws
send frame op=1 fin=0 hex=7b2261223a22e2
send frame op=0 fin=1 hex=28a1227d
expect close 1007
expect eof


=== TEST 4: a message ending in the middle of a code point: 1007
--- ws
send frame op=1 fin=0 hex=7b2261223a22
send frame op=0 fin=1 hex=e282
expect close 1007
expect eof


=== TEST 5: a surrogate encoded in UTF-8 (ED A0 80): 1007
--- ws
send frame op=1 hex=22eda08022
expect close 1007
expect eof


=== TEST 6: invalid UTF-8 in a close reason is refused
--- ws
send frame op=8 hex=03e8c0af
expect close
expect eof
