-- Child tables that index each rule's address and port lists, so that the
-- list filters (sources:"10.0.0.0/8", source_contains("10.1.2.3"),
-- destination_port_contains(443) ...) run in SQL. The store rewrites a
-- rule's rows on every create and update; deletes cascade.
--
-- side is 1 for sources and 2 for destinations. An address row holds the
-- first (lo) and last (hi) address of one CIDR as 16 bytes, IPv4 mapped
-- into IPv6, with its family; BLOBs compare bytewise, so a containment
-- test is lo <= x AND hi >= x. The primary keys lead with rule_id, which is
-- how the filters probe them: once per candidate rule.
--
-- Rules stored before this migration get their rows from the Go migration
-- 00004 (backfill.go), since SQL cannot turn CIDR text into bytes.

-- +goose Up
CREATE TABLE rule_addresses (
    rule_id TEXT    NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    side    INTEGER NOT NULL CHECK (side IN (1, 2)),
    family  INTEGER NOT NULL CHECK (family IN (4, 6)),
    lo      BLOB    NOT NULL CHECK (length(lo) = 16),
    hi      BLOB    NOT NULL CHECK (length(hi) = 16),
    PRIMARY KEY (rule_id, side, family, lo, hi)
) WITHOUT ROWID;

CREATE TABLE rule_ports (
    rule_id TEXT    NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    side    INTEGER NOT NULL CHECK (side IN (1, 2)),
    lo      INTEGER NOT NULL CHECK (lo BETWEEN 1 AND 65535),
    hi      INTEGER NOT NULL CHECK (hi BETWEEN lo AND 65535),
    PRIMARY KEY (rule_id, side, lo, hi)
) WITHOUT ROWID;

-- An exact entry (sources:"10.0.0.0/8", destination_ports:443) is looked up
-- from the value side, so that a rare entry costs an index seek rather
-- than a probe per rule.
CREATE INDEX rule_addresses_by_value ON rule_addresses (side, family, lo, hi);
CREATE INDEX rule_ports_by_value ON rule_ports (side, lo, hi);

-- order_by name, created_at and updated_at walk an index within the policy
-- instead of sorting it, so that the first page of a large policy stops
-- after 50 matches. The name expression is the one internal/filter orders by.
CREATE INDEX rules_by_name ON rules (policy_id, COALESCE(name_key, ''), id);
CREATE INDEX rules_by_created ON rules (policy_id, created_at, id);
CREATE INDEX rules_by_updated ON rules (policy_id, updated_at, id);

-- +goose Down
DROP INDEX rules_by_updated;
DROP INDEX rules_by_created;
DROP INDEX rules_by_name;
DROP INDEX rule_ports_by_value;
DROP INDEX rule_addresses_by_value;
DROP TABLE rule_ports;
DROP TABLE rule_addresses;
