# libpq resolves a "host" name with a blocking getaddrinfo() at every
# (re)connection; the module resolves it once at configuration time and
# passes it to libpq as "hostaddr", so workers never wait on DNS.
use lib 't/lib';
use Test::Collab with => ['postgres'];

my %defaults = (
    config => <<'END',
    location /api/ { collab_api; }
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);

__DATA__

=== TEST 1: a host name is resolved when the configuration is read
--- http_config eval
my $ci = Test::Collab::pg_conninfo();
$ci =~ s/host=127\.0\.0\.1/host=localhost/ or die "unexpected conninfo $ci";
qq{collab_postgres "$ci";\ncollab_postgres_pool 1;}
--- request
GET /api/notes/none/ops
--- error_code: 404
--- error_log
connection 0 ready (schema version 2
--- no_error_log
[error]


=== TEST 2: an unknown host name fails "nginx -t", not the workers later
--- http_config
    collab_postgres "host=no-such-host.invalid dbname=collab user=collab";
--- must_die
--- error_log
"collab_postgres" host "no-such-host.invalid" not found


=== TEST 3: addresses, socket paths and an explicit hostaddr are left alone
--- http_config
    collab_postgres "host=/nonexistent,127.0.0.1 port=1 dbname=collab";
    collab_postgres_pool 1;
--- request
GET /api/notes/a/ops
--- error_code: 503
--- wait: 0.5
--- error_log
postgres /nonexistent,127.0.0.1:1/collab: connection 0 failed
