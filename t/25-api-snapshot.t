# GET <location>/<collection>/<doc>[?v=N]: the snapshot as ShareDB's fetch
# and fetchSnapshot see it, documents written with the sharedb client;
# ETag / If-None-Match, errors, two workers kept current by pub/sub, and
# PostgreSQL going away (procedural, after the blocks).
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

# TEST 11's reuseport listener: the kernel spreads its connections over
# the workers (one accept socket each)
my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                              Listen => 1) or die "no free port: $!";
$ENV{TEST_NGINX_RP_PORT} = $s->sockport;
close $s;

my %defaults = (
    http_config => <<'END',
    collab_postgres "$TEST_COLLAB_PG";
END
    config => <<'END',
    location /api/ { collab_api; }
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);

# -- PostgreSQL down: a document in memory is still served, others are 503

my $port = start_nginx(
    http_config => qq{collab_postgres "} . pg_conninfo() . qq{";\n}
                   . 'collab_redis ' . redis_addr() . ';',
    config => 'location /ws { collab_websocket; }'
              . ' location /api/ { collab_api; }',
);

my $rc = run_node(<<'EOF');
const C = require(process.cwd() + '/lib/collab-client');
C.main(async () => {
  const a = await C.Client.open(process.env.COLLAB_WS_URL, { name: 'a' });
  const d = a.doc('t25pg', 'mem');
  await C.within(C.create(d, 'kept in memory'), 5000, 'create');
  await C.within(C.submit(d, [14, ' ✓']), 5000, 'op');
  a.close();
});
EOF
is($rc, 0, 'pg down: the document is written');

my $http = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$port/api/t25pg";
my $want = '{"v":2,"type":"http://sharejs.org/types/text-unicode",'
           . "\"data\":\"kept in memory \xe2\x9c\x93\"}";

my $r = $http->get("$base/mem");
is($r->{status}, 200, 'pg down: read while the database is up');
is($r->{content}, $want, 'pg down: the snapshot');

system('bash', "$Test::Collab::ROOT/.ci/pg.sh", 'stop', pg_dir()) == 0
    or die 'cannot stop PostgreSQL';

$r = $http->get("$base/mem");
is($r->{status}, 200, 'pg down: a document in memory is still served');
is($r->{content}, $want, 'pg down: the same snapshot');

for my $n (1, 2) {
    my $t = time;
    $r = $http->get("$base/other");
    is($r->{status}, 503, "pg down: a document not in memory is 503 ($n)");
    cmp_ok(time - $t, '<', 2, "pg down: at once ($n)");
}
is($r->{content}, qq{{"error":"database unavailable"}\n},
   'pg down: the error body');

$r = $http->get("$base/mem?v=1");
is($r->{status}, 503, 'pg down: an old version (replay) is 503');

my ($pgport) = pg_conninfo() =~ /port=(\d+)/;
system("bash $Test::Collab::ROOT/.ci/pg.sh start " . pg_dir()
       . " $pgport > /dev/null") == 0
    or die 'cannot restart PostgreSQL';

my $deadline = time + 20;
while (time < $deadline) {
    $r = $http->get("$base/other");
    last if $r->{status} == 404;
    sleep 0.2;
}
is($r->{status}, 404, 'pg back: the unknown document is 404 again');
is($r->{content}, '{"v":0,"type":null}', 'pg back: ShareDB\'s missing doc');

$r = $http->get("$base/mem?v=1");
is($r->{status}, 200, 'pg back: old versions again');

stop_nginx();
check_error_log('pg down');

__DATA__

=== TEST 1: fetch, every version, ETag / 304, HEAD, delete and re-create
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
--- config
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const http = require('http');
const base = process.env.COLLAB_HTTP_URL;

