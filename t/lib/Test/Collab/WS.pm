package Test::Collab::WS;

# A raw RFC 6455 client for tests: it builds frames by hand (including
# broken ones) and reports exactly what the server sent.  See t/README.md.

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time sleep);
use Errno qw(EAGAIN EINTR EWOULDBLOCK);

use constant WS_GUID => '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

our %OPCODE = (cont => 0, text => 1, binary => 2, close => 8, ping => 9,
               pong => 10);

$SIG{PIPE} = 'IGNORE';


# connect(port => P, host => '127.0.0.1', path => '/ws',
#         headers => { Name => value, ... } or [ Name => value, ... ],
#         timeout => 5)
# A header given replaces the default one of the same name; an empty value
# removes it.  Returns the object whatever the status; check ->status.
sub connect {
    my ($class, %o) = @_;

    my $host = $o{host} // '127.0.0.1';
    my $path = $o{path} // '/ws';
    my $timeout = $o{timeout} // 5;

    my $sock = IO::Socket::INET->new(PeerAddr => $host,
                                      PeerPort => $o{port},
                                      Proto => 'tcp',
                                      Timeout => $timeout)
        or die "ws: connect to $host:$o{port}: $!\n";
    $sock->autoflush(1);
    binmode $sock;

    my $key = encode_base64(join('', map { chr(int(rand(256))) } 1 .. 16),
                            '');

    my @hdrs = (
        [Host => "$host:$o{port}"],
        [Upgrade => 'websocket'],
        [Connection => 'Upgrade'],
        ['Sec-WebSocket-Key' => $key],
        ['Sec-WebSocket-Version' => '13'],
    );

    my @extra = ref $o{headers} eq 'HASH' ? %{$o{headers}}
              : ref $o{headers} eq 'ARRAY' ? @{$o{headers}} : ();

    while (my ($name, $value) = splice @extra, 0, 2) {
        my $found = 0;
        for my $h (@hdrs) {
            if (lc $h->[0] eq lc $name) {
                $h->[1] = $value;
                $found = 1;
            }
        }
        push @hdrs, [$name => $value] unless $found;
    }

    my $req = "GET $path HTTP/1.1\r\n";
    for my $h (@hdrs) {
        next if !defined $h->[1] || $h->[1] eq '';
        $req .= "$h->[0]: $h->[1]\r\n";
        $key = $h->[1] if lc $h->[0] eq 'sec-websocket-key';
    }
    $req .= "\r\n";

    my $self = bless {
        sock => $sock, buf => '', key => $key, request => $req,
        timeout => $timeout, eof => 0, status => undef, headers => {},
        head => '', body => '',
    }, $class;

    $self->send_raw($req);
    $self->_read_handshake;

    return $self;
}


sub socket   { $_[0]{sock} }
sub status   { $_[0]{status} }
sub head     { $_[0]{head} }
sub body     { $_[0]{body} }
sub request  { $_[0]{request} }


# a response header value (lower-case name), undef when absent
sub header {
    my ($self, $name) = @_;
    return $self->{headers}{lc $name};
}


sub accept_ok {
    my ($self) = @_;
    my $want = encode_base64(sha1($self->{key} . WS_GUID), '');
    my $got = $self->header('sec-websocket-accept') // '';
    return $got eq $want;
}


sub _read_handshake {
    my ($self) = @_;

    my $deadline = time + $self->{timeout};

    while ($self->{buf} !~ /\r\n\r\n/) {
        last unless $self->_fill($deadline);
    }

    my $pos = index($self->{buf}, "\r\n\r\n");
    if ($pos < 0) {
        $self->{head} = $self->{buf};
        $self->{buf} = '';
        $self->{status} = 0;
        return;
    }

    my $head = substr($self->{buf}, 0, $pos + 4, '');
    $self->{head} = $head;

    my @lines = split /\r\n/, $head;
    my $first = shift @lines // '';
    ($self->{status}) = $first =~ m{^HTTP/1\.[01] (\d{3})};
    $self->{status} //= 0;

    for my $l (@lines) {
        if ($l =~ /^([^:]+):\s*(.*?)\s*$/) {
            my $n = lc $1;
            $self->{headers}{$n} = exists $self->{headers}{$n}
                                   ? "$self->{headers}{$n}, $2" : $2;
        }
    }

    return if $self->{status} == 101;

    # not upgraded: collect the body (Content-Length or until EOF)
    my $len = $self->header('content-length');
    $deadline = time + $self->{timeout};
    while (!$self->{eof}) {
        last if defined $len && length $self->{buf} >= $len;
        last unless $self->_fill($deadline);
    }
    $self->{body} = $self->{buf};
    $self->{buf} = '';
}


