// Writes a JSON Web Key Set from key files, as an identity provider
// publishes one: `node lib/jwks.js <out> '<spec>'`, spec a JSON array of
// {file, kid?, alg?, use?, oct?}: a PEM key (private or public: only the
// public part is written) or, with oct, a file of secret bytes.
const crypto = require('crypto');
const fs = require('fs');

function jwk({ file, kid, alg, use, oct }) {
  const key = oct
    ? { kty: 'oct', k: fs.readFileSync(file).toString('base64url') }
    : crypto.createPublicKey(fs.readFileSync(file)).export({ format: 'jwk' });
  return { ...key, ...(kid && { kid }), ...(alg && { alg }),
           ...(use && { use }) };
}

function writeJwks(out, spec) {
  const tmp = `${out}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ keys: spec.map(jwk) }, null, 1));
  fs.renameSync(tmp, out);
}

module.exports = { jwk, writeJwks };

if (require.main === module) {
  writeJwks(process.argv[2], JSON.parse(process.argv[3]));
}
