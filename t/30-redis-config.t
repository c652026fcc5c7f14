# collab_redis and collab_status: configuration, connection at start-up,
# the status endpoint in both formats, the multi-worker warning.
use lib 't/lib';
use Test::Collab with => ['redis'];

run_tests();

__DATA__

=== TEST 1: workers connect the three connections and say so
--- http_config
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
    location /nothing { return 404; }
--- request
GET /nothing
--- error_code: 404
--- wait: 0.5
--- error_log eval
[qr/\[notice\] .*collab: redis command connection to "127\.0\.0\.1:\d+" established/,
 qr/\[notice\] .*collab: redis subscribe connection to "127\.0\.0\.1:\d+" established/,
 qr/\[notice\] .*collab: redis lock connection to "127\.0\.0\.1:\d+" established/]
--- no_error_log
[error]


=== TEST 2: status shows the connections as JSON
--- http_config
    collab_redis $TEST_COLLAB_REDIS;
    collab_redis_connect_timeout 1s;
    collab_lock_ttl 2s;
--- config
    location /ws { collab_websocket; }
    location = /status { collab_status; }
--- raw_request eval
"GET /status HTTP/1.0\r\nHost: x\r\n\r\n"
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"pid":\d+,"version":"[^"]+","redis":\{"enabled":1,"address":"127\.0\.0\.1:\d+","connections":\{"command":\{"state":"(connected|connecting)","up":[01],.*"locks":\{"acquired":0,[^}]*\}\}(,"\w+":\{([^{}]|\{[^{}]*\})*\})*\}$


=== TEST 3: status in Prometheus text
--- http_config
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location = /status { collab_status; }
--- request
GET /status?format=prometheus
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_like: # TYPE collab_redis_publishes_total counter\ncollab_redis_publishes_total\{pid="\d+"\} 0\n


=== TEST 4: status with an unknown format
--- config
    location = /status { collab_status; }
--- request
GET /status?format=xml
--- error_code: 400


=== TEST 5: status without collab_redis
--- config
    location = /status { collab_status; }
--- request
GET /status
--- response_body_like: "redis":\{"enabled":0\}


=== TEST 6: a unix socket address is accepted
--- http_config
    collab_redis unix:/nonexistent/redis.sock;
--- config
    location = /status { collab_status; }
--- request
GET /status
--- response_body_like: "address":"unix:/nonexistent/redis.sock"
--- wait: 0.3
--- error_log
collab: redis command connection to "unix:/nonexistent/redis.sock" failed: No such file or directory, reconnecting in


=== TEST 7: an unknown host fails nginx -t
--- http_config
    collab_redis no-such-host.invalid:6379;
--- must_die
--- error_log
collab: invalid "collab_redis" address "no-such-host.invalid:6379": host not found


=== TEST 8: a bad port fails nginx -t
--- http_config
    collab_redis 127.0.0.1:notaport;
--- must_die
--- error_log
collab: invalid "collab_redis" address "127.0.0.1:notaport": invalid port


=== TEST 9: a URI part fails nginx -t
--- http_config
    collab_redis 127.0.0.1:6379/0;
--- must_die
--- error_log
collab: invalid "collab_redis" address "127.0.0.1:6379/0": invalid host


=== TEST 10: duplicate collab_redis
--- http_config
    collab_redis 127.0.0.1:6379;
    collab_redis 127.0.0.1:6380;
--- must_die
--- error_log
"collab_redis" directive is duplicate


=== TEST 11: collab_lock_ttl too short
--- http_config
    collab_lock_ttl 10ms;
--- config
    location /ws { collab_websocket; }
--- must_die
--- error_log
"collab_lock_ttl" must be at least 100ms


=== TEST 12: several workers without Redis: a warning
--- workers: 2
--- config
    location /ws { collab_websocket; }
    location /nothing { return 404; }
--- request
GET /nothing
--- error_code: 404
--- error_log
"collab_redis" is not set: fan-out across the 2 worker processes is disabled


=== TEST 13: one worker without Redis: no warning
--- config
    location /ws { collab_websocket; }
    location /nothing { return 404; }
--- request
GET /nothing
--- error_code: 404
--- no_error_log
fan-out across
collab: redis
