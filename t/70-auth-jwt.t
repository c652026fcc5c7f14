# JWT on every door (collab_auth_jwt): the attack list is refused before
# the upgrade and on REST with 401 + WWW-Authenticate (RFC 6750) and a
# JSON reason; valid HS256, RS256 and ES256 tokens (by kid, and from the
# header, a cookie or a query argument) are let in; the principal goes
# into the op log and binds the src; bad keys fail nginx -t.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);

my $keys = tempdir('collab-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub ssl { system("openssl @_ >/dev/null 2>&1") == 0 or die "openssl @_" }
ssl("rand -out $keys/hs.key -hex 32");
ssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $keys/rsa.pem");
ssl("pkey -in $keys/rsa.pem -pubout -out $keys/rsa.pub");
ssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $keys/ec.pem");
ssl("pkey -in $keys/ec.pem -pubout -out $keys/ec.pub");
ssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out $keys/ec384.pem");
ssl("pkey -in $keys/ec384.pem -pubout -out $keys/ec384.pub");
# identity-provider keys, published as JSON Web Key Sets
for my $k (qw(idp rot-a rot-b)) {
    ssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $keys/$k.pem");
}
ssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $keys/idp-ec.pem");
ssl("rand -out $keys/idp-hs.bin 32");
sub jwks {
    my ($out, $spec) = @_;
    system('node', "$Test::Collab::ROOT/t/js/lib/jwks.js", "$keys/$out",
           $spec) == 0 or die "jwks $out";
}
jwks('idp.jwks', qq([{"file":"$keys/idp.pem","kid":"idp-1","alg":"RS256"},
    {"file":"$keys/idp-ec.pem","kid":"idp-ec"},
    {"file":"$keys/idp-hs.bin","kid":"idp-hs","alg":"HS256","oct":true},
    {"file":"$keys/rot-b.pem","kid":"idp-enc","use":"enc"}]));
jwks('rot.jwks', qq([{"file":"$keys/rot-a.pem","kid":"rot-a"}]));
jwks('noalg.jwks', qq([{"file":"$keys/rot-a.pem","kid":"r"}]));
jwks('dup.jwks', qq([{"file":"$keys/rot-a.pem","kid":"hs","alg":"RS256"}]));
open(my $fh, '>', "$keys/priv.jwks") or die;
print $fh '{"keys":[{"kty":"EC","crv":"P-256","kid":"p","d":"AAAA",'
    . '"x":"' . ('A' x 43) . '","y":"' . ('A' x 43) . '"}]}';
close $fh;
open($fh, '>', "$keys/offcurve.jwks") or die;
print $fh '{"keys":[{"kty":"EC","crv":"P-256","kid":"z",'
    . '"x":"' . ('A' x 43) . '","y":"' . ('A' x 43) . '"}]}';
close $fh;
open($fh, '>', "$keys/short.key") or die;
print $fh "too short\n";
close $fh;
$ENV{TEST_COLLAB_KEYS} = $keys;

run_tests(defaults => {
    http_config => <<'EOF',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_auth_jwt on;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key hs;
    collab_auth_jwt_key_file RS256 $TEST_COLLAB_KEYS/rsa.pub rs;
    collab_auth_jwt_key_file ES256 $TEST_COLLAB_KEYS/ec.pub es;
    collab_auth_jwt_jwks_file $TEST_COLLAB_KEYS/idp.jwks;
    collab_auth_jwt_issuer https://id.test;
    collab_auth_jwt_audience collab other;
    collab_auth_jwt_arg token;
    # room for the 9 KB token of the attack list to reach the module
    large_client_header_buffers 4 16k;
EOF
    config => <<'EOF',
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
EOF
});
__DATA__

=== TEST 1: REST: the attack list gets 401 with a reason; valid tokens get in
--- node
const crypto = require('crypto');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');
const keys = process.env.TEST_COLLAB_KEYS;
const api = `${process.env.COLLAB_HTTP_URL}/api/t70/nodoc`;
const hs = fs.readFileSync(`${keys}/hs.key`, 'utf8').trim();
const rsa = fs.readFileSync(`${keys}/rsa.pem`);
const rsaPub = fs.readFileSync(`${keys}/rsa.pub`, 'utf8');
const ec = fs.readFileSync(`${keys}/ec.pem`);
const now = Math.floor(Date.now() / 1000);
const good = { sub: 'ann', iss: 'https://id.test', aud: 'collab',
               exp: now + 600, iat: now - 5, name: 'Ann' };

const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x))
  .toString('base64url');
