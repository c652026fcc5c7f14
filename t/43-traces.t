# Real editing traces (/work/shared/traces, CC BY 4.0, see its NOTICE.md)
# replayed through the server by one sharedb client as an editor would
# (the stock client composes while an op is in flight, acked at least every
# TRACE_BATCH transactions), a second client subscribed: both end with
# endContent, and so do a fresh fetch and a replay of the op log.  Each
# block prints patches/s and ops/s.  Budget: under ~3 minutes in all.
# The work is in t/js/traces.js.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
run_tests();
__DATA__

=== TEST 1: sveltecomponent (18k transactions)
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const replay = require(process.cwd() + '/traces');
C.main(() => replay('/work/shared/traces/sveltecomponent.json.gz',
                    { batch: 32, timeoutMs: 20000 }), { timeout: 28000 });
--- node_timeout: 30
--- no_error_log
[crit]


=== TEST 2: friendsforever_flat (26k transactions, a linearised two-person session)
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const replay = require(process.cwd() + '/traces');
C.main(() => replay('/work/shared/traces/friendsforever_flat.json.gz',
                    { batch: 32, timeoutMs: 20000 }), { timeout: 28000 });
--- node_timeout: 30
--- no_error_log
[crit]


=== TEST 3: seph-blog1 (137k transactions)
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const replay = require(process.cwd() + '/traces');
C.main(() => replay('/work/shared/traces/seph-blog1.json.gz',
                    { batch: 64, timeoutMs: 40000 }), { timeout: 50000 });
--- node_timeout: 55
--- no_error_log
[crit]


=== TEST 4: automerge-paper (260k transactions)
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const replay = require(process.cwd() + '/traces');
C.main(() => replay('/work/shared/traces/automerge-paper.json.gz',
                    { batch: 64, timeoutMs: 65000 }), { timeout: 75000 });
--- node_timeout: 80
--- no_error_log
[crit]
