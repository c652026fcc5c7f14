/*
 * CodeMirror changes <-> text-unicode ops.  CodeMirror positions are UTF-16
 * offsets, text-unicode's are code points.
 */

import {advance, cpLength} from './text.js';
import {type} from './type.js';

/* a CodeMirror ChangeSet against oldDoc as a text-unicode op */
export function changesToOp(changes, oldDoc) {
  const op = [];
  let last = 0;

  changes.iterChanges((fromA, toA, fromB, toB, inserted) => {
    const skip = cpLength(oldDoc.sliceString(last, fromA));
    const text = inserted.toString();

    if (skip) {
      op.push(skip);
    }
    if (toA > fromA) {
      op.push({d: cpLength(oldDoc.sliceString(fromA, toA))});
    }
    if (text) {
      op.push(text);
    }
    last = toA;
  });

  return type.normalize(op);
}

/* a text-unicode op against text as CodeMirror change specs */
export function opToChanges(op, text) {
  const changes = [];
  let pos = 0;

  for (const c of op) {
    if (typeof c === 'number') {
      pos = advance(text, pos, c);

    } else if (typeof c === 'string') {
      changes.push({from: pos, insert: c});

    } else {
      const n = typeof c.d === 'number' ? c.d : cpLength(c.d);
      const end = advance(text, pos, n);
      changes.push({from: pos, to: end});
      pos = end;
    }
  }

  return changes;
}
