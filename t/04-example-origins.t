# nginx.conf.example restricts the WebSocket to the editor's own origin:
# its "location /ws" block, run as it is (with @PORT@ the test's port),
# refuses a cross-site handshake (CSWSH) with 403 and accepts the page's
# own origins; without collab_allowed_origins any origin is let in (the
# development default).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Test::Collab;

open my $fh, '<', "$Test::Collab::ROOT/nginx.conf.example"
    or die "nginx.conf.example: $!";
my $example = do { local $/; <$fh> };
close $fh;

my ($ws) = $example =~ /^(\s*location \/ws \{\n.*?\n\s*\})$/ms;
ok($ws, 'the example has a "location /ws" block') or BAIL_OUT('no block');

# the directive itself, not a comment
like($ws, qr/^\s*collab_allowed_origins\s[^;]*http/m,
     'it sets collab_allowed_origins');

(my $config = $ws) =~ s/\@PORT\@/\$TEST_NGINX_PORT/g;
unlike($config, qr/\@\w+\@/, 'no other placeholder in the block');

sub status_for {
    my ($origin) = @_;
    my $c = ws_connect(path => '/ws', headers => { Origin => $origin });
    my $status = $c->status;
    $c->close;
    return $status;
}

my $port = start_nginx(config => $config);

is(status_for('https://evil.example'), 403,
   'a foreign Origin gets 403 with the example\'s settings');
is(status_for("http://evil.example:$port"), 403,
   'so does a foreign host on the same port');
is(status_for("http://127.0.0.1:$port"), 101,
   'the page\'s own origin (127.0.0.1) is upgraded');
is(status_for("http://localhost:$port"), 101,
   'the page\'s own origin (localhost) is upgraded');

stop_nginx();
like(error_log_text(), qr/origin "https:\/\/evil\.example" not allowed/,
     'the refusal is logged with the origin');
check_error_log('example /ws');

# the development default: the same block without the directive
(my $open = $config) =~ s/^\s*collab_allowed_origins\s[^;]*;\n//m;
start_nginx(config => $open);
is(status_for('https://evil.example'), 101,
   'without collab_allowed_origins any origin is accepted');
stop_nginx();

done_testing();
