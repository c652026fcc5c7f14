package Test::Collab::Cluster;

# A second (third, ...) nginx instance for multi-instance tests: its own
# prefix under t/servroot/, its own port, the same PostgreSQL and Redis as
# the file's main instance (Test::Collab's start_nginx).  Built on
# Test::Collab's exported functions; the config has the same shape as the
# runner's.
#
#   use Test::Collab with => [qw(postgres redis)];
#   use Test::Collab::Cluster;
#   my $b = Test::Collab::Cluster->start(name => 'b', workers => 2,
#                                        http_config => ..., config => ...);
#   $b->port; $b->pids; $b->workers; $b->error_log_text; $b->stop;
#   $b->check_error_log($name, must => [...], must_not => [...]);
#
# Substitutions: $TEST_NGINX_PORT and $TEST_NGINX_SERVROOT are this
# instance's; $TEST_COLLAB_PG, $TEST_COLLAB_REDIS, $TEST_COLLAB_ROOT and
# $TEST_COLLAB_SRC_SECRET as in the runner; other $TEST_NGINX_*/
# $TEST_COLLAB_* come from %ENV.

use strict;
use warnings;
no warnings qw(once);

use File::Basename qw(basename);
use File::Path qw(make_path remove_tree);
use File::Temp ();
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
use Test::More ();

my @LIVE;


sub start {
    my ($class, %o) = @_;

    my $name = $o{name} || 'b';
    (my $base = basename($0)) =~ s/\.t$//;
    $base =~ s/[^\w.-]/_/g;
    my $sr = "$Test::Collab::ROOT/t/servroot/$base-$name";

    # the same file run twice at once (as the runner does): a live owner
    # keeps the plain prefix, we take a pid-suffixed one
    my ($owner) = _slurp("$sr/.owner") =~ /(\d+)/;
    $sr .= ".$$" if $owner && $owner != $$ && kill 0, $owner;

    my $self = bless { name => $name, servroot => $sr,
                       workers => $o{workers} || 1 }, $class;

    my $out = '';
    for my $attempt (1 .. 3) {
        remove_tree($sr);
        make_path("$sr/conf", "$sr/logs", "$sr/html");
        _spew("$sr/.owner", "$$\n");
        $self->{port} = _free_port();
        _spew("$sr/conf/nginx.conf", $self->_config(%o));

        $out = _run($self->_cmd());
        if ($? != 0) {
            $out .= _slurp("$sr/logs/error.log");
            next if $out =~ /Address already in use/ && $attempt < 3;
            die "Test::Collab::Cluster: nginx '$name' did not start:\n$out";
        }

        my $deadline = time + 10;
        while (time < $deadline) {
            ($self->{pid}) = _slurp("$sr/logs/nginx.pid") =~ /(\d+)/;
            last if $self->{pid};
            sleep 0.01;
        }
        die "Test::Collab::Cluster: no pid file for '$name'\n"
            unless $self->{pid};
        while (time < $deadline) {
            last if scalar(my @w = $self->workers) >= $self->{workers};
            sleep 0.01;
        }
        push @LIVE, $self;
        return $self;
    }

    die "Test::Collab::Cluster: nginx '$name' did not start:\n$out";
}


sub port     { $_[0]{port} }
sub servroot { $_[0]{servroot} }
sub ws_url   { "ws://127.0.0.1:$_[0]{port}" . ($_[1] // '/ws') }


sub pids {
    my ($self) = @_;
    return () unless $self->{pid};
    return ($self->{pid}, $self->workers);
}


sub workers {
    my ($self) = @_;
    my @kids;
    return () unless $self->{pid};
    for my $d (glob '/proc/[0-9]*') {
        my $stat = _slurp("$d/stat");
        next unless $stat =~ /\) (\S) (\d+) /;
        next if $1 eq 'Z' || $2 != $self->{pid};
        push @kids, basename($d);
    }
    return sort { $a <=> $b } @kids;
}


sub error_log_text {
    my ($self) = @_;
    return _slurp("$self->{servroot}/logs/error.log");
}


sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return 1;
    @LIVE = grep { $_ != $self } @LIVE;

    my @all = ($pid, $self->_workers_of($pid));
    kill 'QUIT', $pid;
    my $deadline = time + ($Test::Collab::QUIT_TIMEOUT || 10);
    while (time < $deadline) {
        return 1 unless grep { kill 0, $_ and _slurp("/proc/$_/stat")
                                              !~ /\) Z / } @all;
        sleep 0.02;
    }
    Test::More::diag("nginx '$self->{name}' did not quit: killed");
    kill 'KILL', @all;
    return 0;
}


