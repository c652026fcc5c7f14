# collab_cache: after each commit the head snapshot is in Redis
# (<prefix>cache:<doc name> = "<v>:<ms>:<type>:<text>", signed as the
# Redis bus is); an older write never replaces a newer one; a value
# without this deployment's signature is never served; a delete leaves a tombstone; a document no
# worker holds is read (REST, WebSocket fetch and subscribe) from Redis
# while PostgreSQL is stopped; 1,000 cold reads cost PostgreSQL at most
# 10 statements (the module's own count); with the cache off nothing is
# written.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use HTTP::Tiny;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);

my $root = $Test::Collab::ROOT;
my $type = 'http://sharejs.org/types/text-unicode';
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);

sub conf {
    my ($cache) = @_;
    return (
        http_config => qq{collab_postgres "} . pg_conninfo() . qq{";\n}
                       . 'collab_redis ' . redis_addr() . ";\n"
                       . "collab_cache $cache;\ncollab_cache_ttl 60s;\n"
                       . "collab_src_secret collab-test-src-secret;\n",
        config => 'location /ws { collab_websocket; }'
                  . ' location /api/ { collab_api; }'
                  . ' location = /status { collab_status; }',
    );
}

sub key { my ($c, $d) = @_; 'collab:cache:' . length($c) . ":$c/$d" }

# a value as a worker of this deployment signs it (collab_src_secret)
sub signed {
    my ($key, $value) = @_;
    my $k = hmac_sha256('collab redis bus v1', 'collab-test-src-secret');
    return encode_base64url(hmac_sha256("$key\0$value", $k)) . ".$value";
}
my $sig = qr/[A-Za-z0-9_-]{43}\./;

sub status {
    my ($port) = @_;
    my $r = $http->get("http://127.0.0.1:$port/status");
    return $r->{content};
}

sub counter {
    my ($json, $section, $name) = @_;
    return $json =~ /"$section":\{[^}]*"$name":(\d+)/ ? $1 : -1;
}

# raw ShareDB messages: creates, ops, deletes, fetch and subscribe
sub node_ok {
    my ($port, $name, $body, %env) = @_;
    my $js = "const C = require(process.env.COLLAB_ROOT"
             . " + '/t/js/lib/collab-client');\n"
             . "C.main(async () => {\n"
             . "  const w = await C.RawClient.open(process.env.URL);\n"
             . "  await w.hs();\n"
             . $body
             . "  w.close();\n}, { timeout: 60000 });\n";
    my ($rc, $out) = run_node($js, URL => "ws://127.0.0.1:$port/ws",
                              timeout => 70, %env);
    ok($rc == 0, $name) or diag($out);
}

# -- writes: the head after every commit, tombstones, only if newer (one
# worker: it holds the documents, so the fake values below are not read)

my $port = start_nginx(workers => 1, conf('on'));

node_ok($port, 'documents written', <<'JS');
  const T = { type: 'text-unicode', data: 'hello' };
  await w.submit({ c: 't28', d: 'a', v: 0, seq: 1, create: T });
  await w.submit({ c: 't28', d: 'a', v: 1, seq: 2, op: [5, ' wörld'] });
  await w.submit({ c: 't28', d: 'a', v: 2, seq: 3, op: [11, '!'] });
  for (const d of ['b', 'c', 'del', 'forged']) {
    await w.submit({ c: 't28', d, v: 0, seq: 1,
                     create: { type: 'text-unicode', data: 'doc ' + d } });
  }
  await w.submit({ c: 't28', d: 'del', v: 1, seq: 2, del: true });
JS

sleep 0.3;
my $v = redis_cmd('GET', key('t28', 'a'));
like($v, qr/^${sig}3:\d{13}:\Q$type\E:hello wörld!$/,
     'after three commits the key holds version 3 and its text');
my $ttl = redis_cmd('PTTL', key('t28', 'a'));
ok($ttl > 50000 && $ttl <= 60000, "it expires (PTTL $ttl ms)");
like(redis_cmd('GET', key('t28', 'del')), qr/^${sig}2:\d{13}:-:$/,
     'a deleted document leaves a versioned tombstone, no snapshot');

# another writer got there first with a newer version: ours (v4) swaps it
# out and puts it back
redis_cmd('SET', key('t28', 'a'), signed(key('t28', 'a'), "100:0:$type:newer"));
node_ok($port, 'an op on a', <<'JS');
  await w.submit({ c: 't28', d: 'a', v: 3, seq: 4, op: [12, '?'] });
JS
sleep 0.3;
is(redis_cmd('GET', key('t28', 'a')),
   signed(key('t28', 'a'), "100:0:$type:newer"),
   'an older write does not leave its version over a newer one');
redis_cmd('SET', key('t28', 'a'), signed(key('t28', 'a'), "2:0:$type:older"));
node_ok($port, 'another op on a', <<'JS');
  await w.submit({ c: 't28', d: 'a', v: 4, seq: 5, op: [13, '.'] });