function get(path, headers = {}, method = 'GET') {
  return new Promise((res, rej) => {
    const req = http.request(base + path, { method, headers, agent: false },
      (r) => {
        const b = [];
        r.on('data', (c) => b.push(c));
        r.on('end', () => res({ status: r.statusCode, headers: r.headers,
                                body: Buffer.concat(b).toString('utf8') }));
      });
    req.on('error', rej);
    req.end();
  });
}

const json = (v, data) => JSON.stringify({ v, type: C.URI, data });

C.main(async () => {
  const a = await C.Client.open(process.env.COLLAB_WS_URL, { name: 'a' });
  const b = await C.Client.open(process.env.COLLAB_WS_URL, { name: 'b' });
  const d = a.doc('t25', 'doc 1');

  C.stage('a missing document is ShareDB\'s {v:0,type:null}, as a 404');
  let r = await get('/api/t25/doc%201');
  C.eq([r.status, r.body], [404, '{"v":0,"type":null}'], 'missing doc');

  C.stage('create and edit: quotes, controls, emoji, CJK, combining marks');
  const texts = ['h"é\\llo\n\t\u0001\u001f\u007f'];
  await C.within(C.create(d, texts[0]), 5000, 'create');
  const ops = [[3, '😀🎉'], ['漢字 '], [{ d: 2 }, 'x'], [5, 'e\u0301\r\b\f'],
               [2, '\u2028\u2029</script>']];
  for (const op of ops) {
    await C.within(C.submit(d, op), 5000, 'op ' + JSON.stringify(op));
    texts.push(C.TYPE.apply(texts[texts.length - 1], op));
  }
  const head = texts.length;

  C.stage('the latest snapshot is exactly what fetch sees');
  const fd = b.doc('t25', 'doc 1');
  await C.within(C.fetch(fd), 5000, 'fetch');
  r = await get('/api/t25/doc%201');
  C.eq(r.status, 200, 'status');
  C.eq(r.body, json(fd.version, fd.data), 'body = fetch');
  C.eq(r.body, json(head, texts[head - 1]), 'body = the oracle');
  C.eq(r.headers['content-type'], 'application/json', 'content type');
  C.eq(r.headers['etag'], `"t25/doc%201/v${head}"`, 'ETag');
  C.eq(r.headers['cache-control'], 'no-cache', 'Cache-Control');
  C.eq(Number(r.headers['content-length']), Buffer.byteLength(r.body),
       'Content-Length');
  const again = await get('/api/t25/doc%201');
  C.eq(again.body, r.body, 'a second read (from memory) is the same');

  C.stage('If-None-Match');
  const etag = r.headers['etag'];
  for (const inm of [etag, 'W/' + etag, `"x", ${etag}`, '*']) {
    const n = await get('/api/t25/doc%201', { 'If-None-Match': inm });
    C.eq([n.status, n.body, n.headers['etag']], [304, '', etag], 'INM ' + inm);
  }
  const old = await get('/api/t25/doc%201', { 'If-None-Match': '"t25/doc%201/v1"' });
  C.eq([old.status, old.body], [200, r.body], 'another ETag: 200');
  const im = await get('/api/t25/doc%201', { 'If-Match': '"t25/doc%201/v1"' });
  C.eq(im.status, 412, 'If-Match with another ETag: 412');

  C.stage('HEAD');
  const h = await get('/api/t25/doc%201', {}, 'HEAD');
  C.eq([h.status, h.body, h.headers['content-length'], h.headers['etag']],
       [200, '', String(Buffer.byteLength(r.body)), etag], 'HEAD');

  C.stage('?v=N is fetchSnapshot at N');
  for (let v = 0; v <= head; v++) {
    const s = await C.within(C.fetchSnapshot(b.conn, 't25', 'doc 1', v), 5000,
                             `fetchSnapshot v${v}`);
    r = await get(`/api/t25/doc%201?v=${v}`);
    if (v === 0) {
      C.eq([r.status, r.body, s.type], [404, '{"v":0,"type":null}', null], 'v0');
      continue;
    }
    C.eq([r.status, r.body], [200, json(s.v, s.data)], `v${v}`);
    C.eq(r.body, json(v, texts[v - 1]), `v${v} = the oracle`);
    C.eq(r.headers['etag'], `"t25/doc%201/v${v}"`, `ETag v${v}`);
  }
  r = await get(`/api/t25/doc%201?v=${head + 1}`);
  C.eq([r.status, r.body], [404, '{"error":"no such version"}\n'], 'past the head');
  r = await get('/api/t25/nope?v=3');
  C.eq([r.status, r.body], [404, '{"error":"no such version"}\n'], 'missing doc at v3');

  C.stage('deleted: ShareDB\'s {v,type:null} as a 404; old versions remain');
  await C.within(C.del(d), 5000, 'del');
  r = await get('/api/t25/doc%201');
  C.eq([r.status, r.body], [404, `{"v":${head + 1},"type":null}`], 'deleted');
  C.eq(r.headers['etag'], undefined, 'no ETag on a 404');
  await C.within(C.fetch(fd), 5000, 'fetch deleted');
  C.eq([fd.version, fd.type], [head + 1, null], 'fetch agrees');
  r = await get(`/api/t25/doc%201?v=${head + 1}`);
  C.eq([r.status, r.body], [404, `{"v":${head + 1},"type":null}`], 'deleted at v');
  r = await get(`/api/t25/doc%201?v=${head}`);
  C.eq([r.status, r.body], [200, json(head, texts[head - 1])], 'before the delete');

  C.stage('re-created');
  await C.within(C.create(d, 'again'), 5000, 're-create');
  r = await get('/api/t25/doc%201');
  C.eq([r.status, r.body], [200, json(head + 2, 'again')], 're-created');

  C.stage('an ETag percent-encodes what an entity-tag cannot hold');
  const odd = a.doc('t25', '"a%b cé');
  await C.within(C.create(odd, ''), 5000, 'create odd');
  r = await get('/api/t25/%22a%25b%20c%C3%A9');
  C.eq([r.status, r.body, r.headers['etag']],
       [200, json(1, ''), '"t25/%22a%25b%20c%C3%A9/v1"'], 'odd name');

  C.stage('a large document (many text chunks)');
  const big = a.doc('t25', 'big');
  let text = '';
  for (let i = 0; i < 5000; i++) text += `line ${i} "q" \\ é 漢 😀\n`;
  await C.within(C.create(big, text), 5000, 'create big');
  await C.within(C.submit(big, [50000, '<mid>']), 5000, 'edit big');
  text = C.TYPE.apply(text, [50000, '<mid>']);
  r = await get('/api/t25/big');
  C.eq([r.status, Buffer.byteLength(r.body) > 150000], [200, true], 'big body');
  C.check(r.body === json(2, text), 'big document exact');
  const bf = b.doc('t25', 'big');
  await C.within(C.fetch(bf), 5000, 'fetch big');
  C.check(bf.data === text, 'fetch agrees on big');

  a.close();
  b.close();
});
--- no_error_log
[error]


