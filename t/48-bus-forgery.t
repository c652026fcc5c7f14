# PostgreSQL is the truth, not the Redis bus.  A message on a document's
# channel that no commit made (forged, stray, a replay with a new version,
# a second deployment sharing Redis and the prefix) must not wedge the
# document: a worker whose copy disagrees with PostgreSQL notices (the
# commit conflicts, or the periodic head check sees it ahead of the
# database), logs it, reloads the document and closes its subscribers'
# sockets with 4001 so that they fetch it again.  Two workers, stock
# sharedb clients typing; the forgeries are PUBLISHed on the channel.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
run_tests(defaults => {
    workers => 2,
    http_config => <<'EOF',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
EOF
    config => <<'EOF',
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
EOF
    node_timeout => 90,
});
__DATA__

=== TEST 1: an op forged at the head: every worker applies it, then resyncs
--- node
const T = require(process.cwd() + '/bus-forgery');
T.main('head', async (d, head) => {
  const src = 'forger';
  const msg = { a: 'op', c: 't48', d, v: head, src, seq: 1, op: ['EVIL'] };
  return [`O${src.length} ${src}${JSON.stringify(msg)}`];
}, { reload: true });
--- error_log eval
[qr/\[warn\].*collab: "3:t48\/head" at v\d+ disagrees with PostgreSQL/]
--- no_error_log
[crit]

=== TEST 2: an op forged far above the head: no endless catch-up
--- node
const T = require(process.cwd() + '/bus-forgery');
T.main('far', async (d, head) => {
  const src = 'forger';
  const msg = { a: 'op', c: 't48', d, v: head + 1000, src, seq: 2,
                op: ['FAR'] };
  return [`O${src.length} ${src}${JSON.stringify(msg)}`];
}, { reload: false });
--- error_log eval
[qr/\[warn\].*collab: a message on "collab:doc:3:t48\/far" claims v\d+, PostgreSQL's head of "3:t48\/far" is v\d+/]
--- no_error_log
[crit]

=== TEST 3: garbage and stale messages change nothing
--- node
const T = require(process.cwd() + '/bus-forgery');
T.main('junk', async (d, head) => {
  const src = 'forger';
  const stale = { a: 'op', c: 't48', d, v: head - 2, src, seq: 3,
                  op: ['OLD'] };
  const bad = { a: 'op', c: 't48', d, v: head, src, seq: 4,
                op: [{ bogus: 1 }] };
  return ['O', 'Oxyz', 'O3 ab', `O6 forger{"a":"op","v":${head}`,
          `O6 forger${JSON.stringify(bad)}`,
          `O6 forger${JSON.stringify(stale)}`,
          'W', 'Wabc', 'F', 'B', 'S', 'S1 2 3', '\u00ffjunk'];
}, { reload: false });
--- error_log
ignoring a malformed message on "collab:doc:3:t48/junk"
--- no_error_log
[crit]
disagrees with PostgreSQL