function sign(alg, key, header, claims) {
  const data = `${b64(header)}.${b64(claims)}`;
  let sig = '';
  const bits = 'sha' + alg.slice(2);
  if (/^HS/.test(alg)) {
    sig = crypto.createHmac(bits, key).update(data).digest('base64url');
  } else if (/^RS/.test(alg)) {
    sig = crypto.sign(bits, Buffer.from(data), key).toString('base64url');
  } else if (/^ES/.test(alg)) {
    sig = crypto.sign(bits, Buffer.from(data),
                      { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  }
  return `${data}.${sig}`;
}
const tok = (over = {}, head = {}, alg = 'HS256', key = hs) =>
  sign(alg, key, { alg, typ: 'JWT', kid: 'hs', ...head }, { ...good, ...over });

async function get(headers) {
  const res = await fetch(api, { headers });
  return { status: res.status, www: res.headers.get('www-authenticate'),
           body: await res.text() };
}
const bearer = (t) => ({ Authorization: `Bearer ${t}` });

C.main(async () => {
  C.stage('no token');
  let r = await get({});
  C.eq(r.status, 401, 'no token: 401');
  C.eq(r.www, 'Bearer realm="collab"', 'no token: a plain challenge');

  const valid = tok();
  const bad = [
    ['alg none', sign('none', null, { alg: 'none' }, good)],
    ['alg None', sign('none', null, { alg: 'None' }, good)],
    ['alg NONE with the hs kid', sign('none', null, { alg: 'NONE',
                                                    kid: 'hs' }, good)],
    ['HS256 signed with the RSA public key, rs kid',
     sign('HS256', rsaPub, { alg: 'HS256', kid: 'rs' }, good)],
    ['alg hs256 (case)', sign('HS256', hs, { alg: 'hs256', kid: 'hs' }, good)],
    ['alg RS256 on the hs kid', sign('RS256', rsa, { alg: 'RS256',
                                                    kid: 'hs' }, good)],
    ['unknown kid', tok({}, { kid: 'nope' })],
    ['no kid with several keys', sign('HS256', hs, { alg: 'HS256' }, good)],
    ['expired', tok({ exp: now - 60 })],
    ['nbf in the future', tok({ nbf: now + 600 })],
    ['iat in the future', tok({ iat: now + 600 })],
    ['wrong iss', tok({ iss: 'https://evil.test' })],
    ['no iss', tok({ iss: undefined })],
    ['wrong aud', tok({ aud: 'nope' })],
    ['aud array without ours', tok({ aud: ['x', 'y'] })],
    ['bad signature', valid.slice(0, -4) + (valid.endsWith('AAAA') ? 'BBBB'
                                                                   : 'AAAA')],
    ['other secret', tok({}, {}, 'HS256', 'x'.repeat(64))],
    ['two segments', valid.split('.').slice(0, 2).join('.')],
    ['four segments', valid + '.x'],
    ['bad base64url', valid.replace('.', '.*')],
    ['header not an object', `${b64('[1]')}.${b64(good)}.x`],
    ['claims not an object', sign('HS256', hs, { alg: 'HS256', kid: 'hs' },
                                  '"ann"')],
    ['exp as a string', tok({ exp: String(now + 600) })],
    ['exp as a real', tok({ exp: now + 600.5 })],
    ['no exp', tok({ exp: undefined })],
    ['no sub', tok({ sub: undefined })],
    ['typ at+jwt', tok({}, { typ: 'at+jwt' })],
    ['two alg in the header',
     `${b64('{"alg":"HS256","kid":"hs","alg":"none"}')}.${b64(good)}.`],
    ['oversized', tok({ pad: 'x'.repeat(9000) })],
  ];
  for (const [what, t] of bad) {
    r = await get(bearer(t));
    C.eq(r.status, 401, `${what}: 401`);
    C.check(/^Bearer realm="collab", error="invalid_token", /.test(r.www || ''),
            `${what}: an invalid_token challenge`, r.www);
    C.check(/^\{"error":"invalid_token","reason":"[^"]+"\}/.test(r.body),
            `${what}: a JSON reason`, r.body);
  }

  C.stage('valid tokens');
  const ok = [
    ['HS256 by kid', valid],
    ['RS256 by kid', sign('RS256', rsa, { alg: 'RS256', kid: 'rs' }, good)],
    ['ES256 by kid', sign('ES256', ec, { alg: 'ES256', kid: 'es' }, good)],
    ['aud in an array', tok({ aud: ['x', 'other'] })],
    ['no typ', sign('HS256', hs, { alg: 'HS256', kid: 'hs' }, good)],
  ];
  for (const [what, t] of ok) {
    r = await get(bearer(t));
    C.eq(r.status, 404, `${what}: past the door (404: no such document)`);
  }
  r = await get({ Cookie: `collab_token=${valid}` });
  C.eq(r.status, 404, 'the token in the cookie');
  r = await fetch(`${api}?token=${valid}`);
  C.eq(r.status, 404, 'the token in the query argument');
  r = await get({ ...bearer(valid), Cookie: `collab_token=${tok({
    sub: 'bob' })}` });
  C.eq(r.status, 401, 'two different tokens: 401');
  r = await get({ Authorization: `Basic ${b64('a:b')}` });
  C.eq(r.status, 401, 'Basic credentials: 401');
});
--- error_log
collab: token rejected: alg not the key's
collab: token rejected: bad signature
collab: token rejected: token expired
collab: token rejected: no token
--- no_error_log
[error]



=== TEST 2: WebSocket: refused before the upgrade, or let in as its principal; a src is the principal's
--- node
const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');
const C = require(process.cwd() + '/lib/collab-client');
const keys = process.env.TEST_COLLAB_KEYS;
const url = process.env.COLLAB_WS_URL;
const hs = fs.readFileSync(`${keys}/hs.key`, 'utf8').trim();
const now = Math.floor(Date.now() / 1000);
const b64 = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
function tok(sub) {
  const data = `${b64({ alg: 'HS256', kid: 'hs' })}.${b64({
    sub, iss: 'https://id.test', aud: 'collab', exp: now + 600 })}`;
  return `${data}.${crypto.createHmac('sha256', hs).update(data)
    .digest('base64url')}`;
}

// the answer to an upgrade: 101 and the socket, or the refusal
function upgrade(headers) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body,
                                    www: res.headers['www-authenticate'] }));
    });
    ws.on('error', () => {});
  });
}

