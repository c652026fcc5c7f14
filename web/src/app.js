/*
 * The page: a header (connection state, go offline/online, your name, who
 * is signed in), and one of two views chosen by the URL hash: the document
 * list (#/) or an editor (#/d/<id>); before either, the sign-in form when
 * the server wants a token (session.js).  window.collab exposes the live
 * objects to tests and curious developers.
 */

import {bindEditor} from './binding.js';
import {connect} from './connection.js';
import {listDocuments, newId, remember, validId} from './docs.js';
import {diffOp, rebaseOps} from './ops.js';
import {toCodePoints, toUtf16} from './text.js';
import {getIdentity, setName} from './identity.js';
import {createSession, SIGNED_IN, SIGNED_OUT} from './session.js';
import {type} from './type.js';

const $ = (id) => document.getElementById(id);

function meta(name, fallback) {
  const m = document.querySelector(`meta[name="${name}"]`);
  return (m && m.content) || fallback;
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) {
    e.append(c);
  }
  return e;
}

const API = meta('collab-api', '/api');
const COLLECTION = meta('collab-collection', 'docs');
const AUTH = meta('collab-auth', '/auth');

const session = createSession(AUTH);

let identity = getIdentity();
let current = null;    /* the open editor: {id, doc, presence, binding} */

let wantOnline = true;
let reloads = 0;     /* documents the server reloaded (RELOADED) */
let conn = null;     /* opened once signed in (or without sign-in) */
let signingIn = false;   /* the sign-in form is up */

function showConn(state) {
  const badge = $('conn');
  badge.dataset.state = state;
  badge.textContent = state;
  $('conn-toggle').textContent = wantOnline ? 'Go offline' : 'Go online';
  document.body.dataset.conn = state;
}

/* header */

function showIdentity() {
  const user = session.user;

  /* signed in, the server shows the others the token's name anyway */
  if (user) {
    identity = {name: user.name || user.sub, color: identity.color};
  }
  $('me-name').value = identity.name;
  $('me-name').readOnly = !!user;
  $('me-name').title = user ? `signed in as ${user.sub}` : '';
  $('me-color').style.background = identity.color;
  $('sign-out').hidden = !user;
  document.body.dataset.user = user ? user.sub : '';
}

$('me-name').addEventListener('change', (e) => {
  if (session.user) {
    return;
  }
  identity = setName(e.target.value);
  showIdentity();
  if (current && current.binding) {
    current.binding.refreshPresence();
  }
});

$('sign-out').addEventListener('click', async () => {
  closeEditor();
  if (conn) {
    conn.offline();
  }
  await session.signOut();
  showIdentity();
  showSignIn('Signed out.');
});

/* the sign-in form: until it succeeds, nothing else is shown */
function showSignIn(note = '') {
  const user = el('input', {name: 'user', autocomplete: 'username',
                            required: true, maxLength: 64,
                            pattern: '[A-Za-z0-9._@\\-]{1,64}',
                            title: 'letters, digits, . _ - @'});
  const password = el('input', {name: 'password', type: 'password',
                                autocomplete: 'current-password',
                                required: true, maxLength: 1024});
  const display = el('input', {name: 'name', maxLength: 40,
                               autocomplete: 'name'});
  const nameRow = el('label', {hidden: true}, 'Name shown to others ',
                     display);
  const message = el('p', {className: 'hint', textContent: note});
  const submit = el('button', {className: 'primary', type: 'submit',
                               textContent: 'Sign in'});
  const toggle = el('button', {type: 'button',
                               textContent: 'Create an account'});
  let signUp = false;

  toggle.addEventListener('click', () => {
    signUp = !signUp;
    nameRow.hidden = !signUp;
    submit.textContent = signUp ? 'Create account' : 'Sign in';
    toggle.textContent = signUp ? 'I have an account' : 'Create an account';
    password.autocomplete = signUp ? 'new-password' : 'current-password';
  });

  const form = el('form', {className: 'sign-in'},
    el('h1', {textContent: 'Sign in'}),
    el('label', {}, 'User name ', user),
    el('label', {}, 'Password ', password),
    nameRow, el('div', {}, submit, toggle), message);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    message.textContent = '';
    const r = await session.signIn(user.value.trim(), password.value, signUp,
                                   display.value.trim());
    submit.disabled = false;
    if (!r.ok) {
      message.textContent = r.error;
      message.className = 'error';
      return;
    }
    password.value = '';
    boot();
  });

  signingIn = true;
  document.body.dataset.signin = 'true';
  $('view').replaceChildren(form);
  user.focus();
}

