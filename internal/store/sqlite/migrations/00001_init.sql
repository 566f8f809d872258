-- Timestamps are unix microseconds, UTC. List columns and labels are JSON
-- text holding canonical strings. Every *_key column is firewall.NameKey of
-- the name next to it, so that uniqueness ignores case.
--
-- The unique indexes double as the keyset paging indexes: name_key for
-- firewalls, (firewall_id, priority) for policies and (policy_id, position)
-- for rules. Their leading columns also serve the foreign-key lookups of
-- cascading deletes, so no other index is needed.

-- +goose Up
CREATE TABLE firewalls (
    id             TEXT    NOT NULL PRIMARY KEY,
    name           TEXT    NOT NULL,
    name_key       TEXT    NOT NULL UNIQUE,
    description    TEXT    NOT NULL DEFAULT '',
    labels         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    default_action TEXT    NOT NULL CHECK (default_action IN ('allow', 'deny')),
    revision       INTEGER NOT NULL DEFAULT 0,
    etag           TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE policies (
    id             TEXT    NOT NULL PRIMARY KEY,
    firewall_id    TEXT    NOT NULL REFERENCES firewalls (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    name_key       TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    priority       INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 65535),
    default_action TEXT    NOT NULL CHECK (default_action IN ('allow', 'deny', 'next')),
    enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    etag           TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CONSTRAINT policies_name_unique UNIQUE (firewall_id, name_key),
    CONSTRAINT policies_priority_unique UNIQUE (firewall_id, priority),
    -- Target of the rules foreign key, which ties a rule to its policy and
    -- its policy's firewall at once.
    CONSTRAINT policies_firewall_id_id_unique UNIQUE (firewall_id, id)
);

CREATE TABLE rules (
    id                TEXT    NOT NULL PRIMARY KEY,
    firewall_id       TEXT    NOT NULL,
    policy_id         TEXT    NOT NULL,
    name              TEXT    NOT NULL DEFAULT '',
    -- NULL for an unnamed rule, so that unnamed rules never clash.
    name_key          TEXT,
    description       TEXT    NOT NULL DEFAULT '',
    -- Positions are 1..n within a policy. Renumbering lifts rows far above n
    -- for a moment, which this check allows.
    position          INTEGER NOT NULL CHECK (position >= 1),
    action            TEXT    NOT NULL CHECK (action IN ('allow', 'deny', 'reject')),
    protocol          TEXT    NOT NULL CHECK (protocol IN ('any', 'tcp', 'udp', 'icmp', 'icmpv6')),
    sources           TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(sources)),
    destinations      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(destinations)),
    source_ports      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(source_ports)),
    destination_ports TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(destination_ports)),
    enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    expires_at        INTEGER,
    etag              TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CONSTRAINT rules_policy_fk FOREIGN KEY (firewall_id, policy_id)
        REFERENCES policies (firewall_id, id) ON DELETE CASCADE,
    CONSTRAINT rules_name_unique UNIQUE (policy_id, name_key),
    CONSTRAINT rules_position_unique UNIQUE (policy_id, position)
);

CREATE TABLE idempotency_records (
    key          TEXT    NOT NULL PRIMARY KEY,
    request_hash TEXT    NOT NULL,
    resource_id  TEXT    NOT NULL,
    response     BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Purging old records scans by age.
CREATE INDEX idempotency_records_created_at ON idempotency_records (created_at);

-- +goose Down
DROP TABLE idempotency_records;
DROP TABLE rules;
DROP TABLE policies;
DROP TABLE firewalls;