# the runner's implicit checks plus must/must_not, on this instance's log
sub check_error_log {
    my ($self, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $log = $self->error_log_text;
    my @must = @{$o{must} || []};
    for my $p (@must) {
        Test::More::ok(_match($log, $p), "$name - error log has "
                                         . (ref $p ? "$p" : "'$p'"));
    }
    for my $p (@{$o{must_not} || []}) {
        Test::More::ok(!_match($log, $p), "$name - error log has no "
                                          . (ref $p ? "$p" : "'$p'"));
    }
    my @bad;
    for my $p (@Test::Collab::IMPLICIT_BAD) {
        my @hits = grep { _match($_, $p) } split /\n/, $log;
        # a crash the test caused on purpose is listed in must
        @hits = grep { my $l = $_; !grep { _match($l, $_) } @must } @hits;
        push @bad, @hits;
    }
    Test::More::ok(!@bad, "$name - no alert, emerg, sanitizer report or "
                          . "crash in the error log")
        or Test::More::diag(join '', map { "    $_\n" } @bad[0 .. ($#bad > 9
                                                           ? 9 : $#bad)]);
}


END {
    $_->stop for @LIVE;
}


sub _workers_of {
    my ($self, $pid) = @_;
    local $self->{pid} = $pid;
    return $self->workers;
}


sub _config {
    my ($self, %o) = @_;

    my $sr = $self->{servroot};
    my $subst = sub {
        my ($t) = @_;
        return '' unless defined $t;
        $t =~ s{\$\{?TEST_NGINX_PORT\b\}?}{$self->{port}}g;
        $t =~ s{\$\{?TEST_NGINX_SERVROOT\b\}?}{$sr}g;
        $t =~ s{\$\{?TEST_COLLAB_PG\b\}?}{Test::Collab::pg_conninfo()}ge;
        $t =~ s{\$\{?TEST_COLLAB_REDIS\b\}?}{Test::Collab::redis_addr()}ge;
        $t =~ s{\$\{?TEST_COLLAB_ROOT\b\}?}{$Test::Collab::ROOT}g;
        # the runner's default (collab-client.js computes with it)
        $t =~ s{\$\{?TEST_COLLAB_SRC_SECRET\b\}?}{collab-test-src-secret}g;
        $t =~ s{\$\{?(TEST_(?:NGINX|COLLAB)_\w+)\b\}?}{
            defined $ENV{$1} ? $ENV{$1}
                             : die "Test::Collab::Cluster: \$$1 is not set\n"
        }ge;
        return $t;
    };

    my $main = $subst->($o{main_config});
    my $http = $subst->($o{http_config});
    my $conf = $subst->($o{config});

    return <<"EOF";
# generated by Test::Collab::Cluster for $0 (instance $self->{name})
load_module $Test::Collab::MODULE;

daemon on;
master_process on;
worker_processes $self->{workers};
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
        listen 127.0.0.1:$self->{port};
        server_name localhost;

$conf
    }
}
EOF
}


sub _cmd {
    my ($self) = @_;
    my $sr = $self->{servroot};
    return ($Test::Collab::NGINX, '-p', "$sr/", '-c', "$sr/conf/nginx.conf",
            '-e', "$sr/logs/error.log");
}


sub _match {
    my ($text, $pat) = @_;
    return ref $pat eq 'Regexp' ? $text =~ $pat : index($text, $pat) >= 0;
}


sub _free_port { return Test::Collab::free_port() }


# runs a command, returns its output; $? is its status (output goes
# through a file: a daemonizing nginx may keep a pipe open)
sub _run {
    my (@cmd) = @_;
    my $tmp = File::Temp->new(TEMPLATE => 'collab-cluster-XXXXXX',
                              TMPDIR => 1);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $tmp->filename or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return _slurp($tmp->filename);
}


sub _slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}


sub _spew {
    my ($file, $data) = @_;
    open my $fh, '>', $file or die "Test::Collab::Cluster: write $file: $!\n";
    print $fh $data;
    close $fh;
}


1;
