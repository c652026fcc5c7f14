/*
 * Other participants' carets and selections inside CodeMirror: a state field
 * of decorations, replaced wholesale by the setRemoteCursors effect (values
 * already in UTF-16 offsets of the current text) and mapped through local
 * edits in between.
 */

import {StateEffect, StateField} from '@codemirror/state';
import {Decoration, EditorView, WidgetType} from '@codemirror/view';

export const setRemoteCursors = StateEffect.define();

class CaretWidget extends WidgetType {
  constructor(name, color) {
    super();
    this.name = name;
    this.color = color;
  }

  eq(other) {
    return other.name === this.name && other.color === this.color;
  }

  toDOM() {
    const caret = document.createElement('span');
    const label = document.createElement('span');

    caret.className = 'cm-remote-caret';
    caret.style.borderColor = this.color;
    label.className = 'cm-remote-name';
    label.style.backgroundColor = this.color;
    label.textContent = this.name;
    caret.appendChild(label);

    return caret;
  }

  ignoreEvent() {
    return true;
  }
}

function clamp(v, len) {
  return Math.max(0, Math.min(len, v));
}

/* cursors: [{name, color, anchor, head}] */
function build(cursors, len) {
  const ranges = [];

  for (const c of cursors) {
    const anchor = clamp(c.anchor, len);
    const head = clamp(c.head, len);
    const from = Math.min(anchor, head);
    const to = Math.max(anchor, head);

    if (from < to) {
      ranges.push(Decoration.mark({
        class: 'cm-remote-selection',
        attributes: {style: `background-color: ${c.color}33`},
      }).range(from, to));
    }

    ranges.push(Decoration.widget({
      widget: new CaretWidget(c.name, c.color),
      side: 1,
    }).range(head));
  }

  return Decoration.set(ranges, true);
}

export const remoteCursorField = StateField.define({
  create() {
    return Decoration.none;
  },

  update(deco, tr) {
    for (const e of tr.effects) {
      if (e.is(setRemoteCursors)) {
        return build(e.value, tr.state.doc.length);
      }
    }
    return tr.docChanged ? deco.map(tr.changes) : deco;
  },

  provide: (f) => EditorView.decorations.from(f),
});
