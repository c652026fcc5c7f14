# The PostgreSQL pool: connects and checks the schema version, refuses a
# database without the schema (or with another version), config checks.
use lib 't/lib';
use Test::Collab with => ['postgres'];

# a schema "old" whose collab_schema_version says 0, for TEST 4
pg_query(q{CREATE SCHEMA IF NOT EXISTS old;
           CREATE TABLE IF NOT EXISTS old.collab_schema_version
               (version integer PRIMARY KEY);
           INSERT INTO old.collab_schema_version VALUES (0)
               ON CONFLICT DO NOTHING});

run_tests();

__DATA__

=== TEST 1: the pool connects, checks the schema and logs each connection
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_postgres_pool 3;
--- config
    location /api/ { collab_api; }
--- request
GET /api/notes/none/ops
--- error_code: 404
--- response_body_like: "no such document"
--- wait: 1
--- error_log
connection 0 ready (schema version 2
connection 1 ready (schema version 2
connection 2 ready (schema version 2
--- no_error_log
[error]
password


=== TEST 2: a database without the schema: clear error, requests get 503
--- http_config
    collab_postgres "$TEST_COLLAB_PG dbname=postgres";
    collab_postgres_pool 1;
--- config
    location /api/ { collab_api; }
--- request
GET /api/notes/a/ops
--- error_code: 503
--- response_body_like: "database unavailable"
--- error_log
the collab schema is missing (no table collab_schema_version): apply the sql/ files up to sql/002_access.sql (schema version 2 expected


=== TEST 3: the password never reaches the log
--- http_config
    collab_postgres "$TEST_COLLAB_PG dbname=postgres password=s3cret-pw";
    collab_postgres_pool 1;
--- config
    location /api/ { collab_api; }
--- request
GET /api/notes/a/ops
--- error_code: 503
--- error_log
the collab schema is missing
--- no_error_log
s3cret-pw


=== TEST 4: an older schema version is refused with the file to apply
--- http_config
    collab_postgres "$TEST_COLLAB_PG options='-csearch_path=old'";
    collab_postgres_pool 1;
--- config
    location /api/ { collab_api; }
--- request
GET /api/notes/a/ops
--- error_code: 503
--- error_log
database schema version is 0, this module needs schema version 2: apply the sql/ files up to sql/002_access.sql


=== TEST 5: an unparsable conninfo fails nginx -t
--- http_config
    collab_postgres "host=127.0.0.1 bogus_keyword=1";
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
invalid "collab_postgres" conninfo: invalid connection option "bogus_keyword"


=== TEST 6: an unterminated quote in the conninfo fails nginx -t
--- http_config
    collab_postgres "host='127.0.0.1";
--- must_die
--- error_log
invalid "collab_postgres" conninfo


=== TEST 7: collab_api needs collab_postgres
--- config
    location /api/ { collab_api; }
--- must_die
--- error_log
"collab_api" requires "collab_postgres"


=== TEST 8: bad pool, queue and timeout values fail nginx -t
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_postgres_queue 0;
--- must_die
--- error_log
"collab_postgres_queue" must be at least 1


=== TEST 9: a worker keeps serving while its database is unreachable
--- http_config
    collab_postgres "host=127.0.0.1 port=1 dbname=collab user=collab";
    collab_postgres_pool 2;
--- config
    location /api/ { collab_api; }
    location /ok { return 200 "ok"; }
--- request
GET /ok
--- response_body chomp
ok
--- error_log
connection 0 failed: Connection refused


=== TEST 10: with no connection up, history requests fail at once with 503
--- http_config
    collab_postgres "host=127.0.0.1 port=1 dbname=collab user=collab";
    collab_postgres_pool 2;
--- config
    location /api/ { collab_api; }
--- request
GET /api/notes/a/ops
--- error_code: 503
--- response_body_like: "database unavailable"
