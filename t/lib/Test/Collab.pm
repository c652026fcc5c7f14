package Test::Collab;

# The nginx-level test runner: Test::Base data-driven blocks (in the shape
# of Test::Nginx) run against Debian's nginx with our dynamic module, plus
# optional per-file PostgreSQL and Redis.  The format is described in
# t/README.md; this file only implements it.

use strict;
use warnings;

use Test::Base ();
use Test::More ();
use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use Errno qw(EINTR EAGAIN);
use Encode ();

use Test::Collab::WS;

our @EXPORT = qw(
    run_tests start_nginx stop_nginx reload_nginx nginx_pids nginx_port
    servroot error_log_text check_error_log rss_kb ws_connect
    pg_conninfo redis_addr pg_query redis_cmd run_node pg_dir redis_dir
    free_port done_testing note explain BAIL_OUT subtest
);

our $ROOT = abs_path(dirname(abs_path(__FILE__)) . '/../../..');
our $NGINX = $ENV{TEST_COLLAB_NGINX} || '/usr/sbin/nginx';
our $MODULE = $ENV{TEST_COLLAB_MODULE}
              || "$ROOT/build/ngx_http_collab_module.so";
our $QUIT_TIMEOUT = $ENV{TEST_COLLAB_QUIT_TIMEOUT} || 10;
our $NODE_TIMEOUT = 60;

# problems every block checks for unless its --- error_log lists them
our @IMPLICIT_BAD = ('[alert]', '[emerg]', 'AddressSanitizer',
                     'LeakSanitizer', qr/worker process \d+ exited on signal/);

# ------------------------------------------------------- sanitizer mode
#
# TEST_COLLAB_SANITIZE=1 (make test-asan) runs the ASan+UBSan build of the
# module (COLLAB_SANITIZE=1 .ci/build-module.sh) in Debian's nginx through
# build/asan/nginx, a wrapper that preloads the sanitizer runtimes.  The
# runtimes inherit *SAN_OPTIONS; reports go to stderr, which nginx points
# at the error log, so the implicit checks above (and the same checks of
# Test::Collab::Cluster) catch them.  ASan stops the faulty process at the
# first report; UBSan reports and continues ("runtime error:").  Leak
# checking at exit is on, with suppressions for what nginx and the
# libraries keep until exit (t/lib/lsan.supp).
our $SANITIZE = $ENV{TEST_COLLAB_SANITIZE} ? 1 : 0;
if ($SANITIZE) {
    $NGINX = $ENV{TEST_COLLAB_NGINX} || "$ROOT/build/asan/nginx";
    $MODULE = $ENV{TEST_COLLAB_MODULE}
              || "$ROOT/build/asan/ngx_http_collab_module.so";
    $QUIT_TIMEOUT = $ENV{TEST_COLLAB_QUIT_TIMEOUT} || 20;
    $ENV{ASAN_OPTIONS} //= 'abort_on_error=0:detect_leaks=1'
        . ':detect_stack_use_after_return=0:fast_unwind_on_malloc=0';
    $ENV{LSAN_OPTIONS} //= "suppressions=$ROOT/t/lib/lsan.supp"
        . ':print_suppressions=0';
    $ENV{UBSAN_OPTIONS} //= 'print_stacktrace=1:halt_on_error=0';
    push @IMPLICIT_BAD, 'runtime error:';
}

my %WITH;               # services this file asked for
my $OWNER = $$;         # only this process cleans up (not forked children)
my $TMP;                # per-file /tmp dir for PostgreSQL and Redis
my ($PG_DIR, $PG_CONNINFO, $REDIS_DIR, $REDIS_ADDR);
my $SERVICES_DONE = 0;
my %NGX;                # the running nginx: pid, port, servroot, workers
my $NODE_SEQ = 0;
my ($SERVROOT, $SERVROOT_PRIVATE);

(my $BASE = basename($0)) =~ s/\.t$//;
$BASE =~ s/[^\w.-]/_/g;


sub import {
    my ($class, %opts) = @_;

    for my $s (@{$opts{with} || []}) {
        die "Test::Collab: unknown service '$s' (postgres, redis)\n"
            unless $s eq 'postgres' || $s eq 'redis';
        $WITH{$s} = 1;
    }

    my $caller = caller;
    no strict 'refs';
    for my $f (@EXPORT) {
        my $code = defined &{"Test::Collab::$f"} ? \&{"Test::Collab::$f"}
                                                 : \&{"Test::More::$f"};
        *{"${caller}::$f"} = $code;
    }
    use strict 'refs';

    $SIG{INT} = $SIG{TERM} = sub {
        _cleanup();
        $SIG{$_[0]} = 'DEFAULT';
        kill $_[0], $$;
    };

    # Test::Base exports Test::More's functions and blocks(), and reads
    # the caller's __DATA__
    @_ = ('Test::Base');
    goto &Test::Base::import;
}


END {
    my $status = $?;
    _cleanup();
    $? = $status;
}


