/*
 * CodeMirror 6 <-> sharedb text-unicode document, plus doc presence.
 *
 * Local edits: every CodeMirror transaction that changes the text (and was
 * not ours) becomes one text-unicode op, submitted at once, so the editor's
 * text and doc.data are always equal.  Remote ops: applied to the editor as
 * one transaction that is kept out of the undo history.  CodeMirror counts
 * UTF-16 units, text-unicode code points: every position is converted.
 *
 * Kept edits: an op the server could not commit because its database was
 * away for longer than collab_commit_wait comes back as an error, and the
 * stock client rolls the document back.  The user's text is not lost: the
 * op is kept with the text it was made on, moved onto the document again
 * once it has reloaded, and sent again (the server makes it wait until the
 * database is back).  onKept(offline) says when that starts (an edit came
 * back) and ends (an edit was acknowledged again).
 */

import {Annotation, Compartment, EditorState, Transaction}
  from '@codemirror/state';
import {
  EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers,
} from '@codemirror/view';
import {
  defaultKeymap, history, historyKeymap, indentWithTab,
} from '@codemirror/commands';

import {remoteCursorField, setRemoteCursors} from './cursors.js';
import {safeColor} from './identity.js';
import {changesToOp, opToChanges, rebaseOps} from './ops.js';
import {type} from './type.js';
import {toCodePoints, toUtf16} from './text.js';

const remote = Annotation.define();

/*
 * doc: a subscribed sharedb Doc that exists (doc.type set).
 * presence: connection.getDocPresence(collection, id), subscribed.
 * me(): {name, color} of this participant.
 * onPeers(list): called with [{id, name, color}] when participants change.
 * readOnly: the user may read but not change it (a viewer): the text
 * follows the others', the caret still shows, typing does nothing.
 */
function writable(yes) {
  return [EditorState.readOnly.of(!yes), EditorView.editable.of(yes)];
}