const as = (headers, id = null) => C.RawClient.open(url, id, { headers });

C.main(async () => {
  let r = await upgrade({});
  C.eq(r.status, 401, 'no token: 401 before the upgrade');
  C.check(/"reason":"no token"/.test(r.body), 'with a reason', r.body);
  r = await upgrade({ Authorization: `Bearer ${tok('ann')}x` });
  C.eq(r.status, 401, 'a bad signature: 401 before the upgrade');
  C.check(/invalid_token/.test(r.www || ''), 'an invalid_token challenge');

  C.stage('ann gets in and commits');
  r = await upgrade({ Authorization: `Bearer ${tok('ann')}` });
  C.eq(r.status, 101, 'ann: upgraded');
  r.ws.close();
  const ann = await as({ Authorization: `Bearer ${tok('ann')}` });
  await ann.submit({ c: 't70', d: 'd', v: 0, seq: 1,
                     create: { type: 'text-unicode', data: 'x' } }, 'create');
  C.eq(await C.psql(`SELECT principal FROM collab_ops o JOIN collab_docs d
    ON d.id = o.doc WHERE d.collection = 't70' AND d.name = 'd'`),
       'https://id.test ann', 'the op log names ann');

  C.stage('bob cannot take ann\'s src');
  const src = ann.id;
  ann.close();
  await C.delay(300);
  const bob = await as({ Authorization: `Bearer ${tok('bob')}` }, src);
  C.check(bob.id !== src, 'bob asking for ann\'s src gets a fresh one',
          [bob.id, src]);
  bob.close();
  const again = await as({ Cookie: `collab_token=${tok('ann')}` }, src);
  C.eq(again.id, src, 'ann, back with the cookie, keeps it');
  again.close();
});
--- no_error_log
[error]



