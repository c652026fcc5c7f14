# A role revoked mid-session, on two nginx instances (own ports, same
# PostgreSQL and Redis) of two workers each: after the change notice every
# one of the user's sockets, whichever instance and worker it is on, has
# its ops refused with ERR_FORBIDDEN within 2 s and gets no more of the
# document's ops; fetches are refused too.  Without a notice (a change in
# SQL nobody announced), the role cache's TTL (5 s here, longer than the
# 2 s the notice must beat) is the backstop: refused everywhere within
# collab_access_cache_ttl.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use Test::Collab::Cluster;
use File::Temp qw(tempdir);

my $keys = tempdir('collab-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system("openssl rand -out $keys/hs.key -hex 32") == 0 or die 'openssl';
$ENV{TEST_COLLAB_KEYS} = $keys;

# an extra reuseport listener per instance spreads connections over its
# workers (one accept socket each)
my ($rp_a, $rp_b) = (free_port(), free_port());
my $http = <<'CONF';
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_redis_prefix t73:;
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
    collab_access_cache_ttl 5s;
    collab_auth_jwt on;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key;
    collab_auth_jwt_issuer t73;
CONF
my $spread = sub {
    return "    server {\n        listen 127.0.0.1:$_[0] reuseport;\n"
         . "        location /ws { collab_websocket; }\n    }\n";
};
my $config = "    location /ws { collab_websocket; }\n";

start_nginx(workers => 2, http_config => $http . $spread->($rp_a),
            config => $config);
my $b = Test::Collab::Cluster->start(name => 'b', workers => 2,
                                     http_config => $http . $spread->($rp_b),
                                     config => $config);

my ($rc, $out) = run_node(<<'JS',
const assert = require('assert');
const fs = require('fs');
const C = require(process.cwd() + '/lib/collab-client');

const HOSTS = process.env.T73_URLS.split(',');
const key = fs.readFileSync(`${process.env.TEST_COLLAB_KEYS}/hs.key`,
                            'utf8').trim();
function token(sub) {
  return C.hs256(key, { sub, iss: 't73',
    exp: Math.floor(Date.now() / 1000) + 600 });
}
const TYPE = 'http://sharejs.org/types/text-unicode';
const D = `d${process.pid}`;
let seq = 0;
let v = 0;

async function open(sub, url) {
  const r = await C.RawClient.open(url, null,
    { headers: { Authorization: `Bearer ${token(sub)}` } });
  r.sub = sub;
  return r;
}
async function op(r, body) {
  const s = ++seq;
  r.send({ a: 'op', c: 't73', d: D, seq: s, src: r.id, ...body });
  return r.next((m) => m.a === 'op' && m.seq === s && m.d === D
                       && (m.error || !m.op), 5000, `${r.sub}: op ack`);
}
const code = (m) => m.error && m.error.code;
async function alice(a, text) {
  const m = await op(a, { v, op: [text] });
  assert.ok(!m.error, JSON.stringify(m));
  v++;
}
async function member(role) {
  await C.psql(`INSERT INTO collab_users (principal, iss, sub)
    VALUES ('t73 bob', 't73', 'bob') ON CONFLICT DO NOTHING;
    DELETE FROM collab_members m USING collab_users u
     WHERE m.user_id = u.id AND u.principal = 't73 bob';
    ${role ? `INSERT INTO collab_members (doc, user_id, role)
      SELECT d.id, u.id, '${role}' FROM collab_docs d, collab_users u
       WHERE d.collection = 't73' AND d.name = '${D}'
         AND u.principal = 't73 bob';` : ''}`);
}
const notice = () => C.redis('PUBLISH', 't73:access',
                             JSON.stringify(['t73', D]));

// until every one of socks is refused, or limit ms after t0: the time
async function refusedEverywhere(socks, t0, limit) {
  const left = new Set(socks);
  while (left.size && Date.now() - t0 < limit) {
    for (const s of [...left]) {
      const m = await op(s, { v, op: ['z'] });
      if (code(m) === 'ERR_FORBIDDEN') {
        left.delete(s);
      } else {
        assert.ok(!m.error, JSON.stringify(m));
        v++;
      }
    }
  }
  assert.strictEqual(left.size, 0, `${left.size} sockets still write ` +
                     `after ${limit} ms`);
  return Date.now() - t0;
}

(async () => {
  const a = await open('alice', HOSTS[0]);
  let m = await op(a, { v, create: { type: TYPE, data: '' } });
  assert.ok(!m.error, JSON.stringify(m));
  v = 1;
  await member('editor');
  await notice();

  // bob: four sockets on each instance, subscribed, each writing
  const bob = [];
  for (const url of HOSTS) {
    for (let i = 0; i < 4; i++) {
      const s = await open('bob', url);
      s.send({ a: 's', c: 't73', d: D });
      m = await s.next((x) => x.a === 's' && x.d === D, 5000, 's reply');
      assert.ok(!m.error, JSON.stringify(m));
      s.host = url;
      bob.push(s);
    }
  }
  for (const s of bob) {
    m = await op(s, { v, op: ['b'] });
    assert.ok(!m.error, `bob writes on ${s.host}: ${JSON.stringify(m)}`);
    v++;
  }
  await alice(a, 'before ');
  for (const s of bob) {
    await s.next((x) => x.a === 'op' && x.op && x.v === v - 1, 5000,
                 `the op before the revocation, on ${s.host}`);
  }

  // revoked and announced: refused on both instances within 2 s
  await member(null);
  let t0 = Date.now();
  await notice();
  const took = await refusedEverywhere(bob, t0, 2000);
  console.log(`# refused on all ${bob.length} sockets of both instances ` +
              `${took} ms after the notice`);
  await C.delay(300);
  await alice(a, 'after ');
  await C.delay(700);
  for (const s of bob) {
    assert.ok(!s.queue.some((x) => x.a === 'op' && x.op && x.v === v - 1),
              `no op after the revocation on ${s.host}`);
    s.send({ a: 'f', c: 't73', d: D });
    m = await s.next((x) => x.a === 'f' && x.d === D, 5000, 'f reply');
    assert.strictEqual(code(m), 'ERR_FORBIDDEN', `fetch on ${s.host}`);
  }
  for (const s of bob) s.close();

  // granted again (announced), then revoked in SQL only: the TTL (5 s)
  await member('editor');
  await notice();
  const again = [];
  for (const url of HOSTS) {
    for (let i = 0; i < 2; i++) {
      const s = await open('bob', url);
      s.host = url;
      m = await op(s, { v, op: ['B'] });
      assert.ok(!m.error, `bob writes again on ${url}: ${JSON.stringify(m)}`);
      v++;
      again.push(s);
    }
  }
  await member(null);
  t0 = Date.now();
  const ttl = await refusedEverywhere(again, t0, 5000 + 1500);
  console.log(`# without a notice: refused everywhere after ${ttl} ms ` +
              '(collab_access_cache_ttl 5s)');

  for (const s of [a, ...again]) s.close();
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
JS
    T73_URLS => "ws://127.0.0.1:$rp_a/ws,ws://127.0.0.1:$rp_b/ws",
    TEST_COLLAB_KEYS => $keys,
    timeout => 60);
ok($rc == 0 && $out =~ /^ok$/m, 'a revocation reaches both instances '
   . 'within 2 s; without a notice, within the cache TTL')
    or diag($out);
note($out);

$b->stop;
stop_nginx();
check_error_log('instance a', must_not => ['[error]', '[crit]']);
$b->check_error_log('instance b', must_not => ['[error]', '[crit]']);
done_testing();
