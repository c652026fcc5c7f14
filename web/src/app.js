/*
 * The page: a header (connection state, go offline/online, your name), and
 * one of two views chosen by the URL hash: the document list (#/) or an
 * editor (#/d/<id>).  window.collab exposes the live objects to tests and
 * curious developers.
 */

import {bindEditor} from './binding.js';
import {connect} from './connection.js';
import {listDocuments, newId, remember, validId} from './docs.js';
import {diffOp, rebaseOps} from './ops.js';
import {toCodePoints, toUtf16} from './text.js';
import {getIdentity, setName} from './identity.js';
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

let identity = getIdentity();
let current = null;    /* the open editor: {id, doc, presence, binding} */

let wantOnline = true;
let reloads = 0;     /* documents the server reloaded (RELOADED) */

const conn = connect((state) => {
  const badge = $('conn');
  badge.dataset.state = state;
  badge.textContent = state;
  $('conn-toggle').textContent = wantOnline ? 'Go offline' : 'Go online';
  document.body.dataset.conn = state;
}, reloadEditor);

/* header */

function showIdentity() {
  $('me-name').value = identity.name;
  $('me-color').style.background = identity.color;
}

$('me-name').addEventListener('change', (e) => {
  identity = setName(e.target.value);
  showIdentity();
  if (current && current.binding) {
    current.binding.refreshPresence();
  }
});

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

function showEditor(id, prev = null) {
  const view = $('view');
  const status = el('span', {className: 'status'});
  const peers = el('span', {className: 'peers'});
  const box = el('div', {className: 'editor'});
  const doc = conn.connection.get(COLLECTION, id);
  const presence = conn.connection.getDocPresence(COLLECTION, id);
  const me = {id, doc, presence, binding: null, off: null, timer: null,
              prev};
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
      el('div', {className: 'doc-bar'}, status, el('span', {textContent: '·'}),
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
route();

window.collab = {
  get connection() {
    return conn.connection;
  },
  get socket() {
    return conn.socket;
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
