-- The PostgreSQL twin of SQLite's 00008: address and service groups, their
-- nesting, the address index of their members, and the rules' references
-- to them, with the same tables, columns and constraints in native types.
-- Constraint names are what the store maps SQLSTATE 23505 by.

-- +goose Up
CREATE TABLE address_groups (
    id           text        NOT NULL CONSTRAINT address_groups_pkey PRIMARY KEY,
    name         text        NOT NULL,
    name_key     text        NOT NULL CONSTRAINT address_groups_name_key_unique UNIQUE,
    description  text        NOT NULL DEFAULT '',
    labels       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    members      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(members) = 'array'),
    member_count integer     NOT NULL DEFAULT 0,
    etag         text        NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE service_groups (
    id           text        NOT NULL CONSTRAINT service_groups_pkey PRIMARY KEY,
    name         text        NOT NULL,
    name_key     text        NOT NULL CONSTRAINT service_groups_name_key_unique UNIQUE,
    description  text        NOT NULL DEFAULT '',
    labels       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    members      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(members) = 'array'),
    member_count integer     NOT NULL DEFAULT 0,
    etag         text        NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE address_group_nesting (
    group_id  text    NOT NULL REFERENCES address_groups (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    member_id text    NOT NULL REFERENCES address_groups (id),
    CONSTRAINT address_group_nesting_pkey PRIMARY KEY (group_id, position)
);
CREATE INDEX address_group_nesting_by_member ON address_group_nesting (member_id);

CREATE TABLE service_group_nesting (
    group_id  text    NOT NULL REFERENCES service_groups (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    member_id text    NOT NULL REFERENCES service_groups (id),
    CONSTRAINT service_group_nesting_pkey PRIMARY KEY (group_id, position)
);
CREATE INDEX service_group_nesting_by_member ON service_group_nesting (member_id);

CREATE TABLE address_group_ranges (
    group_id text     NOT NULL REFERENCES address_groups (id) ON DELETE CASCADE,
    family   smallint NOT NULL CHECK (family IN (4, 6)),
    lo       bytea    NOT NULL CHECK (length(lo) = 16),
    hi       bytea    NOT NULL CHECK (length(hi) = 16),
    CONSTRAINT address_group_ranges_pkey PRIMARY KEY (group_id, family, lo, hi)
);

CREATE TABLE rule_address_groups (
    rule_id  text     NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    side     smallint NOT NULL CHECK (side IN (1, 2)),
    position integer  NOT NULL,
    group_id text     NOT NULL REFERENCES address_groups (id),
    CONSTRAINT rule_address_groups_pkey PRIMARY KEY (rule_id, side, position)
);
CREATE INDEX rule_address_groups_by_group ON rule_address_groups (group_id, side);

CREATE TABLE rule_service_groups (
    rule_id  text    NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    position integer NOT NULL,
    group_id text    NOT NULL REFERENCES service_groups (id),
    CONSTRAINT rule_service_groups_pkey PRIMARY KEY (rule_id, position)
);
CREATE INDEX rule_service_groups_by_group ON rule_service_groups (group_id);

-- +goose Down
DROP TABLE rule_service_groups;
DROP TABLE rule_address_groups;
DROP TABLE address_group_ranges;
DROP TABLE service_group_nesting;
DROP TABLE address_group_nesting;
DROP TABLE service_groups;
DROP TABLE address_groups;
