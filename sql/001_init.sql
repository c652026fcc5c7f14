-- ngx_http_collab_module schema, version 1.
--
-- Apply as the database owner (no superuser needed):
--     psql -v ON_ERROR_STOP=1 -d <db> -f sql/001_init.sql
-- The module checks collab_schema_version on every new connection and
-- refuses a database whose version is not the one it was built for.
--
-- Documents get a compact bigint key (collab_docs.id).  The op log and the
-- snapshots are keyed by it instead of (collection, name): the hot INSERT
-- then maintains two narrow indexes (doc, version) and (doc, src, seq)
-- instead of two indexes that repeat two text columns per row, and every
-- statement resolves (collection, name) once through collab_docs' unique
-- index.  (doc, version) is equivalent to (collection, name, version)
-- because id <-> (collection, name) is one to one.
--
-- The op log is append-only: rows are only ever INSERTed, never updated or
-- upserted.  Its primary key is the fence that makes a stale lock harmless.

BEGIN;

CREATE TABLE collab_schema_version (
    version     integer     PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE collab_docs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection  text        NOT NULL,
    name        text        NOT NULL,
    type        text        NOT NULL,   -- OT type URI
    version     bigint      NOT NULL,   -- head: version of the last op
    deleted     boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (collection, name)
);

CREATE TABLE collab_ops (
    doc          bigint      NOT NULL,  -- collab_docs.id
    version      bigint      NOT NULL,  -- 1 for the create op
    src          text        NOT NULL,  -- client id that submitted it
    seq          bigint      NOT NULL,  -- its per-src sequence number
    kind         text        NOT NULL
                             CHECK (kind IN ('create', 'op', 'del')),
    op           text,                  -- raw op JSON (kind 'op')
    create_type  text,                  -- type URI (kind 'create')
    create_data  text,                  -- raw JSON of create.data
    principal    text,                  -- authenticated user, if any
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT collab_ops_pkey PRIMARY KEY (doc, version),
    CONSTRAINT collab_ops_src_seq_key UNIQUE (doc, src, seq)
);

-- no foreign key to collab_docs: ops are only written by the statements
-- that update the document row in the same statement, and an FK check per
-- row would double the work of the hot INSERT

CREATE TABLE collab_snapshots (
    doc         bigint      NOT NULL,   -- collab_docs.id
    version     bigint      NOT NULL,
    type        text        NOT NULL,
    data        text        NOT NULL,   -- the document text at version
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc, version)
);

INSERT INTO collab_schema_version (version) VALUES (1);

COMMIT;
