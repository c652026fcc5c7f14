// Transform test vectors made by the reference package's own op generator
// (ot-text-unicode/test/genOp.js, seeded through ot-fuzzer's SEED), the way
// the upstream repository's scripts/genTestData.js builds
// text-transform-tests.json, which the npm package does not ship.  Output
// lines use gen.js's format: doc, a, b, ra, rb, tl, tr, tbl, tbr, comp.
//
//   SEED=1 node vectors.js <count>
'use strict'

const path = require('path')
const mods = path.join(__dirname, '..', 'js', 'node_modules')
const {type} = require(path.join(mods, 'ot-text-unicode'))
const genOp = require(path.join(mods, 'ot-text-unicode', 'test', 'genOp.js'))
const {randomInt, randomWord} = require(path.join(mods, 'ot-fuzzer'))

const count = Number(process.argv[2] || 5000)
const emoji = ['😅', '🤖', '👻', '🤟', '💃']

const randomDoc = () => {
  let s = ''
  const n = randomInt(12)
  for (let i = 0; i < n; i++) {
    s += randomInt(4) ? randomWord() + ' ' : emoji[randomInt(emoji.length)]
  }
  return s
}

const clone = x => JSON.parse(JSON.stringify(x))
const lines = []

for (let i = 0; i < count; i++) {
  const doc = randomDoc()
  const [a, ra] = genOp(doc)
  const [b, rb] = genOp(doc)
  if (type.apply(doc, clone(a)) !== ra) throw Error('genOp disagrees')
  const [c] = genOp(ra)
  lines.push(JSON.stringify({
    doc, a, b, c, ra, rb,
    tl: type.transform(clone(a), clone(b), 'left'),
    tr: type.transform(clone(a), clone(b), 'right'),
    tbl: type.transform(clone(b), clone(a), 'left'),
    tbr: type.transform(clone(b), clone(a), 'right'),
    comp: type.compose(clone(a), clone(c)),
    rc: type.apply(ra, clone(c)),
  }))
}

process.stdout.write(lines.join('\n') + '\n')
