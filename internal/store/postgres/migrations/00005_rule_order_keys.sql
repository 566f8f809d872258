-- Rules keep a sparse order key instead of a stored position, so that an
-- insert or a move writes one row instead of renumbering every rule after
-- it; the twin of SQLite's 00005. Positions 1..n are derived on read by
-- counting keys (see internal/store/sqlstore/order.go). Position p becomes
-- the key 2^62 + (p - 1) * 2^32, the keys a freshly numbered policy has,
-- leaving room for 32 halvings between any two rules.
--
-- Every new key lies above every old position, so no two rows ever share
-- one while the non-deferrable unique constraint is checked row by row.
--
-- Each policy counts its rules (rule_count), and rule_buckets counts them
-- per bucket of 2^38 keys (64 rules as freshly numbered), so that a
-- position is the sum of the counts of the buckets before it plus a count
-- within one bucket, rather than a walk over every rule before it.

-- +goose Up
ALTER TABLE policies ADD COLUMN rule_count bigint NOT NULL DEFAULT 0;
UPDATE policies SET rule_count = (SELECT COUNT(*) FROM rules WHERE policy_id = policies.id);
ALTER TABLE rules RENAME COLUMN position TO order_key;
ALTER TABLE rules RENAME CONSTRAINT rules_position_unique TO rules_order_key_unique;
UPDATE rules SET order_key = 4611686018427387904 + (order_key - 1) * 4294967296;
CREATE TABLE rule_buckets (
    policy_id text   NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    bucket    bigint NOT NULL,
    n         bigint NOT NULL,
    CONSTRAINT rule_buckets_pkey PRIMARY KEY (policy_id, bucket)
);
INSERT INTO rule_buckets (policy_id, bucket, n)
    SELECT policy_id, order_key / 274877906944, COUNT(*) FROM rules GROUP BY policy_id, order_key / 274877906944;

-- +goose Down
DROP TABLE rule_buckets;
ALTER TABLE policies DROP COLUMN rule_count;
UPDATE rules SET order_key = o.rn
    FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY policy_id ORDER BY order_key) AS rn FROM rules) AS o
    WHERE rules.id = o.id;
ALTER TABLE rules RENAME CONSTRAINT rules_order_key_unique TO rules_position_unique;
ALTER TABLE rules RENAME COLUMN order_key TO position;
