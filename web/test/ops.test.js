// The editor's conversions, checked against ot-text-unicode itself:
// random CodeMirror edits and random text-unicode ops over text with
// astral characters (emoji), plus transformPresence.  `npm test`.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {ChangeSet, Text} from '@codemirror/state';

import {changesToOp, diffOp, invertOp, opToChanges, rebaseOps}
  from '../src/ops.js';
import {advance, cpLength, toCodePoints, toUtf16} from '../src/text.js';
import {transformCursor, type} from '../src/type.js';

const ALPHABET = ['a', 'b', ' ', '\n', 'é', '😀', '🎉', '✈️', '中'];

/* a small deterministic PRNG, so failures repeat */
function rng(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
}

function randomText(r, max) {
  let s = '';
  for (let n = r(max); n > 0; n--) {
    s += ALPHABET[r(ALPHABET.length)];
  }
  return s;
}

/* UTF-16 offsets that never split a surrogate pair */
function boundaries(s) {
  const out = [0];
  for (let i = 0; i < s.length;) {
    i = advance(s, i, 1);
    out.push(i);
  }
  return out;
}

test('code point helpers', () => {
  const s = 'a😀b🎉';
  assert.equal(cpLength(s), 4);
  assert.equal(advance(s, 0, 2), 3);
  assert.equal(toCodePoints(s, 3), 2);
  assert.equal(toUtf16(s, 4), s.length);
  assert.equal(toUtf16(s, 99), s.length);
  assert.throws(() => advance(s, 0, 5));
});

test('CodeMirror changes become the same edit as a text-unicode op', () => {
  const r = rng(1);

  for (let i = 0; i < 2000; i++) {
    const before = randomText(r, 12);
    const cuts = boundaries(before);
    const specs = [];
    let pos = 0;

    /* a few non-overlapping changes, left to right */
    for (let k = r(4); k > 0; k--) {
      const from = cuts[Math.min(cuts.length - 1, cuts.indexOf(pos) + r(4))];
      const to = cuts[Math.min(cuts.length - 1, cuts.indexOf(from) + r(3))];
      specs.push({from, to, insert: randomText(r, 3)});
      pos = to;
    }

    const doc = Text.of(before.split('\n'));
    const changes = ChangeSet.of(specs, doc.length);
    const op = changesToOp(changes, doc);
    const after = changes.apply(doc).toString();

    assert.equal(type.apply(before, op), after, JSON.stringify({before, specs, op}));
    if (op.length) {
      assert.deepEqual(type.normalize(op), op);
    }
  }
});

test('text-unicode ops become the same edit as CodeMirror changes', () => {
  const r = rng(2);

  for (let i = 0; i < 2000; i++) {
    const before = randomText(r, 12);
    const len = cpLength(before);
    const op = [];
    let pos = 0;

    while (pos < len && r(3)) {
      const skip = r(len - pos + 1);
      if (skip) {
        op.push(skip);
        pos += skip;
      }
      if (r(2)) {
        op.push(randomText(r, 3) || 'x');
      }
      if (pos < len && r(2)) {
        const d = 1 + r(len - pos);
        op.push(r(2) ? {d} : {d: [...before].slice(pos, pos + d).join('')});
        pos += d;
      }
    }
    const norm = type.normalize(op);

    const doc = Text.of(before.split('\n'));
    const changes = ChangeSet.of(opToChanges(norm, before), doc.length);

    assert.equal(changes.apply(doc).toString(), type.apply(before, norm),
                 JSON.stringify({before, norm}));
  }
});

test('transformCursor: inserts, deletes and whose op it was', () => {
  /* text "abcdef", cursor at 3 (between c and d) */
  assert.equal(transformCursor(3, ['XY'], false), 5);
  assert.equal(transformCursor(3, [3, 'XY'], false), 3);
  assert.equal(transformCursor(3, [3, 'XY'], true), 5);
  assert.equal(transformCursor(3, [4, 'XY'], true), 3);
  assert.equal(transformCursor(3, [1, {d: 1}], false), 2);
  assert.equal(transformCursor(3, [1, {d: 4}], false), 1);
  assert.equal(transformCursor(3, [3, {d: 2}], false), 3);
  assert.equal(transformCursor(3, [{d: 'ab'}, '😀😀😀'], false), 4);
  assert.equal(transformCursor(0, ['a'], false), 0);
  assert.equal(transformCursor(0, ['a'], true), 1);
});

test("transformPresence moves others' carets as transformSelection does", () => {
  const r = rng(3);

  for (let i = 0; i < 1000; i++) {
    const text = randomText(r, 10);
    const len = cpLength(text);
    const sel = [r(len + 1), r(len + 1)];
    const at = r(len + 1);
    const del = r(len - at + 1);
    const op = type.normalize([at, randomText(r, 3) || 'q',
                               ...(del ? [{d: del}] : [])]);
    const p = type.transformPresence({name: 'n', color: '#123456', sel},
                                     op, false);

    assert.deepEqual(p.sel, type.transformSelection(sel, op));
    assert.equal(p.name, 'n');
  }
  assert.equal(type.transformPresence(null, ['x'], false), null);
  assert.equal(type.name, 'text-unicode');
  assert.equal(type.uri, 'http://sharejs.org/types/text-unicode');
});

test('invertOp undoes ops whose deletes carry their text', () => {
  const r = rng(3);

  for (let i = 0; i < 2000; i++) {
    const before = randomText(r, 12);
    const after = randomText(r, 12);
    const op = diffOp(before, after);

    assert.equal(type.apply(before, op), after);
    assert.equal(type.apply(after, invertOp(op)), before,
                 JSON.stringify({before, after, op}));
  }
  assert.equal(invertOp([1, {d: 2}]), null);
});

test('rebaseOps moves unsaved edits onto the server\'s text', () => {
  /* made on a copy with a forged insert at the start */
  const forged = 'FORGED hello 😀';
  const ops = [[14, ' a'], [15, {d: 'a'}, 'b🎉']];
  const mine = ops.reduce((t, op) => type.apply(t, op), forged);
  assert.equal(mine, 'FORGED hello 😀 b🎉');

  /* the server's text: no forged insert, someone else's edit */
  const theirs = 'hello, 😀';
  const out = rebaseOps(ops, mine, theirs);
  assert.equal(out.reduce((t, op) => type.apply(t, op), theirs),
               'hello, 😀 b🎉');
  assert.equal(rebaseOps([[1, {d: 1}]], 'ab', 'ab'), null);
});

test('diffOp is a shortest edit over code points', () => {
  const r = rng(4);

  for (let i = 0; i < 1000; i++) {
    const a = randomText(r, 30);
    const b = randomText(r, 30);
    const op = diffOp(a, b);
    assert.equal(type.apply(a, op), b, JSON.stringify({a, b, op}));
  }
  assert.deepEqual(diffOp('FORGED hello', 'hello!'),
                   [{d: 'FORGED '}, 5, '!']);
});
