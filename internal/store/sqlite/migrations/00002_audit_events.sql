-- The audit log keeps every change with its before and after images. It has
-- no foreign keys: deleting a firewall must not delete its history.

-- +goose Up
CREATE TABLE audit_events (
    id            TEXT    NOT NULL PRIMARY KEY,
    occurred_at   INTEGER NOT NULL,
    actor_subject TEXT    NOT NULL,
    actor_roles   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(actor_roles)),
    action        TEXT    NOT NULL CHECK (action IN ('create', 'update', 'move', 'delete')),
    resource_type TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    firewall_id   TEXT    NOT NULL,
    before        TEXT    CHECK (before IS NULL OR json_valid(before)),
    after         TEXT    CHECK (after IS NULL OR json_valid(after)),
    request_id    TEXT    NOT NULL DEFAULT ''
);
-- Newest first is the listing order.
CREATE INDEX audit_events_by_time ON audit_events (occurred_at, id);

-- +goose Down
DROP TABLE audit_events;