=== TEST 2: without Redis (one worker), after the process restarted
--- request
GET /api/t25/big?v=1
--- response_headers
Content-Type: application/json
ETag: "t25/big/v1"
Cache-Control: no-cache
--- response_body_like: ^\{"v":1,"type":"http://sharejs.org/types/text-unicode","data":"line 0 \\"q\\" \\\\ é 漢 😀\\nline 1 .*line 4999 \\"q\\" \\\\ é 漢 😀\\n"\}$


=== TEST 3: the latest version without Redis
--- request
GET /api/t25/doc%201
--- response_headers
ETag: "t25/doc%201/v8"
--- response_body chomp
{"v":8,"type":"http://sharejs.org/types/text-unicode","data":"again"}


=== TEST 4: a bad version is 400
--- request
GET /api/t25/doc?v=-1
--- error_code: 400
--- response_body
{"error":"v must be a version"}


=== TEST 5: a version that is not a number is 400
--- request
GET /api/t25/doc?v=1x
--- error_code: 400


=== TEST 6: an empty version is 400
--- request
GET /api/t25/doc?v=
--- error_code: 400


=== TEST 7: other methods are 405 with Allow
--- raw_request eval
"PUT /api/t25/doc HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
--- error_code: 405
--- response_headers
Allow: GET, HEAD


