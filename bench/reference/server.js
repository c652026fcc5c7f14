// The reference server for the benchmarks: stock ShareDB 7 with
// sharedb-postgres (op log + snapshots) and sharedb-redis-pubsub, serving
// the ShareDB protocol over `ws` the way ShareDB's own examples do.
//
//   node server.js --port 26080 --pg postgres://user@127.0.0.1:26001/db \
//       --redis redis://127.0.0.1:26002/1 [--prefix sharedbref]
//
// It prints "listening <port>" once it accepts connections.
'use strict';

const http = require('http');
const WebSocket = require('ws');
const ShareDB = require('sharedb');
const ShareDBPostgres = require('sharedb-postgres');
const RedisPubSub = require('sharedb-redis-pubsub');
const WebSocketJSONStream = require('@teamwork/websocket-json-stream');
const textUnicode = require('ot-text-unicode');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const port = Number(arg('port', '26080'));
const pg = arg('pg', 'postgres://collab@127.0.0.1:5433/sharedb_ref');
const redisUrl = arg('redis', 'redis://127.0.0.1:6380/1');
const prefix = arg('prefix', undefined);

ShareDB.types.register(textUnicode.type);

const db = ShareDBPostgres({connectionString: pg, max: 10});
const pubsub = RedisPubSub({url: redisUrl, prefix: prefix});
const backend = new ShareDB({db: db, pubsub: pubsub});

const server = http.createServer();
const wss = new WebSocket.Server({server: server, path: '/ws'});

wss.on('connection', (ws) => {
  const stream = new WebSocketJSONStream(ws);
  // one bad client must not take the process down during a benchmark
  stream.on('error', () => ws.terminate());
  backend.listen(stream);
});

server.listen(port, '127.0.0.1', () => {
  console.log('listening ' + port);
});

function stop() {
  wss.close();
  server.close();
  backend.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