export function bindEditor({parent, doc, presence, me, onPeers,
                            onKept = () => {}, readOnly = false}) {
  const editable = new Compartment();
  const source = {binding: true};
  const again = {binding: 'kept'};
  let kept = [];           /* [{op, before}]: not committed, to send again */
  let offline = false;     /* edits came back, none acknowledged since */
  const local = presence.create();
  let presenceTimer = null;
  let cursorsQueued = false;
  let view = null;

  function text() {
    return view.state.doc.toString();
  }

  function resetText() {
    const current = text();

    if (current !== doc.data) {
      view.dispatch({
        changes: {from: 0, to: current.length, insert: doc.data},
        annotations: [remote.of(true), Transaction.addToHistory.of(false)],
      });
    }
  }

  function submitPresence() {
    presenceTimer = null;

    if (!doc.type || !view) {
      return;
    }

    const sel = view.state.selection.main;
    const s = text();
    const value = {
      ...me(),
      sel: [toCodePoints(s, sel.anchor), toCodePoints(s, sel.head)],
    };

    local.submit(value, (err) => {
      if (err) {
        console.warn('collab: presence', err);
      }
    });
  }

  function queuePresence() {
    if (presenceTimer === null) {
      presenceTimer = setTimeout(submitPresence, 30);
    }
  }

  /* rebuilt after the current event, when the editor has every op */
  function queueCursors() {
    if (cursorsQueued) {
      return;
    }
    cursorsQueued = true;

    queueMicrotask(() => {
      const cursors = [];
      const peers = [];
      let s;

      cursorsQueued = false;
      if (!view) {
        return;
      }

      s = text();
      for (const [id, p] of Object.entries(presence.remotePresences)) {
        if (!p || !Array.isArray(p.sel)) {
          continue;
        }
        const name = String(p.name || 'anonymous').slice(0, 40);
        const color = safeColor(p.color);

        peers.push({id, name, color});
        cursors.push({
          name,
          color,
          anchor: toUtf16(s, p.sel[0]),
          head: toUtf16(s, p.sel[1]),
        });
      }

      view.dispatch({effects: setRemoteCursors.of(cursors)});
      onPeers(peers);
    });
  }

  function onOp(op, src) {
    if (src === source) {
      return;
    }

    try {
      view.dispatch({
        changes: opToChanges(op, text()),
        annotations: [remote.of(true), Transaction.addToHistory.of(false)],
      });
    } catch (e) {
      console.warn('collab: op did not apply to the editor', e);
    }

    if (text() !== doc.data) {
      /* never expected; the document is the truth */
      console.warn('collab: editor diverged from the document, reset');
      resetText();
    }
    queueCursors();
  }

  function onLoad() {
    if (doc.type) {
      resetText();
      sendKept();
    }
    queueCursors();
  }

  /* "Database unavailable": the op was rolled back, not lost */
  function unavailable(err) {
    return err && err.code === 'ERR_UNKNOWN_ERROR'
      && /Database unavailable/.test(err.message || '');
  }

  function submit(op, before, src) {
    doc.submitOp(op, {source: src}, (err) => {
      if (unavailable(err)) {
        kept.push({op, before});
        if (!offline) {
          offline = true;
          onKept(true);
        }
        /* after the rollback that follows this callback */
        setTimeout(() => {
          if (view && doc.type && !doc.hasPending()) {
            sendKept();
          }
        }, 0);
        return;
      }
      if (err) {
        console.warn('collab: op rejected', err);
      } else if (offline) {
        offline = false;
        onKept(false);
      }
    });
  }

  /* the kept edits, moved one by one onto the reloaded text */
  function sendKept() {
    const list = kept;

    kept = [];
    for (const {op, before} of list) {
      const now = doc.data;
      let moved;

      try {
        moved = rebaseOps([op], type.apply(before, op), now);
      } catch (e) {
        moved = null;
      }
      if (!moved || !moved[0].length) {
        continue;
      }
      const after = type.apply(now, moved[0]);
      submit(moved[0], now, again);
      if (doc.data !== after) {
        break;
      }
    }
  }

  const updates = EditorView.updateListener.of((u) => {
    for (const tr of u.transactions) {
      if (!tr.docChanged || tr.annotation(remote)) {
        continue;
      }

      const op = changesToOp(tr.changes, tr.startState.doc);
      if (op.length) {
        submit(op, tr.startState.doc.toString(), source);
      }
    }

    if (u.selectionSet || u.docChanged || u.focusChanged) {
      queuePresence();
    }
  });

  view = new EditorView({
    parent,
    state: EditorState.create({
      doc: doc.data,
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        remoteCursorField,
        updates,
        editable.of(writable(!readOnly)),
      ],
    }),
  });

  function onSettled() {
    if (kept.length && doc.type) {
      sendKept();
    }
  }

  doc.on('op', onOp);
  doc.on('load', onLoad);
  doc.on('no write pending', onSettled);
  doc.on('create', onLoad);
  presence.on('receive', queueCursors);
  local.on('error', (err) => console.warn('collab: presence', err));
  queueCursors();
  submitPresence();

  return {
    view,

    /* the name or colour changed: tell the others */
    refreshPresence: queuePresence,

    /* the role changed: typing allowed again, or not any more */
    setReadOnly(ro) {
      view.dispatch({effects: editable.reconfigure(writable(!ro))});
    },

    get readOnly() {
      return view.state.readOnly;
    },

    /* edits the server could not commit yet, kept to be sent again */
    get kept() {
      return kept.length;
    },

    get offline() {
      return offline;
    },

    destroy() {
      doc.removeListener('op', onOp);
      doc.removeListener('load', onLoad);
      doc.removeListener('no write pending', onSettled);
      doc.removeListener('create', onLoad);
      presence.removeListener('receive', queueCursors);
      clearTimeout(presenceTimer);
      local.submit(null, () => local.destroy());
      view.destroy();
      view = null;
    },
  };
}
