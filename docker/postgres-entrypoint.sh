#!/usr/bin/env bash
# PostgreSQL for docker/compose.yaml: on the first start of an empty data
# volume, create the cluster, the collab role and database and apply the
# schema (sql/*.sql, in order); then run the server in the foreground.
#   POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB (all default "collab")
set -euo pipefail

user=${POSTGRES_USER:-collab}
pass=${POSTGRES_PASSWORD:-collab}
db=${POSTGRES_DB:-collab}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb -D "$PGDATA" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 > /dev/null
    cat >> "$PGDATA/postgresql.conf" << CONF
listen_addresses = '*'
unix_socket_directories = '/tmp'
CONF
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start > /dev/null
    psql -X -q -h /tmp -U postgres -v ON_ERROR_STOP=1 \
        -v user="$user" -v pass="$pass" -v db="$db" << 'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'pass';
CREATE DATABASE :"db" OWNER :"user";
SQL
    for f in /usr/share/collab/sql/*.sql; do
        psql -X -q -h /tmp -U "$user" -d "$db" -v ON_ERROR_STOP=1 -f "$f"
    done
    pg_ctl -D "$PGDATA" -w -m fast stop > /dev/null
    echo "postgres-entrypoint: initialised $PGDATA ($db owned by $user)"
fi
exec postgres -D "$PGDATA"
