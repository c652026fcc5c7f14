# Configuration validation: bad directive values fail `nginx -t` with a
# message naming the directive (and the value where the module checks it).
use lib 't/lib';
use Test::Collab;

run_tests();

__DATA__

=== TEST 1: every directive with a valid value
--- http_config
    collab_postgres "host=127.0.0.1 port=1 dbname=collab user=collab";
    collab_postgres_pool 8;
    collab_redis 127.0.0.1:1;
    collab_redis_prefix "t:";
    collab_max_message_size 64k;
    collab_send_queue_limit 1m;
    collab_ping_interval 20s;
    collab_pong_timeout 5s;
    collab_allowed_origins http://a.example https://b.example;
--- config
    location /ok { return 200 "ok"; }
--- request
GET /ok
--- response_body chomp
ok


=== TEST 2: collab_max_message_size below one control frame
--- config
    location /ws { collab_websocket; collab_max_message_size 10; }
--- must_die
--- error_log
"collab_max_message_size" must be at least 125 bytes


=== TEST 3: collab_max_message_size that is not a size
--- config
    location /ws { collab_websocket; collab_max_message_size 1x; }
--- must_die
--- error_log
"collab_max_message_size" directive invalid value


=== TEST 4: duplicate collab_websocket
--- config
    location /ws { collab_websocket; collab_websocket; }
--- must_die
--- error_log
"collab_websocket" directive is duplicate


=== TEST 5: collab_websocket takes no arguments
--- config
    location /ws { collab_websocket on; }
--- must_die
--- error_log
invalid number of arguments in "collab_websocket" directive


=== TEST 6: collab_postgres_pool 0
--- http_config
    collab_postgres_pool 0;
--- must_die
--- error_log
"collab_postgres_pool" must be between 1 and 64, not 0


=== TEST 7: collab_postgres_pool 65
--- http_config
    collab_postgres_pool 65;
--- must_die
--- error_log
"collab_postgres_pool" must be between 1 and 64, not 65


=== TEST 8: collab_postgres_pool that is not a number
--- http_config
    collab_postgres_pool many;
--- must_die
--- error_log
"collab_postgres_pool" directive invalid number


=== TEST 9: collab_ping_interval that is not a time
--- config
    location /ws { collab_websocket; collab_ping_interval soon; }
--- must_die
--- error_log
"collab_ping_interval" directive invalid value


=== TEST 10: collab_postgres is an http{}-level directive
--- config
    location /ws { collab_postgres "dbname=collab"; }
--- must_die
--- error_log
"collab_postgres" directive is not allowed here


=== TEST 11: collab_redis takes exactly one address (several are Sentinels, with sentinel=)
--- http_config
    collab_redis 127.0.0.1:1 127.0.0.1:2;
--- must_die
--- error_log
"collab_redis" takes one address, or sentinel=<master name> and the Sentinels' addresses


=== TEST 12: collab_allowed_origins needs at least one origin
--- config
    location /ws { collab_websocket; collab_allowed_origins; }
--- must_die
--- error_log
invalid number of arguments in "collab_allowed_origins" directive


=== TEST 13: collab_allowed_origins rejects an origin with a path
--- config
    location /ws { collab_websocket;
                   collab_allowed_origins https://a.example/editor; }
--- must_die
--- error_log
invalid origin "https://a.example/editor" in "collab_allowed_origins"


=== TEST 14: collab_lock_ttl below 100ms
--- http_config
    collab_lock_ttl 50ms;
--- must_die
--- error_log
"collab_lock_ttl" must be at least 100ms


=== TEST 15: collab_api needs collab_postgres
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
"collab_api" requires "collab_postgres"


=== TEST 16: collab_postgres_queue 0
--- http_config
    collab_postgres_queue 0;
--- must_die
--- error_log
"collab_postgres_queue" must be at least 1


=== TEST 17: an unparsable collab_postgres conninfo
--- http_config
    collab_postgres "host=127.0.0.1 nonsense";
--- must_die
--- error_log
invalid "collab_postgres" conninfo
