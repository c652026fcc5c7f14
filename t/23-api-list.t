# GET <location>/<collection>: the documents of a collection, written with
# psql; most recently updated first, deleted ones left out.
use lib 't/lib';
use Test::Collab with => ['postgres'];

pg_query(q{
INSERT INTO collab_docs (collection, name, type, version, deleted,
                         updated_at)
VALUES ('list', 'old', 'http://sharejs.org/types/text-unicode', 3, false,
        timestamptz '2024-01-02 03:04:05.678+00'),
       ('list', 'new "q" é', 'http://sharejs.org/types/text-unicode', 12,
        false, timestamptz '2024-05-06 07:08:09.010+00'),
       ('list', 'gone', 'http://sharejs.org/types/text-unicode', 5, true,
        timestamptz '2024-06-01 00:00:00+00'),
       ('other', 'x', 'http://sharejs.org/types/text-unicode', 1, false,
        now());
});

my %defaults = (
    http_config => <<'END',
    collab_postgres "$TEST_COLLAB_PG";
END
    config => <<'END',
    location /api/ { collab_api; }
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);

__DATA__

=== TEST 1: the live documents of a collection, newest first
--- request
GET /api/list
--- response_headers
Content-Type: application/json
--- response_body chomp
[{"id":"new \"q\" é","v":12,"type":"http://sharejs.org/types/text-unicode","updated":1714979289010},{"id":"old","v":3,"type":"http://sharejs.org/types/text-unicode","updated":1704164645678}]
--- no_error_log
[error]


=== TEST 2: a trailing slash is the same list
--- request
GET /api/other/
--- response_body_like: ^\[\{"id":"x","v":1,"type":"http://sharejs.org/types/text-unicode","updated":\d+\}\]$


=== TEST 3: a collection without documents is an empty array
--- request
GET /api/nothing-here
--- error_code: 200
--- response_body chomp
[]


=== TEST 4: three segments other than ops are no endpoint
--- request
GET /api/list/old/x
--- error_code: 404
--- response_body_like: no such endpoint


=== TEST 5: the location itself is no endpoint
--- request
GET /api/
--- error_code: 404


=== TEST 6: HEAD answers with the headers only
--- request
HEAD /api/list
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body chomp



=== TEST 7: a collection name that is not UTF-8 is a 400, logged at info, not a database error
--- request
GET /api/%ff%fe/x
--- error_code: 400
--- response_body_like: bad name: not UTF-8 text
--- error_log
with a name that is not UTF-8 text
--- no_error_log
[error]


=== TEST 8: a document name that is not UTF-8 on the ops route
--- request
GET /api/docs/%ff/ops
--- error_code: 400
--- no_error_log
[error]


=== TEST 9: a truncated sequence as the collection of the list
--- request
GET /api/%c3%28
--- error_code: 400
--- no_error_log
[error]
