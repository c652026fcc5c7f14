# The interim ShareDB layer: handshake, ping, and ShareDB-shaped errors.
use lib 't/lib';
use Test::Collab;
run_tests();
__DATA__

=== TEST 1: the stock sharedb client connects (handshake accepted)
--- config
    location /ws { collab_websocket; }
--- node
const ShareDB = require('sharedb/lib/client');
const WebSocket = require('ws');
const ids = new Set();
let left = 3;
for (let i = 0; i < 3; i++) {
  const socket = new WebSocket(process.env.COLLAB_WS_URL);
  const conn = new ShareDB.Connection(socket);
  conn.on('state', (state) => {
    if (state !== 'connected') return;
    if (!/^[0-9a-f]{32}$/.test(conn.id)) { console.error('bad id', conn.id); process.exit(1); }
    ids.add(conn.id);
    conn.ping();
    conn.on('pong', () => {
      conn.close();
      if (--left === 0) {
        if (ids.size !== 3) { console.error('ids not unique'); process.exit(1); }
        process.exit(0);
      }
    });
  });
  conn.on('error', (e) => { console.error(e); process.exit(1); });
}
setTimeout(() => { console.error('timeout'); process.exit(1); }, 10000);


=== TEST 2: ping, unknown action (echoed with the error), bad JSON
--- config
    location /ws { collab_websocket; }
--- ws
send text {"a":"pp"}
expect text {"a":"pp"}
send text {"a":"nope","id":7,"x":[1,2.50,-3e2,true,null,{"y":"é\"/"}]}
expect text {"a":"nope","id":7,"x":[1,2.50,-3e2,true,null,{"y":"é\"/"}],"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid or unknown message"}}
send text {"x":1,"error":"client supplied"}
expect text {"x":1,"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid or unknown message"}}
send text {"a":
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid JSON"}}
send text [1,2]
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Received non-object message"}}
send text [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
expect text {"error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid JSON"}}
send close 1000
expect close 1000
expect eof
--- no_error_log
[error]
