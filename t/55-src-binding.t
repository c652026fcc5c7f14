# What binds to a client: its src is live on one socket at a time (a second
# socket asking for it in hs gets a fresh id, on any worker; the owner gets
# it back once it left, after a reload, and after its worker was killed),
# an op under a committed (src, seq) is acked only if it is that op, a
# presence id belongs to the src that first set it, and an op message
# carries one of op, create and del.  Messages sent during an hs that waits
# for Redis are answered after it.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];

# an extra reuseport listener spreads connections over the workers
$ENV{TEST_COLLAB_SPREAD_PORT} = free_port();

run_tests(defaults => {
    http_config => <<'EOF',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    server {
        listen 127.0.0.1:$TEST_COLLAB_SPREAD_PORT reuseport;
        location /ws { collab_websocket; }
    }
EOF
    config => <<'EOF',
    location /ws { collab_websocket; }
EOF
});
__DATA__

=== TEST 1: hs with the src of a live client gets a fresh id on every worker; the client's own op lands; it keeps its id across a reconnect
--- workers: 2
--- node
const C = require(process.cwd() + '/lib/collab-client');
const spread = `ws://127.0.0.1:${process.env.TEST_COLLAB_SPREAD_PORT}/ws`;
const c = 't55';
const d = 'hs';

// raw sockets asking for id, one on each worker, at once: each claim
// waits for the holder to go (7 s), then gives up
async function takers(id) {
  const pairs = await C.clientsOnDistinctWorkers(spread, 2, {
    tries: 60, open: () => C.RawClient.open(spread) });
  return Promise.all(pairs.map(async ({ pid, client: r }) => {
    const t0 = Date.now();
    await r.hs(id, 12000);
    const waited = Date.now() - t0;
    C.check(waited > 5000, `worker ${pid}: the claim waited for the `
            + 'holder to go', waited);
    return { pid, r };
  }));
}

