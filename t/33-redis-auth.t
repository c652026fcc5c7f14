# Redis AUTH with an ACL user (collab_redis ... user= password_file=): this
# file's Redis refuses the default user, so nothing works without the
# right credentials.  With them, every connection of both workers
# authenticates first, and ops fan out between the workers; a wrong
# password is refused and logged without the password, retried with a
# growing delay, and /readyz says Redis is not ready; bad options fail
# nginx -t.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);

my $dir = tempdir('collab-redis-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub spew {
    my ($f, $s) = @_;
    open(my $fh, '>', "$dir/$f") or die "$f: $!";
    print $fh $s;
    close $fh;
}
spew('good.pass', "s3cret-collab-pw\n");
spew('bad.pass', "wrong-collab-pw\n");
spew('empty.pass', "\n");
$ENV{TEST_COLLAB_PASS} = $dir;

my ($host, $port) = split /:/, redis_addr();
sub cli { system('redis-cli', '-h', $host, '-p', $port, @_) == 0 or die "@_" }
cli(qw(ACL SETUSER collab on >s3cret-collab-pw ~* &* +@all));
# the default user off: a connection without AUTH can do nothing
cli(qw(ACL SETUSER default off));

run_tests(defaults => {
    http_config => <<'EOF',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS user=collab password_file=$TEST_COLLAB_PASS/good.pass;
EOF
    config => <<'EOF',
    location /ws { collab_websocket; }
    location /readyz { collab_health ready; }
EOF
});

__DATA__

=== TEST 1: with the ACL user's password: both workers authenticate and ops fan out between them
--- workers: 2
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;
C.main(async () => {
  await C.waitFor(async () => (await fetch(
    `${process.env.COLLAB_HTTP_URL}/readyz`)).status === 200, 10000,
    'ready: PostgreSQL and an authenticated Redis');
  const pairs = await C.clientsOnDistinctWorkers(url, 2);
  const [a, b] = pairs.map((p) => p.client);
  const da = a.doc('t33', 'd');
  const db = b.doc('t33', 'd');
  await C.within(C.create(da, 'one', C.URI), 5000, 'create');
  await C.within(C.subscribe(da), 5000, 'a subscribes');
  await C.within(C.subscribe(db), 5000, 'b subscribes');
  for (let i = 0; i < 20; i++) {
    await C.within(C.submit(i % 2 ? da : db, [3, ` ${i}`]), 5000, 'op');
  }
  await C.converge([da, db], 5000, 'both workers have every op');
  C.eq(da.version, 21, 'every op committed');
  const clients = await C.redis('--user', 'collab', '--pass',
                                's3cret-collab-pw', '--no-auth-warning',
                                'CLIENT', 'LIST');
  C.check((clients.match(/ user=collab /g) || []).length >= 6,
          'three connections per worker, each as the collab user', clients);
  a.close();
  b.close();
});
--- error_log
redis subscribe connection to
--- no_error_log
[error]



=== TEST 2: a wrong password: refused, logged without the password, retried; not ready
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS user=collab password_file=$TEST_COLLAB_PASS/bad.pass;
--- node
const C = require(process.cwd() + '/lib/collab-client');
C.main(async () => {
  await C.delay(1500);
  const res = await fetch(`${process.env.COLLAB_HTTP_URL}/readyz`);
  C.eq(res.status, 503, 'not ready without Redis');
  const body = await res.json();
  C.check(JSON.stringify(body.checks).includes('redis'),
          'the failed check is Redis', body);
});
--- error_log eval
[qr/redis command connection to "[^"]+": AUTH refused: WRONGPASS/,
 qr/redis command connection to "[^"]+" failed: refused, reconnecting in \d+ ms \(attempt 2\)/]
--- no_error_log
wrong-collab-pw



=== TEST 3: user= without a password fails nginx -t
--- http_config
    collab_redis $TEST_COLLAB_REDIS user=collab;
--- must_die
--- error_log
user= needs a password= or password_file=



=== TEST 4: an unknown option fails nginx -t
--- http_config
    collab_redis $TEST_COLLAB_REDIS pass=x;
--- must_die
--- error_log
invalid "collab_redis" option "pass=x"



=== TEST 5: an empty or missing password file fails nginx -t, naming it
--- http_config
    collab_redis $TEST_COLLAB_REDIS password_file=$TEST_COLLAB_PASS/empty.pass;
--- must_die
--- error_log
empty.pass" is empty



=== TEST 6: a missing password file
--- http_config
    collab_redis $TEST_COLLAB_REDIS password_file=$TEST_COLLAB_PASS/none.pass;
--- must_die
--- error_log
cannot open Redis password file



=== TEST 7: a Sentinel on a unix socket
--- http_config
    collab_redis sentinel=m unix:/tmp/sentinel.sock;
--- must_die
--- error_log
invalid "collab_redis" address "unix:/tmp/sentinel.sock": expected host:port