JS
sleep 0.3;
like(redis_cmd('GET', key('t28', 'a')),
     qr/^${sig}5:\d+:\Q$type\E:hello wörld!\?\.$/,
     'a newer write replaces an older one');

# -- reads while PostgreSQL is stopped, by workers that hold nothing

stop_nginx();
$port = start_nginx(workers => 2, conf('on'));
system('bash', "$root/.ci/pg.sh", 'stop', pg_dir()) == 0
    or die 'cannot stop PostgreSQL';

my $r = $http->get("http://127.0.0.1:$port/api/t28/a");
is($r->{status}, 200, 'PostgreSQL stopped: a cold REST read answers');
is($r->{content},
   qq{{"v":5,"type":"$type","data":"hello w\xc3\xb6rld!?."}},
   'from the cache, with the head version and text');

node_ok($port, 'PostgreSQL stopped: a cold fetch and a cold subscribe '
               . 'answer from the cache', <<'JS');
  w.send({ a: 'f', c: 't28', d: 'b' });
  const f = await w.next((m) => m.a === 'f' && m.d === 'b', 5000, 'fetch');
  C.eq([f.error, f.data && f.data.v, f.data && f.data.data],
       [undefined, 1, 'doc b'], 'fetch: version 1, its text');
  w.send({ a: 's', c: 't28', d: 'c' });
  const s = await w.next((m) => m.a === 's' && m.d === 'c', 5000, 'sub');
  C.eq([s.error, s.data && s.data.v, s.data && s.data.data],
       [undefined, 1, 'doc c'], 'subscribe: version 1, its text');
JS

# someone with Redis access but not the secret writes a snapshot
redis_cmd('SET', key('t28', 'forged'), "9:0:$type:EVIL");
$r = $http->get("http://127.0.0.1:$port/api/t28/forged");
is($r->{status}, 503, 'an unsigned cached value is never served: the read '
                      . 'needs PostgreSQL');
like(status($port), qr/"forged":[1-9]/, 'and it is counted');

$r = $http->get("http://127.0.0.1:$port/api/t28/del");
is($r->{status}, 503, 'a tombstone is a miss: the deleted document '
                      . 'needs PostgreSQL');

system("bash '$root/.ci/pg.sh' start '" . pg_dir() . "' "
       . (pg_conninfo() =~ /port=(\d+)/)[0] . ' > /dev/null 2>&1') == 0
    or die 'cannot start PostgreSQL';
stop_nginx();

# -- PostgreSQL statements per 1,000 cold reads, with and without

my $n = 1000;
$port = start_nginx(workers => 1, conf('on'));
node_ok($port, "$n documents written", <<'JS', N => $n);
  const n = +process.env.N;
  for (let i = 0; i < n; i += 50) {
    const acks = [];
    for (let j = i; j < Math.min(n, i + 50); j++) {
      acks.push(w.submit({ c: 't28n', d: 'd' + j, v: 0, seq: 1,
                           create: { type: 'text-unicode', data: 'n' + j },
                         }, 'create', 20000));
    }
    await Promise.all(acks);
  }
JS

for my $cache ('on', 'off') {
    stop_nginx();
    $port = start_nginx(workers => 1, conf($cache));
    # the pool connects and checks the schema first
    $http->get("http://127.0.0.1:$port/api/t28/b");
    sleep 0.5;
    my $st = status($port);
    my $before = counter($st, 'postgres', 'statements');
    my $ok = 0;
    for my $i (0 .. $n - 1) {
        $r = $http->get("http://127.0.0.1:$port/api/t28n/d$i");
        $ok++ if $r->{status} == 200 && $r->{content} =~ /"data":"n$i"/;
    }
    $st = status($port);
    my $used = counter($st, 'postgres', 'statements') - $before;
    is($ok, $n, "cache $cache: $n cold reads answered with their text");
    if ($cache eq 'on') {
        ok($used <= 10, "cache on: $used PostgreSQL statements for $n "
                        . 'cold reads (at most 10)');
        ok(counter($st, 'cache', 'hits') >= $n, 'cache on: counted as hits')
            or diag($st);
    } else {
        ok($used >= $n, "cache off: $used PostgreSQL statements for $n "
                        . 'cold reads (one or more each)');
    }
}

# -- with the cache off nothing is written

node_ok($port, 'cache off: a document written', <<'JS');
  await w.submit({ c: 't28', d: 'off', v: 0, seq: 1,
                   create: { type: 'text-unicode', data: 'x' } });
  await w.submit({ c: 't28', d: 'off', v: 1, seq: 2, op: [1, 'y'] });
JS
sleep 0.3;
is(redis_cmd('EXISTS', key('t28', 'off')), '0', 'cache off: no key written');
unlike(status($port), qr/"cache":/, 'cache off: no cache counters');

stop_nginx();
check_error_log('read cache', must_not => ['[crit]', '[alert]']);

done_testing();
