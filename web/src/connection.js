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

export function connect(onState) {
  const socket = new ReconnectingWebSocket(wsUrl(), [], {
    maxEnqueuedMessages: 0,
    minReconnectionDelay: 300 + Math.random() * 400,
    maxReconnectionDelay: 8000,
    reconnectionDelayGrowFactor: 1.6,
    connectionTimeout: 4000,
  });
  const connection = new sharedb.Connection(socket);
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

  connection.on('state', report);
  window.addEventListener('online', report);
  window.addEventListener('offline', report);
  report();

  return {
    socket,
    connection,

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