=== TEST 10: a token that expires closes its socket with 4401; the ops in flight are resent on a new token, none lost, none twice
--- node
const crypto = require('crypto');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');
const keys = process.env.TEST_COLLAB_KEYS;
const url = process.env.COLLAB_WS_URL;
const hs = fs.readFileSync(`${keys}/hs.key`, 'utf8').trim();
const b64 = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
function tok(secs) {
  const data = `${b64({ alg: 'HS256', kid: 'hs' })}.${b64({
    sub: 'ann', iss: 'https://id.test', aud: 'collab',
    exp: Math.floor(Date.now() / 1000) + secs })}`;
  return `${data}.${crypto.createHmac('sha256', hs).update(data)
    .digest('base64url')}`;
}
const as = (t, id = null) => C.RawClient.open(url, id,
  { headers: { Authorization: `Bearer ${t}` } });

C.main(async () => {
  let r = await as(tok(2));
  const src = r.id;
  await r.submit({ c: 't70', d: 'exp', v: 0, seq: 1,
                   create: { type: 'text-unicode', data: '' } }, 'create');
  let v = 1;
  let seq = 2;
  const sent = [];
  const t0 = Date.now();
  C.stage('ops until the token runs out');
  while (!r.closedByPeer && Date.now() - t0 < 8000) {
    const m = { a: 'op', c: 't70', d: 'exp', v, seq, op: [`<${seq}>`] };
    r.send(m);
    sent.push(m);
    const ack = await r.next((x) => x.a === 'op' && x.seq === seq, 1000,
                             `ack of ${seq}`).catch(() => null);
    if (!ack) break;
    C.check(!ack.error, `op ${seq} acked`, ack);
    v = ack.v + 1;
    seq++;
    await C.delay(50);
  }
  await C.waitFor(() => r.closedByPeer, 5000, 'the socket is closed');
  C.eq(r.closeCode, 4401, 'with 4401');
  C.check(Date.now() - t0 < 4500, 'about when the token expired');

  C.stage('a new token: the last op sent again is not applied twice');
  r = await as(tok(600), src);
  C.eq(r.id, src, 'the same principal keeps its src');
  const last = sent[sent.length - 1];
  r.send(last);
  const ack = await r.next((x) => x.a === 'op' && x.seq === last.seq, 5000,
                           'the resend\'s answer');
  C.check(!ack.error, 'acked', ack);
  const rows = await C.opLog('t70', 'exp');
  const text = C.replay(rows, 'exp').text;
  for (const m of sent) {
    C.eq(text.split(m.op[0]).length - 1, 1, `${m.op[0]} once`);
  }
  r.close();
}, { timeout: 30000 });
--- error_log
the token of this connection expired
--- no_error_log
[error]



=== TEST 13: auth renews a socket's token in band: same user only, the old expiry moves; bad tokens are refused and change nothing
--- node
const crypto = require('crypto');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');
const keys = process.env.TEST_COLLAB_KEYS;
const url = process.env.COLLAB_WS_URL;
const hs = fs.readFileSync(`${keys}/hs.key`, 'utf8').trim();
const b64 = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
function tok(secs, sub = 'ann', secret = hs) {
  const data = `${b64({ alg: 'HS256', kid: 'hs' })}.${b64({
    sub, iss: 'https://id.test', aud: 'collab',
    exp: Math.floor(Date.now() / 1000) + secs })}`;
  return `${data}.${crypto.createHmac('sha256', secret).update(data)
    .digest('base64url')}`;
}
const open = (t) => C.RawClient.open(url, null,
  { headers: { Authorization: `Bearer ${t}` } });
const auth = async (r, token, what) => {
  r.send(token === undefined ? { a: 'auth' } : { a: 'auth', token });
  return r.next((x) => x.a === 'auth' || x.error, 3000, what);
};

