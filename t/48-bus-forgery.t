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
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
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

=== TEST 4: a forged op at the head, then the real one: the copies differ at the same version
--- node
const C = require(process.cwd() + '/lib/collab-client');
const T = require(process.cwd() + '/bus-forgery');
T.main('same', async (d, head, pub) => {
  const msg = (src, seq, op) => `O${src.length} ${src}`
    + JSON.stringify({ a: 'op', c: 't48', d, v: head, src, seq, op });
  await pub(msg('forger', 5, ['EVIL']));
  await C.delay(200);
  // what another host commits at that version, its publish a bit late
  C.eq(await C.psql(`
    WITH d AS (UPDATE collab_docs SET version = ${head + 1}
               WHERE collection = 't48' AND name = '${d}'
                 AND version = ${head} RETURNING id)
    INSERT INTO collab_ops (doc, version, src, seq, kind, op)
    SELECT id, ${head + 1}, 'elsewhere', 1, 'op', '["<real>"]' FROM d
    RETURNING version`), String(head + 1), 'the real op is committed');
  return [msg('elsewhere', 1, ['<real>'])];
}, { reload: true });
--- error_log eval
[qr/\[warn\].*collab: "3:t48\/same" at v\d+ disagrees with PostgreSQL \(another op is its v\d+\)/]
--- no_error_log
[crit]

=== TEST 5: an op forged at the head while nobody types: the head check notices
--- node
const T = require(process.cwd() + '/bus-forgery');
T.main('quiet', async (d, head) => {
  const src = 'forger';
  const msg = { a: 'op', c: 't48', d, v: head, src, seq: 6, op: ['EVIL'] };
  return [`O${src.length} ${src}${JSON.stringify(msg)}`];
}, { reload: true, quiet: true });
--- error_log eval
[qr/\[warn\].*collab: "3:t48\/quiet" at v\d+ disagrees with PostgreSQL \(its head is v\d+\)/]
--- no_error_log
[crit]
