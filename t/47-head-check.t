# A committed op whose PUBLISH never reached this worker (another host's
# publish lost while Redis was restarting, say) is caught by the periodic
# head check (every 2 s): the worker reads it from PostgreSQL and delivers
# it.  That holds for documents with subscribers and for documents only
# read through the REST API, which are served from the worker's copy.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
run_tests();
__DATA__

=== TEST 1: an op committed without a publish reaches subscribers and REST reads within seconds
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const api = `${process.env.COLLAB_HTTP_URL}/api/t47`;

// what another host does when its publish is lost: commit, tell nobody
function commitSilently(d, v, op) {
  return C.psql(`
    WITH d AS (UPDATE collab_docs SET version = ${v + 1}, updated_at = now()
               WHERE collection = 't47' AND name = '${d}' AND version = ${v}
               RETURNING id)
    INSERT INTO collab_ops (doc, version, src, seq, kind, op)
    SELECT id, ${v + 1}, 'elsewhere', ${v + 1}, 'op', '${JSON.stringify(op)}'
    FROM d RETURNING version`);
}

async function restGet(d) {
  const res = await fetch(`${api}/${d}`);
  C.eq(res.status, 200, `GET ${d}`);
  return res.json();
}

C.main(async () => {
  const a = await C.Client.open(url, { name: 'a' });
  const live = a.doc('t47', 'live');
  await C.within(C.create(live, 'abc', C.URI), 5000, 'create live');
  await C.within(C.subscribe(live), 5000, 'subscribe live');
  const rest = a.doc('t47', 'rest');
  await C.within(C.create(rest, 'xyz', C.URI), 5000, 'create rest');
  a.close();

  C.stage('the REST document is read: the worker keeps a copy');
  C.eq(await restGet('rest'), { v: 1, type: C.URI, data: 'xyz' }, 'v1');

  C.stage('both documents get an op that is never published');
  C.eq(await commitSilently('rest', 1, ['R']), '2', 'rest committed at v2');

  const b = await C.Client.open(url, { name: 'b' });
  const live2 = b.doc('t47', 'live');
  await C.within(C.subscribe(live2), 5000, 'b subscribes live');
  C.eq(await commitSilently('live', 1, ['L']), '2', 'live committed at v2');

  C.stage('the subscriber receives it');
  await C.waitFor(() => live2.version === 2, 8000, 'the head check delivers '
                  + 'the unpublished op', () => `v${live2.version}`);
  C.eq(live2.data, 'Labc', 'the subscriber applied it');

  C.stage('the REST read serves it');
  let snap;
  await C.waitFor(async () => {
    snap = await restGet('rest');
    return snap.v === 2;
  }, 8000, 'the REST copy catches up', () => JSON.stringify(snap));
  C.eq(snap.data, 'Rxyz', 'the REST read shows the op');
  b.close();
}, { timeout: 40000 });
--- no_error_log
[crit]
