# Convergence under concurrency across workers and instances: 10 sharedb
# clients spread over both workers of one nginx and a second nginx (own
# port, same PostgreSQL and Redis) make 2,400 random concurrent ops on one
# document (2,000+ of them separate commits; plus two cooler documents);
# replicas, fresh fetches from each instance and the op log replayed with
# ot-text-unicode must agree.
# The work is in t/js/convergence.js.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use Test::Collab::Cluster;
use IO::Socket::INET;

# an extra reuseport listener per instance: the kernel then spreads
# connections over the workers (one accept socket each)
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    splice @l, 0, @l - $n if @l > $n;
    return join '', map { "    $_\n" } @l;
}

my $rp_a = free_port();
my $rp_b = free_port();

my $http = <<'EOF';
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    # the instances share the secret their Redis messages are signed with
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
EOF
my $spread = sub {
    my ($port) = @_;
    return <<"EOF";
    server {
        listen 127.0.0.1:$port reuseport;
        location /ws { collab_websocket; }
    }
EOF
};
my $config = "    location /ws { collab_websocket; }\n";

my $a_port = start_nginx(workers => 2, http_config => $http . $spread->($rp_a),
                         config => $config);
my $b = Test::Collab::Cluster->start(name => 'b', workers => 2,
                                     http_config => $http . $spread->($rp_b),
                                     config => $config);

my @a_workers = (nginx_pids())[1 .. 2];
note("instance a: port $a_port (+$rp_a), workers @a_workers; instance b: "
     . "port " . $b->port . " (+$rp_b), workers " . join(' ', $b->workers));

for my $round ([seed => 42, coll => 't42a'], [seed => 7, coll => 't42b']) {
    my %r = @$round;
    my ($rc, $out) = run_node(
        "require(process.env.COLLAB_ROOT + '/t/js/convergence.js');\n",
        COLLAB_WS_URLS => "ws://127.0.0.1:$rp_a/ws,ws://127.0.0.1:$rp_b/ws",
        CONV_SEED => $r{seed}, CONV_COLLECTION => $r{coll},
        CONV_CLIENTS => 10, CONV_HOT_OPS => 2400, CONV_MIN_HOT => 2000,
        CONV_COLD_DOCS => 2,
        CONV_COLD_OPS => 300, CONV_TYPEAHEAD => 2,
        CONV_DISTINCT => '2,2', CONV_TIMEOUT => 140000,
        timeout => 150);
    ok($rc == 0, "seed $r{seed}: 10 clients on 2 instances x 2 workers "
                 . "converge (replicas, fresh fetches, op log replay)")
        or diag("node exit " . ($rc == -1 ? 'timeout' : $rc) . ":\n"
                . tail($out, 40));
    note($out) if $rc == 0;
    last if $rc != 0;
}

$b->stop;
stop_nginx();
check_error_log('instance a', must_not => ['[crit]']);
$b->check_error_log('instance b', must_not => ['[crit]']);

done_testing();
