-- The audit log keeps every change with its before and after images. It has
-- no foreign keys: deleting a firewall must not delete its history. The
-- images are json, not jsonb, so that they come back byte for byte.

-- +goose Up
CREATE TABLE audit_events (
    id            text        NOT NULL CONSTRAINT audit_events_pkey PRIMARY KEY,
    occurred_at   timestamptz NOT NULL,
    actor_subject text        NOT NULL,
    actor_roles   jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(actor_roles) = 'array'),
    action        text        NOT NULL CHECK (action IN ('create', 'update', 'move', 'delete')),
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    firewall_id   text        NOT NULL,
    before        json        CHECK (before IS NULL OR json_typeof(before) IS NOT NULL),
    after         json        CHECK (after IS NULL OR json_typeof(after) IS NOT NULL),
    request_id    text        NOT NULL DEFAULT ''
);
-- Newest first is the listing order.
CREATE INDEX audit_events_by_time ON audit_events (occurred_at, id);

-- +goose Down
DROP TABLE audit_events;
