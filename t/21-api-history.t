# GET <location>/<collection>/<doc>/ops: history rows written with psql.
# Each src shows as its public form, HMAC-SHA256(collab_src_secret, src)
# cut to 32 hex digits (t/54): c1 and c2 below.
use lib 't/lib';
use Test::Collab with => ['postgres'];

pg_query(q{
INSERT INTO collab_docs (collection, name, type, version, deleted)
VALUES ('notes', 'a', 'http://sharejs.org/types/text-unicode', 4, true),
       ('notes', 'empty', 'http://sharejs.org/types/text-unicode', 0, false);
INSERT INTO collab_ops (doc, version, src, seq, kind, op, create_type,
                        create_data, principal, created_at)
SELECT d.id, v.version, v.src, v.seq, v.kind, v.op, v.ctype, v.cdata, NULL,
       timestamptz '2024-01-02 03:04:05.678+00'
FROM collab_docs d,
     (VALUES (1, 'c1', 1, 'create', NULL,
              'http://sharejs.org/types/text-unicode', '"h\u00e9 \"q\""'),
             (2, 'c1', 2, 'op', '[2," th\u00e9re \"x\""]', NULL, NULL),
             (3, 'c2', 7, 'op', '[{"d":1}]', NULL, NULL),
             (4, 'c2', 8, 'del', NULL, NULL, NULL))
     AS v(version, src, seq, kind, op, ctype, cdata)
WHERE d.collection = 'notes' AND d.name = 'a';
});

my %defaults = (
    http_config => <<'END',
    collab_postgres "$TEST_COLLAB_PG";
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
END
    config => <<'END',
    location /api/ { collab_api; }
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);

__DATA__

=== TEST 1: the whole history of a document
--- request
GET /api/notes/a/ops
--- response_headers
Content-Type: application/json
--- response_body chomp
[{"v":1,"src":"91ce1a6e21664f16965d6606bb77b858","seq":1,"create":{"type":"http://sharejs.org/types/text-unicode","data":"h\u00e9 \"q\""},"time":1704164645678},{"v":2,"src":"91ce1a6e21664f16965d6606bb77b858","seq":2,"op":[2," th\u00e9re \"x\""],"time":1704164645678},{"v":3,"src":"470f15854ca489ef93e163b1665ef88e","seq":7,"op":[{"d":1}],"time":1704164645678},{"v":4,"src":"470f15854ca489ef93e163b1665ef88e","seq":8,"del":true,"time":1704164645678}]
--- no_error_log
[error]


=== TEST 2: a version range [from, to)
--- request
GET /api/notes/a/ops?from=2&to=4
--- response_body_like: ^\[\{"v":2,.*\{"v":3,"src":"470f15854ca489ef93e163b1665ef88e","seq":7,"op":\[\{"d":1\}\],"time":\d+\}\]$


=== TEST 3: from alone, past the head, and an empty range
--- request
GET /api/notes/a/ops?from=4
--- response_body_like: ^\[\{"v":4,"src":"470f15854ca489ef93e163b1665ef88e","seq":8,"del":true,"time":\d+\}\]$


=== TEST 4: a document without ops in the range is an empty array
--- request
GET /api/notes/empty/ops?from=0&to=10
--- response_body chomp
[]


=== TEST 5: an unknown document is 404
--- request
GET /api/notes/nope/ops
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body
{"error":"no such document"}


=== TEST 6: bad parameters are 400
--- request
GET /api/notes/a/ops?from=3&to=2
--- error_code: 400


=== TEST 7: a non-numeric version is 400
--- request
GET /api/notes/a/ops?from=-1
--- error_code: 400


=== TEST 8: other methods are 405 with Allow
--- raw_request eval
"POST /api/notes/a/ops HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
--- error_code: 405
--- response_headers
Allow: GET, HEAD


=== TEST 9: an unknown endpoint or a malformed path is 404
--- request
GET /api/notes/a/snapshot/extra
--- error_code: 404


=== TEST 10: percent-encoded names are decoded
--- request
GET /api/n%6Ftes/a/ops?from=3&to=4
--- response_body_like: ^\[\{"v":3,
