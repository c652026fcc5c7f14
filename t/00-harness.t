# The runner itself: nginx starts with the module, requests, ws
# handshake failure paths, must_die, error log checks, node.
use lib 't/lib';
use Test::Collab;

run_tests();

__DATA__

=== TEST 1: nginx starts with the module and serves a plain location
--- config
    location /ok { return 200 "ok"; }
--- request
GET /ok
--- response_body chomp
ok
--- response_headers
Content-Type: text/plain
!X-Nope
--- no_error_log
[error]
[crit]


=== TEST 2: response_body_like, error_code and more_headers
--- config
    location /echo { return 201 "host=$http_host x=$http_x_test"; }
--- request
GET /echo
--- more_headers
Host: example.org
X-Test: 42
--- error_code: 201
--- response_body_like: ^host=example\.org x=42$


=== TEST 3: raw_request eval, sent in pieces
--- config
    location /raw { return 200 "raw"; }
--- raw_request eval
["GET /raw HTTP/1.0\r\n", "Host: x\r\n\r\n"]
--- response_body chomp
raw


=== TEST 4: a bad directive value makes nginx -t fail
--- http_config
    collab_postgres_pool 0;
--- must_die
--- error_log
"collab_postgres_pool" must be between 1 and 64, not 0


=== TEST 5: error_log and substitutions
--- main_config
    env COLLAB_T_PORT_$TEST_NGINX_PORT;
--- config
    location /log { return 200 "$TEST_NGINX_PORT"; }
--- request
GET /log
--- response_body_like: ^\d+$
--- error_log
start worker process
--- no_error_log
[error]


=== TEST 6: several workers
--- workers: 2
--- config
    location /w { return 200 "w"; }
--- request
GET /w
--- error_log eval
[qr/start worker process \d+/, "gracefully shutting down"]


=== TEST 7: node runs in t/js with the env set
--- config
    location /n { return 200 "node"; }
--- node
const assert = require('assert');
const url = process.env.COLLAB_HTTP_URL + '/n';
assert.match(process.env.COLLAB_WS_URL, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
require('ot-text-unicode');
require('sharedb/lib/client');
require('ws');
fetch(url).then(r => r.text()).then(t => {
    assert.strictEqual(t, 'node');
});


=== TEST 8: skip_nginx blocks run node without nginx
--- skip_nginx
--- node
if (process.env.COLLAB_ROOT === undefined) process.exit(1);