C.main(async () => {
  C.stage('refused: another user, a bad signature, expired, not a string');
  const r = await open(tok(3));
  let m = await auth(r, tok(600, 'bob'), 'another user');
  C.eq(m.error && m.error.code, 'ERR_TOKEN_INVALID', 'another user', m);
  C.check(!JSON.stringify(m).includes('eyJ'), 'the token is not echoed');
  m = await auth(r, tok(600, 'ann', 'x'.repeat(40)), 'bad signature');
  C.eq(m.error && m.error.code, 'ERR_TOKEN_INVALID', 'bad signature', m);
  m = await auth(r, tok(-100), 'expired');
  C.eq(m.error && m.error.code, 'ERR_TOKEN_INVALID', 'expired', m);
  m = await auth(r, undefined, 'no token');
  C.eq(m.error && m.error.code, 'ERR_MESSAGE_BADLY_FORMED', 'no token', m);
  C.check(!r.closedByPeer, 'the socket stays');

  C.stage('renewed: the socket outlives its first token');
  const exp = Math.floor(Date.now() / 1000) + 600;
  m = await auth(r, tok(600), 'renewal');
  C.check(!m.error && Math.abs(m.exp - exp) <= 2, 'exp of the new token', m);
  await C.delay(4500);
  C.check(!r.closedByPeer, 'open past the first token\'s exp');
  await r.submit({ c: 't70', d: `renew${process.pid}`, v: 0, seq: 1,
                   create: { type: 'text-unicode', data: 'x' } }, 'create');
  C.eq(await C.psql(`SELECT o.principal FROM collab_ops o JOIN collab_docs d
    ON d.id = o.doc WHERE d.collection = 't70'
    AND d.name = 'renew${process.pid}'`), 'https://id.test ann', 'still ann');

  C.stage('a short renewal: the socket closes at the new exp');
  m = await auth(r, tok(2), 'short renewal');
  C.check(!m.error, 'accepted', m);
  await C.waitFor(() => r.closedByPeer, 6000, 'closed at the new exp');
  C.eq(r.closeCode, 4401, 'with 4401');
}, { timeout: 30000 });
--- error_log
a token of "https://id.test bob" on the connection of "https://id.test ann" refused
--- no_error_log
[error]



=== TEST 11: $collab_jwt_sub and $collab_jwt_claim_<name> for log_format and limit_req; empty without a valid token
--- config
    location /api/ {
        collab_api;
        add_header X-Sub "[$collab_jwt_sub]" always;
        add_header X-Role "[$collab_jwt_claim_role]" always;
        add_header X-Level "[$collab_jwt_claim_level]" always;
    }
--- node
const crypto = require('crypto');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');
const keys = process.env.TEST_COLLAB_KEYS;
const hs = fs.readFileSync(`${keys}/hs.key`, 'utf8').trim();
const b64 = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
function tok(claims) {
  const data = `${b64({ alg: 'HS256', kid: 'hs' })}.${b64({
    sub: 'ann', iss: 'https://id.test', aud: 'collab',
    exp: Math.floor(Date.now() / 1000) + 600, ...claims })}`;
  return `${data}.${crypto.createHmac('sha256', hs).update(data)
    .digest('base64url')}`;
}
const api = `${process.env.COLLAB_HTTP_URL}/api/t70/nodoc`;

C.main(async () => {
  let res = await fetch(api, { headers: {
    Authorization: `Bearer ${tok({ role: 'admin', level: 3 })}` } });
  C.eq([res.status, res.headers.get('x-sub'), res.headers.get('x-role'),
        res.headers.get('x-level')], [404, '[ann]', '[admin]', '[3]'],
       'the verified token\'s sub and claims');
  res = await fetch(api, { headers: {
    Authorization: `Bearer ${tok({ role: 'admin' })}x` } });
  C.eq([res.status, res.headers.get('x-sub'), res.headers.get('x-role')],
       [401, '[]', '[]'], 'a forged token gives nothing');
});
--- no_error_log
[error]



=== TEST 12: collab_auth_jwt_close: a bad token upgrades, then closes with 4401 and the reason, and no message is read
--- config
    location /ws { collab_websocket; collab_auth_jwt_close on; }
    location /api/ { collab_api; collab_auth_jwt_close on; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const WebSocket = require('ws');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const ws = new WebSocket(url, { headers: { Authorization: 'Bearer x.y.z' } });
  const got = [];
  const closed = new Promise((res) => ws.on('close', (code, reason) =>
    res([code, reason.toString()])));
  ws.on('open', () => {
    got.push('open');
    ws.send(JSON.stringify({ a: 'f', c: 't70', d: 'd' }));
  });
  ws.on('message', (m) => got.push(m.toString()));
  ws.on('error', () => {});
  const [code, reason] = await C.within(closed, 5000, 'the close');
  C.eq(got, ['open'], 'upgraded, and nothing answered');
  C.eq(code, 4401, 'closed with 4401');
  C.check(/bad base64url|signature|segments|invalid/.test(reason),
          'with the reason', reason);
  const res = await fetch(`${process.env.COLLAB_HTTP_URL}/api/t70/d`);
  C.eq(res.status, 401, 'REST still answers 401');
});
--- error_log
(closed with 4401)



