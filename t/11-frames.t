# RFC 6455 framing rules enforced by the worker.
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

=== TEST 1: ping gets a pong with the same payload
--- ws
send ping hello there
expect pong hello there
send ping
expect pong
send close 1000
expect close 1000
expect eof


=== TEST 2: an unmasked frame: 1002
--- ws
send frame op=1 mask=0 text={"a":"pp"}
expect close 1002
expect eof


=== TEST 3: RSV bits set: 1002
--- ws
send frame op=1 rsv=4 text={"a":"pp"}
expect close 1002
expect eof


=== TEST 4: an unknown data opcode: 1002
--- ws
send frame op=3 text=x
expect close 1002
expect eof


=== TEST 5: an unknown control opcode: 1002
--- ws
send frame op=11
expect close 1002
expect eof


=== TEST 6: binary is refused with 1003 (the protocol is JSON text)
--- ws
send binary 0102
expect close 1003
expect eof


=== TEST 7: a control frame over 125 bytes: 1002
--- ws
send frame op=9 hex=000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e
expect close 1002
expect eof


=== TEST 8: a fragmented control frame: 1002
--- ws
send frame op=9 fin=0 text=ab
expect close 1002
expect eof


=== TEST 9: a continuation with nothing to continue: 1002
--- ws
send frame op=0 text={"a":"pp"}
expect close 1002
expect eof


=== TEST 10: a new text frame inside an unfinished message: 1002
--- ws
send frame op=1 fin=0 text={"a":
send frame op=1 text="pp"}
expect close 1002
expect eof


=== TEST 11: a valid close is echoed with its code
--- ws
send close 3001 see you
expect close 3001
expect eof


=== TEST 12: an empty close is answered with an empty close
--- ws
send close
expect close 1005
expect eof


=== TEST 13: close code 1005 on the wire: 1002
--- ws
send frame op=8 hex=03ed
expect close 1002
expect eof


=== TEST 14: close code 1006 on the wire: 1002
--- ws
send frame op=8 hex=03ee
expect close 1002
expect eof


=== TEST 15: close code 1015 on the wire: 1002
--- ws
send frame op=8 hex=03f7
expect close 1002
expect eof


=== TEST 16: a 1-byte close payload: 1002
--- ws
send frame op=8 hex=03
expect close 1002
expect eof


=== TEST 17: an out-of-range close code (999): 1002
--- ws
send frame op=8 hex=03e7
expect close 1002
expect eof


=== TEST 18: frames arriving a byte at a time are reassembled
--- ws
send frame op=1 chunk=1 text={"a":"pp"}
expect text {"a":"pp"}
send frame op=9 chunk=3 text=abc
expect pong abc
send close 1000
expect close 1000
expect eof


=== TEST 19: many messages in one write get their replies in order
--- ws
send raw 818a00000000 7b2261223a227070227d 818a00000000 7b2261223a227070227d 898100000000 7a 818a00000000 7b2261223a227070227d
expect text {"a":"pp"}
expect text {"a":"pp"}
expect pong z
expect text {"a":"pp"}
send close 1000
expect close 1000
expect eof
--- no_error_log
[error]
