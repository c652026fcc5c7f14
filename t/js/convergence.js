// Convergence under concurrency (t/42-convergence.t; runnable by hand).
//
// Clients spread over several server URLs (instances; and over the workers
// of each, found through /proc) make random concurrent text-unicode ops
// (non-BMP, CJK, combining marks, deletes) on a hot document and a few
// cooler ones, with random think times of 0-5 ms and a seeded PRNG.  Most
// clients wait for each ack (every op becomes one commit); a few type
// ahead, so the stock client composes their pending ops.  After quiescence
// every replica, a fresh fetch from each URL and a replay of the op log in
// PostgreSQL must be identical; versions 1..N; every (src, seq) the clients
// sent is committed exactly once and nothing else is.
//
// env: COLLAB_WS_URLS (comma-separated), COLLAB_PG, and optionally
//   CONV_SEED (default 42), CONV_CLIENTS (10), CONV_HOT_OPS (2000),
//   CONV_COLD_DOCS (2), CONV_COLD_OPS (300), CONV_TYPEAHEAD (2),
//   CONV_COLLECTION (t42), CONV_MIN_HOT (commits the hot doc must get,
//   default 0), CONV_DISTINCT ("2,1": distinct server
//   processes wanted per URL; unset = don't check), CONV_TIMEOUT (ms)

'use strict';

const C = require('./lib/collab-client');

const urls = C.env('COLLAB_WS_URLS').split(',');
const seed = Number(process.env.CONV_SEED || 42);
const nClients = Number(process.env.CONV_CLIENTS || 10);
const hotOps = Number(process.env.CONV_HOT_OPS || 2000);
const coldDocs = Number(process.env.CONV_COLD_DOCS || 2);
const coldOps = Number(process.env.CONV_COLD_OPS || 300);
const typeahead = Number(process.env.CONV_TYPEAHEAD || 2);
const coll = process.env.CONV_COLLECTION || 't42';
const minHot = Number(process.env.CONV_MIN_HOT || 0);
const distinct = process.env.CONV_DISTINCT
  ? process.env.CONV_DISTINCT.split(',').map(Number) : null;

const docIds = ['hot'];
for (let i = 0; i < coldDocs; i++) docIds.push('cold' + i);

// clients for url i: ceil/floor share of nClients; if `distinct` is set,
// replace clients that landed on an already used process until each URL
// has that many distinct server processes
async function openClients() {
  const clients = [];
  for (let u = 0; u < urls.length; u++) {
    const n = Math.floor(nClients / urls.length)
              + (u < nClients % urls.length ? 1 : 0);
    const want = distinct ? distinct[u] || 1 : 0;
    const port = C.portOf(urls[u]);
    const mine = [];
    let tries = 0;
    for (let i = 0; mine.length < n; i++) {
      const c = await C.Client.open(urls[u], { name: `u${u}c${i}` });
      if (want) {
        await C.waitFor(() => C.serverPidOf(c, port) !== null, 2000,
                        `the server process of ${c.name} shows in /proc`);
        c.pid = C.serverPidOf(c, port);
        const used = new Set(mine.map((x) => x.pid));
        const left = n - mine.length;
        if (used.has(c.pid) && used.size + left <= want && tries++ < 60) {
          c.close();            // need another process: try again
          continue;
        }
      }
      mine.push(c);
    }
    if (want) {
      const got = new Set(mine.map((x) => x.pid)).size;
      C.check(got >= want, `clients of ${urls[u]} are served by ${want} `
              + `distinct processes (got ${got})`);
    }
    clients.push(...mine);
  }
  return clients;
}

