# The documentation tells the truth about the code (no nginx needed):
#  - every directive the module declares has a "### name" section in
#    docs/directives.md with Syntax, Default and Context lines, and the doc
#    documents no directive the code does not declare;
#  - each section's Context matches the directive's NGX_HTTP_*_CONF flags,
#    and its Default matches the value set in create/init/merge code;
#  - README.md's quick start is exactly `make run` and `make test`.
use strict;
use warnings;
use File::Find;
use Test::More;

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

# the C sources: the module file and every src/**/*.c
my @sources = ('ngx_http_collab_module.c');
find({ no_chdir => 1, wanted => sub { push @sources, $_ if /\.c$/ } }, 'src');
my $code = join "\n", map { slurp($_) } sort @sources;

# ngx_command_t entries: name, flags, and the conf field when offsetof()
my %decl;
while ($code =~ /\{\s*ngx_string\("(collab_\w+)"\),\s*([A-Z0-9_|\s]+?),\s*
                 (\w+),\s*(\w+),\s*(offsetof\([^)]*\)|\w+),\s*
                 NULL\s*\}/gx)
{
    my ($name, $flags, $field) = ($1, $2, $5);
    my @ctx;
    push @ctx, 'http' if $flags =~ /NGX_HTTP_MAIN_CONF/;
    push @ctx, 'server' if $flags =~ /NGX_HTTP_SRV_CONF/;
    push @ctx, 'location' if $flags =~ /NGX_HTTP_LOC_CONF/;
    $field = $field =~ /offsetof\(\w+,\s*(\w+)\)/ ? $1 : undef;
    $decl{$name} = { context => join(', ', @ctx), field => $field };
}

# sanity: the table was read at all (a format change must not pass)
# command entries only ("{ ngx_string(...)," ), not variable names
my $raw = () = $code =~ /\{\s*ngx_string\("collab_\w+"\),/g;
cmp_ok(scalar keys %decl, '>=', 10, 'directives found in the code');
is(scalar keys %decl, $raw, 'every ngx_string("collab_...") entry parsed');

# defaults set in code: ngx_conf_init_*_value(x->field, V) in init_main_conf,
# ngx_conf_merge_*_value(conf->field, prev->field, V), ngx_str_set(&x->f, "V")
my %default;
while ($code =~ /ngx_conf_init_(\w+?)_value\(\s*\w+->(\w+),\s*([^;]+?)\);/g) {
    $default{$2} = { kind => $1, value => $3 };
}
while ($code =~ /ngx_conf_merge_(\w+?)_value\(\s*conf->(\w+),\s*prev->\w+,
                 \s*([^;]+?)\);/gx)
{
    $default{$2} = { kind => $1, value => $3 };
}
while ($code =~ /ngx_str_set\(&\w+->(\w+),\s*"([^"]*)"\)/g) {
    $default{$1} = { kind => 'str', value => $2 };
}

# a doc value in the code's unit: ms or s for times, bytes for sizes
sub doc_number {
    my ($kind, $v) = @_;
    if ($kind eq 'msec') {
        my %u = (ms => 1, s => 1000, m => 60000, h => 3600000, '' => 1000);
        return $v =~ /^(\d+)(ms|s|m|h|)$/ ? $1 * $u{$2} : undef;
    }
    if ($kind eq 'sec') {
        my %u = (s => 1, m => 60, h => 3600, d => 86400, '' => 1);
        return $v =~ /^(\d+)(s|m|h|d|)$/ ? $1 * $u{$2} : undef;
    }
    if ($kind eq 'size') {
        my %u = ('' => 1, k => 1024, m => 1024 * 1024,
                 g => 1024 * 1024 * 1024);
        return $v =~ /^(\d+)([kmg]?)$/i ? $1 * $u{lc $2} : undef;
    }
    return $v =~ /^\d+$/ ? $v : undef;
}

# docs/directives.md: "### name" sections up to the next heading
my $doc = slurp('docs/directives.md');
my %sect;
for my $part (split /^(?=##+ )/m, $doc) {
    next unless $part =~ /^### (\S+)\s*\n(.*)/s;
    my ($name, $body) = ($1, $2);
    fail("docs/directives.md: \"### $name\" appears twice")
        if exists $sect{$name};
    $sect{$name} = $body;
}

for my $name (sort keys %decl) {
    my $body = $sect{$name};
    ok(defined $body, "$name: has a \"### $name\" section in "
       . 'docs/directives.md') or next;

    my ($syntax) = $body =~ /^\s*Syntax:\s+(.*?)\s*$/m;
    my ($dflt) = $body =~ /^\s*Default:\s+(.*?)\s*$/m;
    my ($ctx) = $body =~ /^\s*Context:\s+(.*?)\s*$/m;

    like($syntax // '', qr/^\Q$name\E[ ;]/, "$name: Syntax line");
    ok(defined $dflt, "$name: Default line");
    is($ctx, $decl{$name}{context}, "$name: Context matches the code");

    my ($text) = $body =~ /\n\s*\n(.*)/s;
    ok(defined $text && $text =~ /\w/, "$name: has a description");

    # a default documented as "name value;" must be the code's
    my $field = $decl{$name}{field};
    next unless defined $dflt && $field && $default{$field};
    my $d = $default{$field};
    my ($v) = $dflt =~ /^\Q$name\E\s+(.*?);$/;

    if ($d->{kind} eq 'str') {
        $v =~ s/^"(.*)"$/$1/ if defined $v;
        is($v, $d->{value}, "$name: Default is the code's");
        next;
    }

    my $want = $d->{value};
    next unless $want =~ /^[\d\s*]+$/;
    $want = eval $want;
    if ($d->{kind} eq 'value' && defined $v && $v =~ /^(on|off)$/) {
        $v = $v eq 'on' ? 1 : 0;
    } else {
        $v = defined $v ? doc_number($d->{kind}, $v) : undef;
    }
    is($v, $want, "$name: Default is the code's ($d->{value})");
}

for my $name (sort keys %sect) {
    ok(exists $decl{$name}, "docs/directives.md: $name is declared by the "
       . 'code');
}

# README.md: the quick start's commands, in its indented code block
my $readme = slurp('README.md');
my ($quick) = $readme =~ /^## Quick start\s*\n(.*?)(?=^## )/ms;
ok(defined $quick, 'README.md has a "## Quick start" section');
my @cmds = map { s/\s*#.*//r } grep { /^ {4}\S/ } split /\n/, $quick // '';
s/^\s+// for @cmds;
is_deeply(\@cmds, ['make run', 'make test'],
          'README.md quick start is exactly `make run` and `make test`');

for my $target ('run', 'test') {
    like(slurp('Makefile'), qr/^\Q$target\E:/m, "Makefile has `$target`");
}

done_testing();
