-- Every committed change to a firewall's tree keeps the whole tree as of
-- that revision, as one JSON document, so that reading any revision back is
-- one row read whatever its age. The rows go with their firewall.

-- +goose Up
CREATE TABLE firewall_revisions (
    firewall_id TEXT    NOT NULL REFERENCES firewalls (id) ON DELETE CASCADE,
    revision    INTEGER NOT NULL CHECK (revision >= 1),
    created_at  INTEGER NOT NULL,
    actor       TEXT    NOT NULL DEFAULT '',
    request_id  TEXT    NOT NULL DEFAULT '',
    summary     TEXT    NOT NULL DEFAULT '',
    tree        TEXT    NOT NULL,
    PRIMARY KEY (firewall_id, revision)
);

-- +goose Down
DROP TABLE firewall_revisions;
