-- ngx_http_collab_module schema, version 2: users and per-document roles.
--
-- Apply after 001_init.sql, as the database owner:
--     psql -v ON_ERROR_STOP=1 -d <db> -f sql/002_access.sql
-- A database at version 1 upgrades by applying this file; nothing in the
-- op log changes.  Workers refuse a database below version 2, so apply it
-- before (or while) the new module is loaded: see docs/deployment.md.
--
-- Roles are enforced when collab_auth_jwt is on.  The module reads them
-- through a per-worker cache; whoever changes collab_members outside the
-- module (psql, a script) PUBLISHes the invalidation message described in
-- docs/access.md so that the change takes effect within a second, not at
-- the end of the cache TTL.

BEGIN;

-- who has been seen: one row per verified token subject
CREATE TABLE collab_users (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    principal   text        NOT NULL UNIQUE,  -- "<iss> <sub>", or "<sub>"
    iss         text        NOT NULL DEFAULT '',
    sub         text        NOT NULL DEFAULT '',
    name        text,                         -- name / preferred_username
    email       text,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE collab_members (
    doc         bigint      NOT NULL
                            REFERENCES collab_docs (id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL
                            REFERENCES collab_users (id) ON DELETE CASCADE,
    role        text        NOT NULL
                            CHECK (role IN ('owner', 'editor', 'commenter',
                                            'viewer')),
    granted_by  bigint      REFERENCES collab_users (id) ON DELETE SET NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc, user_id)
);

-- at most one owner per document; the create makes the first one
CREATE UNIQUE INDEX collab_members_one_owner
    ON collab_members (doc) WHERE role = 'owner';

-- "which documents may this user read" (lists)
CREATE INDEX collab_members_user ON collab_members (user_id, doc);

-- the built-in sign-in (collab_auth_login): a user name and its argon2id
-- hash (libsodium's crypto_pwhash_str); the user's principal is
-- "<collab_auth_jwt_issuer> <username>", or "<username>" without issuer
CREATE TABLE collab_logins (
    username       text        PRIMARY KEY,
    user_id        bigint      NOT NULL UNIQUE
                               REFERENCES collab_users (id) ON DELETE CASCADE,
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    changed_at     timestamptz NOT NULL DEFAULT now()
);

-- documents created before roles existed get no owner: an admin (see
-- collab_auth_admin_claim) or a collection default role reaches them

INSERT INTO collab_schema_version (version) VALUES (2);

COMMIT;