=== TEST 3: alg none is not a key algorithm: nginx -t fails
--- http_config
    collab_auth_jwt_key_file none $TEST_COLLAB_KEYS/hs.key;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
unsupported JWT algorithm "none"



=== TEST 4: a key file that cannot be read fails nginx -t, naming it
--- http_config
    collab_auth_jwt on;
    collab_auth_jwt_key_file RS256 $TEST_COLLAB_KEYS/missing.pub;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
cannot open JWT key file



=== TEST 5: an RSA key for ES256, a P-384 key for ES256, a private key, a short secret
--- http_config
    collab_auth_jwt_key_file ES256 $TEST_COLLAB_KEYS/rsa.pub;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
is not an EC key, as ES256 needs



=== TEST 6: a P-384 key for ES256
--- http_config
    collab_auth_jwt_key_file ES256 $TEST_COLLAB_KEYS/ec384.pub;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
is not on the curve ES256 needs



=== TEST 7: a private key where a public key belongs
--- http_config
    collab_auth_jwt_key_file RS256 $TEST_COLLAB_KEYS/rsa.pem;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
is not a PEM public key



=== TEST 8: an HS256 secret shorter than 32 bytes
--- http_config
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/short.key;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
secret in



=== TEST 9: collab_auth_jwt on without a key
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_auth_jwt on;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
"collab_auth_jwt on" needs at least one "collab_auth_jwt_key_file"



=== TEST 14: keys from a JWKS file: RS256, ES256 (alg told by the curve) and an oct HS256 key let in by kid; their algs stay pinned; an encryption key is not a signing key
--- node
const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');
const C = require(process.cwd() + '/lib/collab-client');
const keys = process.env.TEST_COLLAB_KEYS;
const api = `${process.env.COLLAB_HTTP_URL}/api/t70/nodoc`;
const idp = fs.readFileSync(`${keys}/idp.pem`);
const idpPub = crypto.createPublicKey(idp).export({ type: 'spki',
                                                    format: 'pem' });
const ec = fs.readFileSync(`${keys}/idp-ec.pem`);
const hs = fs.readFileSync(`${keys}/idp-hs.bin`);
const enc = fs.readFileSync(`${keys}/rot-b.pem`);
const now = Math.floor(Date.now() / 1000);
const good = { sub: 'ann', iss: 'https://id.test', aud: 'collab',
               exp: now + 600 };
