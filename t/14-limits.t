# collab_max_message_size (1009 before allocation) and the Origin allow-list.
use lib 't/lib';
use Test::Collab;
run_tests();
__DATA__

=== TEST 1: a declared 1 TiB frame gets 1009 at once, from its header alone
--- config
    location /ws { collab_websocket; }
--- ws_timeout: 1
--- ws
send frame op=1 len=1099511627776 text=xx
expect close 1009
expect eof
--- error_log
message exceeds the maximum size


=== TEST 2: one byte over collab_max_message_size: 1009
--- config
    location /ws { collab_websocket; collab_max_message_size 200; }
--- ws eval
"send text {\"a\":\"zz\",\"x\":\"" . ("y" x 180) . "\"}\n"
. "expect text_like ERR_MESSAGE_BADLY_FORMED\n"
. "send text {\"a\":\"zz\",\"x\":\"" . ("y" x 200) . "\"}\n"
. "expect close 1009\nexpect eof\n"


=== TEST 3: fragments that add up to more than the limit: 1009
--- config
    location /ws { collab_websocket; collab_max_message_size 200; }
--- ws eval
"send frame op=1 fin=0 text=" . ("y" x 150) . "\n"
. "send frame op=0 fin=0 text=" . ("y" x 40) . "\n"
. "send frame op=0 fin=1 text=" . ("y" x 40) . "\n"
. "expect close 1009\nexpect eof\n"


=== TEST 4: a value under 125 bytes fails nginx -t
--- config
    location /ws { collab_websocket; collab_max_message_size 100; }
--- must_die
--- error_log
collab_max_message_size


=== TEST 5: an allowed origin is upgraded
--- config
    location /ws {
        collab_websocket;
        collab_allowed_origins https://app.example.com http://localhost:3000;
    }
--- more_headers
Origin: http://localhost:3000
--- ws
send text {"a":"pp"}
expect text {"a":"pp"}
send close 1000
expect close 1000


=== TEST 6: another origin gets 403 before the upgrade
--- config
    location /ws {
        collab_websocket;
        collab_allowed_origins https://app.example.com;
    }
--- more_headers
Origin: https://evil.example.com
--- ws
--- error_code: 403
--- error_log
origin "https://evil.example.com" not allowed


=== TEST 7: the match is on scheme, host and port exactly
--- config
    location /ws {
        collab_websocket;
        collab_allowed_origins https://app.example.com;
    }
--- more_headers
Origin: https://app.example.com:8443
--- ws
--- error_code: 403


=== TEST 8: no Origin while a list is configured: 403
--- config
    location /ws {
        collab_websocket;
        collab_allowed_origins https://app.example.com;
    }
--- more_headers
Origin:
--- ws
--- error_code: 403


=== TEST 9: "*" allows any origin
--- config
    location /ws { collab_websocket; collab_allowed_origins *; }
--- more_headers
Origin: https://anything.example
--- ws
send text {"a":"pp"}
expect text {"a":"pp"}


=== TEST 10: no list: any origin
--- config
    location /ws { collab_websocket; }
--- more_headers
Origin: https://anything.example
--- ws
send text {"a":"pp"}
expect text {"a":"pp"}


=== TEST 11: an origin with a path fails nginx -t
--- config
    location /ws { collab_websocket; collab_allowed_origins https://a.example/; }
--- must_die
--- error_log
invalid origin "https://a.example/"
