// Cold REST reads (bench/run.sh, scenario coldread).
//   node coldread.js create <port> <n> <c>   documents <c>/d0..d<n-1>
//   node coldread.js read <port> <n> <c>     GET each once (64 keep-alive
//     sockets) on workers that hold none of them; prints one JSON line:
//     reads/s and the PostgreSQL statements the workers sent meanwhile
//     (collab_status "postgres", summed over the workers)
'use strict';
const http = require('http');
const WebSocket = require('ws');

const [mode, port, n, col] = [process.argv[2], +process.argv[3],
  +process.argv[4], process.argv[5]];

function create() {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  let sent = 0;
  let acked = 0;
  const more = () => {
    while (sent < n && sent - acked < 64) {
      const d = 'd' + sent++;
      ws.send(JSON.stringify({ a: 'op', c: col, d, v: 0, seq: sent,
        create: { type: 'text-unicode', data: `cold document ${d}` } }));
    }
  };
  ws.on('open', () => ws.send(JSON.stringify({ a: 'hs', id: null })));
  ws.on('message', (m) => {
    const msg = JSON.parse(m);
    if (msg.a === 'hs') return more();
    if (msg.a !== 'op' || msg.op || msg.create) return;
    acked++;
    if (acked === n) { ws.close(); return; }
    more();
  });
  ws.on('error', (e) => { console.error(e.message); process.exit(1); });
}

function get(agent, path) {
  return new Promise((res, rej) => {
    http.get({ host: '127.0.0.1', port, path, agent }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c) => { body += c; });
      r.on('end', () => res({ status: r.statusCode, body }));
    }).on('error', rej);
  });
}

// statements per worker: fresh connections until every pid answered
async function statements(workers) {
  const seen = new Map();
  for (let i = 0; i < 200 && seen.size < workers; i++) {
    const r = await get(false, '/collab_status');
    const s = JSON.parse(r.body);
    seen.set(s.pid, s.postgres ? s.postgres.statements : 0);
  }
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

async function read() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const before = await statements(2);
  let next = 0;
  let ok = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < n) {
      const i = next++;
      const r = await get(agent, `/api/${col}/d${i}`);
      if (r.status === 200 && r.body.includes(`cold document d${i}"`)) ok++;
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = await statements(2);
  agent.destroy();
  console.log(JSON.stringify({ reads: n, ok, secs: +secs.toFixed(3),
    rps: Math.round(n / secs), pg_statements: after - before,
    pg_per_1000: +((after - before) * 1000 / n).toFixed(1) }));
}

(mode === 'create' ? Promise.resolve(create()) : read())
  .catch((e) => { console.error(e); process.exit(1); });
