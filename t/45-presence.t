# Presence (connection.getDocPresence, localPresence.submit) relayed between
# clients served by different workers, with the stock sharedb client.
# text-unicode has no transformPresence, so the clients register the type
# wrapped with one built on transformSelection (C.usePresenceType).
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];

# an extra reuseport listener spreads connections over the workers
$ENV{TEST_COLLAB_SPREAD_PORT} = free_port();

run_tests();
__DATA__

=== TEST 1: cursors go both ways across workers, follow ops, reach late joiners, and leave
--- workers: 2
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    server {
        listen 127.0.0.1:$TEST_COLLAB_SPREAD_PORT reuseport;
        location /ws { collab_websocket; }
    }
--- config
    location /ws { collab_websocket; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
C.usePresenceType();
const url = `ws://127.0.0.1:${process.env.TEST_COLLAB_SPREAD_PORT}/ws`;

// resolves when presence `p` reports `id` with a value equal to `want`
function sees(p, id, want, what) {
  const last = {};
  return C.within(new Promise((res) => {
    const on = (pid, value) => {
      last[pid] = value;
      if (pid !== id) return;
      try { C.eq(value, want, what); } catch (e) { return; }
      p.removeListener('receive', on);
      res();
    };
    p.on('receive', on);
    if (id in p.remotePresences) on(id, p.remotePresences[id]);
  }), 5000, `${what}: ${id} = ${JSON.stringify(want)} (last seen `
     + `${JSON.stringify(last)})`);
}

C.main(async () => {
  C.stage('two clients on different workers');
  const pairs = await C.clientsOnDistinctWorkers(url, 2);
  const [a, b] = pairs.map((p) => p.client);
  C.log('workers:', pairs.map((p) => p.pid).join(' '));
  const da = a.doc('t45', 'p');
  const db = b.doc('t45', 'p');
  await C.within(C.create(da, 'Hello wörld 😀', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(db), 5000, 'b subscribes');

  const pa = a.conn.getDocPresence('t45', 'p');
  const pb = b.conn.getDocPresence('t45', 'p');
  const sub = (p, who) => C.within(new Promise((res, rej) =>
    p.subscribe((e) => e ? rej(e) : res())), 5000, `${who} presence subscribe`);
  await sub(pa, 'a');
  await sub(pb, 'b');
  const submit = (lp, v, who) => C.within(new Promise((res, rej) =>
    lp.submit(v, (e) => e ? rej(e) : res())), 5000, `${who} presence submit`);

  C.stage('a -> b: a selection');
  const la = pa.create('cursor-a');
  let got = sees(pb, 'cursor-a', [6, 11], 'b sees a\'s selection');
  await submit(la, [6, 11], 'a');
  await got;

  C.stage('b -> a: a caret');
  const lb = pb.create('cursor-b');
  got = sees(pa, 'cursor-b', 13, 'a sees b\'s caret after the emoji');
  await submit(lb, 13, 'b');
  await got;

  C.stage('an op moves the remote selection');
  got = sees(pb, 'cursor-a', [10, 15], 'a\'s selection on b after b\'s '
             + 'insert at 0');
  await C.within(C.submit(db, ['Oh! ']), 5000, 'b\'s op');
  await got;
  await C.converge([da, db], 5000, 'a and b converge');

  C.stage('a submits a new selection after the op');
  got = sees(pb, 'cursor-a', [0, 3], 'b sees a\'s new selection');
  await submit(la, [0, 3], 'a');
  await got;

  C.stage('a late joiner gets the current presence of both');
  const c = await C.Client.open(url, { name: 'c' });
  const dc = c.doc('t45', 'p');
  await C.within(C.subscribe(dc), 5000, 'c subscribes');
  const pc = c.conn.getDocPresence('t45', 'p');
  const gotA = sees(pc, 'cursor-a', [0, 3], 'c sees a\'s selection');
  const gotB = sees(pc, 'cursor-b', 17, 'c sees b\'s caret (moved by the op)');
  await sub(pc, 'c');
  await gotA;
  await gotB;

  C.stage('leaving: a null presence reaches the others');
  const gone = C.within(new Promise((res) => {
    const on = (id, v) => { if (id === 'cursor-a' && v === null) res(); };
    pb.on('receive', on);
  }), 5000, 'b sees cursor-a leave (null)');
  await submit(la, null, 'a');
  await gone;

  C.stage('presence is not stored as ops');
  const rows = await C.opLog('t45', 'p');
  C.checkLog(rows, 'p');
  C.eq(rows.length, 2, 'op log: the create and the one op');
  for (const x of [a, b, c]) x.close();
}, { timeout: 40000 });
--- no_error_log
[crit]
