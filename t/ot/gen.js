// Differential test generator: random documents and text-unicode ops, run
// through the npm ot-text-unicode oracle, written as JSON lines for
// t/ot/diff.c to recompute and compare.
//
//   node gen.js <seed> <cases>
//
// Every line is one case.  Valid cases carry the document, three ops and
// every oracle result; invalid cases carry an op the oracle rejects (or, for
// "strict" ones, an op our engine refuses on purpose: a {d:"str"} that does
// not match the text, a delete past the end).
'use strict'

const {type} = require('../js/node_modules/ot-text-unicode')

const seed = Number(process.argv[2] || 1)
const cases = Number(process.argv[3] || 100000)

// mulberry32: small seeded PRNG
let state = seed >>> 0
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = n => Math.floor(rand() * n)
const pick = a => a[int(a.length)]

// text units: each is one or more code points
const ALPHABETS = [
  'abcdefghijklmnopqrstuvwxyz ABCXYZ0123.,;'.split(''),
  ['"', '\\', '/', '\n', '\t', '\r', '\u0001', '\u007f', '\u2028'],
  ['é', 'ü', 'ñ', 'Å', 'ø', 'ß', 'Ω'],
  ['e\u0301', 'a\u0308', 'n\u0303', 'o\u0302\u0323'],
  ['中', '文', '字', '日', '本', '語', '한', '글'],
  ['😀', '🤖', '👻', '💃', '🎉', '𝄞', '𠜎'],
  ['👨\u200d👩\u200d👧', '👩\u200d💻', '🏳\ufe0f\u200d🌈', '🇫🇷', '🇯🇵',
   '👍🏽'],
]

const cps = s => Array.from(s)

const randText = (units, mix) => {
  let s = ''
  for (let i = 0; i < units; i++) s += pick(ALPHABETS[pick(mix)])
  return s
}

const randMix = () => {
  const r = int(5)
  if (r === 0) return [0]
  if (r === 1) return [0, 2, 3]
  if (r === 2) return [4, 5, 6]
  return [0, 0, 0, 1, 2, 3, 4, 5, 6]
}

const randDoc = mix => {
  const r = int(100)
  if (r < 5) return ''
  if (r < 7) return randText(200 + int(1500), mix)
  return randText(int(40), mix)
}

// a random valid op for a document of code points d
const randOp = (d, mix) => {
  const big = d.length > 100
  const op = []
  let i = 0
  const n = 1 + int(big ? 10 : 6)
  for (let k = 0; k < n; k++) {
    const r = rand()
    if (r < 0.35 && i < d.length) {
      const len = 1 + int(Math.min(d.length - i, big ? 400 : 8))
      op.push(len)
      i += len
    } else if (r < 0.65) {
      op.push(randText(1 + int(big && int(4) === 0 ? 300 : 5), mix))
    } else if (i < d.length) {
      const len = 1 + int(Math.min(d.length - i, big ? 300 : 6))
      op.push(int(2) ? {d: len} : {d: d.slice(i, i + len).join('')})
      i += len
    }
  }
  // merge adjacent skips, drop a trailing one; adjacent inserts and deletes
  // stay (checkOp allows them and transform treats them differently)
  const out = []
  for (const c of op) {
    if (typeof c === 'number' && typeof out[out.length - 1] === 'number') {
      out[out.length - 1] += c
    } else out.push(c)
  }
  if (typeof out[out.length - 1] === 'number') out.pop()
  return out
}

const clone = x => JSON.parse(JSON.stringify(x))
const oracle = (f, ...args) => {
  try {
    return f(...args.map(clone))
  } catch (e) {
    return null
  }
}

// invalid ops: [op, oracle also rejects it in transform (structural)]
const badOp = (doc, d) => {
  const len = d.length
  switch (int(14)) {
  case 0: return [[0, 'a'], true]
  case 1: return [[1, 2, 'x'], true]
  case 2: return [[1, 'x', 3], true]
  case 3: return [[''], true]
  case 4: return [[{d: 0}], true]
  case 5: return [[{d: ''}], true]
  case 6: return [[-1, 'a'], true]
  case 7: return [[{d: -2}], true]
  case 8: return [[{}], true]
  case 9: return [[[1]], true]
  case 10: return [{d: 1}, true]
  case 11: return [[{d: []}], true]
  case 12: return [[len + 1, 'x'], false]          // skip past the end
  default: return [[null], true]
  }
}

const strictOp = d => {
  if (d.length && int(2)) {
    // a {d:"str"} whose text differs from the document
    const at = int(d.length)
    const cur = d[at]
    const other = cur === 'q' ? 'z' : 'q'
    const op = []
    if (at) op.push(at)
    op.push({d: other})
    return op
  }
  const op = []
  if (d.length) op.push(d.length)
  op.push({d: 1 + int(3)})                          // delete past the end
  return op
}

const out = []
const flush = () => {
  process.stdout.write(out.join('\n') + '\n')
  out.length = 0
}

for (let n = 0; n < cases; n++) {
  const mix = randMix()
  const doc = randDoc(mix)
  const d = cps(doc)

  const r = int(100)
  if (r < 4) {
    const [bad, tx] = badOp(doc, d)
    if (oracle(type.apply, doc, bad) !== null) throw Error('oracle took ' +
                                                     JSON.stringify(bad))
    if (tx && oracle(type.transform, bad, [1, 'x'], 'left') !== null) {
      throw Error('oracle transformed ' + JSON.stringify(bad))
    }
    out.push(JSON.stringify({doc, bad, tx}))
  } else if (r < 6) {
    out.push(JSON.stringify({doc, bad: strictOp(d), strict: true}))
  } else {
    const a = randOp(d, mix)
    const b = randOp(d, mix)
    const ra = type.apply(doc, clone(a))
    const c = randOp(cps(ra), mix)
    const L = d.length
    const pos = [int(L + 2), int(L + 2), int(L + 2), 0, L]
    const sel = [int(L + 1), int(L + 1)]
    const mi = type.makeInvertible(clone(a), doc)
    const kase = {
      doc, a, b, c,
      ra,
      rb: type.apply(doc, clone(b)),
      tl: type.transform(clone(a), clone(b), 'left'),
      tr: type.transform(clone(a), clone(b), 'right'),
      tbl: type.transform(clone(b), clone(a), 'left'),
      tbr: type.transform(clone(b), clone(a), 'right'),
      comp: type.compose(clone(a), clone(c)),
      rc: type.apply(ra, clone(c)),
      pos,
      tp: pos.map(p => type.transformPosition(p, clone(a))),
      sel,
      tsel: type.transformSelection(clone(sel), clone(a)),
      mi,
      inv: type.invert(clone(mi)),
      norm: type.normalize(clone(a)),
      noop: type.isNoop(a),
      invertible: type.isInvertible(a),
    }
    if (type.isInvertible(a)) kase.inva = type.invert(clone(a))
    out.push(JSON.stringify(kase))
  }
  if (out.length >= 1000) flush()
}
flush()
