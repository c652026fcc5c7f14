/*
 * One sharedb connection over a reconnecting WebSocket.
 *
 * maxEnqueuedMessages: 0 matters: while the socket is down the socket must
 * not queue messages of its own; sharedb keeps unacknowledged ops in the
 * documents and resends them (same src and seq, deduplicated by the server)
 * after the next handshake, so edits made offline survive.
 */

import ReconnectingWebSocket from 'reconnecting-websocket';
import sharedb from 'sharedb/lib/client';

import {type} from './type.js';

sharedb.types.register(type);

export function wsUrl() {
  const meta = document.querySelector('meta[name="collab-ws"]');
  const path = (meta && meta.content) || '/ws';

  if (/^wss?:\/\//.test(path)) {
    return path;
  }
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}

/*
 * The close code of a server that threw its copy of a document away (it
 * disagreed with the database).  The client's copy may hold the same
 * wrong ops, and the stock sharedb client would resubscribe from it: the
 * connection is replaced by a new one, which loads the server's truth.
 */
export const RELOADED = 4001;

/* the server refused (or stopped taking) the token: get a fresh one */
export const EXPIRED = 4401;

export function connect(onState, onReloaded, onExpired = () => {}) {
  let socket = null;
  let connection = null;
  let wantOnline = true;

  function report() {
    let state;

    if (!wantOnline) {
      state = 'offline';
    } else if (connection.state === 'connected') {
      state = 'connected';
    } else if (!navigator.onLine) {
      state = 'offline';
    } else {
      state = 'reconnecting';
    }
    onState(state);
  }

  function open() {
    const ws = new ReconnectingWebSocket(wsUrl(), [], {
      maxEnqueuedMessages: 0,
      minReconnectionDelay: 300 + Math.random() * 400,
      maxReconnectionDelay: 8000,
      reconnectionDelayGrowFactor: 1.6,
      connectionTimeout: 4000,
    });
    const c = new sharedb.Connection(ws);

    c.on('state', report);
    ws.addEventListener('close', (e) => {
      if (e.code === EXPIRED && ws === socket) {
        /* it reconnects by itself, with the cookie refreshed meanwhile */
        onExpired();
        return;
      }
      if (e.code !== RELOADED || ws !== socket) {
        return;
      }
      ws.close(1000, 'reloaded');     /* no reconnect of this one */
      c.removeListener('state', report);
      open();
      onReloaded(c);
    });
    socket = ws;
    connection = c;
  }

  open();
  window.addEventListener('online', report);
  window.addEventListener('offline', report);
  report();

  return {
    get socket() {
      return socket;
    },

    get connection() {
      return connection;
    },

    /* "go offline": close the socket and stop reconnecting until online() */
    offline() {
      wantOnline = false;
      socket.close(1000, 'offline');
      report();
    },

    online() {
      wantOnline = true;
      socket.reconnect();
      report();
    },
  };
}
