// Turns an editing trace (shared/traces/*.json.gz) into what the load
// generator replays: one text-unicode op per line (one op per patch), and
// the text expected at the end.  Every document starts as "." (the
// reference server cannot edit a document created empty), so the expected
// text is the trace's endContent followed by that ".".
//
//   node trace-ops.js <trace.json.gz> <out.ops> <out.expect> [max_ops]
'use strict';

const fs = require('fs');
const zlib = require('zlib');
const path = require('path');

const [trace, outOps, outExpect, maxArg] = process.argv.slice(2);
const t = JSON.parse(zlib.gunzipSync(fs.readFileSync(trace)));
const max = maxArg ? Number(maxArg) : Infinity;

// the text-unicode normalisation rules from the ot-text-unicode package
const textUnicode = require(path.join(__dirname, '..', 'reference',
  'node_modules', 'ot-text-unicode')).type;

let doc = Array.from(t.startContent);
const lines = [];

outer:
for (const txn of t.txns) {
  for (const [pos, del, ins] of txn.patches) {
    if (lines.length >= max) break outer;
    const op = [];
    if (pos > 0) op.push(pos);
    if (del > 0) op.push({d: del});
    if (ins.length > 0) op.push(ins);
    lines.push(JSON.stringify(textUnicode.normalize(op)));
    doc.splice(pos, del, ...Array.from(ins));
  }
}

const end = doc.join('');
if (max === Infinity && end !== t.endContent) {
  throw new Error('trace does not replay to its endContent');
}
if (t.startContent !== '') throw new Error('traces here start empty');

fs.writeFileSync(outOps, lines.join('\n') + '\n');
fs.writeFileSync(outExpect, end + '.');
console.log(lines.length + ' ops, final ' + Array.from(end).length +
  ' code points');
