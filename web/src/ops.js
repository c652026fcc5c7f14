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
      /* the text, not its length: the op stays invertible (invertOp) */
      op.push({d: oldDoc.sliceString(fromA, toA)});
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

/*
 * The op that undoes op, or null when op does not say what it deleted.
 * Deletes that carry their text survive sharedb's compose and transform.
 */
export function invertOp(op) {
  const out = [];

  for (const c of op) {
    if (typeof c === 'number') {
      out.push(c);
    } else if (typeof c === 'string') {
      out.push({d: c});
    } else if (typeof c.d === 'string') {
      out.push(c.d);
    } else {
      return null;
    }
  }

  return type.normalize(out);
}

/*
 * Myers' shortest edit script between code point arrays x and y, as
 * [kind, codepoint] with kind '=', '-' or '+'; null past maxD edits.
 */
function editScript(x, y, maxD) {
  const n = x.length;
  const m = y.length;
  const off = maxD + 1;
  const v = new Int32Array(2 * maxD + 3);
  const trace = [];

  for (let d = 0; d <= maxD; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let xi = (k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]))
        ? v[off + k + 1] : v[off + k - 1] + 1;
      let yi = xi - k;

      while (xi < n && yi < m && x[xi] === y[yi]) {
        xi++;
        yi++;
      }
      v[off + k] = xi;
      if (xi >= n && yi >= m) {
        return backtrack(trace, x, y, off);
      }
    }
  }
  return null;
}

function backtrack(trace, x, y, off) {
  const out = [];
  let xi = x.length;
  let yi = y.length;

  for (let d = trace.length - 1; d >= 0; d--) {
    const v = trace[d];
    const k = xi - yi;
    const pk = (k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]))
      ? k + 1 : k - 1;
    const px = d ? v[off + pk] : 0;
    const py = d ? px - pk : 0;

    while (xi > px && yi > py) {
      out.push(['=', x[--xi]]);
      yi--;
    }
    if (d) {
      if (xi === px) {
        out.push(['+', y[--yi]]);
      } else {
        out.push(['-', x[--xi]]);
      }
    }
  }
  return out.reverse();
}

/*
 * One op turning text a into text b: the common ends kept, and between
 * them the shortest edit (a single replacement past 2,000 edits).
 */
export function diffOp(a, b) {
  const x = Array.from(a);
  const y = Array.from(b);
  let pre = 0;
  let suf = 0;

  while (pre < x.length && pre < y.length && x[pre] === y[pre]) {
    pre++;
  }
  while (suf < x.length - pre && suf < y.length - pre
         && x[x.length - 1 - suf] === y[y.length - 1 - suf]) {
    suf++;
  }

  const xs = x.slice(pre, x.length - suf);
  const ys = y.slice(pre, y.length - suf);
  const script = editScript(xs, ys, 2000)
    || [...xs.map((c) => ['-', c]), ...ys.map((c) => ['+', c])];
  const op = [pre];

  for (const [kind, c] of script) {
    op.push(kind === '=' ? 1 : kind === '-' ? {d: c} : c);
  }
  return type.normalize(op);
}

/*
 * Unacknowledged ops (in order, the last ending in text mine) moved onto
 * text theirs: undone from mine to find the text they were made on, then
 * transformed past the difference between that and theirs.  null when an
 * op cannot be undone.
 */
export function rebaseOps(ops, mine, theirs) {
  let base = mine;

  for (let i = ops.length - 1; i >= 0; i--) {
    const inv = invertOp(ops[i]);

    if (inv === null) {
      return null;
    }
    base = type.apply(base, inv);
  }

  let d = diffOp(base, theirs);
  const out = [];

  for (const op of ops) {
    out.push(type.transform(op, d, 'left'));
    d = type.transform(d, op, 'right');
  }
  return out;
}
