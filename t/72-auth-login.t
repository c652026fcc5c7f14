# The built-in sign-in (collab_auth_login): sign-up (when on) and sign-in
# answer a token and an HttpOnly cookie that the WebSocket and REST then
# take like any other token; passwords are argon2id in collab_logins;
# wrong passwords and unknown names get the same 401; attempts are limited
# per user name; refresh needs a valid token of ours; bad bodies are 400.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);

my $keys = tempdir('collab-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system("openssl rand -out $keys/hs.key -hex 32") == 0 or die 'openssl';
$ENV{TEST_COLLAB_KEYS} = $keys;

run_tests();
__DATA__

=== TEST 1: sign-up off: refused; unknown user and bad input get clear errors
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key local;
    collab_auth_jwt_issuer collab-t72;
    collab_redis_prefix t72a:;
--- config
    location /auth/ { collab_auth_login; }
--- node
const assert = require('assert');
const base = `${process.env.COLLAB_HTTP_URL}/auth`;
const post = (p, body, raw) => fetch(`${base}/${p}`, { method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: raw !== undefined ? raw : JSON.stringify(body) });
(async () => {
  let r = await post('signup', { user: 'eve', password: 'longenough1' });
  assert.strictEqual(r.status, 403);
  assert.match((await r.json()).error, /sign-up is off/);
  r = await post('login', { user: 'nobody', password: 'whatever1' });
  assert.strictEqual(r.status, 401);
  assert.strictEqual((await r.json()).error, 'wrong user name or password');
  r = await post('login', null, '{"user": "x", "password": ');
  assert.strictEqual(r.status, 400);
  r = await post('login', { user: 'bad name!', password: 'x' });
  assert.strictEqual(r.status, 400);
  assert.match((await r.json()).error, /^user:/);
  r = await post('login', { user: 'ann' });
  assert.strictEqual(r.status, 400);
  r = await post('login', null, JSON.stringify({ user: 'ann',
    password: 'p'.repeat(5000) }));
  assert.strictEqual(r.status, 413);
  r = await fetch(`${base}/login`);
  assert.strictEqual(r.status, 405);
  r = await post('elsewhere', {});
  assert.strictEqual(r.status, 404);
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
--- node_stdout
ok
--- no_error_log
[alert]
[crit]


=== TEST 2: sign up, sign in, the token opens the WebSocket and REST, refresh, sign out
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key local;
    collab_auth_jwt_issuer collab-t72;
    collab_redis_prefix t72b:;
    collab_auth_login_ttl 120s;
--- config
    location /auth/ { collab_auth_login; collab_auth_login_signup on; }
    location /ws { collab_websocket; collab_auth_jwt on; }
    location /api/ { collab_api; collab_auth_jwt on; }
--- node
const assert = require('assert');
const C = require(process.cwd() + '/lib/collab-client');
const base = `${process.env.COLLAB_HTTP_URL}/auth`;
const user = 'alice' + process.pid;
const post = (p, body, headers = {}) => fetch(`${base}/${p}`, {
  method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
  body: JSON.stringify(body) });
const cookieOf = (r) => r.headers.get('set-cookie');
(async () => {
  let r = await post('signup', { user, password: 'correct horse', name:
                                 'Alice "A" Liddell' });
  assert.strictEqual(r.status, 200);
  let j = await r.json();
  assert.strictEqual(j.user.sub, user);
  assert.strictEqual(j.user.name, 'Alice "A" Liddell');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(j.expires_at > now + 100 && j.expires_at <= now + 121);
  const claims = JSON.parse(Buffer.from(j.token.split('.')[1], 'base64url'));
  assert.strictEqual(claims.iss, 'collab-t72');
  assert.strictEqual(claims.sub, user);
  const head = JSON.parse(Buffer.from(j.token.split('.')[0], 'base64url'));
  assert.deepStrictEqual([head.alg, head.kid], ['HS256', 'local']);
  const ck = cookieOf(r);
  assert.match(ck, new RegExp(`^collab_token=${j.token.replace(/\./g,
    '\\.')}; Path=/; Max-Age=120; HttpOnly; SameSite=Strict$`));

  r = await post('signup', { user, password: 'another one' });
  assert.strictEqual(r.status, 409);
  r = await post('login', { user, password: 'wrong horse' });
  assert.strictEqual(r.status, 401);
  r = await post('login', { user, password: 'correct horse' });
  assert.strictEqual(r.status, 200);
  j = await r.json();
  assert.strictEqual(j.user.name, 'Alice "A" Liddell');
  const cookie = `collab_token=${j.token}`;

  // the cookie opens the WebSocket: the create is stored under the user
  const raw = await C.RawClient.open(process.env.COLLAB_WS_URL, 'a',
                                     { headers: { Cookie: cookie } });
  await raw.hs();
  raw.send({ a: 'op', c: 't72', d: user, v: 0, seq: 1, src: raw.id,
             create: { type: 'http://sharejs.org/types/text-unicode',
                       data: 'hi' } });
  const ack = await raw.next((m) => m.a === 'op');
  assert.ok(!ack.error, JSON.stringify(ack));
  raw.close();
  const rows = await C.psql(`SELECT o.principal, m.role FROM collab_ops o
    JOIN collab_docs d ON d.id = o.doc JOIN collab_members m ON m.doc = d.id
    WHERE d.collection = 't72' AND d.name = '${user}'`);
  assert.strictEqual(rows.trim(), `collab-t72 ${user}|owner`);
  const u = await C.psql(`SELECT u.name, left(l.password_hash, 10)
    FROM collab_logins l JOIN collab_users u ON u.id = l.user_id
    WHERE l.username = '${user}'`);
  assert.strictEqual(u.trim(), 'Alice "A" Liddell|$argon2id$');

  // the bearer token reads REST; refresh gives a new one, logout clears
  r = await fetch(`${process.env.COLLAB_HTTP_URL}/api/t72/${user}`,
                  { headers: { Authorization: `Bearer ${j.token}` } });
  assert.strictEqual(r.status, 200);
  r = await post('refresh', {}, { Cookie: cookie });
  assert.strictEqual(r.status, 200);
  assert.strictEqual((await r.json()).user.sub, user);
  r = await post('refresh', {}, { Authorization: 'Bearer nonsense' });
  assert.strictEqual(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /invalid_token/);
  r = await post('logout', {});
  assert.strictEqual(r.status, 200);
  assert.match(cookieOf(r), /^collab_token=; Path=\/; Max-Age=0; HttpOnly/);
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
--- node_stdout
ok
--- no_error_log
correct horse
[alert]
[crit]


=== TEST 3: attempts per user name are limited (10 a quarter hour); a success clears the count
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key local;
    collab_auth_jwt_issuer collab-t72;
    collab_redis_prefix t72c:;
--- config
    location /auth/ { collab_auth_login; collab_auth_login_signup on; }
--- node
const assert = require('assert');
const base = `${process.env.COLLAB_HTTP_URL}/auth`;
const user = 'bob' + process.pid;
const post = (p, body) => fetch(`${base}/${p}`, { method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(body) });
(async () => {
  let r = await post('signup', { user, password: 'bobs password' });
  assert.strictEqual(r.status, 200);
  for (let i = 0; i < 3; i++) {
    r = await post('login', { user, password: 'guess' + i });
    assert.strictEqual(r.status, 401);
  }
  r = await post('login', { user, password: 'bobs password' });
  assert.strictEqual(r.status, 200);
  const codes = [];
  for (let i = 0; i < 11; i++) {
    r = await post('login', { user, password: 'guess' + i });
    codes.push(r.status);
  }
  // the success reset the count: ten more tries, then 429
  assert.deepStrictEqual(codes, [...Array(10).fill(401), 429]);
  r = await post('login', { user, password: 'bobs password' });
  assert.strictEqual(r.status, 429);
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
--- node_stdout
ok
--- error_log
too many sign-in attempts for "bob