/* signed in, or no sign-in here: the connection and the views */
function boot() {
  signingIn = false;
  document.body.dataset.signin = 'false';
  showIdentity();
  if (conn) {
    setOnline(true);
  } else {
    conn = connect(showConn, reloadEditor, () => session.refresh());
  }
  route();
}

/*
 * A refreshed token renews the open socket too ({"a":"auth"}, see
 * docs/protocol.md): it is not closed with 4401 when the old one runs out.
 * The stock client logs the reply as a message it does not know.
 */
session.onRenewed = (token) => {
  const ws = conn && conn.socket;
  if (token && ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({a: 'auth', token}));
  }
};

session.onLost = () => {
  closeEditor();
  if (conn) {
    conn.offline();
  }
  showIdentity();
  showSignIn('Your session ended: sign in again.');
};

function setOnline(on) {
  wantOnline = on;
  if (on) {
    conn.online();
  } else {
    conn.offline();
  }
}

$('conn-toggle').addEventListener('click', () => setOnline(!wantOnline));

/* views */

/* an editor's listeners, view and subscriptions go */
function teardown(ed) {
  clearInterval(ed.timer);
  ed.off();
  if (ed.binding) {
    ed.binding.destroy();
  }
  /*
   * unsubscribed but not destroyed: coming back to the same id at once
   * must not find a Doc that a late destroy() then takes away
   */
  ed.presence.unsubscribe();
  ed.doc.unsubscribe();
  if (ed.dead) {
    ed.dead.close();
  }
}

function closeEditor() {
  if (!current) {
    return;
  }

  const ed = current;

  current = null;
  teardown(ed);
  if (ed.prev) {
    teardown(ed.prev);
  }
  $('doc-title').textContent = '';
}

/*
 * The server reloaded the open document from the database (connection.js,
 * RELOADED): it is opened again on the new connection.  The old editor
 * stays on screen, and takes keystrokes, until the new one has loaded;
 * then what the server had not acknowledged is sent again, on its text.
 */
function reloadEditor(old) {
  reloads++;
  document.body.dataset.reloads = String(reloads);
  if (!current) {
    old.close();
    return;
  }

  const prev = current;

  prev.dead = old;
  current = null;
  showEditor(prev.id, prev);
}

async function showHome() {
  const view = $('view');
  const input = el('input', {name: 'id', value: newId(), required: true,
                             pattern: '[A-Za-z0-9._~\\-]{1,100}',
                             title: 'letters, digits, . _ ~ -'});
  const list = el('ul', {className: 'doc-list'});
  const hint = el('p', {className: 'hint'});
  const form = el('form', {}, input,
                  el('button', {className: 'primary', type: 'submit',
                                textContent: 'Create document'}));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (validId(id)) {
      location.hash = `#/d/${id}`;
    }
  });

  view.replaceChildren(el('section', {className: 'home'},
    el('h1', {textContent: 'Documents'}), form, list, hint));

  const {listed, docs} = await listDocuments(API, COLLECTION);

  for (const d of docs) {
    const metaText = d.server
      ? `v${d.v}` + (d.updated ? ` · ${new Date(d.updated).toLocaleString()}` : '')
      : 'opened here';
    list.append(el('li', {},
      el('a', {href: `#/d/${encodeURIComponent(d.id)}`, textContent: d.id}),
      el('span', {className: 'meta', textContent: metaText})));
  }
  if (!docs.length) {
    list.append(el('li', {className: 'hint',
                          textContent: 'No documents yet: create one.'}));
  }
  hint.textContent = listed ? ''
    : 'The server has no document list API here: showing the documents '
      + 'opened in this browser.';
}

