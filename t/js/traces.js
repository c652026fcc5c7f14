// Replays a real editing trace through the server (t/43-traces.t; runnable
// by hand): one sharedb client submits every patch of every transaction as
// an editor would, a second client is subscribed; both must end with the
// trace's endContent, and so must a fresh fetch and a replay of the op log.
//
// The writer yields to the event loop every few transactions (a burst of
// typing) and, every TRACE_BATCH transactions, waits for its pending op to
// be acked, so the stock client composes at most about TRACE_BATCH
// transactions into one op (never one giant op).
//
// usage: traceReplay(file, {batch, collection, timeoutMs}) -> Promise

'use strict';

const path = require('path');
const C = require('./lib/collab-client');

async function traceReplay(file, opts = {}) {
  const url = C.env('COLLAB_WS_URL');
  const batch = opts.batch || Number(process.env.TRACE_BATCH || 32);
  const coll = opts.collection || 't43';
  const name = path.basename(file).replace(/\.json\.gz$/, '');
  const limitMs = opts.timeoutMs || 100000;

  C.stage(`${name}: load`);
  const trace = C.loadTrace(file);
  let patches = 0;
  trace.txns.forEach((t) => { patches += t.patches.length; });
  C.log(`${name}: ${trace.txns.length} transactions, ${patches} patches, `
        + `end length ${C.cpLen(trace.endContent)} code points`);

  const a = await C.Client.open(url, { name: 'writer' });
  const b = await C.Client.open(url, { name: 'reader' });
  const da = a.doc(coll, name);
  const db = b.doc(coll, name);
  await C.within(C.create(da, trace.startContent, C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'writer subscribes');
  await C.within(C.subscribe(db), 5000, 'reader subscribes');

  let commits = 0;
  let maxOp = 0;
  a.conn.on('send', (m) => {
    if (m.a === 'op' && m.d === name && m.op) {
      commits++;
      maxOp = Math.max(maxOp, m.op.length);
    }
  });
  const failures = [];

  C.stage(`${name}: replay`);
  const t0 = Date.now();
  const deadline = t0 + limitMs;
  let n = 0;
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      da.submitOp(C.patchOp(pos, del, ins), (err) => {
        if (err) failures.push(err);
      });
    }
    if (failures.length) {
      throw new Error(`${name}: a submit failed after ${n} transactions: `
                      + `${failures[0].code} ${failures[0].message}`);
    }
    if (++n % batch === 0) {
      if (da.hasWritePending()) {
        await C.within(new Promise((res) => da.whenNothingPending(res)),
                       Math.max(1000, deadline - Date.now()),
                       `${name}: the ack of the ops up to transaction ${n}`);
      } else {
        await C.tick();
      }
      if (Date.now() > deadline) {
        throw new Error(`${name}: only ${n} of ${trace.txns.length} `
                        + `transactions replayed within ${limitMs} ms`);
      }
    } else if (n % 4 === 0) {
      await C.tick();
    }
  }
  C.check(da.data === trace.endContent, `${name}: the writer's local text `
          + 'is endContent (if not, the trace was misread)');

  C.stage(`${name}: quiescence`);
  await C.converge([da, db], Math.max(5000, deadline - Date.now()),
                   `${name}: writer and reader converge`,
                   () => C.headVersion(coll, name));
  const ms = Date.now() - t0;
  C.check(!failures.length, `${name}: no submit failed`, failures[0]);
  C.check(db.data === trace.endContent, `${name}: the reader ends with `
          + 'endContent', { len: C.cpLen(db.data || '') });
  C.log(`${name}: ${patches} patches in ${ms} ms = `
        + `${Math.round(patches / ms * 1000)} patches/s, ${commits} ops sent `
        + `(${Math.round(commits / ms * 1000)} ops/s, largest ${maxOp} `
        + `components), version ${da.version}`);
  C.check(commits > trace.txns.length / (batch * 2),
          `${name}: the replay was not squashed into a few giant ops`,
          { commits, txns: trace.txns.length });

  C.stage(`${name}: fresh fetch and op log`);
  const c = await C.Client.open(url, { name: 'fresh' });
  const dc = c.doc(coll, name);
  await C.within(C.fetch(dc), 10000, 'fresh fetch');
  C.check(dc.data === trace.endContent && dc.version === da.version,
          `${name}: a fresh fetch is endContent at the final version`,
          { v: dc.version, want: da.version });
  const rows = await C.opLog(coll, name);
  C.checkLog(rows, name);
  C.check(C.replay(rows, name).text === trace.endContent,
          `${name}: the op log replays to endContent`);
  for (const x of [a, b, c]) x.close();
}

module.exports = traceReplay;

if (require.main === module) {
  C.main(async () => {
    for (const f of process.argv.slice(2)) await traceReplay(f);
  }, { timeout: 170000 });
}
