// A reference server for checking the acceptance tests themselves: the
// npm sharedb 7 backend (in-memory) behind `ws`, mirroring every committed
// op into the collab_ops/collab_docs tables of COLLAB_PG (before the ack,
// like our module) so the tests' op-log checks run unchanged.  Not used by
// the test suite; a test that fails here has a bug of its own.
//
//   COLLAB_PG='host=... dbname=collab user=collab' \
//       node t/js/lib/ref-server.js 25101 [25102 ...]
//
// Several ports share one backend (a stand-in for "another instance").

'use strict';

const cp = require('child_process');
const { Duplex } = require('stream');
const ShareDB = require('sharedb');
const WebSocket = require('ws');
const textUnicode = require('ot-text-unicode');

// with transformPresence, as the test clients register it
ShareDB.types.register(Object.assign({}, textUnicode.type, {
  transformPresence: (p, op, own) =>
    (p == null ? p : textUnicode.type.transformSelection(p, op, own)),
}));

const backend = new ShareDB({ presence: true,
                              doNotForwardSendPresenceErrorsToClient: true });
const lit = (s) => "'" + String(s).replace(/'/g, "''") + "'";

function psql(sql) {
  return new Promise((res, rej) => {
    cp.execFile('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1',
                         process.env.COLLAB_PG, '-c', sql],
                (err, out, e) => err ? rej(new Error(e)) : res(out));
  });
}

if (process.env.COLLAB_PG) {
  backend.use('afterWrite', (ctx, next) => {
    const r = ctx;
    const op = r.op;
    const c = lit(r.collection);
    const d = lit(r.id);
    let kind = 'op';
    let body = 'NULL';
    let ctype = 'NULL';
    let cdata = 'NULL';
    if (op.create) {
      kind = 'create';
      ctype = lit(textUnicode.type.uri);
      cdata = lit(JSON.stringify(op.create.data));
    } else if (op.del) {
      kind = 'del';
    } else {
      body = lit(JSON.stringify(op.op));
    }
    const sql = `
      INSERT INTO collab_docs (collection, name, type, version)
      VALUES (${c}, ${d}, ${lit(textUnicode.type.uri)}, ${op.v + 1})
      ON CONFLICT (collection, name) DO UPDATE
        SET version = greatest(collab_docs.version, EXCLUDED.version),
            deleted = ${kind === 'del'};
      INSERT INTO collab_ops (doc, version, src, seq, kind, op, create_type,
                              create_data)
      SELECT id, ${op.v + 1}, ${lit(op.src)}, ${op.seq}, '${kind}', ${body},
             ${ctype}, ${cdata}
        FROM collab_docs WHERE collection = ${c} AND name = ${d};`;
    psql(sql).then(() => next(), (e) => next(e));
  });
}

function serve(port) {
  const wss = new WebSocket.Server({ host: '127.0.0.1', port });
  wss.on('connection', (ws) => {
    const stream = new Duplex({
      objectMode: true,
      read() {},
      write(msg, enc, cb) {
        if (ws.readyState === 1) ws.send(JSON.stringify(msg));
        cb();
      },
    });
    ws.on('message', (data) => {
      let m;
      try { m = JSON.parse(data.toString()); } catch (e) { return; }
      stream.push(m);
    });
    ws.on('close', () => { stream.push(null); stream.emit('close'); });
    stream.on('error', () => ws.close());
    stream.on('end', () => ws.close());
    backend.listen(stream);
  });
  console.log(`ref sharedb server on ws://127.0.0.1:${port}/ws`);
}

process.argv.slice(2).forEach((p) => serve(Number(p)));
