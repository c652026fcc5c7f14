/*
 * text-unicode with presence.  The stock type has no transformPresence, so
 * sharedb could not move remote cursors as ops arrive; this wrapper adds it
 * and is registered under the same name and URI as the original.
 *
 * A presence value is {name, color, sel: [anchor, head]} with positions in
 * code points, or null.
 */

import {type as textUnicode} from 'ot-text-unicode';

/*
 * Where a cursor goes when op is applied.  An insert exactly at the cursor
 * pushes it only when the cursor's owner made the op (they typed it, so
 * their caret sits after it); anybody else's insert lands after the caret.
 * A cursor inside a deleted range moves to the range's start.
 */
export function transformCursor(cursor, op, isOwnOp) {
  let pos = 0;
  let out = cursor;

  for (let i = 0; i < op.length && pos <= cursor; i++) {
    const c = op[i];

    if (typeof c === 'number') {
      pos += c;

    } else if (typeof c === 'string') {
      if (pos < cursor || isOwnOp) {
        out += [...c].length;
      }

    } else {
      const n = typeof c.d === 'number' ? c.d : [...c.d].length;
      if (pos < cursor) {
        out -= Math.min(n, cursor - pos);
      }
      pos += n;
    }
  }

  return out;
}

function transformPresence(presence, op, isOwnOp) {
  if (!presence || !Array.isArray(presence.sel)) {
    return presence;
  }

  return {
    ...presence,
    sel: presence.sel.map((p) => transformCursor(p, op, isOwnOp)),
  };
}

export const type = {...textUnicode, transformPresence};
