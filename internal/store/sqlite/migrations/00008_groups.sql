-- Named objects: address and service groups, global and shared by every
-- firewall (DESIGN §2). A group's literal members are a JSON list, as a
-- rule's are; its nested groups, and the groups each rule refers to, are
-- rows of join tables, so that "who uses this group" and "is it still
-- referenced" are indexed queries and the foreign keys refuse a delete that
-- would leave a dangling reference. member_count holds the number of
-- literal members, which the nesting limits add up without parsing JSON.
--
-- address_group_ranges indexes each group's own addresses as rule_addresses
-- does a rule's (16-byte lo and hi, IPv4 mapped), so that
-- source_contains(...) can answer through groups in SQL.

-- +goose Up
CREATE TABLE address_groups (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL UNIQUE,
    description  TEXT    NOT NULL DEFAULT '',
    labels       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    members      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(members)),
    member_count INTEGER NOT NULL DEFAULT 0,
    etag         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE service_groups (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL UNIQUE,
    description  TEXT    NOT NULL DEFAULT '',
    labels       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    members      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(members)),
    member_count INTEGER NOT NULL DEFAULT 0,
    etag         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Nesting: group_id contains member_id, at position in its list. A nested
-- group cannot be deleted while a group contains it (no cascade).
CREATE TABLE address_group_nesting (
    group_id  TEXT    NOT NULL REFERENCES address_groups (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    member_id TEXT    NOT NULL REFERENCES address_groups (id),
    PRIMARY KEY (group_id, position)
) WITHOUT ROWID;
CREATE INDEX address_group_nesting_by_member ON address_group_nesting (member_id);

CREATE TABLE service_group_nesting (
    group_id  TEXT    NOT NULL REFERENCES service_groups (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    member_id TEXT    NOT NULL REFERENCES service_groups (id),
    PRIMARY KEY (group_id, position)
) WITHOUT ROWID;
CREATE INDEX service_group_nesting_by_member ON service_group_nesting (member_id);

CREATE TABLE address_group_ranges (
    group_id TEXT    NOT NULL REFERENCES address_groups (id) ON DELETE CASCADE,
    family   INTEGER NOT NULL CHECK (family IN (4, 6)),
    lo       BLOB    NOT NULL CHECK (length(lo) = 16),
    hi       BLOB    NOT NULL CHECK (length(hi) = 16),
    PRIMARY KEY (group_id, family, lo, hi)
) WITHOUT ROWID;

-- A rule's groups: side 1 is source_groups, 2 destination_groups, in list
-- order. Deleting the rule deletes its references; deleting a referenced
-- group is refused.
CREATE TABLE rule_address_groups (
    rule_id  TEXT    NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    side     INTEGER NOT NULL CHECK (side IN (1, 2)),
    position INTEGER NOT NULL,
    group_id TEXT    NOT NULL REFERENCES address_groups (id),
    PRIMARY KEY (rule_id, side, position)
) WITHOUT ROWID;
CREATE INDEX rule_address_groups_by_group ON rule_address_groups (group_id, side);

CREATE TABLE rule_service_groups (
    rule_id  TEXT    NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    group_id TEXT    NOT NULL REFERENCES service_groups (id),
    PRIMARY KEY (rule_id, position)
) WITHOUT ROWID;
CREATE INDEX rule_service_groups_by_group ON rule_service_groups (group_id);

-- +goose Down
DROP TABLE rule_service_groups;
DROP TABLE rule_address_groups;
DROP TABLE address_group_ranges;
DROP TABLE service_group_nesting;
DROP TABLE address_group_nesting;
DROP TABLE service_groups;
DROP TABLE address_groups;