# read what is available into buf; false on timeout or EOF
sub _fill {
    my ($self, $deadline) = @_;

    return 0 if $self->{eof};

    for (;;) {
        my $left = $deadline - time;
        return 0 if $left <= 0;

        my $sel = IO::Select->new($self->{sock});
        next unless $sel->can_read($left);

        my $n = sysread($self->{sock}, $self->{buf}, 65536,
                        length $self->{buf});
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
            $self->{eof} = 1;
            $self->{eof_error} = "$!";
            return 0;
        }
        if ($n == 0) {
            $self->{eof} = 1;
            return 0;
        }
        return 1;
    }
}


sub _eof_object {
    my ($self) = @_;
    return bless { eof => 1, error => $self->{eof_error},
                   partial => length $self->{buf} }, 'Test::Collab::WS::EOF';
}


# recv_frame($timeout): the next frame as
#   { op, fin, rsv, masked, len, payload, close_code, close_reason }
# undef on timeout, an object that stringifies to "eof" (with ->{eof} = 1)
# when the server closed the connection.
sub recv_frame {
    my ($self, $timeout) = @_;

    $timeout //= $self->{timeout};
    my $deadline = time + $timeout;

    for (;;) {
        my $f = $self->_parse_frame;
        return $f if $f;

        if (!$self->_fill($deadline)) {
            return $self->_eof_object if $self->{eof};
            return undef;
        }
    }
}


# recv_message($timeout): like recv_frame, but data frames are joined
# with their continuations into one message; control frames that arrive
# in between are returned first (they are messages of their own)
sub recv_message {
    my ($self, $timeout) = @_;

    $timeout //= $self->{timeout};
    my $deadline = time + $timeout;

    if (my $m = delete $self->{partial_msg}) {
        return $self->_continue_message($m, $deadline);
    }

    my $f = $self->recv_frame($timeout);
    return $f if !$f || $f->{eof} || $f->{op} >= 8 || $f->{fin};

    $f->{fragments} = 1;
    return $self->_continue_message($f, $deadline);
}


sub _continue_message {
    my ($self, $m, $deadline) = @_;

    for (;;) {
        my $left = $deadline - time;
        my $f = $self->recv_frame($left > 0 ? $left : 0.001);
        if (!$f || $f->{eof}) {
            # the eof (if any) is reported by the next read
            $m->{incomplete} = 1;
            return $m;
        }
        if ($f->{op} >= 8) {
            $self->{partial_msg} = $m;
            return $f;
        }
        if ($f->{op} != 0) {
            $m->{bad_continuation} = $f;
            return $m;
        }
        $m->{payload} .= $f->{payload};
        $m->{fragments}++;
        if ($f->{fin}) {
            $m->{fin} = 1;
            return $m;
        }
    }
}


sub _parse_frame {
    my ($self) = @_;

    my $b = \$self->{buf};
    return undef if length $$b < 2;

    my ($b0, $b1) = unpack 'CC', $$b;
    my $len = $b1 & 0x7f;
    my $off = 2;

    if ($len == 126) {
        return undef if length $$b < 4;
        $len = unpack 'n', substr($$b, 2, 2);
        $off = 4;
    } elsif ($len == 127) {
        return undef if length $$b < 10;
        $len = unpack 'Q>', substr($$b, 2, 8);
        $off = 10;
    }

    my $masked = $b1 & 0x80;
    my $mask = '';
    if ($masked) {
        return undef if length $$b < $off + 4;
        $mask = substr($$b, $off, 4);
        $off += 4;
    }

    return undef if length $$b < $off + $len;

    my $payload = substr($$b, $off, $len);
    substr($$b, 0, $off + $len, '');

    $payload = _mask($payload, $mask) if $masked;

    my $f = {
        op => $b0 & 0x0f, fin => ($b0 & 0x80) ? 1 : 0,
        rsv => ($b0 >> 4) & 7, masked => $masked ? 1 : 0, len => $len,
        payload => $payload,
    };

    if ($f->{op} == 8) {
        if (length $payload >= 2) {
            $f->{close_code} = unpack 'n', $payload;
            $f->{close_reason} = substr($payload, 2);
        } else {
            $f->{close_code} = undef;
            $f->{close_reason} = '';
        }
    }

    return $f;
}


