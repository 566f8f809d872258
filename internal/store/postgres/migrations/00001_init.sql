-- The PostgreSQL twin of the SQLite schema: the same tables, columns,
-- constraints and cascades, in native types. Times are timestamptz (UTC,
-- microseconds), labels and lists are jsonb holding canonical strings, and
-- every *_key column is firewall.NameKey of the name next to it, so that
-- uniqueness ignores case exactly as it does on SQLite.
--
-- The unique constraints double as the keyset paging indexes: name_key for
-- firewalls, (firewall_id, priority) for policies and (policy_id, position)
-- for rules. Constraint names are what the store maps SQLSTATE 23505 by.

-- +goose Up
CREATE TABLE firewalls (
    id             text        NOT NULL CONSTRAINT firewalls_pkey PRIMARY KEY,
    name           text        NOT NULL,
    name_key       text        NOT NULL CONSTRAINT firewalls_name_key_unique UNIQUE,
    description    text        NOT NULL DEFAULT '',
    labels         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    default_action text        NOT NULL CHECK (default_action IN ('allow', 'deny')),
    revision       bigint      NOT NULL DEFAULT 0,
    etag           text        NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE policies (
    id             text        NOT NULL CONSTRAINT policies_pkey PRIMARY KEY,
    firewall_id    text        NOT NULL REFERENCES firewalls (id) ON DELETE CASCADE,
    name           text        NOT NULL,
    name_key       text        NOT NULL,
    description    text        NOT NULL DEFAULT '',
    priority       integer     NOT NULL CHECK (priority BETWEEN 0 AND 65535),
    default_action text        NOT NULL CHECK (default_action IN ('allow', 'deny', 'next')),
    enabled        boolean     NOT NULL,
    etag           text        NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT policies_name_unique UNIQUE (firewall_id, name_key),
    CONSTRAINT policies_priority_unique UNIQUE (firewall_id, priority),
    -- Target of the rules foreign key, which ties a rule to its policy and
    -- its policy's firewall at once.
    CONSTRAINT policies_firewall_id_id_unique UNIQUE (firewall_id, id)
);

CREATE TABLE rules (
    id                text        NOT NULL CONSTRAINT rules_pkey PRIMARY KEY,
    firewall_id       text        NOT NULL,
    policy_id         text        NOT NULL,
    name              text        NOT NULL DEFAULT '',
    -- NULL for an unnamed rule, so that unnamed rules never clash.
    name_key          text,
    description       text        NOT NULL DEFAULT '',
    -- Positions are 1..n within a policy. Renumbering lifts rows far above n
    -- for a moment (hence bigint), which this check allows.
    position          bigint      NOT NULL CHECK (position >= 1),
    action            text        NOT NULL CHECK (action IN ('allow', 'deny', 'reject')),
    protocol          text        NOT NULL CHECK (protocol IN ('any', 'tcp', 'udp', 'icmp', 'icmpv6')),
    sources           jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(sources) = 'array'),
    destinations      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(destinations) = 'array'),
    source_ports      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(source_ports) = 'array'),
    destination_ports jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(destination_ports) = 'array'),
    enabled           boolean     NOT NULL,
    expires_at        timestamptz,
    etag              text        NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT rules_policy_fk FOREIGN KEY (firewall_id, policy_id)
        REFERENCES policies (firewall_id, id) ON DELETE CASCADE,
    CONSTRAINT rules_name_unique UNIQUE (policy_id, name_key),
    CONSTRAINT rules_position_unique UNIQUE (policy_id, position)
);

CREATE TABLE idempotency_records (
    key          text        NOT NULL CONSTRAINT idempotency_records_pkey PRIMARY KEY,
    request_hash text        NOT NULL,
    resource_id  text        NOT NULL,
    response     bytea       NOT NULL,
    created_at   timestamptz NOT NULL
);

-- Purging old records scans by age.
CREATE INDEX idempotency_records_created_at ON idempotency_records (created_at);

-- +goose Down
DROP TABLE idempotency_records;
DROP TABLE rules;
DROP TABLE policies;
DROP TABLE firewalls;
