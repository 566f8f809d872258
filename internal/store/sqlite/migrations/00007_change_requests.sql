-- Change requests: a proposed change to a firewall's tree (operations or a
-- whole candidate tree), the base tree it was computed against, its impact,
-- and its review. The JSON columns are written and read by the service as
-- a whole; only the scalar columns are filtered on. Audit events name the
-- change request whose applying made them.

-- +goose Up
CREATE TABLE change_requests (
    id               TEXT    NOT NULL PRIMARY KEY,
    firewall_id      TEXT    NOT NULL REFERENCES firewalls (id) ON DELETE CASCADE,
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    base_revision    INTEGER NOT NULL,
    operations       TEXT    CHECK (operations IS NULL OR json_valid(operations)),
    candidate        TEXT    CHECK (candidate IS NULL OR json_valid(candidate)),
    base_tree        TEXT    NOT NULL CHECK (json_valid(base_tree)),
    impact           TEXT    NOT NULL CHECK (json_valid(impact)),
    no_op            INTEGER NOT NULL CHECK (no_op IN (0, 1)),
    state            TEXT    NOT NULL CHECK (state IN ('open', 'approved', 'rejected', 'applied', 'cancelled', 'stale')),
    author           TEXT    NOT NULL,
    reviewer         TEXT    NOT NULL DEFAULT '',
    comments         TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(comments)),
    applied_revision INTEGER NOT NULL DEFAULT 0,
    stale_reason     TEXT    NOT NULL DEFAULT '',
    etag             TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK ((operations IS NULL) <> (candidate IS NULL))
);
-- Newest first within a firewall is the listing order.
CREATE INDEX change_requests_by_firewall ON change_requests (firewall_id, created_at, id);

ALTER TABLE audit_events ADD COLUMN change_request_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_events DROP COLUMN change_request_id;
DROP TABLE change_requests;
