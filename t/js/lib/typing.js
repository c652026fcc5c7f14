// Stock sharedb clients typing into one document while something breaks
// (PostgreSQL restarts, fails over, Redis fails over), and the check made
// afterwards: nothing refused, every acknowledged op in the op log exactly
// once, the replicas converged on the log's text.
const C = require('./collab-client');

// n clients on url, each subscribed to c/d (created by the first)
async function open(url, n, c, d) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    clients.push(await C.Client.open(url, { name: 'c' + i, reconnect: true }));
  }
  const docs = clients.map((cl) => cl.doc(c, d));
  await C.within(C.create(docs[0], '|', C.URI), 5000, 'create');
  await Promise.all(docs.map((doc) => C.within(C.subscribe(doc), 5000,
                                               'subscribe')));
  return { clients, docs };
}

// each doc types unique tokens "<client.k>" at the start or the end, one
// op in flight, a pause of gap[0] + [0, gap[1]) ms between ops
function type(docs, { seed = 1, gap = [20, 40], ackMs = 40000 } = {}) {
  const t = { acked: new Set(), failed: [], typing: true };
  const typists = docs.map(async (doc, ci) => {
    const rng = C.prng(seed + ci);
    for (let k = 0; t.typing; k++) {
      const tok = `<${ci}.${k}>`;
      const op = rng() < 0.5 ? [tok] : [C.cpLen(doc.data), tok];
      try {
        await C.within(C.submit(doc, op), ackMs, `ack of ${tok}`);
        t.acked.add(tok);
      } catch (e) {
        t.failed.push(`${tok}: ${e.code || ''} ${e.message}`);
      }
      await C.delay(gap[0] + rng.int(gap[1]));
    }
  });
  t.stop = () => { t.typing = false; return Promise.all(typists); };
  return t;
}

// after t.stop(): no failure, convergence within ms, the log is the text
async function check(t, docs, c, d, ms = 20000) {
  C.eq(t.failed, [], 'no op was refused or timed out');
  await C.converge(docs, ms, 'the replicas converge',
                   () => C.headVersion(c, d));
  const rows = await C.opLog(c, d);
  C.checkLog(rows, d);
  const text = C.replay(rows, d).text;
  C.eq(text, docs[0].data, 'the op log replays to the replicas\' text');
  const count = new Map();
  for (const m of text.matchAll(/<\d+\.\d+>/g)) {
    count.set(m[0], (count.get(m[0]) || 0) + 1);
  }
  const lost = [...t.acked].filter((tok) => !count.has(tok));
  const twice = [...count].filter(([, k]) => k > 1).map(([tok]) => tok);
  C.eq(lost, [], 'every acked op is in the op log');
  C.eq(twice, [], 'no op was committed twice');
}

module.exports = { open, type, check };
