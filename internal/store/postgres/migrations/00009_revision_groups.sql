-- The PostgreSQL twin of SQLite's 00009 (read its comment): rules' group
-- references in rules and rule_versions, the append-only group_versions,
-- and firewall_group_versions, which says which version of each group a
-- firewall used over which revisions. The JSON columns are text here, as
-- history tables are only read back whole.

-- +goose Up
ALTER TABLE rules ADD COLUMN group_refs text NOT NULL DEFAULT '';
ALTER TABLE rule_versions ADD COLUMN group_refs text NOT NULL DEFAULT '';

CREATE TABLE group_versions (
    kind        smallint    NOT NULL CHECK (kind IN (1, 2)),
    group_id    text        NOT NULL,
    version     bigint      NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL,
    labels      text        NOT NULL,
    members     text        NOT NULL,
    nested      text        NOT NULL,
    etag        text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT group_versions_pkey PRIMARY KEY (kind, group_id, version)
);

CREATE TABLE firewall_group_versions (
    firewall_id text     NOT NULL,
    kind        smallint NOT NULL CHECK (kind IN (1, 2)),
    group_id    text     NOT NULL,
    valid_from  bigint   NOT NULL,
    valid_to    bigint,
    version     bigint   NOT NULL,
    CONSTRAINT firewall_group_versions_pkey PRIMARY KEY (firewall_id, kind, group_id, valid_from)
);
CREATE INDEX firewall_group_versions_valid_to ON firewall_group_versions (firewall_id, valid_to, valid_from);
CREATE INDEX firewall_group_versions_by_version ON firewall_group_versions (kind, group_id, version);

UPDATE rules r SET group_refs = json_build_object(
    'source', COALESCE((SELECT json_agg(x.group_id ORDER BY x.position) FROM rule_address_groups x
        WHERE x.rule_id = r.id AND x.side = 1), '[]'::json),
    'destination', COALESCE((SELECT json_agg(x.group_id ORDER BY x.position) FROM rule_address_groups x
        WHERE x.rule_id = r.id AND x.side = 2), '[]'::json),
    'service', COALESCE((SELECT json_agg(x.group_id ORDER BY x.position) FROM rule_service_groups x
        WHERE x.rule_id = r.id), '[]'::json))::text
WHERE id IN (SELECT rule_id FROM rule_address_groups UNION SELECT rule_id FROM rule_service_groups);

UPDATE rule_versions v SET group_refs = r.group_refs FROM rules r
WHERE r.id = v.rule_id AND v.valid_to IS NULL AND r.group_refs <> '';

INSERT INTO group_versions (kind, group_id, version, name, description, labels, members, nested, etag, created_at, updated_at)
    SELECT 1, g.id, 1, g.name, g.description, g.labels::text, g.members::text,
        COALESCE((SELECT json_agg(n.member_id ORDER BY n.position) FROM address_group_nesting n WHERE n.group_id = g.id), '[]'::json)::text,
        g.etag, g.created_at, g.updated_at
    FROM address_groups g;
INSERT INTO group_versions (kind, group_id, version, name, description, labels, members, nested, etag, created_at, updated_at)
    SELECT 2, g.id, 1, g.name, g.description, g.labels::text, g.members::text,
        COALESCE((SELECT json_agg(n.member_id ORDER BY n.position) FROM service_group_nesting n WHERE n.group_id = g.id), '[]'::json)::text,
        g.etag, g.created_at, g.updated_at
    FROM service_groups g;

INSERT INTO firewall_group_versions (firewall_id, kind, group_id, valid_from, version)
    WITH RECURSIVE used(firewall_id, id) AS (
        SELECT r.firewall_id, x.group_id FROM rule_address_groups x JOIN rules r ON r.id = x.rule_id
        UNION SELECT u.firewall_id, n.member_id FROM address_group_nesting n JOIN used u ON n.group_id = u.id)
    SELECT u.firewall_id, 1, u.id,
        COALESCE((SELECT MIN(revision) FROM firewall_revisions v WHERE v.firewall_id = u.firewall_id), f.revision), 1
    FROM used u JOIN firewalls f ON f.id = u.firewall_id;
INSERT INTO firewall_group_versions (firewall_id, kind, group_id, valid_from, version)
    WITH RECURSIVE used(firewall_id, id) AS (
        SELECT r.firewall_id, x.group_id FROM rule_service_groups x JOIN rules r ON r.id = x.rule_id
        UNION SELECT u.firewall_id, n.member_id FROM service_group_nesting n JOIN used u ON n.group_id = u.id)
    SELECT u.firewall_id, 2, u.id,
        COALESCE((SELECT MIN(revision) FROM firewall_revisions v WHERE v.firewall_id = u.firewall_id), f.revision), 1
    FROM used u JOIN firewalls f ON f.id = u.firewall_id;

-- +goose Down
DROP TABLE firewall_group_versions;
DROP TABLE group_versions;
ALTER TABLE rule_versions DROP COLUMN group_refs;
ALTER TABLE rules DROP COLUMN group_refs;
