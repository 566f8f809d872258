-- Revisions exact with groups. Migration 00006 versioned the tree and 00008
-- added groups beside it; this joins them (see docs/history.md):
--
-- * rules.group_refs and rule_versions.group_refs hold the ids of the
--   rule's source, destination and service groups, in order, as a JSON
--   object ({"source": [...], "destination": [...], "service": [...]}),
--   or '' for a rule that uses no group. The live column is written with
--   the rule's link rows, so that versioning copies it with the rest of the
--   row; the link tables stay what the live reads and the foreign keys use.
-- * group_versions is append-only: one row per write of a group (kind 1
--   address, 2 service), with its name, members and nested group ids as
--   they were. A version no revision refers to is deleted when a newer one
--   is written or when the revisions that used it are pruned.
-- * firewall_group_versions says which version of each group (nesting
--   included) a firewall's tree used over which revisions, valid_from to
--   valid_to as the element versions are, so that the groups of revision n
--   are one indexed range read.
--
-- The backfill copies the live references into the open rule versions,
-- makes every group's current state its version 1, and has each firewall
-- use those versions from its oldest kept revision: revisions made before
-- this migration show groups as they stood when it ran.

-- +goose Up
ALTER TABLE rules ADD COLUMN group_refs TEXT NOT NULL DEFAULT '';
ALTER TABLE rule_versions ADD COLUMN group_refs TEXT NOT NULL DEFAULT '';

CREATE TABLE group_versions (
    kind        INTEGER NOT NULL CHECK (kind IN (1, 2)),
    group_id    TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    labels      TEXT    NOT NULL,
    members     TEXT    NOT NULL,
    nested      TEXT    NOT NULL,
    etag        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, group_id, version)
) WITHOUT ROWID;

CREATE TABLE firewall_group_versions (
    firewall_id TEXT    NOT NULL,
    kind        INTEGER NOT NULL CHECK (kind IN (1, 2)),
    group_id    TEXT    NOT NULL,
    valid_from  INTEGER NOT NULL,
    valid_to    INTEGER,
    version     INTEGER NOT NULL,
    PRIMARY KEY (firewall_id, kind, group_id, valid_from)
);
CREATE INDEX firewall_group_versions_valid_to ON firewall_group_versions (firewall_id, valid_to, valid_from);
CREATE INDEX firewall_group_versions_by_version ON firewall_group_versions (kind, group_id, version);

UPDATE rules SET group_refs = json_object(
    'source', json((SELECT json_group_array(group_id) FROM (SELECT group_id FROM rule_address_groups x
        WHERE x.rule_id = rules.id AND x.side = 1 ORDER BY x.position))),
    'destination', json((SELECT json_group_array(group_id) FROM (SELECT group_id FROM rule_address_groups x
        WHERE x.rule_id = rules.id AND x.side = 2 ORDER BY x.position))),
    'service', json((SELECT json_group_array(group_id) FROM (SELECT group_id FROM rule_service_groups x
        WHERE x.rule_id = rules.id ORDER BY x.position))))
WHERE id IN (SELECT rule_id FROM rule_address_groups UNION SELECT rule_id FROM rule_service_groups);

UPDATE rule_versions SET group_refs = (SELECT r.group_refs FROM rules r WHERE r.id = rule_versions.rule_id)
WHERE valid_to IS NULL AND rule_id IN (SELECT id FROM rules WHERE group_refs <> '');

INSERT INTO group_versions (kind, group_id, version, name, description, labels, members, nested, etag, created_at, updated_at)
    SELECT 1, g.id, 1, g.name, g.description, g.labels, g.members,
        json((SELECT json_group_array(member_id) FROM (SELECT member_id FROM address_group_nesting n
            WHERE n.group_id = g.id ORDER BY n.position))),
        g.etag, g.created_at, g.updated_at
    FROM address_groups g;
INSERT INTO group_versions (kind, group_id, version, name, description, labels, members, nested, etag, created_at, updated_at)
    SELECT 2, g.id, 1, g.name, g.description, g.labels, g.members,
        json((SELECT json_group_array(member_id) FROM (SELECT member_id FROM service_group_nesting n
            WHERE n.group_id = g.id ORDER BY n.position))),
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