const b64 = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
function sign(alg, kid, key) {
  const data = `${b64({ alg, kid })}.${b64(good)}`;
  const bits = 'sha' + alg.slice(2);
  const sig = /^HS/.test(alg)
    ? crypto.createHmac(bits, key).update(data).digest()
    : crypto.sign(bits, Buffer.from(data),
                  /^ES/.test(alg) ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${data}.${sig.toString('base64url')}`;
}
async function status(t) {
  const res = await fetch(api, { headers: { Authorization: `Bearer ${t}` } });
  const body = await res.text();
  return res.status === 401 ? `401 ${JSON.parse(body).reason}` : res.status;
}

C.main(async () => {
  C.eq(await status(sign('RS256', 'idp-1', idp)), 404, 'RS256 by its kid');
  C.eq(await status(sign('ES256', 'idp-ec', ec)), 404, 'ES256 by its kid');
  C.eq(await status(sign('HS256', 'idp-hs', hs)), 404, 'oct HS256 by kid');
  C.eq(await status(sign('HS256', 'idp-1', idpPub)),
       '401 alg not the key\'s', 'HS256 signed with the RSA key\'s PEM');
  C.eq(await status(sign('RS384', 'idp-1', idp)),
       '401 alg not the key\'s', 'RS384 on an RS256 key');
  C.eq(await status(sign('ES256', 'idp-1', ec)),
       '401 alg not the key\'s', 'ES256 on the RSA key');
  C.eq(await status(sign('RS256', 'idp-ec', idp)),
       '401 alg not the key\'s', 'RS256 on the EC key');
  C.eq(await status(sign('RS256', 'idp-enc', enc)), '401 unknown kid',
       'the encryption key signs nothing');
  C.eq(await status(sign('RS256', 'idp-1', enc)), '401 bad signature',
       'another RSA key under the kid');

  const ws = new WebSocket(process.env.COLLAB_WS_URL, { headers: {
    Authorization: `Bearer ${sign('ES256', 'idp-ec', ec)}` } });
  const code = await new Promise((resolve) => {
    ws.on('open', () => resolve(101));
    ws.on('unexpected-response', (q, res) => resolve(res.statusCode));
    ws.on('error', () => resolve('error'));
  });
  C.eq(code, 101, 'the upgrade with a JWKS key');
  ws.close();
});
--- no_error_log
[error]



=== TEST 15: rotation: a new key published in the JWKS file is taken on reload, next to the old one; the old one, once withdrawn, is refused
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_auth_jwt on;
    collab_auth_jwt_jwks_file $TEST_COLLAB_KEYS/rot.jwks RS256;
    collab_auth_jwt_issuer https://id.test;
--- node
const crypto = require('crypto');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');
const { writeJwks } = require(process.cwd() + '/lib/jwks');
const keys = process.env.TEST_COLLAB_KEYS;
const api = `${process.env.COLLAB_HTTP_URL}/api/t70/nodoc`;
const pidFile = '$TEST_NGINX_SERVROOT/logs/nginx.pid';
const now = Math.floor(Date.now() / 1000);
const b64 = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
function sign(kid) {
  const data = `${b64({ alg: 'RS256', kid })}.${b64({
    sub: 'ann', iss: 'https://id.test', exp: now + 600 })}`;
  const key = fs.readFileSync(`${keys}/${kid}.pem`);
  return `${data}.${crypto.sign('sha256', Buffer.from(data), key)
    .toString('base64url')}`;
}
// a kept-alive connection to a worker that the reload retires may be
// closed under the request: that is an answer to wait past, not a status
async function status(kid) {
  try {
    const res = await fetch(api, { headers: {
      Authorization: `Bearer ${sign(kid)}` } });
    return res.status;
  } catch (e) {
    return `fetch failed (${e.cause ? e.cause.code : e.message})`;
  }
}
// publish the keys, reload, and wait until the new workers answer as told
async function publish(kids, expect) {
  writeJwks(`${keys}/rot.jwks`, kids.map((kid) => ({
    file: `${keys}/${kid}.pem`, kid })));
  process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGHUP');
  const until = Date.now() + 10000;
  let got;
  for (;;) {
    got = [await status('rot-a'), await status('rot-b')];
    if (got.join() === expect.join() || Date.now() > until) {
      return got;
    }
    await C.delay(100);
  }
}

C.main(async () => {
  C.eq([await status('rot-a'), await status('rot-b')], [404, 401],
       'rot-a in, rot-b not yet published');
  C.eq(await publish(['rot-a', 'rot-b'], [404, 404]), [404, 404],
       'both published: both in, after the reload');
  C.eq(await publish(['rot-b'], [401, 404]), [401, 404],
       'rot-a withdrawn: refused after the reload');
});
--- no_error_log
[error]



=== TEST 16: a JWKS file with a private key fails nginx -t, naming the key
--- http_config
    collab_auth_jwt_jwks_file $TEST_COLLAB_KEYS/priv.jwks;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
priv.jwks": key 1 (kid "p"): a private key



=== TEST 17: an RSA key that names no alg, with no default in the directive
--- http_config
    collab_auth_jwt_jwks_file $TEST_COLLAB_KEYS/noalg.jwks;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
noalg.jwks": key 1 (kid "r"): no alg



=== TEST 18: a JWKS kid that another key already has
--- http_config
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key hs;
    collab_auth_jwt_jwks_file $TEST_COLLAB_KEYS/dup.jwks;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
JWT key id "hs" is duplicate



=== TEST 19: an EC point that is not on its curve
--- http_config
    collab_auth_jwt_jwks_file $TEST_COLLAB_KEYS/offcurve.jwks;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
offcurve.jwks key 1": OpenSSL does not take the public key



=== TEST 20: a JWKS file that is not a key set
--- http_config
    collab_auth_jwt_jwks_file $TEST_COLLAB_KEYS/hs.key;
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
hs.key": not a JSON Web Key Set
