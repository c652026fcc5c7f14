# Redis goes away and comes back: the worker keeps serving, reports the
# connections as down, retries with backoff and reconnects.
# Uses its own Redis (started and stopped here through .ci/redis.sh).
use lib 't/lib';
use Test::Collab;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $root = "$Test::Collab::ROOT";
my $dir = tempdir('collab-t31-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $probe = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die "no port: $!";
my $rport = $probe->sockport;
close $probe;

sub redis_up   { system('bash', "$root/.ci/redis.sh", 'start', $dir, $rport,
                        ) == 0 or die "redis did not start" }
sub redis_down { system('bash', "$root/.ci/redis.sh", 'stop', $dir) }

END { redis_down() if $dir && -d $dir }

redis_up();

my $port = start_nginx(
    http_config => "collab_redis 127.0.0.1:$rport;\n"
                   . "collab_redis_connect_timeout 500ms;",
    config => "location /ws { collab_websocket; }\n"
              . "location = /status { collab_status; }\n"
              . "location = /ok { return 200 ok; }",
);

my $http = HTTP::Tiny->new(timeout => 5);

sub status {
    my $r = $http->get("http://127.0.0.1:$port/status");
    return $r->{success} ? $r->{content} : '';
}

sub wait_for {
    my ($re, $secs) = @_;
    my $until = time + $secs;
    while (time < $until) {
        return 1 if status() =~ $re;
        sleep 0.05;
    }
    return 0;
}

my $all_up = qr/"command":\{"state":"connected".*"subscribe":\{"state":
                "connected".*"lock":\{"state":"connected"/x;
my $all_down = qr/"command":\{"state":"(?:disconnected|connecting)".*
                  "subscribe":\{"state":"(?:disconnected|connecting)".*
                  "lock":\{"state":"(?:disconnected|connecting)"/x;

ok(wait_for($all_up, 5), 'all three connections up');
like(status(), qr/"connects":1,"disconnects":0/, 'connected once');

redis_down();

ok(wait_for($all_down, 3), 'status shows them down after Redis stops');

my $t0 = time;
my $r = $http->get("http://127.0.0.1:$port/ok");
my $dt = time - $t0;
is($r->{content}, 'ok', 'the worker keeps serving');
cmp_ok($dt, '<', 0.5, 'without waiting on Redis');

sleep 1.5;

my $log = error_log_text();
like($log, qr/\[error\] .*collab: redis command connection to "127\.0\.0\.1:\d+" lost: [^,]+, reconnecting in \d+ ms \(attempt 1\)/,
     'the loss is logged');
like($log, qr/\[error\] .*collab: redis lock connection to "127\.0\.0\.1:\d+" failed: Connection refused, reconnecting in \d+ ms \(attempt 3\)/,
     'failed attempts are retried');

# the delays grow: attempt n waits at least 50 * 2^(n-1) ms
my @delays = $log =~ /redis command connection .* reconnecting in (\d+) ms/g;
cmp_ok(scalar @delays, '>=', 3, 'several attempts') or diag $log;
cmp_ok($delays[2], '>=', 200, 'third delay is backed off')
    if @delays >= 3;
cmp_ok(scalar @delays, '<=', 8, 'not a busy loop');

redis_up();

ok(wait_for($all_up, 15), 'reconnected after Redis returned');
like(status(), qr/"subscribe":\{"state":"connected","up":1,"connects":2,"disconnects":1/,
     'subscribe connection counts one reconnect');
like(status(), qr/"resubscribes":1/, 'resubscribe round counted');

stop_nginx();

$log = error_log_text();
is(scalar(() = $log =~ /connection to "127\.0\.0\.1:\d+" established/g), 6,
   'each connection established twice');
like($log, qr/collab: redis lock connection to "[^"]+" closed/,
     'closed on exit');
unlike($log, qr/\[alert\]|\[emerg\]|exited on signal|AddressSanitizer/,
       'no alerts or crashes');

done_testing();
