# collab_ping_interval / collab_pong_timeout.
use lib 't/lib';
use Test::Collab;
run_tests();
__DATA__

=== TEST 1: an idle connection is pinged, and answering keeps it open
--- config
    location /ws {
        collab_websocket;
        collab_ping_interval 500ms;
        collab_pong_timeout 500ms;
    }
--- ws_timeout: 2
--- ws
expect ping
send pong
expect ping
send pong
expect ping
send pong
send text {"a":"pp"}
expect text {"a":"pp"}


=== TEST 2: a silent peer is closed after interval + timeout
--- config
    location /ws {
        collab_websocket;
        collab_ping_interval 300ms;
        collab_pong_timeout 300ms;
    }
--- ws_timeout: 3
--- ws
expect ping
expect eof
--- error_log
no pong within 300 ms


=== TEST 3: traffic counts as liveness: no ping while the peer talks
--- config
    location /ws {
        collab_websocket;
        collab_ping_interval 800ms;
        collab_pong_timeout 300ms;
    }
--- ws
send text {"a":"pp"}
expect text {"a":"pp"}
sleep 0.5
send text {"a":"pp"}
expect text {"a":"pp"}
sleep 0.5
send text {"a":"pp"}
expect text {"a":"pp"}
expect ping


=== TEST 4: collab_ping_interval 0 disables pings
--- config
    location /ws {
        collab_websocket;
        collab_ping_interval 0;
    }
--- ws
expect nothing 1.5
send text {"a":"pp"}
expect text {"a":"pp"}
