// A node of a cluster dies in the middle of the edits (make test-docker;
// runnable by hand against any cluster behind one URL).
//
// Reconnecting stock sharedb clients, all through the load balancer's URL
// (so spread over the nodes), insert unique tokens into one document; a
// third of the way through, FAILOVER_KILL (a shell command) kills one
// node.  Its clients must reconnect through the balancer to a surviving
// node and resend their unacknowledged ops; then every acknowledged token
// is in the op log exactly once, every submitted op is committed, the
// survivors' replicas converge and the op log replays to their text.
//
// env: COLLAB_WS_URL, COLLAB_PG, FAILOVER_KILL, and optionally
//   FAILOVER_CLIENTS (6), FAILOVER_OPS (ops per client, 120),
//   FAILOVER_COLLECTION (failover)

'use strict';

const cp = require('child_process');
const C = require('./lib/collab-client');

const url = C.env('COLLAB_WS_URL');
const kill = C.env('FAILOVER_KILL');
const nClients = Number(process.env.FAILOVER_CLIENTS || 6);
const perClient = Number(process.env.FAILOVER_OPS || 120);
const coll = process.env.FAILOVER_COLLECTION || 'failover';
const docId = 'doc' + Date.now();

// tokens inserted only at the start or the end can never be split
const tokenOp = (doc, tok, rng) =>
  rng() < 0.5 ? [tok] : [C.cpLen(doc.data), tok];

C.main(async () => {
  C.stage(`open ${nClients} reconnecting clients on ${url}`);
  const clients = [];
  for (let i = 0; i < nClients; i++) {
    clients.push(await C.Client.open(url, { name: 'c' + i, reconnect: true }));
  }
  const docs = clients.map((c) => c.doc(coll, docId));
  await C.within(C.create(docs[0], '|', C.URI), 5000, 'create');
  await Promise.all(docs.map((d) =>
    C.within(C.subscribe(d), 5000, 'subscribe')));

  C.stage('edits; kill a node in the middle');
  const acked = new Set();
  const failed = [];
  let killedAt = -1;
  let ackedAfterKill = 0;
  await Promise.all(clients.map(async (c, ci) => {
    const rng = C.prng(300 + ci);
    const doc = docs[ci];
    const waits = [];
    for (let k = 0; k < perClient; k++) {
      const tok = `<${ci}.${k}>`;
      const p = C.submit(doc, tokenOp(doc, tok, rng)).then(() => {
        acked.add(tok);
        if (killedAt >= 0) ackedAfterKill++;
      }, (e) => { failed.push(`${tok}: ${e.code} ${e.message}`); });
      if (ci % 2) waits.push(p);          // types ahead
      else await C.within(p, 30000, `ack of ${tok}`);
      if (killedAt < 0 && acked.size >= nClients * perClient / 3) {
        killedAt = acked.size;
        cp.execSync(kill, { stdio: 'inherit' });
        C.log(`KILLED a node after ${killedAt} acks`);
      }
      await C.delay(rng.int(4));
    }
    await C.within(Promise.all(waits), 30000, `${c.name}'s last acks`);
  }));
  C.check(killedAt > 0, 'the node was killed during the edits');
  C.check(!failed.length, 'no submit failed (in-flight ops are resent '
          + 'after the reconnect)', failed.slice(0, 5));
  C.check(ackedAfterKill > 0, 'ops were acked after the kill');
  const moved = clients.filter((c) => c.sockets > 1);
  const stayed = clients.filter((c) => c.sockets === 1);
  C.log(`reconnected: ${moved.map((c) => c.name).join(' ') || '-'}; `
        + `undisturbed: ${stayed.map((c) => c.name).join(' ') || '-'}`);
  C.check(moved.length > 0, 'the killed node\'s clients reconnected');
  C.check(stayed.length > 0, 'the other node\'s clients were undisturbed '
          + '(so both nodes served clients)');

  C.stage('quiescence');
  await C.converge(docs, 30000, 'all clients converge',
                   () => C.headVersion(coll, docId));
  const rows = await C.opLog(coll, docId);
  C.checkLog(rows, docId);
  const text = C.replay(rows, docId).text;
  C.check(text === docs[0].data, 'the op log replays to the replicas\' text');
  const count = new Map();
  for (const m of text.matchAll(/<\d+\.\d+>/g)) {
    count.set(m[0], (count.get(m[0]) || 0) + 1);
  }
  const lost = [...acked].filter((t) => !count.has(t));
  const twice = [...count].filter(([, n]) => n > 1).map(([t]) => t);
  C.check(!lost.length, 'every acked op is in the op log', lost.slice(0, 10));
  C.check(!twice.length, 'no op was committed twice', twice.slice(0, 10));
  C.eq(count.size, nClients * perClient, 'every submitted op committed');
  C.log(`${acked.size} acked, ${rows.length} ops logged, ${killedAt} `
        + 'acked before the kill');
  clients.forEach((c) => c.close());
}, { timeout: Number(process.env.FAILOVER_TIMEOUT || 120000) });