=== TEST 8: a trailing slash after the document names nothing
--- request
GET /api/t25/doc/
--- error_code: 404
--- response_body
{"error":"no such endpoint"}


=== TEST 9: a name too long for the registry is 400
--- request eval
"GET /api/t25/" . ("x" x 1100)
--- error_code: 400
--- response_body
{"error":"document name too long"}


=== TEST 10: two workers: a document edited through one is current on both
--- workers: 2
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    server {
        listen 127.0.0.1:$TEST_NGINX_RP_PORT reuseport;
        location /ws { collab_websocket; }
        location /api/ { collab_api; add_header X-Pid $pid always; }
    }
--- config
    location /ws { collab_websocket; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const http = require('http');
const port = Number(process.env.TEST_NGINX_RP_PORT);
const rp = `ws://127.0.0.1:${port}/ws`;

function get(path) {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false },
      (r) => {
        const b = [];
        r.on('data', (c) => b.push(c));
        r.on('end', () => res({ status: r.statusCode, pid: r.headers['x-pid'],
                                body: Buffer.concat(b).toString('utf8') }));
      });
    req.on('error', rej);
    req.end();
  });
}

// reads over new connections until both workers answered n times each
async function readBoth(path, n, what) {
  const seen = new Map();
  for (let i = 0; i < 400 && (seen.size < 2
       || [...seen.values()].some((x) => x.length < n)); i++) {
    const r = await get(path);
    if (!seen.has(r.pid)) seen.set(r.pid, []);
    seen.get(r.pid).push(r);
  }
  C.eq(seen.size, 2, `${what}: both workers answered`);
  return [...seen.values()].flat();
}

const json = (v, data) => JSON.stringify({ v, type: C.URI, data });

C.main(async () => {
  const [w0, w1] = await C.clientsOnDistinctWorkers(rp, 2, { name: 'w' });
  C.log(`writers on workers ${w0.pid} and ${w1.pid}`);
  const d0 = w0.client.doc('t25', 'two');
  const d1 = w1.client.doc('t25', 'two');
  let text = 'start';
  await C.within(C.create(d0, text), 5000, 'create');
  let v = 1;

  for (const r of await readBoth('/api/t25/two', 3, 'after create')) {
    C.eq([r.status, r.body], [200, json(v, text)], `worker ${r.pid} v${v}`);
  }

  // each edit, through either worker, reaches both: the other one learns
  // it from pub/sub, about when the ack comes (a read may race it)
  let late = 0;
  for (let i = 0; i < 20; i++) {
    const [doc, op] = i % 2 ? [d1, [`${i}`]] : [d0, [text.length, ' ü' + i]];
    await C.within(C.fetch(doc), 5000, 'fetch before the op');
    await C.within(C.submit(doc, op), 5000, `op ${i}`);
    text = C.TYPE.apply(text, op);
    v++;
    const t0 = Date.now();
    let rs = await readBoth('/api/t25/two', 1, `op ${i}`);
    while (rs.some((r) => r.body !== json(v, text)) && Date.now() - t0 < 1000) {
      late++;
      await C.delay(10);
      rs = await readBoth('/api/t25/two', 1, `op ${i} again`);
    }
    for (const r of rs) {
      C.eq([r.status, r.body], [200, json(v, text)], `worker ${r.pid} v${v}`);
    }
  }
  C.log(`reads that had to wait for pub/sub: ${late} of 20 rounds`);
  w0.client.close();
  w1.client.close();
});
--- no_error_log
[error]