sub _cleanup {
    return unless $$ == $OWNER;

    stop_nginx() if $NGX{pid};

    if ($REDIS_DIR) {
        system('bash', "$ROOT/.ci/redis.sh", 'stop', $REDIS_DIR);
        $REDIS_DIR = undef;
    }
    if ($PG_DIR) {
        system('bash', "$ROOT/.ci/pg.sh", 'stop', $PG_DIR);
        $PG_DIR = undef;
    }
    if ($TMP && !$ENV{TEST_COLLAB_KEEP}) {
        remove_tree($TMP);
        $TMP = undef;
    }

    # a pid-suffixed prefix is kept only when something failed
    if ($SERVROOT_PRIVATE && !$ENV{TEST_COLLAB_KEEP}
        && Test::More->builder->is_passing)
    {
        remove_tree($SERVROOT);
    }
}


# ---------------------------------------------------------------- helpers

# a TCP port on 127.0.0.1 that was free a moment ago (for extra listeners)
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "Test::Collab: cannot bind a free port: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub _free_port { return free_port() }


# run a command with stdout+stderr captured; returns (exit code, output)
sub _run {
    my (@cmd) = @_;

    my $out = File::Temp->new(TEMPLATE => 'collab-run-XXXXXX', TMPDIR => 1);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out->filename or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    $rc = 128 + ($? & 127) if $? & 127;

    open my $fh, '<', $out->filename or die;
    local $/;
    my $text = <$fh> // '';
    close $fh;
    return ($rc, $text);
}


sub _slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    binmode $fh;
    local $/;
    my $s = <$fh>;
    return $s // '';
}


sub _spew {
    my ($file, $data) = @_;
    open my $fh, '>', $file or die "Test::Collab: write $file: $!\n";
    binmode $fh;
    print $fh $data;
    close $fh;
}


sub _alive {
    my ($pid) = @_;
    return 0 unless $pid && kill 0, $pid;
    my $stat = _slurp("/proc/$pid/stat");
    return 0 if $stat =~ /\) Z /;
    return 1;
}


# live children of a process (nginx workers of the master)
sub _children {
    my ($ppid) = @_;
    my @kids;
    for my $d (glob '/proc/[0-9]*') {
        my $stat = _slurp("$d/stat");
        next unless $stat =~ /\) (\S) (\d+) /;
        next if $1 eq 'Z';
        push @kids, basename($d) if $2 == $ppid;
    }
    @kids = sort { $a <=> $b } @kids;
    return @kids;
}


sub _subst {
    my ($text) = @_;

    return $text unless defined $text && !ref $text;

    my %v = (
        TEST_NGINX_PORT => $NGX{port},
        TEST_NGINX_SERVROOT => $NGX{servroot},
        TEST_COLLAB_PG => $PG_CONNINFO,
        TEST_COLLAB_REDIS => $REDIS_ADDR,
        TEST_COLLAB_ROOT => $ROOT,
        # the key of public srcs the node tests compute (collab-client.js)
        TEST_COLLAB_SRC_SECRET => 'collab-test-src-secret',
    );

    # the built-in names, then any other $TEST_NGINX_*/$TEST_COLLAB_* from
    # the environment (as Test::Nginx does)
    $text =~ s{\$\{?(TEST_(?:NGINX|COLLAB)_\w+)\b\}?}{
        defined $v{$1} ? $v{$1}
        : !exists $v{$1} && defined $ENV{$1} ? $ENV{$1}
        : die "Test::Collab: \$$1 is not set"
            . ($1 eq 'TEST_COLLAB_PG' ? " (use Test::Collab with =>"
                                        . " ['postgres'])"
               : $1 eq 'TEST_COLLAB_REDIS' ? " (use Test::Collab with =>"
                                             . " ['redis'])" : '') . "\n"
    }gex;

    return $text;
}


