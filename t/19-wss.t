# WebSockets over TLS (wss): the upgrade request is freed after the 101
# while the connection keeps its TLS state, so everything after the
# handshake (large and fragmented messages, many records, broadcasts,
# pings, the close handshake, a client that vanishes) must still work, and
# leak nothing (run under make test-asan too).
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);

my $dir = tempdir(CLEANUP => 1);
system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
       '-keyout', "$dir/key.pem", '-out', "$dir/cert.pem", '-days', '2',
       '-subj', '/CN=127.0.0.1', '-loglevel', 'error') == 0
    or system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
              '-keyout', "$dir/key.pem", '-out', "$dir/cert.pem",
              '-days', '2', '-subj', '/CN=127.0.0.1') == 0
    or die "openssl req failed\n";
chmod 0644, "$dir/key.pem";
$ENV{TEST_COLLAB_TLS_DIR} = $dir;

$ENV{TEST_COLLAB_TLS_PORT} = free_port();

run_tests();
__DATA__

=== TEST 1: the stock client over wss: edits, broadcasts, big messages, ping, close, a vanished client
--- workers: 2
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    server {
        listen 127.0.0.1:$TEST_COLLAB_TLS_PORT ssl;
        ssl_certificate $TEST_COLLAB_TLS_DIR/cert.pem;
        ssl_certificate_key $TEST_COLLAB_TLS_DIR/key.pem;
        location /ws {
            collab_websocket;
            collab_max_message_size 4m;
        }
    }
--- config
    location /ws { collab_websocket; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const WebSocket = require('ws');
const ShareDB = require('sharedb/lib/client');
const url = `wss://127.0.0.1:${process.env.TEST_COLLAB_TLS_PORT}/ws`;
const tls = { rejectUnauthorized: false };

async function open(name) {
  const ws = new WebSocket(url, tls);
  ws.on('error', () => {});
  await C.within(new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
  }), 5000, `${name}: wss connect`);
  const conn = new ShareDB.Connection(ws);
  await C.waitFor(() => conn.state === 'connected', 5000, `${name}: hs`);
  return { ws, conn };
}

C.main(async () => {
  const a = await open('a');
  const b = await open('b');
  const da = a.conn.get('t19', 'doc');
  const db = b.conn.get('t19', 'doc');

  C.stage('create, subscribe, edit both ways');
  await C.within(C.create(da, 'tls', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(db), 5000, 'b subscribes');
  for (let i = 0; i < 50; i++) {
    await C.within(C.submit(i % 2 ? da : db, [0, String(i % 10)]), 5000,
                   `op ${i}`);
  }
  await C.converge([da, db], 5000, 'a and b converge');

  C.stage('a 1 MB insert (many TLS records) reaches the other side');
  const big = 'x'.repeat(1 << 20);
  await C.within(C.submit(da, [big]), 10000, 'the big op is acked');
  await C.waitFor(() => db.data.length === da.data.length, 10000,
                  'b receives the big op');
  C.eq(db.data, da.data, 'b has the same text');

  C.stage('a fragmented message and a ping over TLS');
  const raw = new WebSocket(url, tls);
  raw.on('error', () => {});
  await new Promise((res) => raw.once('open', res));
  const replies = [];
  raw.on('message', (d) => replies.push(JSON.parse(d.toString())));
  const hs = JSON.stringify({ a: 'hs', protocol: 1, protocolMinor: 2 });
  raw.send(hs.slice(0, 7), { fin: false });
  raw.send(hs.slice(7), { fin: true });
  let pong = false;
  raw.on('pong', () => { pong = true; });
  raw.ping('p');
  await C.waitFor(() => replies.some((m) => m.a === 'hs') && pong, 5000,
                  'the fragmented hs is answered and the ping ponged');

  C.stage('the close handshake');
  const code = await new Promise((res) => {
    raw.once('close', (c) => res(c));
    raw.close(1000, 'bye');
  });
  C.eq(code, 1000, 'the server echoes close 1000');

  C.stage('a client that vanishes (no close frame, no TLS close_notify)');
  const v = await open('vanishing');
  const dv = v.conn.get('t19', 'doc');
  await C.within(C.subscribe(dv), 5000, 'it subscribes');
  v.ws._socket.destroy();
  for (let i = 0; i < 20; i++) {
    await C.within(C.submit(da, [1, 'y']), 5000, `op after the vanish ${i}`);
  }
  await C.converge([da, db], 5000, 'a and b still converge');
  const rows = await C.opLog('t19', 'doc');
  C.checkLog(rows, 'doc');
  C.eq(C.replay(rows, 'doc').text, da.data, 'the op log agrees');
  a.conn.close();
  b.conn.close();
}, { timeout: 60000 });
--- no_error_log
[crit]
