# Real editing traces (../shared/traces beside the checkout, CC BY 4.0, see its NOTICE.md)
# replayed through the server by one sharedb client as an editor would
# (the stock client composes while an op is in flight, acked at least every
# TRACE_BATCH transactions), a second client subscribed: both end with
# endContent, and so do a fresh fetch and a replay of the op log.  Each
# block prints patches/s and ops/s (prove -v).  Budget: about 2.5 minutes
# in all, most of it the client applying automerge-paper's 260k patches to
# a 100k-code-point string (ot-text-unicode's apply is O(document)).
# The work is in t/js/traces.js.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
my %defaults = (
    http_config => <<'END',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
END
    config => <<'END',
    location /ws { collab_websocket; }
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);
__DATA__

=== TEST 1: sveltecomponent (18k transactions)
--- node
const C = require(process.cwd() + '/lib/collab-client');
const replay = require(process.cwd() + '/traces');
C.main(() => replay('$TEST_COLLAB_ROOT/../shared/traces/sveltecomponent.json.gz',
                    { batch: 32, timeoutMs: 20000 }), { timeout: 28000 });
--- node_timeout: 30
--- no_error_log
[crit]


=== TEST 2: friendsforever_flat (26k transactions, a linearised two-person session)
--- node
const C = require(process.cwd() + '/lib/collab-client');
const replay = require(process.cwd() + '/traces');
C.main(() => replay('$TEST_COLLAB_ROOT/../shared/traces/friendsforever_flat.json.gz',
                    { batch: 32, timeoutMs: 20000 }), { timeout: 28000 });
--- node_timeout: 30
--- no_error_log
[crit]


=== TEST 3: seph-blog1 (137k transactions)
--- node
const C = require(process.cwd() + '/lib/collab-client');
const replay = require(process.cwd() + '/traces');
C.main(() => replay('$TEST_COLLAB_ROOT/../shared/traces/seph-blog1.json.gz',
                    { batch: 64, timeoutMs: 50000 }), { timeout: 60000 });
--- node_timeout: 65
--- no_error_log
[crit]


=== TEST 4: automerge-paper (260k transactions)
--- node
const C = require(process.cwd() + '/lib/collab-client');
const replay = require(process.cwd() + '/traces');
C.main(() => replay('$TEST_COLLAB_ROOT/../shared/traces/automerge-paper.json.gz',
                    { batch: 64, timeoutMs: 120000 }), { timeout: 135000 });
--- node_timeout: 140
--- no_error_log
[crit]