sub _services {
    return if $SERVICES_DONE;
    $SERVICES_DONE = 1;

    return unless %WITH;

    $TMP = tempdir('collab-t-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $TMP;

    if ($WITH{postgres}) {
        my ($rc, $out);
        for (1 .. 3) {
            ($rc, $out) = _run('bash', "$ROOT/.ci/pg.sh", 'start',
                               "$TMP/pg", _free_port());
            $PG_DIR = "$TMP/pg";
            last if $rc == 0;
        }
        die "Test::Collab: PostgreSQL did not start:\n$out" if $rc != 0;
        ($PG_CONNINFO) = (split /\n/, $out)[-1];
    }

    if ($WITH{redis}) {
        my ($rc, $out);
        for (1 .. 3) {
            ($rc, $out) = _run('bash', "$ROOT/.ci/redis.sh", 'start',
                               "$TMP/redis", _free_port());
            $REDIS_DIR = "$TMP/redis";
            last if $rc == 0;
        }
        die "Test::Collab: Redis did not start:\n$out" if $rc != 0;
        ($REDIS_ADDR) = (split /\n/, $out)[-1];
    }
}


# ------------------------------------------------------------------ nginx

sub _config {
    my (%o) = @_;

    my $sr = $NGX{servroot};
    my $workers = $o{workers} || 1;
    my $main = _subst($o{main_config} // '');
    my $http = _subst($o{http_config} // '');
    my $conf = _subst($o{config} // '');

    return <<"EOF";
# generated by Test::Collab for $0
load_module $MODULE;

daemon on;
master_process on;
worker_processes $workers;
pid $sr/logs/nginx.pid;
error_log $sr/logs/error.log debug;

$main

events {
    worker_connections 1024;
}

http {
    access_log $sr/logs/access.log;
    default_type text/plain;

    client_body_temp_path $sr/client_body_temp;
    proxy_temp_path $sr/proxy_temp;
    fastcgi_temp_path $sr/fastcgi_temp;
    uwsgi_temp_path $sr/uwsgi_temp;
    scgi_temp_path $sr/scgi_temp;

$http

    server {
        listen 127.0.0.1:$NGX{port};
        server_name localhost;

$conf
    }
}
EOF
}


# t/servroot/<file>/, or t/servroot/<file>.<pid>/ while another live
# process (the same file run twice at once) owns the plain one
sub _prepare_servroot {
    if (!$SERVROOT) {
        $SERVROOT = "$ROOT/t/servroot/$BASE";
        my ($owner) = _slurp("$SERVROOT/.owner") =~ /(\d+)/;
        if ($owner && $owner != $$ && _alive($owner)) {
            $SERVROOT .= ".$$";
            $SERVROOT_PRIVATE = 1;
        }
    }

    my $sr = $SERVROOT;
    remove_tree($sr);
    make_path("$sr/conf", "$sr/logs", "$sr/html");
    _spew("$sr/.owner", "$$\n");
    $NGX{servroot} = $sr;
    return $sr;
}


sub _nginx_cmd {
    my (@extra) = @_;
    my $sr = $NGX{servroot};
    return ($NGINX, '-p', "$sr/", '-c', "$sr/conf/nginx.conf",
            '-e', "$sr/logs/error.log", @extra);
}


# nginx -t with the given config; returns (exit code, stderr + error log)
sub _test_config {
    my (%o) = @_;

    _services();
    _prepare_servroot();
    $NGX{port} = _free_port();
    _spew("$NGX{servroot}/conf/nginx.conf", _config(%o));

    my ($rc, $out) = _run(_nginx_cmd('-t'));
    return ($rc, $out . _slurp("$NGX{servroot}/logs/error.log"));
}


# start_nginx(config => ..., http_config => ..., main_config => ...,
#             workers => N): returns the port; dies with nginx's output
sub start_nginx {
    my (%o) = @_;

    my ($port, $err) = _start_nginx(%o);
    die "Test::Collab: nginx did not start:\n$err" unless $port;
    return $port;
}


sub _start_nginx {
    my (%o) = @_;

    stop_nginx() if $NGX{pid};

    Test::More::BAIL_OUT("$MODULE is missing: run make module")
        unless -f $MODULE;

    _services();

    my $out = '';

    for my $attempt (1 .. 3) {
        my $sr = _prepare_servroot();
        $NGX{port} = _free_port();
        $NGX{workers} = $o{workers} || 1;
        _spew("$sr/conf/nginx.conf", _config(%o));

        my $rc;
        ($rc, $out) = _run(_nginx_cmd());
        if ($rc != 0) {
            $out .= _slurp("$sr/logs/error.log");
            next if $out =~ /Address already in use/ && $attempt < 3;
            return (undef, $out);
        }

        my $deadline = time + 10;
        my $pid;
        while (time < $deadline) {
            ($pid) = _slurp("$sr/logs/nginx.pid") =~ /(\d+)/;
            last if $pid;
            sleep 0.01;
        }
        return (undef, "no pid file after 10 s\n$out") unless $pid;
        $NGX{pid} = $pid;

        # wait until all workers are up (they run init_process)
        while (time < $deadline) {
            last if scalar(my @k = _children($pid)) >= $NGX{workers};
            last unless _alive($pid);
            sleep 0.01;
        }
        if (!_alive($pid)) {
            delete $NGX{pid};
            return (undef, "nginx exited right after start\n"
                           . _slurp("$sr/logs/error.log"));
        }

        # reports from the master before it pointed stderr at the log
        $NGX{start_out} = $out if $SANITIZE;
        return ($NGX{port}, $out);
    }

    return (undef, $out);
}


# QUIT, wait for the master and its workers, KILL after a timeout;
# returns false if nginx had to be killed
sub stop_nginx {
    my $pid = delete $NGX{pid} or return 1;

    my @all = ($pid, _children($pid));
    kill 'QUIT', $pid;

    my $deadline = time + $QUIT_TIMEOUT;
    while (time < $deadline) {
        if (!grep { _alive($_) } @all) {
            _sanitizer_check(error_log_text()) if $SANITIZE;
            return 1;
        }
        sleep 0.02;
    }

    my @left = grep { _alive($_) } @all;
    Test::More::diag("nginx (pids @left) did not quit within "
                     . "$QUIT_TIMEOUT s: killed");
    kill 'KILL', @left;
    sleep 0.05;
    return 0;
}


# sanitizer mode: data blocks get the implicit checks of _check_log; a
# procedural test gets one failing assertion per nginx run with a report
our $IN_BLOCK = 0;

sub _sanitizer_check {
    my ($text) = @_;
    return if $IN_BLOCK;
    my @hits = grep { _match($text, $_) }
               'AddressSanitizer', 'LeakSanitizer', 'runtime error:';
    return unless @hits;
    local $Test::Builder::Level = $Test::Builder::Level + 2;
    Test::More::ok(0, "no sanitizer report in the nginx run")
        or Test::More::diag(join '', map { _log_lines_matching($text, $_) }
                                     @hits);
}


# HUP and wait until a full set of new workers is up
sub reload_nginx {
    my $pid = $NGX{pid} or die "Test::Collab: nginx is not running\n";

    my %old = map { $_ => 1 } _children($pid);
    kill 'HUP', $pid;

    my $deadline = time + 10;
    while (time < $deadline) {
        my @new = grep { !$old{$_} } _children($pid);
        return 1 if @new >= $NGX{workers};
        sleep 0.02;
    }

    die "Test::Collab: no new workers 10 s after HUP\n";
}


# (master, workers...); workers started by a reload replace old ones only
# once those have exited
sub nginx_pids {
    return () unless $NGX{pid};
    return ($NGX{pid}, _children($NGX{pid}));
}


sub nginx_port { $NGX{port} }
sub servroot   { $NGX{servroot} }


sub error_log_text {
    return '' unless $NGX{servroot};
    return ($SANITIZE ? $NGX{start_out} // '' : '')
           . _slurp("$NGX{servroot}/logs/error.log");
}


sub rss_kb {
    my ($pid) = @_;
    my ($kb) = _slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+)/m;
    return $kb;
}


sub ws_connect {
    my (%o) = @_;
    return Test::Collab::WS->connect(port => $NGX{port}, %o);
}


sub pg_conninfo {
    _services();
    return $PG_CONNINFO;
}


sub redis_addr {
    _services();
    return $REDIS_ADDR;
}


# the directories given to .ci/pg.sh and .ci/redis.sh (to stop and
# restart them with the same data and port in fault tests)
sub pg_dir {
    _services();
    return $PG_DIR;
}


sub redis_dir {
    _services();
    return $REDIS_DIR;
}


# pg_query($sql [, superuser => 1]): psql -tA output (rows one a line,
# columns split by |), as role collab or as the superuser postgres
sub pg_query {
    my ($sql, %o) = @_;
    my $ci = pg_conninfo() or die "Test::Collab: no postgres for this file\n";
    $ci =~ s/user=collab/user=postgres/ if $o{superuser};
    my ($rc, $out) = _run('psql', '-X', '-q', '-t', '-A',
                          '-v', 'ON_ERROR_STOP=1', $ci, '-c', $sql);
    die "Test::Collab: psql failed: $out" if $rc != 0;
    chomp $out;
    return $out;
}


# redis_cmd(@args): redis-cli output
sub redis_cmd {
    my (@args) = @_;
    my $addr = redis_addr() or die "Test::Collab: no redis for this file\n";
    my ($host, $port) = split /:/, $addr;
    my ($rc, $out) = _run('redis-cli', '-h', $host, '-p', $port, @args);
    die "Test::Collab: redis-cli failed: $out" if $rc != 0;
    chomp $out;
    return $out;
}


# run_node($script, %env): runs node in t/js; returns (exit code, output)
# in list context, the exit code in scalar context (-1 on timeout)
sub run_node {
    my ($script, %env) = @_;

    my $dir = $NGX{servroot} || $TMP || "$ROOT/t/servroot";
    make_path($dir);
    my $n = ++$NODE_SEQ;
    my $file = "$dir/node_$n.js";
    my $log = "$dir/node_$n.out";
    _spew($file, $script);

    my %base = (
        NODE_PATH => "$ROOT/t/js/node_modules",
        COLLAB_ROOT => $ROOT,
    );
    if ($NGX{port}) {
        $base{COLLAB_WS_URL} = "ws://127.0.0.1:$NGX{port}/ws";
        $base{COLLAB_HTTP_URL} = "http://127.0.0.1:$NGX{port}";
        $base{TEST_NGINX_PORT} = $NGX{port};
    }
    $base{COLLAB_PG} = $PG_CONNINFO if $PG_CONNINFO;
    $base{COLLAB_REDIS} = $REDIS_ADDR if $REDIS_ADDR;

    my $timeout = delete $env{timeout} || $NODE_TIMEOUT;

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        %ENV = (%ENV, %base, %env);
        chdir "$ROOT/t/js" or POSIX::_exit(127);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec 'node', $file or POSIX::_exit(127);
    }

    my $deadline = time + $timeout;
    my $rc;
    while (1) {
        my $r = waitpid $pid, WNOHANG;
        if ($r == $pid) {
            $rc = $? >> 8;
            $rc = 128 + ($? & 127) if $? & 127;
            last;
        }
        if (time > $deadline) {
            kill 'KILL', -$pid;
            waitpid $pid, 0;
            $rc = -1;
            last;
        }
        sleep 0.02;
    }

    my $out = _slurp($log);
    $out .= "\n[killed after $timeout s]\n" if $rc == -1;
    return wantarray ? ($rc, $out) : $rc;
}


# check_error_log(name, must => [...], must_not => [...]): the checks a
# data block does, for procedural tests (nginx should be stopped first)
sub check_error_log {
    my ($name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    _check_log($name // 'error log', error_log_text(), $o{must} || [],
               $o{must_not} || []);
}


# ------------------------------------------------------------ data blocks

sub _sec {
    my ($block, $name) = @_;
    return undef unless exists $block->{$name};
    my @v = @{$block->{$name}};
    return @v > 1 ? [@v] : $v[0];
}


sub _lines {
    my ($v) = @_;
    return () unless defined $v;
    return map { ref $_ eq 'ARRAY' ? @$_ : $_ } @$v if ref $v eq 'ARRAY';
    return $v if ref $v;
    return grep { /\S/ } map { s/^\s+|\s+$//gr } split /\n/, $v;
}


sub _match {
    my ($text, $pat) = @_;
    return ref $pat eq 'Regexp' ? $text =~ $pat : index($text, $pat) >= 0;
}


sub _show {
    my ($pat) = @_;
    return ref $pat eq 'Regexp' ? "$pat" : "'$pat'";
}


sub _check_log {
    my ($name, $log, $must, $must_not) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    for my $p (@$must) {
        Test::More::ok(_match($log, $p), "$name - error log has "
                                         . _show($p));
    }

    for my $p (@$must_not) {
        my $ok = !_match($log, $p);
        Test::More::ok($ok, "$name - error log has no " . _show($p))
            or Test::More::diag(_log_lines_matching($log, $p));
    }

    # a line the block expects (listed in must) is not a problem
    my @bad;
    for my $line (split /\n/, $log) {
        next unless grep { _match($line, $_) } @IMPLICIT_BAD;
        next if grep { _match($line, $_) } @$must;
        push @bad, $line;
    }
    Test::More::ok(!@bad, "$name - no alert, emerg, sanitizer report or "
                          . "crash in the error log")
        or Test::More::diag(join '', map { "    $_\n" }
                                     @bad > 10 ? @bad[0 .. 9] : @bad);
}


sub _log_lines_matching {
    my ($log, $p) = @_;
    my @l = grep { _match($_, $p) } split /\n/, $log;
    splice @l, 10 if @l > 10;
    return join '', map { "    $_\n" } @l;
}


sub _log_tail {
    my $log = error_log_text();
    return '' if $log eq '';

    # entries above debug level with their continuation lines, and
    # sanitizer reports (which carry no timestamp)
    my (@l, $keep);
    for (split /\n/, $log) {
        if (m{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\]}) {
            $keep = $1 ne 'debug';
        } elsif (/^==\d+==|^\s+#\d+ 0x|Sanitizer|runtime error/) {
            push @l, $_;
            next;
        }
        push @l, $_ if $keep;
    }
    splice @l, 0, @l - 40 if @l > 40;
    return "error log ($NGX{servroot}/logs/error.log, last non-debug "
           . "lines):\n" . join '', map { "    $_\n" } @l;
}


# run_tests(defaults => { http_config => ..., config => ... }): a block
# without one of those sections gets the file's (like Test::Nginx files
# that set them in a block preprocessor)
sub run_tests {
    my (%o) = @_;

    Test::More::plan('no_plan');

    my @blocks = Test::Base::blocks();

    for my $block (@blocks) {
        for my $k (keys %{ $o{defaults} || {} }) {
            $block->{$k} = [$o{defaults}{$k}] unless exists $block->{$k};
        }

        my $tb = Test::More->builder;
        my $failed = grep { !$_ } $tb->summary;

        local $IN_BLOCK = 1;
        eval { _run_block($block); 1 } or do {
            my $err = $@;
            Test::More::ok(0, $block->name . " - runs")
                or Test::More::diag($err);
        };

        stop_nginx() if $NGX{pid};

        if ((grep { !$_ } $tb->summary) > $failed) {
            Test::More::diag(_log_tail());
        }
    }
}


sub _run_block {
    my ($block) = @_;

    my $name = $block->name;
    $name =~ s/\s+$//;

    my %conf = (
        main_config => _sec($block, 'main_config'),
        http_config => _sec($block, 'http_config'),
        config => _sec($block, 'config'),
        workers => _sec($block, 'workers') // 1,
    );
    $conf{workers} =~ s/\s+//g;

    my @must = _lines(_sec($block, 'error_log'));
    my @must_not = _lines(_sec($block, 'no_error_log'));

    if (defined _sec($block, 'skip_nginx')) {
        _services();
        _block_node($block, $name) if defined _sec($block, 'node');
        return;
    }

    if (defined _sec($block, 'must_die')) {
        my ($rc, $out) = _test_config(%conf);
        Test::More::ok($rc != 0, "$name - nginx -t fails")
            or Test::More::diag("nginx -t output:\n$out");
        for my $p (@must) {
            Test::More::ok(_match($out, $p), "$name - nginx -t says "
                                             . _show($p))
                or Test::More::diag("nginx -t output:\n$out");
        }
        for my $p (@must_not) {
            Test::More::ok(!_match($out, $p), "$name - nginx -t does not "
                                              . "say " . _show($p))
                or Test::More::diag("nginx -t output:\n$out");
        }
        return;
    }

    my ($port, $err) = _start_nginx(%conf);
    if (!$port) {
        Test::More::ok(0, "$name - nginx starts");
        Test::More::diag($err);
        return;
    }

    if (defined _sec($block, 'request') || defined _sec($block, 'raw_request'))
    {
        _block_request($block, $name, defined _sec($block, 'ws'));
    }

    _block_ws($block, $name) if defined _sec($block, 'ws');
    _block_node($block, $name) if defined _sec($block, 'node');

    my $wait = _sec($block, 'wait');
    sleep $wait if $wait;

    stop_nginx();

    _check_log($name, error_log_text(), \@must, \@must_not);
}


# ---------------------------------------------------------------- request

sub _block_request {
    my ($block, $name, $has_ws) = @_;

    my $timeout = _sec($block, 'timeout') || 10;
    my @pieces;

    if (defined(my $raw = _sec($block, 'raw_request'))) {
        @pieces = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        @pieces = map { _subst($_) } @pieces;

    } else {
        my $req = _subst(_sec($block, 'request'));
        $req =~ s/^\s+//;
        my ($line, $body) = split /\n/, $req, 2;
        $line =~ s/\s+$//;
        $line .= ' HTTP/1.1' unless $line =~ m{ HTTP/\d\.\d$};
        $body //= '';
        $body =~ s/\n\z//;

        my @h = (['Host', 'localhost'], ['Connection', 'close']);
        for my $l (_lines(_subst(_sec($block, 'more_headers')))) {
            my ($n, $v) = $l =~ /^([^:]+):\s*(.*)$/ or next;
            my @same = grep { lc $_->[0] eq lc $n } @h;
            if (@same) { $_->[1] = $v for @same } else { push @h, [$n, $v] }
        }
        push @h, ['Content-Length', length $body]
            if length $body && !grep { lc $_->[0] eq 'content-length' } @h;

        @pieces = ("$line\r\n"
                   . join('', map { "$_->[0]: $_->[1]\r\n" }
                              grep { $_->[1] ne '' } @h)
                   . "\r\n$body");
    }

    my $resp = _http_exchange(\@pieces, $timeout);

    my $want = $has_ws ? 200 : (_sec($block, 'error_code') // 200);
    $want =~ s/\s+//g;

    if (!defined $resp->{status}) {
        Test::More::ok(0, "$name - status $want");
        Test::More::diag("no HTTP response; received "
                         . length($resp->{raw}) . " bytes: "
                         . substr($resp->{raw}, 0, 500)
                         . ($resp->{error} ? " ($resp->{error})" : ''));
        return;
    }

    Test::More::is($resp->{status}, $want, "$name - status $want")
        or Test::More::diag("response head:\n$resp->{head}");

    for my $l (_lines(_subst(_sec($block, 'response_headers')))) {
        if ($l =~ /^!\s*(\S+)/) {
            my $n = $1;
            Test::More::ok(!exists $resp->{headers}{lc $n},
                           "$name - no header $n")
                or Test::More::diag("$n: $resp->{headers}{lc $n}");
        } elsif ($l =~ /^([^:]+):\s*(.*)$/) {
            Test::More::is($resp->{headers}{lc $1}, $2, "$name - header $1");
        }
    }

    if (defined(my $b = _sec($block, 'response_body'))) {
        Test::More::is($resp->{body}, _subst($b), "$name - response body");
    }
    if (defined(my $re = _sec($block, 'response_body_like'))) {
        $re = _subst($re);
        $re =~ s/\n\z//;
        Test::More::like($resp->{body}, ref $re ? $re : qr/$re/s,
                         "$name - response body like");
    }
}


sub _http_exchange {
    my ($pieces, $timeout) = @_;

    my %r = (raw => '');
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $NGX{port},
                                     Proto => 'tcp', Timeout => $timeout);
    if (!$sock) {
        $r{error} = "connect: $!";
        return \%r;
    }
    binmode $sock;
    local $SIG{PIPE} = 'IGNORE';

    for my $i (0 .. $#$pieces) {
        my $p = $pieces->[$i];
        my $off = 0;
        while ($off < length $p) {
            my $w = syswrite($sock, $p, length($p) - $off, $off);
            if (!defined $w) {
                next if $! == EINTR || $! == EAGAIN;
                $r{error} = "write: $!";
                last;
            }
            $off += $w;
        }
        sleep 0.01 if $i < $#$pieces;
    }

    my $deadline = time + $timeout;
    my $sel = IO::Select->new($sock);
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0) {
            $r{error} = "timeout after $timeout s";
            last;
        }
        next unless $sel->can_read($left);
        my $n = sysread($sock, $r{raw}, 65536, length $r{raw});
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            $r{error} = "read: $!";
            last;
        }
        last if $n == 0;
    }
    close $sock;

    my $pos = index($r{raw}, "\r\n\r\n");
    return \%r if $pos < 0;

    $r{head} = substr($r{raw}, 0, $pos);
    my $body = substr($r{raw}, $pos + 4);
    my @lines = split /\r\n/, $r{head};
    ($r{status}) = (shift @lines) =~ m{^HTTP/\d\.\d (\d{3})};
    for (@lines) {
        my ($n, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $n = lc $n;
        $r{headers}{$n} = exists $r{headers}{$n} ? "$r{headers}{$n}, $v"
                                                 : $v;
    }

    if (($r{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($body, 0, $len, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }
    $r{body} = $body;

    return \%r;
}


# --------------------------------------------------------------------- ws

sub _block_ws {
    my ($block, $name) = @_;

    my $timeout = _sec($block, 'ws_timeout') || 5;
    my $path = _subst(_sec($block, 'ws_path')) // '/ws';
    $path =~ s/\s+//g;

    my @headers;
    for my $l (_lines(_subst(_sec($block, 'more_headers')))) {
        my ($n, $v) = $l =~ /^([^:]+):\s*(.*)$/ or next;
        push @headers, $n, $v;
    }

    my $ws = eval {
        Test::Collab::WS->connect(port => $NGX{port}, path => $path,
                                  headers => \@headers, timeout => $timeout)
    };
    if (!$ws) {
        Test::More::ok(0, "$name - ws connect");
        Test::More::diag($@);
        return;
    }

    my $want = _sec($block, 'error_code');
    $want =~ s/\s+//g if defined $want;

    if (defined $want && $want != 101) {
        Test::More::is($ws->status, $want, "$name - ws handshake status")
            or Test::More::diag("response:\n" . $ws->head . $ws->body);
        $ws->close;
        return;
    }

    my $ok = $ws->status == 101 && $ws->accept_ok;
    Test::More::ok($ok, "$name - ws handshake 101")
        or Test::More::diag("request:\n" . $ws->request . "response:\n"
                            . $ws->head . $ws->body
                            . ($ws->status == 101
                               ? "(bad Sec-WebSocket-Accept)\n" : ''));
    if (!$ok) {
        $ws->close;
        return;
    }

    my @script = split /\n/, _subst(_sec($block, 'ws'));
    my $lineno = 0;

    while (@script) {
        my $line = shift @script;
        $lineno++;
        $line =~ s/^\s+//;
        $line =~ s/\r$//;
        next if $line eq '' || $line =~ /^#/;

        my $res = _ws_command($ws, $line, $timeout);
        next if !defined $res;       # not an assertion

        my $desc = "$name - ws line $lineno: "
                   . (length $line > 60 ? substr($line, 0, 60) . '...'
                                        : $line);
        Test::More::ok($res->{ok}, $desc)
            or Test::More::diag($res->{diag});

        if (!$res->{ok}) {
            my @rest = grep { /\S/ && !/^\s*#/ } @script;
            Test::More::diag(scalar(@rest) . " remaining ws line(s) "
                             . "skipped") if @rest;
            last;
        }
    }

    $ws->close;
}


# one script line: undef for sends and sleeps, { ok, diag } for expects
sub _ws_command {
    my ($ws, $line, $timeout) = @_;

    my ($verb, $what, $arg) = $line =~ /^(\S+)(?:\s+(\S+))?(?: (.*))?$/;
    $what //= '';

    if ($verb eq 'sleep') {
        sleep $what;
        return undef;
    }

    if ($verb eq 'send') {
        my $sent;
        if ($what eq 'text') {
            $sent = $ws->send_text($arg // '');
        } elsif ($what eq 'binary') {
            $sent = $ws->send_binary(_hex($arg));
        } elsif ($what eq 'ping') {
            $sent = $ws->send_ping($arg // '');
        } elsif ($what eq 'pong') {
            $sent = $ws->send_pong($arg // '');
        } elsif ($what eq 'close') {
            my ($code, $reason) = split / /, $arg // '', 2;
            $sent = $ws->send_close(
                defined $code && $code ne '' ? $code : undef, $reason);
        } elsif ($what eq 'raw') {
            $sent = $ws->send_raw(_hex($arg));
        } elsif ($what eq 'frame') {
            my %o = _frame_opts($arg // '');
            $sent = $ws->send_frame(%o);
        } else {
            return { ok => 0, diag => "unknown ws command: $line" };
        }
        # a failed write is not a failure by itself (the server may have
        # closed on purpose); the next expect tells
        Test::More::note("ws: write failed ($ws->{send_error}): $line")
            unless $sent;
        return undef;
    }

    if ($verb ne 'expect') {
        return { ok => 0, diag => "unknown ws command: $line" };
    }

    if ($what eq 'eof') {
        my $f = $ws->recv_frame($timeout);
        return { ok => 1 } if $f && $f->{eof};
        return { ok => 0, diag => "expected eof, got "
                                   . Test::Collab::WS::describe($f) };
    }

    if ($what eq 'nothing') {
        my $secs = $arg // 1;
        my $f = $ws->recv_frame($secs);
        return { ok => 1 } unless defined $f;
        return { ok => 0, diag => "expected nothing for $secs s, got "
                                   . Test::Collab::WS::describe($f) };
    }

    my $f = $ws->recv_message($timeout);
    my $got = Test::Collab::WS::describe($f);
    my $is = sub { $f && !$f->{eof} && $f->{op} == $_[0] };

    if ($what eq 'text') {
        $arg //= '';
        return { ok => 1 } if $is->(1) && $f->{payload} eq $arg;
        return { ok => 0, diag => "expected text: $arg\n     got $got" };
    }

    if ($what eq 'text_like') {
        $arg //= '';
        # match characters, not bytes, when both sides are UTF-8
        my $re = _chars($arg);
        return { ok => 1 } if $is->(1) && _chars($f->{payload}) =~ /$re/;
        return { ok => 0, diag => "expected text like: $arg\n"
                                  . "     got $got" };
    }

    if ($what eq 'binary') {
        my $want = _hex($arg);
        return { ok => 1 } if $is->(2) && $f->{payload} eq $want;
        return { ok => 0, diag => "expected binary: $arg\n     got $got" };
    }

    if ($what eq 'pong') {
        $arg //= '';
        return { ok => 1 } if $is->(10) && $f->{payload} eq $arg;
        return { ok => 0, diag => "expected pong: $arg\n     got $got" };
    }

    if ($what eq 'ping') {
        return { ok => 1 }
            if $is->(9) && (!defined $arg || $f->{payload} eq $arg);
        return { ok => 0, diag => "expected ping\n     got $got" };
    }

    if ($what eq 'close') {
        my $want = $arg;
        $want =~ s/\s+//g if defined $want;
        if ($is->(8)) {
            my $code = $f->{close_code} // 1005;
            return { ok => 1 }
                if !defined $want || $want eq '' || $code == $want;
        }
        return { ok => 0, diag => "expected close " . ($want // '')
                                  . "\n     got $got" };
    }

    return { ok => 0, diag => "unknown ws command: $line" };
}


sub _chars {
    my ($bytes) = @_;
    my $copy = $bytes;
    my $s = eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK()) };
    return defined $s ? $s : $bytes;
}


sub _hex {
    my ($h) = @_;
    $h //= '';
    $h =~ s/\s+//g;
    die "Test::Collab: bad hex '$h'\n" if $h =~ /[^0-9a-fA-F]/ || length($h) % 2;
    return pack 'H*', $h;
}


# "op=1 fin=0 mask=1 rsv=0 len=N chunk=N hex=.. | text=rest of line"
sub _frame_opts {
    my ($args) = @_;

    my %o;
    while ($args =~ s/^\s*(\w+)=//) {
        my $k = $1;
        if ($k eq 'text') {
            $o{payload} = $args;
            $args = '';
            last;
        }
        $args =~ s/^(\S*)//;
        my $v = $1;
        if ($k eq 'hex') {
            $o{payload} = _hex($v);
        } elsif ($k =~ /^(op|fin|mask|rsv|len|chunk)$/) {
            die "Test::Collab: send frame: $k=$v is not a number\n"
                unless $v =~ /^\d+$/;
            $o{$k} = $v;
        } else {
            die "Test::Collab: send frame: unknown key '$k'\n";
        }
    }
    die "Test::Collab: send frame: trailing '$args'\n" if $args =~ /\S/;
    die "Test::Collab: send frame needs op=\n" unless defined $o{op};

    return %o;
}


# ------------------------------------------------------------------- node

sub _block_node {
    my ($block, $name) = @_;

    my $timeout = _sec($block, 'node_timeout') || $NODE_TIMEOUT;
    $timeout =~ s/\s+//g;

    my ($rc, $out) = run_node(_subst(_sec($block, 'node')),
                              timeout => $timeout);

    Test::More::ok($rc == 0, "$name - node script exits 0")
        or Test::More::diag("node exit "
                            . ($rc == -1 ? "timeout ($timeout s)" : $rc)
                            . ", output:\n" . _tail($out, 60));
    Test::More::note($out) if $rc == 0 && $out ne '';
}


sub _tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    splice @l, 0, @l - $n if @l > $n;
    return join '', map { "    $_\n" } @l;
}


1;
