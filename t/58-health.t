# collab_health: liveness answers while the worker runs; readiness checks
# this worker's PostgreSQL (SELECT 1) and Redis (PING), as
# application/health+json, 503 naming what failed, and recovers when the
# database is back.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use HTTP::Tiny;
use Time::HiRes qw(sleep);

my $root = $Test::Collab::ROOT;
my ($pg_port) = pg_conninfo() =~ /port=(\d+)/;
my $pg_dir = pg_dir();

sub pg { system("bash $root/.ci/pg.sh @_ >/dev/null 2>&1") == 0 }
END { pg('start', $pg_dir, $pg_port) if $pg_dir && $? }

my $port = start_nginx(
    http_config => 'collab_postgres "' . pg_conninfo() . '";'
                   . ' collab_redis ' . redis_addr() . ';',
    config => 'location /ws { collab_websocket; }'
              . ' location = /healthz { collab_health live; }'
              . ' location = /readyz { collab_health ready; }',
);
my $http = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$port";

my $r = $http->get("$base/healthz");
is($r->{status}, 200, 'liveness: 200');
is($r->{headers}{'content-type'}, 'application/health+json',
   'as application/health+json');
is($r->{content}, qq{{"status":"pass"}\n}, 'pass');

sleep 1;
$r = $http->get("$base/readyz");
is($r->{status}, 200, 'readiness with PostgreSQL and Redis up: 200');
is($r->{content},
   '{"status":"pass","checks":{"postgres":{"status":"pass"},'
   . qq|"redis":{"status":"pass"}}}\n|, 'both checks pass');

pg('stop', $pg_dir);
my $down;
for (1 .. 30) {
    $r = $http->get("$base/readyz");
    if ($r->{status} == 503) { $down = $r; last }
    sleep 0.2;
}
ok($down, 'PostgreSQL stopped: readiness 503 within seconds');
is($down && $down->{content},
   '{"status":"fail","checks":{"postgres":{"status":"fail"},'
   . qq|"redis":{"status":"pass"}}}\n|, 'naming postgres');
is($http->get("$base/healthz")->{status}, 200, 'liveness still 200');

pg('start', $pg_dir, $pg_port);
my $up;
for (1 .. 100) {
    $r = $http->get("$base/readyz");
    if ($r->{status} == 200) { $up = 1; last }
    sleep 0.2;
}
ok($up, 'PostgreSQL back: readiness 200 again');
is($http->request('POST', "$base/readyz")->{status}, 405, 'POST: 405');

stop_nginx();
check_error_log('health', must_not => ['[crit]', '[alert]']);

done_testing();
