# The members routes of the REST API (docs/api.md): the owner lists,
# adds, changes and removes members; viewer, commenter and editor get 403
# and a stranger 404 (byte for byte a missing document) on every route; an
# admin may do all of it; 401 without a token; the only owner cannot be
# demoted or removed (409); a transfer leaves exactly one owner, also when
# two race; bodies: 400 malformed / unknown field / wrong type / role
# owner, 415 not JSON, 413 too large; 405 names the route's methods; the
# user search; on 2 workers a removed member's sockets get no more ops and
# their ops are refused within 2 s, and a grant lets a stranger read at
# once; a PUT while PostgreSQL is stopped is 503.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);

my $keys = tempdir('collab-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system("openssl rand -out $keys/hs.key -hex 32") == 0 or die 'openssl';
$ENV{TEST_COLLAB_KEYS} = $keys;
($ENV{TEST_COLLAB_PG_PORT}) = pg_conninfo() =~ /port=(\d+)/;
$ENV{TEST_COLLAB_PG_DIR} = pg_query('SHOW data_directory')
                           =~ s{/data/?\s*$}{}r;

run_tests(defaults => { http_config => <<'CONF', config => <<'LOC' });
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_redis_prefix t74:;
    collab_auth_jwt on;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key;
    collab_auth_jwt_issuer t74;
    collab_auth_admin_claim roles admin;
CONF
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
LOC

__DATA__

=== TEST 1: members, roles on every route, bodies, transfer, live effect
--- workers: 2
--- node_timeout: 120
--- node
const assert = require('assert');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');

const WS = process.env.COLLAB_WS_URL;
const HTTP = process.env.COLLAB_HTTP_URL;
const key = fs.readFileSync(`${process.env.TEST_COLLAB_KEYS}/hs.key`,
                            'utf8').trim();
const cap = (s) => s[0].toUpperCase() + s.slice(1);
function token(sub) {
  const now = Math.floor(Date.now() / 1000);
  const extra = sub === 'carol' ? { roles: ['admin'] } : {};
  return C.hs256(key, { sub, iss: 't74',
    exp: now + 600, name: cap(sub), ...extra });
}
const TYPE = 'http://sharejs.org/types/text-unicode';
const run = process.pid;
const D = `d${run}`;
const seqs = {};
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function api(sub, method, path, body, headers = {}) {
  const h = { ...headers };
  if (sub) h.Authorization = `Bearer ${token(sub)}`;
  let b = body;
  if (b !== undefined && typeof b !== 'string') b = JSON.stringify(b);
  if (b !== undefined && !('Content-Type' in h)) {
    h['Content-Type'] = 'application/json';
  }
  const res = await fetch(`${HTTP}/api/${path}`, { method, headers: h,
                                                   body: b });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, text, json, allow: res.headers.get('allow') };
}
async function open(sub) {
  const r = await C.RawClient.open(WS, null,
    { headers: { Authorization: `Bearer ${token(sub)}` } });
  r.sub = sub;
  return r;
}
function reply(r, a, d) {
  return r.next((m) => m.a === a && m.d === d && !m.op, 5000,
                `${r.sub}: ${a} reply for ${d}`);
}
async function op(r, d, body) {
  const seq = seqs[r.sub] = (seqs[r.sub] || 0) + 1;
  r.send({ a: 'op', c: 't74', d, seq, src: r.id, ...body });
  return r.next((m) => m.a === 'op' && m.seq === seq && m.d === d
                       && (m.error || !m.op), 5000, `${r.sub}: op ack`);
}
const code = (m) => m.error && m.error.code;
const owners = () => C.psql(`SELECT string_agg(u.sub || ':' || m.role, ','
  ORDER BY u.sub) FROM collab_members m JOIN collab_users u
  ON u.id = m.user_id JOIN collab_docs d ON d.id = m.doc
  WHERE d.collection = 't74' AND d.name = '${D}'`);

