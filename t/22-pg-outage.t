# PostgreSQL goes away and comes back: history requests get 503 at once
# while the worker keeps serving other requests, and the pool reconnects
# by itself.  This file runs its own cluster (.ci/pg.sh) to stop it.
use lib 't/lib';
use Test::Collab;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $root = $Test::Collab::ROOT;
my $dir = tempdir('collab-pgout-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;

my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                              Listen => 1) or die "no free port: $!";
my $pgport = $s->sockport;
close $s;

sub pg { system("bash $root/.ci/pg.sh @_ >/dev/null") == 0 }

my $ci = `bash $root/.ci/pg.sh start $dir/pg $pgport | tail -1`;
chomp $ci;
ok($ci =~ /port=$pgport/, 'cluster started');

END { system('bash', "$root/.ci/pg.sh", 'stop', "$dir/pg") if $dir }

system('psql', '-X', '-q', $ci, '-c',
       "INSERT INTO collab_docs (collection, name, type, version)"
       . " VALUES ('n', 'a', 't', 0)") == 0 or die 'psql failed';

my $port = start_nginx(
    http_config => qq{collab_postgres "$ci"; collab_postgres_pool 2;},
    config => 'location /api/ { collab_api; }'
              . ' location /ok { return 200 "ok"; }',
);

my $http = HTTP::Tiny->new(timeout => 10);
my $api = "http://127.0.0.1:$port/api/n/a/ops";
my $ok = "http://127.0.0.1:$port/ok";

sub get_until {
    my ($url, $status, $secs) = @_;
    my $deadline = time + $secs;
    my $r;
    while (time < $deadline) {
        $r = $http->get($url);
        return $r if $r->{status} == $status;
        sleep 0.1;
    }
    return $r;
}

my $r = get_until($api, 200, 10);
is($r->{status}, 200, 'history served while the database is up');
is($r->{content}, '[]', 'empty history');

pg('stop', "$dir/pg");

$r = get_until($api, 503, 5);
is($r->{status}, 503, 'database stopped: 503');

my ($t0, $max) = (time, 0);
for (1 .. 20) {
    my $t = time;
    $r = $http->get($api);
    $max = time - $t if time - $t > $max;
    last if $r->{status} != 503;
}
is($r->{status}, 503, '20 requests while stopped: all 503');
cmp_ok($max, '<', 0.5, "each 503 comes at once (slowest ${max}s)");

$r = $http->get($ok);
is($r->{status}, 200, 'the worker keeps serving other locations');

ok(pg('start', "$dir/pg", $pgport), 'cluster restarted');

$t0 = time;
$r = get_until($api, 200, 20);
is($r->{status}, 200, sprintf('recovered after restart (%.1fs)',
                              time - $t0));

my $log = error_log_text();
like($log, qr/connection \d lost \(receive\)/, 'loss logged at [error]');
like($log, qr/\[notice\].*connection \d ready .*2 of 2 up/,
     'reconnect logged at [notice]');
unlike($log, qr/\[alert\]|\[emerg\]|exited on signal|AddressSanitizer/,
       'no alert, emerg or crash');

stop_nginx();
done_testing();