C.main(async () => {
  const t0 = Date.now();
  C.stage(`open ${nClients} clients on ${urls.join(' ')}`);
  const clients = await openClients();
  C.log('clients:', clients.map((c) => `${c.name}@${c.pid || '?'}`).join(' '));

  // every op message a client sends, keyed src/seq (no reconnects here,
  // so src is the connection id)
  const sent = new Map();
  docIds.forEach((d) => sent.set(d, new Set()));
  clients.forEach((c) => c.conn.on('send', (m) => {
    if (m.a === 'op' && m.c === coll && m.op) {
      sent.get(m.d).add(`${m.src || c.conn.id}/${m.seq}`);
    }
  }));

  C.stage('create the documents and subscribe everyone');
  for (const id of docIds) {
    await C.within(C.create(clients[0].doc(coll, id), `start ${id} 漢😀\n`,
                            C.URI), 5000, `create ${id}`);
  }
  await Promise.all(clients.flatMap((c) => docIds.map((id) =>
    C.within(C.subscribe(c.doc(coll, id)), 10000, `${c.name} subscribes ${id}`))));

  C.stage('concurrent random edits');
  const rng0 = C.prng(seed);
  const plans = clients.map(() => []);
  for (let i = 0; i < hotOps; i++) plans[rng0.int(clients.length)].push('hot');
  for (let d = 1; d < docIds.length; d++) {
    for (let i = 0; i < coldOps; i++) {
      plans[rng0.int(clients.length)].push(docIds[d]);
    }
  }
  plans.forEach((p) => {           // shuffle each client's doc order
    for (let i = p.length - 1; i > 0; i--) {
      const j = rng0.int(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
  });
  let submitted = 0;
  let acked = 0;
  const tEdit = Date.now();
  await Promise.all(clients.map(async (c, ci) => {
    const rng = C.prng(seed * 1000 + ci);
    const ahead = ci < typeahead;  // these do not wait for acks
    const waits = [];
    for (const id of plans[ci]) {
      const doc = c.doc(coll, id);
      const op = C.randomOp(rng, doc.data);
      const p = C.submit(doc, op).then(() => { acked++; }, (e) => {
        throw new Error(`${c.name}: op ${JSON.stringify(op)} on ${id} `
                        + `failed: ${e.code} ${e.message}`);
      });
      submitted++;
      if (ahead) waits.push(p); else await C.within(p, 15000, `${c.name}'s ack`);
      await C.delay(rng.int(6));
    }
    await Promise.all(waits);
  }));
  const editMs = Date.now() - tEdit;
  C.log(`${submitted} ops submitted, ${acked} acked in ${editMs} ms `
        + `(${Math.round(submitted / editMs * 1000)} ops/s)`);
  C.eq(acked, submitted, 'every submitted op is acked');

  C.stage('quiescence: all replicas converge to the server head');
  for (const id of docIds) {
    await C.converge(clients.map((c) => c.doc(coll, id)), 30000,
                     `all ${clients.length} replicas of ${id} converge`,
                     () => C.headVersion(coll, id));
  }

  for (const id of docIds) {
    C.stage(`${id}: fresh fetches and the op log`);
    const want = clients[0].doc(coll, id).data;
    const v = clients[0].doc(coll, id).version;
    for (const u of urls) {
      const f = await C.Client.open(u, { name: 'fresh' });
      const fd = f.doc(coll, id);
      await C.within(C.fetch(fd), 10000, `fresh fetch of ${id} from ${u}`);
      C.eq([fd.version, fd.data === want], [v, true],
           `fresh fetch of ${id} from ${u} (version, same text)`);
      f.close();
    }
    const rows = await C.opLog(coll, id);
    C.checkLog(rows, id);
    C.eq(rows.length, v, `${id}: op log rows = version`);
    const r = C.replay(rows, id);
    C.check(r.text === want, `${id}: the op log replay equals the replicas`,
            { replay: r.text, replica: want });
    const logged = new Set(rows.slice(1).map((x) => `${x.src}/${x.seq}`));
    const mine = sent.get(id);
    const lost = [...mine].filter((k) => !logged.has(k));
    const extra = [...logged].filter((k) => !mine.has(k));
    C.check(!lost.length && !extra.length, `${id}: the committed (src, seq) `
            + 'are exactly the ones sent', { lost: lost.slice(0, 5),
                                             extra: extra.slice(0, 5) });
    C.log(`${id}: v${v}, ${C.cpLen(want)} code points, ${rows.length} ops `
          + 'logged');
    if (id === 'hot') {
      C.check(rows.length - 1 >= minHot, `hot: at least ${minHot} ops `
              + `committed (got ${rows.length - 1})`);
    }
  }
  clients.forEach((c) => c.close());
  C.log(`total ${Date.now() - t0} ms`);
}, { timeout: Number(process.env.CONV_TIMEOUT || 170000) });
