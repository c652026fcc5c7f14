# WebSocket upgrade: what is accepted (101) and what is refused, and how.
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

=== TEST 1: a proper upgrade gets 101 and the ShareDB handshake reply
--- ws
send text {"a":"hs","id":null,"protocol":1,"protocolMinor":2}
expect text_like ^\{"a":"hs","protocol":1,"protocolMinor":2,"id":"[0-9a-f]{32}","type":"http://sharejs.org/types/JSONv0"\}$
send close 1000
expect close 1000
expect eof
--- no_error_log
[error]


=== TEST 2: no Sec-WebSocket-Key: 400
--- more_headers
Sec-WebSocket-Key:
--- ws
--- error_code: 400


=== TEST 3: a key that is not base64 of 16 bytes: 400
--- more_headers
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ
--- ws
--- error_code: 400


=== TEST 4: a key of the right length but bad base64: 400
--- more_headers
Sec-WebSocket-Key: dGhlIHNhbXBs*SBub25jZQ==
--- ws
--- error_code: 400


=== TEST 5: another version: 426 naming version 13
--- request
GET /ws
--- more_headers
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
Sec-WebSocket-Version: 8
--- error_code: 426
--- response_headers
Sec-WebSocket-Version: 13


=== TEST 6: no version at all: 426 too
--- more_headers
Sec-WebSocket-Version:
--- ws
--- error_code: 426


=== TEST 7: a plain GET (no Upgrade/Connection): 426 with Upgrade: websocket
--- request
GET /ws
--- error_code: 426
--- response_headers
Upgrade: websocket
--- response_body_like
Upgrade Required


=== TEST 8: Upgrade without "Connection: upgrade": 426
--- more_headers
Connection: keep-alive
--- ws
--- error_code: 426


=== TEST 9: POST: 405
--- raw_request eval
"POST /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
--- error_code: 405


=== TEST 10: HTTP/1.0: 400
--- raw_request eval
"GET /ws HTTP/1.0\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
--- error_code: 400


=== TEST 11: the RFC 6455 sample key gets the RFC's accept value
--- raw_request eval
"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
. "\x88\x80\x00\x00\x00\x00"
--- error_code: 101
--- response_headers
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
Upgrade: websocket
Connection: upgrade


=== TEST 12: frames pipelined right behind the upgrade request are read
--- raw_request eval
"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
. "\x81\x8a\x00\x00\x00\x00" . '{"a":"pp"}'
. "\x88\x82\x00\x00\x00\x00\x03\xe8"
--- error_code: 101
--- response_body_like
\x81\x0a\{"a":"pp"\}\x88\x02\x03\xe8


=== TEST 13: a request in large header buffers, frames pipelined behind it
--- raw_request eval
"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
. "X-Big: " . ("b" x 3000) . "\r\n\r\n"
. "\x81\x8a\x00\x00\x00\x00" . '{"a":"pp"}'
. "\x88\x82\x00\x00\x00\x00\x03\xe8"
--- error_code: 101
--- response_body_like
\x81\x0a\{"a":"pp"\}\x88\x02\x03\xe8


=== TEST 14: the request is freed once the 101 is out, the socket stays
--- ws
send text {"a":"pp"}
expect text {"a":"pp"}
sleep 0.2
send close 1000
expect close 1000
--- error_log
collab ws: request freed