/*
 * What the user may do with the document (GET <api>/<c>/<d>/role):
 * "viewer" and "commenter" read only.  Without the API, or with auth off,
 * anything goes (the server refuses what it must anyway).
 */
async function mayEdit(id) {
  try {
    const res = await fetch(`${API}/${encodeURIComponent(COLLECTION)}/`
                            + `${encodeURIComponent(id)}/role`,
                            {headers: {Accept: 'application/json'},
                             cache: 'no-store'});
    if (!res.ok) {
      return true;
    }
    const {role, exists} = await res.json();
    return !exists || role === 'editor' || role === 'owner';
  } catch (e) {
    return true;
  }
}

function showEditor(id, prev = null) {
  const view = $('view');
  const status = el('span', {className: 'status'});
  const peers = el('span', {className: 'peers'});
  const box = el('div', {className: 'editor'});
  const doc = conn.connection.get(COLLECTION, id);
  const presence = conn.connection.getDocPresence(COLLECTION, id);
  const badge = el('span', {className: 'read-only', hidden: true,
                           textContent: 'read only'});
  const me = {id, doc, presence, binding: null, off: null, timer: null,
              prev, readOnly: false};
  let unsaved = {ops: [], mine: ''};

  current = me;
  remember(id);
  $('doc-title').textContent = id;
  status.textContent = 'loading…';
  if (!prev) {
    show();
  }

  function show() {
    view.replaceChildren(
      el('div', {className: 'doc-bar'}, status, badge,
         el('span', {textContent: '·'}),
         el('span', {textContent: 'editing with:'}), peers),
      box);
  }

  /* a reload: the previous editor gives way, with what it had not saved */
  function swap() {
    const p = me.prev;

    if (!p) {
      return null;
    }
    me.prev = null;
    unsaved = {
      ops: [p.doc.inflightOp, ...p.doc.pendingOps]
        .filter((o) => o && o.op).map((o) => o.op),
      mine: p.doc.data,
    };
    const v = p.binding && p.binding.view;
    const caret = v && {mine: v.state.doc.toString(),
                        head: v.state.selection.main.head,
                        focused: v.hasFocus};
    teardown(p);
    show();
    return caret;
  }

  function showStatus() {
    const kept = me.binding && me.binding.offline;
    const saved = kept ? 'offline, your edits are kept'
      : doc.hasWritePending() ? 'saving…' : 'saved';
    status.dataset.kept = String(!!kept);
    status.textContent = doc.type
      ? `version ${doc.version} · ${saved}`
      : 'loading…';
    status.dataset.version = doc.version === null ? '' : String(doc.version);
    status.dataset.pending = String(doc.hasWritePending());
  }

  function showPeers(list) {
    peers.replaceChildren(...(list.length ? list.map((p) =>
      el('span', {className: 'peer', textContent: p.name,
                  style: `background:${p.color}`}))
      : [el('span', {textContent: 'nobody else'})]));
  }

  function start() {
    if (current !== me || me.binding) {
      return;
    }
    const caret = swap();
    reapply();
    me.binding = bindEditor({
      parent: box, doc, presence, onPeers: showPeers, onKept: showStatus,
      me: () => ({name: identity.name, color: identity.color}),
      readOnly: me.readOnly,
    });
    if (caret) {
      placeCaret(caret);
    }
    showStatus();
  }

  /* the caret where it was in the previous editor's text, and the focus */
  function placeCaret({mine, head, focused}) {
    const v = me.binding.view;
    const text = v.state.doc.toString();
    const cp = type.transformPosition(toCodePoints(mine, head),
                                      diffOp(mine, text));
    const at = Math.min(toUtf16(text, cp), text.length);

    v.dispatch({selection: {anchor: at}});
    if (focused) {
      v.focus();
    }
  }

  /*
   * The user's unacknowledged edits, moved onto the server's text (as
   * they were, where they cannot be undone), where they still fit it.
   */
  function reapply() {
    let text = doc.data;
    let kept = 0;

    if (!unsaved.ops.length || typeof text !== 'string') {
      return;
    }
    const ops = rebaseOps(unsaved.ops, unsaved.mine, text) || unsaved.ops;

    unsaved.ops = [];
    for (const op of ops) {
      try {
        text = type.apply(text, op);
      } catch (e) {
        console.warn('collab: an unsaved edit no longer fits', id, op);
        continue;
      }
      doc.submitOp(op, {source: 'reapplied'});
      kept++;
    }
    if (kept) {
      console.info(`collab: ${id}: ${kept} unsaved edits sent again`);
    }
  }

  function onError(err) {
    console.warn('collab:', id, err);
  }

  function onLoad() {
    if (doc.type) {
      start();
    }
  }

  const listeners = [[doc, 'error', onError], [presence, 'error', onError],
                     [doc, 'no write pending', showStatus],
                     [doc, 'op', showStatus], [doc, 'load', onLoad],
                     [doc, 'create', onLoad]];

  for (const [target, name, fn] of listeners) {
    target.on(name, fn);
  }
  me.off = () => {
    for (const [target, name, fn] of listeners) {
      target.removeListener(name, fn);
    }
  };

  /* acks move the version without an event of their own: poll too */
  me.timer = setInterval(showStatus, 250);

  mayEdit(id).then((yes) => {
    me.readOnly = !yes;
    badge.hidden = yes;
    document.body.dataset.readOnly = String(!yes);
    if (me.binding) {
      me.binding.setReadOnly(!yes);
    }
  });

  presence.subscribe((err) => {
    if (err) {
      console.warn('collab: presence subscribe', err);
    }
  });

  doc.subscribe((err) => {
    if (err) {
      if (current === me) {
        swap();
      }
      status.replaceChildren(el('span', {className: 'error',
                                         textContent: err.message}));
      return;
    }
    if (current !== me) {
      return;
    }
    if (doc.type) {
      start();
      return;
    }
    /* opening a new id creates it; losing a creation race is fine */
    doc.create('', type.uri, (e) => {
      if (e && e.code !== 'ERR_DOC_ALREADY_CREATED') {
        status.replaceChildren(el('span', {className: 'error',
                                           textContent: e.message}));
      }
    });
    start();
  });

  showPeers([]);
}

function route() {
  if (!conn || signingIn) {
    return;
  }
  const m = /^#\/d\/(.+)$/.exec(location.hash);
  const id = m ? decodeURIComponent(m[1]) : null;

  if (current && current.id === id) {
    return;
  }
  closeEditor();
  if (id !== null && validId(id)) {
    showEditor(id);
  } else {
    showHome();
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('pagehide', () => closeEditor());

showIdentity();
session.resume().then((state) => {
  if (state === SIGNED_OUT) {
    showSignIn();
    return;
  }
  if (state === SIGNED_IN) {
    console.info(`collab: signed in as ${session.user.sub}`);
  }
  boot();
});

window.collab = {
  get connection() {
    return conn && conn.connection;
  },
  get socket() {
    return conn && conn.socket;
  },
  get session() {
    return session;
  },
  offline: () => setOnline(false),
  online: () => setOnline(true),
  get doc() {
    return current && current.doc;
  },
  get view() {
    return current && current.binding && current.binding.view;
  },
  get identity() {
    return identity;
  },
};