sub _mask {
    my ($data, $key) = @_;
    return $data if $data eq '';
    my $k = substr($key x (int(length($data) / 4) + 1), 0, length $data);
    return $data ^ $k;
}


# encode_frame(op => N, fin => 1, mask => 1, rsv => 0, len => declared,
#              payload => bytes)
sub encode_frame {
    my ($self, %o) = @_;

    my $payload = $o{payload} // '';
    my $fin = $o{fin} // 1;
    my $mask = $o{mask} // 1;
    my $rsv = $o{rsv} // 0;
    my $len = $o{len} // length $payload;

    defined $o{op} or die "ws: encode_frame needs op\n";

    my $h = pack 'C', ($fin ? 0x80 : 0) | (($rsv & 7) << 4) | ($o{op} & 0x0f);
    my $mbit = $mask ? 0x80 : 0;

    if ($len < 126) {
        $h .= pack 'C', $mbit | $len;
    } elsif ($len < 65536) {
        $h .= pack 'Cn', $mbit | 126, $len;
    } else {
        $h .= pack 'CQ>', $mbit | 127, $len;
    }

    if ($mask) {
        my $key = $o{mask_key} // pack 'N', int(rand(4294967296));
        $h .= $key;
        $payload = _mask($payload, $key);
    }

    return $h . $payload;
}


# send_frame(op => N, fin, mask, rsv, len, payload, chunk => bytes)
sub send_frame {
    my ($self, %o) = @_;
    my $bytes = $self->encode_frame(%o);
    return $self->send_raw($bytes, $o{chunk});
}


sub send_text   { $_[0]->send_frame(op => 1, payload => $_[1]) }
sub send_binary { $_[0]->send_frame(op => 2, payload => $_[1]) }
sub send_ping   { $_[0]->send_frame(op => 9, payload => $_[1] // '') }
sub send_pong   { $_[0]->send_frame(op => 10, payload => $_[1] // '') }


# send_close(), send_close($code), send_close($code, $reason)
sub send_close {
    my ($self, $code, $reason) = @_;
    my $p = defined $code ? pack('n', $code) . ($reason // '') : '';
    return $self->send_frame(op => 8, payload => $p);
}


# send_raw($bytes [, $chunk]): true when everything was written; on error
# $self->{send_error} holds the reason (the server may have closed already)
sub send_raw {
    my ($self, $bytes, $chunk) = @_;

    my $off = 0;
    my $total = length $bytes;

    while ($off < $total) {
        my $n = $chunk ? $chunk : $total - $off;
        $n = $total - $off if $n > $total - $off;
        my $w = syswrite($self->{sock}, $bytes, $n, $off);
        if (!defined $w) {
            next if $! == EINTR || $! == EAGAIN;
            $self->{send_error} = "$!";
            return 0;
        }
        $off += $w;
        sleep 0.005 if $chunk && $off < $total;
    }

    return 1;
}


sub close {
    my ($self) = @_;
    if ($self->{sock}) {
        CORE::close($self->{sock});
        $self->{sock} = undef;
    }
}


sub DESTROY { $_[0]->close }


# describe a frame for diagnostics
sub describe {
    my ($f) = @_;

    return 'nothing (timeout)' unless defined $f;
    return 'eof' . ($f->{error} ? " ($f->{error})" : '')
           . ($f->{partial} ? ", $f->{partial} bytes of a partial frame" : '')
        if ref $f && $f->{eof};

    my %name = reverse %OPCODE;
    my $op = $name{$f->{op}} // "op=$f->{op}";
    my $p = $f->{payload} // '';
    my $shown = length $p > 300 ? substr($p, 0, 300) . '...' : $p;
    if ($f->{op} != 1 && $f->{op} != 8 && $shown =~ /[^\x20-\x7e]/) {
        $shown = 'hex ' . unpack 'H*', $shown;
    }
    my $s = "$op frame";
    $s .= ' (fin=0)' unless $f->{fin};
    $s .= " rsv=$f->{rsv}" if $f->{rsv};
    $s .= ' (masked!)' if $f->{masked};
    $s .= " in $f->{fragments} fragments" if $f->{fragments};
    $s .= ' (incomplete)' if $f->{incomplete};
    if ($f->{op} == 8) {
        return "$s code=" . ($f->{close_code} // 'none')
               . ($f->{close_reason} ne '' ? " reason=$f->{close_reason}"
                                           : '');
    }
    return "$s [" . length($p) . " bytes]: $shown";
}


package Test::Collab::WS::EOF;

use overload '""' => sub { 'eof' }, 'bool' => sub { 1 }, fallback => 1;


1;