(async () => {
  const names = ['alice', 'bob', 'dave', 'erin', 'frank'];
  await C.psql(names.map((s) => `INSERT INTO collab_users (principal, iss,
    sub, name) VALUES ('t74 ${s}', 't74', '${s}', '${cap(s)}')
    ON CONFLICT DO NOTHING;`).join('\n'));
  const id = {};
  for (const s of names) {
    id[s] = Number(await C.psql(`SELECT id FROM collab_users
      WHERE principal = 't74 ${s}'`));
  }
  const M = `t74/${D}/members`;

  // alice creates, and so owns, the document
  const alice = await open('alice');
  let m = await op(alice, D, { v: 0, create: { type: TYPE, data: 'x' } });
  assert.ok(!m.error, JSON.stringify(m));
  let v = 1;

  // the owner lists, adds, changes and removes
  let r = await api('alice', 'GET', M);
  assert.strictEqual(r.status, 200, r.text);
  assert.deepStrictEqual(r.json.map((x) => [x.user, x.principal, x.name,
    x.role]), [[id.alice, 't74 alice', 'Alice', 'owner']]);
  assert.ok(Number.isInteger(r.json[0].granted_at));
  r = await api('alice', 'PUT', `${M}/${id.bob}`, { role: 'editor' });
  assert.strictEqual(r.status, 201, r.text);
  assert.deepStrictEqual([r.json.user, r.json.principal, r.json.role,
    r.json.granted_by], [id.bob, 't74 bob', 'editor', id.alice]);
  r = await api('alice', 'PUT', `${M}/${id.bob}`, { role: 'commenter' });
  assert.strictEqual(r.status, 200, r.text);
  assert.strictEqual(r.json.role, 'commenter');
  r = await api('alice', 'PUT', `${M}/${id.erin}`, { role: 'viewer' });
  assert.strictEqual(r.status, 201, r.text);
  r = await api('alice', 'GET', M);
  assert.deepStrictEqual(r.json.map((x) => `${x.principal}:${x.role}`),
    ['t74 alice:owner', 't74 bob:commenter', 't74 erin:viewer']);
  r = await api('alice', 'DELETE', `${M}/${id.erin}`);
  assert.deepStrictEqual([r.status, r.text], [204, '']);
  assert.strictEqual(await owners(), 'alice:owner,bob:commenter');
  r = await api('alice', 'DELETE', `${M}/${id.erin}`);
  assert.strictEqual(r.status, 404, r.text);
  assert.strictEqual(r.json.error, 'not_a_member');
  r = await api('alice', 'PUT', `${M}/99999999`, { role: 'viewer' });
  assert.deepStrictEqual([r.status, r.json.error], [404, 'no_such_user']);
  r = await api('alice', 'PUT', `t74/nothing${run}/members/${id.bob}`,
                { role: 'viewer' });
  assert.strictEqual(r.status, 404, r.text);

  // every route, for each caller that is not the owner
  const routes = [
    ['GET', M], ['PUT', `${M}/${id.erin}`, { role: 'viewer' }],
    ['DELETE', `${M}/${id.erin}`], ['POST', `t74/${D}/owner`,
                                    { user: id.dave }]];
  for (const role of ['viewer', 'commenter', 'editor']) {
    r = await api('alice', 'PUT', `${M}/${id.bob}`, { role });
    assert.strictEqual(r.status, 200, r.text);
    for (const [method, path, body] of routes) {
      r = await api('bob', method, path, body);
      assert.strictEqual(r.status, 403, `${role} ${method} ${path}: `
                         + r.text);
    }
  }
  const missing = await api('dave', 'GET', `t74/nothing${run}/members`);
  assert.strictEqual(missing.status, 404);
  for (const [method, path, body] of routes) {
    r = await api('dave', method, path, body);
    assert.deepStrictEqual([r.status, r.text], [404, missing.text],
                           `stranger ${method} ${path}`);
    r = await api(null, method, path, body);
    assert.strictEqual(r.status, 401, `no token ${method} ${path}`);
  }
  assert.strictEqual(await owners(), 'alice:owner,bob:editor');

  // an admin may do everything
  r = await api('carol', 'GET', M);
  assert.strictEqual(r.status, 200, r.text);
  r = await api('carol', 'PUT', `${M}/${id.erin}`, { role: 'viewer' });
  assert.strictEqual(r.status, 201, r.text);
  r = await api('carol', 'DELETE', `${M}/${id.erin}`);
  assert.strictEqual(r.status, 204, r.text);

  // the only owner stays
  r = await api('alice', 'PUT', `${M}/${id.alice}`, { role: 'editor' });
  assert.deepStrictEqual([r.status, r.json.error], [409, 'only_owner']);
  r = await api('alice', 'DELETE', `${M}/${id.alice}`);
  assert.deepStrictEqual([r.status, r.json.error], [409, 'only_owner']);
  assert.strictEqual(await owners(), 'alice:owner,bob:editor');

  // bodies
  const bad = [
    ['{"role":', 'bad_json'], ['[1]', 'bad_body'],
    [{ role: 'viewer', x: 1 }, 'unknown_field'], [{}, 'missing_field'],
    [{ role: 1 }, 'wrong_type'], [{ role: null }, 'wrong_type'],
    [{ role: 'owner' }, 'bad_role'], [{ role: 'boss' }, 'bad_role']];
  for (const [body, err] of bad) {
    r = await api('alice', 'PUT', `${M}/${id.erin}`, body);
    assert.deepStrictEqual([r.status, r.json && r.json.error,
      typeof (r.json && r.json.message)], [400, err, 'string'],
      JSON.stringify(body));
  }
  for (const body of [{ user: String(id.bob) }, { user: 1.5 },
                      { user: id.bob, role: 'x' }, 'nope']) {
    r = await api('alice', 'POST', `t74/${D}/owner`, body);
    assert.strictEqual(r.status, 400, JSON.stringify(body));
  }
  r = await api('alice', 'PUT', `${M}/${id.erin}`, '{"role":"viewer"}',
                { 'Content-Type': 'text/plain' });
  assert.deepStrictEqual([r.status, r.json.error],
                         [415, 'unsupported_media_type']);
  r = await api('alice', 'PUT', `${M}/${id.erin}`,
                JSON.stringify({ role: 'viewer', pad: 'x'.repeat(20000) }));
  assert.deepStrictEqual([r.status, r.json.error], [413, 'too_large']);
  r = await api('alice', 'PUT', `${M}/${id.erin}`, { role: 'viewer' },
                { 'Content-Type': 'application/json; charset=utf-8' });
  assert.strictEqual(r.status, 201, r.text);
  assert.strictEqual(await owners(), 'alice:owner,bob:editor,erin:viewer');

  // 405 names what the route takes
  r = await api('alice', 'GET', `t74/${D}/owner`);
  assert.deepStrictEqual([r.status, r.allow], [405, 'POST']);
  r = await api('alice', 'POST', M, {});
  assert.deepStrictEqual([r.status, r.allow], [405, 'GET, HEAD']);
  r = await api('alice', 'GET', `${M}/${id.bob}`);
  assert.deepStrictEqual([r.status, r.allow], [405, 'PUT, DELETE']);
  r = await api('alice', 'PUT', `t74/${D}`, {});
  assert.deepStrictEqual([r.status, r.allow], [405, 'GET, HEAD']);

  // the user search: any signed-in user, at least 1 character
  r = await api('bob', 'GET', 'users?q=ALI');
  assert.strictEqual(r.status, 200, r.text);
  assert.deepStrictEqual(r.json, [{ user: id.alice, principal: 't74 alice',
                                    name: 'Alice' }]);
  r = await api('dave', 'GET', 'users?q=t74%20fr');
  assert.deepStrictEqual(r.json.map((x) => x.user), [id.frank]);
  r = await api('dave', 'GET', 'users?q=t74');
  assert.ok(r.json.length >= names.length && r.json.length <= 20);
  r = await api('dave', 'GET', 'users?q=%_');
  assert.deepStrictEqual(r.json, [], 'no wildcards');
  assert.strictEqual((await api('dave', 'GET', 'users?q=')).status, 400);
  assert.strictEqual((await api('dave', 'GET', 'users')).status, 400);
  assert.strictEqual((await api(null, 'GET', 'users?q=a')).status, 401);

  // transfer: one owner, the one before an editor; to a non-member too
  r = await api('alice', 'POST', `t74/${D}/owner`, { user: id.bob });
  assert.strictEqual(r.status, 200, r.text);
  assert.deepStrictEqual([r.json.user, r.json.role], [id.bob, 'owner']);
  assert.strictEqual(await owners(), 'alice:editor,bob:owner,erin:viewer');
  assert.strictEqual((await api('alice', 'GET', M)).status, 403);
  r = await api('bob', 'POST', `t74/${D}/owner`, { user: id.frank });
  assert.strictEqual(r.status, 200, r.text);
  assert.strictEqual(await owners(),
                     'alice:editor,bob:editor,erin:viewer,frank:owner');
  r = await api('frank', 'POST', `t74/${D}/owner`, { user: 99999999 });
  assert.deepStrictEqual([r.status, r.json.error], [404, 'no_such_user']);
  r = await api('frank', 'POST', `t74/${D}/owner`, { user: id.alice });
  assert.strictEqual(r.status, 200, r.text);
  // two transfers at once: whichever wins, exactly one owner (the other
  // finds alice no owner any more, 403, or lost the race, 409)
  const race = await Promise.all([
    api('alice', 'POST', `t74/${D}/owner`, { user: id.bob }),
    api('alice', 'POST', `t74/${D}/owner`, { user: id.erin })]);
  assert.ok(race.some((x) => x.status === 200)
            && race.every((x) => [200, 403, 409].includes(x.status)),
            JSON.stringify(race));
  console.log(`race: ${race.map((x) => x.status)}`);
  assert.strictEqual(await C.psql(`SELECT count(*) FROM collab_members m
    JOIN collab_docs d ON d.id = m.doc WHERE d.collection = 't74'
    AND d.name = '${D}' AND m.role = 'owner'`), '1');
  const winner = await C.psql(`SELECT u.sub FROM collab_members m
    JOIN collab_users u ON u.id = m.user_id JOIN collab_docs d
    ON d.id = m.doc WHERE d.collection = 't74' AND d.name = '${D}'
    AND m.role = 'owner'`);
  if (winner !== 'alice') {
    r = await api(winner, 'POST', `t74/${D}/owner`, { user: id.alice });
    assert.strictEqual(r.status, 200, r.text);
  }
  r = await api('alice', 'PUT', `${M}/${id.bob}`, { role: 'editor' });
  assert.strictEqual(r.status, 200, r.text);

  // live: bob's sockets on both workers lose the document within 2 s
  const pairs = await C.clientsOnDistinctWorkers(WS, 2,
                                                 { open: () => open('bob') });
  const bobs = pairs.map((p) => p.client);
  for (const b of bobs) {
    b.send({ a: 's', c: 't74', d: D });
    assert.ok(!(await reply(b, 's', D)).error);
  }
  m = await op(alice, D, { v, op: [1, 'a'] });
  assert.ok(!m.error, JSON.stringify(m));
  v++;
  for (const b of bobs) {
    await b.next((x) => x.a === 'op' && x.op && x.v === v - 1, 5000,
                 'the op before the removal');
  }
  const t0 = Date.now();
  r = await api('alice', 'DELETE', `${M}/${id.bob}`);
  assert.strictEqual(r.status, 204, r.text);
  for (const b of bobs) {
    let refused = false;
    while (!refused && Date.now() - t0 < 2000) {
      m = await op(b, D, { v, op: [1, 'z'] });
      refused = code(m) === 'ERR_FORBIDDEN';
      if (!refused) v++;
    }
    assert.ok(refused, 'refused within 2 s on each worker');
  }
  m = await op(alice, D, { v, op: [1, 'after'] });
  assert.ok(!m.error, JSON.stringify(m));
  await sleep(700);
  for (const b of bobs) {
    assert.ok(!b.queue.some((x) => x.a === 'op' && x.op && x.v === v),
              'no op after the removal');
  }

  // a grant lets a stranger read at once, whichever worker it asks
  const daves = (await C.clientsOnDistinctWorkers(WS, 2,
    { open: () => open('dave') })).map((p) => p.client);
  for (const d of daves) {
    d.send({ a: 'f', c: 't74', d: D });
    assert.strictEqual(code(await reply(d, 'f', D)), 'ERR_FORBIDDEN');
  }
  assert.strictEqual((await api('dave', 'GET', `t74/${D}`)).status, 404);
  r = await api('alice', 'PUT', `${M}/${id.dave}`, { role: 'viewer' });
  assert.strictEqual(r.status, 201, r.text);
  const t1 = Date.now();
  for (const d of daves) {
    let ok = false;
    while (!ok && Date.now() - t1 < 1000) {
      d.send({ a: 'f', c: 't74', d: D });
      ok = !(await reply(d, 'f', D)).error;
    }
    assert.ok(ok, 'the new viewer reads within 1 s');
  }
  assert.strictEqual((await api('dave', 'GET', `t74/${D}`)).status, 200);
  console.log(`granted: read after ${Date.now() - t1} ms`);

  for (const x of [alice, ...bobs, ...daves]) x.close();
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
--- node_stdout
ok
--- no_error_log
[alert]
[crit]

=== TEST 2: a PUT while PostgreSQL is stopped is 503, then works again
--- node
const assert = require('assert');
const cp = require('child_process');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');

const HTTP = process.env.COLLAB_HTTP_URL;
const key = fs.readFileSync(`${process.env.TEST_COLLAB_KEYS}/hs.key`,
                            'utf8').trim();
const now = Math.floor(Date.now() / 1000);
const tok = C.hs256(key, { sub: 'boss', iss: 't74', exp: now + 600,
                           roles: ['admin'] });
const pg = (...a) => new Promise((res, rej) => cp.execFile('bash',
  [`${process.env.COLLAB_ROOT}/.ci/pg.sh`, ...a],
  (e, out, err) => (e ? rej(new Error(err || e.message)) : res(out))));
const put = () => fetch(`${HTTP}/api/t74/any/members/1`, { method: 'PUT',
  headers: { Authorization: `Bearer ${tok}`,
             'Content-Type': 'application/json' },
  body: '{"role":"viewer"}' });

(async () => {
  let r = await put();
  assert.strictEqual(r.status, 404, 'up: no such document');
  await pg('stop', process.env.TEST_COLLAB_PG_DIR);
  try {
    r = await put();
    const body = await r.json();
    assert.deepStrictEqual([r.status, body.error], [503,
                           'database unavailable']);
  } finally {
    await pg('start', process.env.TEST_COLLAB_PG_DIR,
             process.env.TEST_COLLAB_PG_PORT);
  }
  await C.waitFor(async () => (await put()).status === 404, 20000,
                  'answers again once PostgreSQL is back', null, 200);
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
--- node_stdout
ok
--- no_error_log
[alert]
[crit]