C.main(async () => {
  const a = await C.Client.open(spread, { name: 'a' });
  const da = a.doc(c, d);
  await C.within(C.create(da, 'abc', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  const src = a.id;

  C.stage('others ask for a\'s src while a is live');
  for (const { pid, r } of await takers(src)) {
    C.check(r.id !== src, `worker ${pid}: hs with a live src gets another id`,
            [r.id, src]);
    r.send({ a: 'op', c, d, v: 1, src, seq: a.conn.seq, op: [3, '!'] });
    const rep = await r.next((m) => m.a === 'op' && m.seq === a.conn.seq,
                             5000, `worker ${pid}: the reply`);
    C.eq(rep.error && rep.error.code, 'ERR_OP_SRC_NOT_OWNED',
         `worker ${pid}: an op under a's src is refused, loudly (the stock `
         + 'client takes ERR_OP_SUBMIT_REJECTED for an ack)');
    r.close();
  }

  C.stage('a\'s own op with that seq is committed');
  await C.within(C.submit(da, [3, 'D']), 5000, 'a\'s op');
  C.eq(da.data, 'abcD', 'a\'s text');
  const rows = await C.opLog(c, d);
  C.eq(rows.map((x) => [x.src, x.op]), [[src, null], [src, [3, 'D']]],
       'the op log has a\'s ops only');

  C.stage('a drops and reconnects: it keeps its id');
  a.drop();
  await C.waitFor(() => a.state === 'disconnected', 5000, 'a notices');
  // at once: the hs claim waits a little for the old socket's release
  a.reconnect();
  await a.connected(5000);
  C.eq(a.id, src, 'the reconnected client keeps its src');
  await C.within(C.submit(da, [4, 'E']), 5000, 'a\'s op after reconnecting');
  for (const { pid, r } of await takers(src)) {
    C.check(r.id !== src, `worker ${pid}: still not given to others`);
    r.close();
  }
  const fresh = await C.Client.open(spread, { name: 'f' });
  const df = fresh.doc(c, d);
  await C.within(C.fetch(df), 5000, 'fetch');
  C.eq([df.data, df.version], ['abcDE', 3], 'the document');
  fresh.close();
  a.close();
}, { timeout: 60000 });
--- error_log
hs asks for the src of a live connection
--- no_error_log
[crit]



=== TEST 2: a resend under a committed (src, seq) is acked only if it is that op
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const c = 't55';
const d = 'dedup';

// a new socket with src, once the previous one has let it go
async function as(src) {
  for (let i = 0; i < 50; i++) {
    const r = await C.RawClient.open(url, src);
    if (r.id === src) return r;
    r.close();
    await C.delay(20);
  }
  throw new Error('the src never came back');
}

C.main(async () => {
  const a = await C.RawClient.open(url);
  const b = await C.RawClient.open(url);
  const src = a.id;
  await a.submit({ c, d, v: 0, seq: 1,
                   create: { type: 'text-unicode', data: 'abc' } });
  await b.submit({ c, d, v: 1, seq: 1, op: ['Zz'] });
  // made at v1, committed at v2 past b's insert: [3, 'X']
  const ack = await a.submit({ c, d, v: 1, seq: 2, op: [1, 'X'] });
  C.eq(ack.v, 2, 'a\'s op committed at v2');
  a.close();
  b.close();

  const tries = [
    ['another op under (src, 2)', { v: 1, seq: 2, op: [2, 'X'] }, false],
    ['another text under (src, 2)', { v: 1, seq: 2, op: [1, 'Y'] }, false],
    ['an op under the create\'s (src, 1)', { v: 0, seq: 1, op: ['Q'] },
     false],
    ['a delete under (src, 2)', { v: 1, seq: 2, del: true }, false],
    ['the same op (src, 2) again, transformed alike', { v: 1, seq: 2,
                                                         op: [1, 'X'] },
     true],
    ['the create (src, 1) again', { v: 0, seq: 1,
                                    create: { type: 'text-unicode',
                                              data: 'abc' } }, true],
  ];
  for (const [what, msg, same] of tries) {
    C.stage(what);
    const r = await as(src);
    r.send({ a: 'op', c, d, src, ...msg });
    const rep = await r.next((m) => m.a === 'op' && m.seq === msg.seq, 5000,
                             `the reply to ${what}`);
    if (same) {
      C.check(!rep.error, `${what}: acked`, rep);
      C.eq(rep.v, msg.seq === 2 ? 2 : 0, `${what}: at its version`);
    } else {
      C.check(rep.error, `${what}: an error, not an ack`, rep);
      C.eq(rep.error.code, 'ERR_OP_SEQ_TAKEN', `${what}: code`);
      C.check(/Another op is committed under this src and seq/
              .test(rep.error.message), `${what}: message`, rep.error);
    }
    r.close();
  }

  C.stage('the op log is unchanged');
  const rows = await C.opLog(c, d);
  C.eq(rows.map((x) => x.op), [null, ['Zz'], [3, 'X']], 'op log');
  C.eq(C.replay(rows, d).text, 'ZzaXbc', 'replayed text');
}, { timeout: 30000 });
--- error_log
differs from the op committed under it at v2
differs from the op committed under it at v0
--- no_error_log
[crit]



=== TEST 3: a presence id belongs to the src that set it: others' presence under it is refused or dropped, the owner's still moves
--- workers: 3
--- node
const C = require(process.cwd() + '/lib/collab-client');
C.usePresenceType();
const spread = `ws://127.0.0.1:${process.env.TEST_COLLAB_SPREAD_PORT}/ws`;
const port = C.portOf(spread);
const c = 't55';
const d = 'p';
const ch = `${c}.${d}`;

// a raw socket served by worker pid
async function rawOn(pid) {
  for (let i = 0; i < 80; i++) {
    const r = await C.RawClient.open(spread);
    await C.waitFor(() => C.serverPidOf(r, port) !== null, 2000,
                    'the server end is visible in /proc');
    if (C.serverPidOf(r, port) === pid) return r;
    r.close();
  }
  throw new Error(`no connection served by worker ${pid}`);
}

C.main(async () => {
  const pairs = await C.clientsOnDistinctWorkers(spread, 3, { tries: 80 });
  const [a, o, x] = pairs.map((p) => p.client);
  const [wa, wo, wx] = pairs.map((p) => p.pid);
  x.close();
  const da = a.doc(c, d);
  const dob = o.doc(c, d);
  await C.within(C.create(da, 'Hello world', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(dob), 5000, 'o subscribes');
  const pa = a.conn.getDocPresence(c, d);
  const po = o.conn.getDocPresence(c, d);
  const sub = (p, who) => C.within(new Promise((res, rej) =>
    p.subscribe((e) => e ? rej(e) : res())), 5000, `${who} presence subscribe`);
  await sub(pa, 'a');
  await sub(po, 'o');

  const seen = [];
  const wire = [];
  o.conn.on('receive', (req) => {
    const m = req.data;
    if (m && m.a === 'p' && m.id === 'cursor-a') wire.push(m);
  });
  po.on('receive', (id, v) => { if (id === 'cursor-a') seen.push(v); });
  const sees = (want, what) => C.waitFor(
    () => JSON.stringify(po.remotePresences['cursor-a'])
          === JSON.stringify(want), 5000, what,
    () => JSON.stringify(seen));

  C.stage('a sets its cursor; o sees it');
  const la = pa.create('cursor-a');
  await C.within(new Promise((res, rej) =>
    la.submit([1, 2], (e) => e ? rej(e) : res())), 5000, 'a submits');
  await sees([1, 2], 'o sees a\'s cursor');

  C.stage('raw sockets on each worker send presence under a\'s id');
  // what the stock client sends; closing the socket then clears it (null)
  const hijack = { a: 'p', ch, id: 'cursor-a', p: [8, 9], pv: 1000, c, d,
                   v: da.version, t: C.URI };
  const replies = [];
  for (const [pid, subscribed] of [[wa, true], [wo, true], [wx, false]]) {
    const h = await rawOn(pid);
    h.send(hijack);
    const rep = await h.next((m) => m.a === 'p' && m.id === 'cursor-a', 5000,
                             `worker ${pid}: the reply`);
    replies.push([pid, subscribed, rep]);
    h.close();
  }
  await C.delay(300);
  C.eq(po.remotePresences['cursor-a'], [1, 2], 'o still sees a\'s cursor');
  C.check(seen.every((v) => JSON.stringify(v) === '[1,2]'),
          'o never saw another cursor-a (a may resend its own)', seen);
  C.check(wire.every((m) => m.src === wire[0].src),
          'o\'s socket got cursor-a from a only',
          wire.map((m) => [m.src, m.p]));
  for (const [pid, subscribed, rep] of replies) {
    // a worker that knows the channel refuses at once; the others drop it
    if (subscribed) {
      C.eq(rep.error && rep.error.code, 'ERR_OP_SUBMIT_REJECTED',
           `worker ${pid}: refused`);
    }
  }

  C.stage('a moves its cursor: o follows');
  await C.within(new Promise((res, rej) =>
    la.submit([4, 6], (e) => e ? rej(e) : res())), 5000, 'a submits');
  await sees([4, 6], 'o sees a\'s new cursor');

  C.stage('a leaves: the id is free again');
  await C.within(new Promise((res, rej) =>
    la.submit(null, (e) => e ? rej(e) : res())), 5000, 'a clears');
  await C.waitFor(() => seen[seen.length - 1] === null, 5000,
                  'o sees a leave', () => JSON.stringify(seen));
  const h = await rawOn(wo);
  h.send({ ...hijack, pv: 2000 });
  const rep = await h.next((m) => m.a === 'p' && m.id === 'cursor-a', 5000,
                           'the reply to a presence under a free id');
  C.check(!rep.error, 'a free id can be taken', rep);
  await sees([8, 9], 'o sees the new owner of the id');
  h.close();
  a.close();
  o.close();
}, { timeout: 40000 });
--- error_log
belongs to another src: refused
belongs to another src: dropped
--- no_error_log
[crit]



=== TEST 4: an op message with more than one of op, create and del is refused and changes nothing
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const c = 't55';

C.main(async () => {
  const w = await C.RawClient.open(url);
  await w.submit({ c, d: 'multi', v: 0, seq: 1,
                   create: { type: 'text-unicode', data: 'abc' } });
  const bad = [
    { d: 'multi', v: 1, seq: 2, op: [1, 'X'], del: true },
    { d: 'multi', v: 1, seq: 3, op: ['Y'],
      create: { type: 'text-unicode', data: 'zzz' } },
    { d: 'multi', v: 1, seq: 4, del: true,
      create: { type: 'text-unicode', data: 'zzz' } },
    { d: 'none', v: 0, seq: 5, op: ['Y'],
      create: { type: 'text-unicode', data: 'zzz' } },
  ];
  for (const msg of bad) {
    w.send({ a: 'op', c, ...msg });
    const rep = await w.next((m) => m.a === 'op' && m.seq === msg.seq, 5000,
                             `the reply to seq ${msg.seq}`);
    C.check(rep.error, `seq ${msg.seq}: an error`, rep);
    C.eq(rep.error.code, 'ERR_MESSAGE_BADLY_FORMED', `seq ${msg.seq}: code`);
    C.check(/Only one of op, create and del/.test(rep.error.message),
            `seq ${msg.seq}: message`, rep.error);
  }
  const f = await C.Client.open(url, { name: 'f' });
  const dm = f.doc(c, 'multi');
  const dn = f.doc(c, 'none');
  await C.within(C.fetch(dm), 5000, 'fetch multi');
  await C.within(C.fetch(dn), 5000, 'fetch none');
  C.eq([dm.data, dm.version], ['abc', 1], 'multi is unchanged');
  C.eq([dn.type, dn.version], [null, 0], 'none was not created');
  C.eq((await C.opLog(c, 'multi')).length, 1, 'one op log row');
  f.close();
  w.close();
}, { timeout: 20000 });
--- no_error_log
[crit]



=== TEST 5: a reload gives the srcs back: clients reconnecting to the new workers keep their ids
--- workers: 2
--- node
const C = require(process.cwd() + '/lib/collab-client');
const fs = require('fs');
const path = require('path');
const url = process.env.COLLAB_WS_URL;
const c = 't55';
const d = 'reload';

C.main(async () => {
  const clients = [];
  for (let i = 0; i < 6; i++) {
    clients.push(await C.Client.open(url, { name: `r${i}`, reconnect: true,
                                            backoff: [20, 60] }));
  }
  const ids = clients.map((x) => x.id);
  const d0 = clients[0].doc(c, d);
  await C.within(C.create(d0, '', C.URI), 5000, 'create');

  C.stage('reload (SIGHUP): every socket gets 1001 and reconnects');
  const pidFile = path.join(path.dirname(process.argv[1]), 'logs/nginx.pid');
  const master = Number(fs.readFileSync(pidFile, 'utf8'));
  const before = clients.map((x) => x.sockets);
  process.kill(master, 'SIGHUP');
  await C.waitFor(() => clients.every((x, i) => x.sockets > before[i]
                                                && x.state === 'connected'),
                  10000, 'every client reconnected',
                  () => clients.map((x) => `${x.sockets} ${x.state}`));
  C.eq(clients.map((x) => x.id), ids, 'every client kept its id');
  for (const x of clients) {
    const dx = x.doc(c, d);
    await C.within(C.subscribe(dx), 5000, `${x.name} subscribes`);
    await C.within(C.submit(dx, [x.name]), 5000, `${x.name} submits`);
  }
  const rows = await C.opLog(c, d);
  C.eq(rows.slice(1).map((r) => r.src).sort(), [...ids].sort(),
       'their ops are committed under their srcs');
  clients.forEach((x) => x.close());
}, { timeout: 30000 });
--- no_error_log
[crit]



=== TEST 6: the clients of a worker killed with -9 keep their srcs on the next workers, and their in-flight ops
--- workers: 2
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const c = 't55';
const d = 'kill';

C.main(async () => {
  const pairs = await C.clientsOnDistinctWorkers(url, 2, { reconnect: true,
                                                           backoff: [20, 60] });
  const [{ pid: victim, client: a }, { client: b }] = pairs;
  const da = a.doc(c, d);
  const db = b.doc(c, d);
  await C.within(C.create(da, '', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(db), 5000, 'b subscribes');
  const src = a.id;

  C.stage('kill -9 a\'s worker with an op of a in flight');
  const acked = C.submit(da, ['A']);
  await C.tick();
  process.kill(victim, 'SIGKILL');
  await C.waitFor(() => a.sockets > 1 && a.state === 'connected', 10000,
                  'a reconnects', () => `${a.sockets} ${a.state}`);
  C.eq(a.id, src, 'a keeps its src');
  await C.within(acked, 5000, 'a\'s op is acked');
  await C.within(C.submit(da, [1, 'B']), 5000, 'a edits on');
  await C.converge([da, db], 5000, 'a and b converge',
                   () => C.headVersion(c, d));
  const rows = await C.opLog(c, d);
  C.eq(rows.map((x) => x.src), [src, src, src], 'a\'s ops under its src');
  C.eq(C.replay(rows, d).text, 'AB', 'each op once');
  a.close();
  b.close();
}, { timeout: 30000 });
--- error_log
exited on signal 9
was held by a worker that is gone
--- no_error_log
[crit]



=== TEST 7: messages sent right after an hs that claims a src wait for its reply and keep their order
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const c = 't55';
const d = 'held';

C.main(async () => {
  const w = await C.RawClient.open(url);
  const src = w.id;
  w.close();
  await C.delay(100);

  const r = new C.RawClient(url);
  await C.within(new Promise((res) => r.ws.once('open', res)), 5000, 'open');
  r.send({ a: 'hs', id: src, protocol: 1, protocolMinor: 2 });
  r.send({ a: 's', c, d });
  r.send({ a: 'op', c, d, v: 0, seq: 1,
           create: { type: 'text-unicode', data: 'x' } });
  r.send({ a: 'op', c, d, v: 1, seq: 2, op: [1, 'y'] });
  r.send({ a: 'pp' });
  const ack = await r.next((m) => m.a === 'op' && m.seq === 2, 5000,
                           'the ack of the second op');
  await r.next((m) => m.a === 'pp', 5000, 'the ping reply');
  const all = r.queue.concat(ack);
  C.eq(all[0].a, 'hs', 'the hs reply comes first');
  C.eq(all[0].id, src, 'the src is taken back');
  const acks = all.filter((m) => m.a === 'op');
  C.eq(acks.map((m) => [m.seq, m.src, m.error || null]),
       [[1, src, null], [2, src, null]], 'the ops are acked under it, '
       + 'in order');
  C.check(all.some((m) => m.a === 's' && !m.error), 'the subscribe reply',
          all);
  const rows = await C.opLog(c, d);
  C.eq(rows.map((x) => x.src), [src, src], 'the op log');
  r.close();
}, { timeout: 20000 });
--- no_error_log
[crit]



=== TEST 8: a half-open holder (no pong) is probed and closed: the reconnecting client gets its src within seconds
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  // the socket a client left behind when its network changed: still open
  // on the server, never answering again
  const old = await C.RawClient.open(url, null, { autoPong: false });
  const src = old.id;

  C.stage('the client reconnects on a new socket and asks for its src');
  const t0 = Date.now();
  const r = await C.RawClient.open(url, src, { hsTimeout: 12000 });
  const waited = Date.now() - t0;
  C.eq(r.id, src, 'the reconnected client gets its src back');
  C.check(waited < 5000, 'within the probe\'s 3 s, not the claim\'s 7 s',
          waited);
  await C.waitFor(() => old.closedByPeer, 2000, 'the silent socket closed');

  C.stage('a holder that answers the probe keeps its src');
  const t1 = Date.now();
  const other = await C.RawClient.open(url, src, { hsTimeout: 12000 });
  C.check(other.id !== src, 'a live holder keeps it', [other.id, src]);
  C.check(Date.now() - t1 > 5000, 'the claim waited before giving up');
  C.check(!r.closedByPeer, 'the live holder was not closed');
  r.send({ a: 'pp' });
  await r.next((m) => m.a === 'pp', 5000, 'the holder still answers');
  r.close();
  other.close();
}, { timeout: 30000 });
--- error_log
no pong within 3000 ms, closing
hs asks for the src of a live connection: a fresh one is given
--- no_error_log
[crit]



=== TEST 9: a src held by a worker of another host: waited for while that worker's key is refreshed, taken over once it is gone
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
const elsewhere = 'otherhost 4242 00000000deadbeef';

C.main(async () => {
  const mk = async () => {
    const w = await C.RawClient.open(url);
    w.close();
    await C.waitFor(async () => (await C.redis('EXISTS',
      `collab:src:${w.id}`)) === '0', 2000, 'its key released');
    return w.id;
  };

  C.stage('the holder\'s worker is alive');
  const live = await mk();
  await C.redis('SET', `collab:src:${live}`, elsewhere, 'PX', '60000');
  await C.redis('SET', `collab:worker:${elsewhere}`, '1', 'PX', '60000');
  const t0 = Date.now();
  const a = await C.RawClient.open(url, live, { hsTimeout: 12000 });
  C.check(a.id !== live, 'a fresh src, not the live holder\'s',
          [a.id, live]);
  C.check(Date.now() - t0 > 5000, 'after waiting for it to come free');
  C.eq(await C.redis('GET', `collab:src:${live}`), elsewhere,
       'the holder\'s key is left alone');
  a.close();

  C.stage('the holder\'s worker stopped refreshing its key');
  await C.redis('DEL', `collab:worker:${elsewhere}`);
  const t1 = Date.now();
  const b = await C.RawClient.open(url, live, { hsTimeout: 12000 });
  C.eq(b.id, live, 'the src is taken over');
  C.check(Date.now() - t1 < 2000, 'at once', Date.now() - t1);
  C.check((await C.redis('GET', `collab:src:${live}`)) !== elsewhere,
          'the key names this worker now');
  C.check(Number(await C.redis('EXISTS', 'collab:worker:'
                               + (await C.redis('GET',
                                                `collab:src:${live}`))))
          === 1, 'whose own key is alive');
  b.close();
}, { timeout: 40000 });
--- error_log
was held by a worker that is gone: taken over
--- no_error_log
[crit]
