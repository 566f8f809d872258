-- Every committed change to a firewall's tree keeps the whole tree as of
-- that revision, as one JSON document, so that reading any revision back is
-- one row read whatever its age. The rows go with their firewall. The tree
-- is text, not jsonb: it is only ever read back whole.

-- +goose Up
CREATE TABLE firewall_revisions (
    firewall_id text        NOT NULL REFERENCES firewalls (id) ON DELETE CASCADE,
    revision    bigint      NOT NULL CHECK (revision >= 1),
    created_at  timestamptz NOT NULL,
    actor       text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    summary     text        NOT NULL DEFAULT '',
    tree        text        NOT NULL,
    CONSTRAINT firewall_revisions_pkey PRIMARY KEY (firewall_id, revision)
);

-- +goose Down
DROP TABLE firewall_revisions;
