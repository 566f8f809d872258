-- Change requests: a proposed change to a firewall's tree (operations or a
-- whole candidate tree), the base tree it was computed against, its impact,
-- and its review. The JSON columns are json, not jsonb, so that they come
-- back byte for byte; only the scalar columns are filtered on. Audit events
-- name the change request whose applying made them.

-- +goose Up
CREATE TABLE change_requests (
    id               text        NOT NULL CONSTRAINT change_requests_pkey PRIMARY KEY,
    firewall_id      text        NOT NULL REFERENCES firewalls (id) ON DELETE CASCADE,
    title            text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    base_revision    bigint      NOT NULL,
    operations       json        CHECK (operations IS NULL OR json_typeof(operations) = 'array'),
    candidate        json        CHECK (candidate IS NULL OR json_typeof(candidate) = 'object'),
    base_tree        json        NOT NULL CHECK (json_typeof(base_tree) = 'object'),
    impact           json        NOT NULL CHECK (json_typeof(impact) = 'object'),
    no_op            boolean     NOT NULL,
    state            text        NOT NULL CHECK (state IN ('open', 'approved', 'rejected', 'applied', 'cancelled', 'stale')),
    author           text        NOT NULL,
    reviewer         text        NOT NULL DEFAULT '',
    comments         json        NOT NULL DEFAULT '[]' CHECK (json_typeof(comments) = 'array'),
    applied_revision bigint      NOT NULL DEFAULT 0,
    stale_reason     text        NOT NULL DEFAULT '',
    etag             text        NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((operations IS NULL) <> (candidate IS NULL))
);
-- Newest first within a firewall is the listing order.
CREATE INDEX change_requests_by_firewall ON change_requests (firewall_id, created_at, id);

ALTER TABLE audit_events ADD COLUMN change_request_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_events DROP COLUMN change_request_id;
DROP TABLE change_requests;
