-- Revision history as a versioned element store; the twin of SQLite's 00006. Each firewall, policy and
-- rule row is copied into its *_versions table when a revision changes it,
-- valid from that revision until the revision that changes or deletes it
-- next (valid_to; NULL while current). A write copies only the rows it
-- touched, so it costs the same at 10 rules as at 10,000; the tree as of
-- revision n is the rows with valid_from <= n AND (valid_to IS NULL OR
-- valid_to > n), one indexed range read per table. A rule version keeps
-- the rule's order_key, and positions are counted by key on read (see
-- internal/store/sqlstore/history.go).
--
-- firewall_revisions holds one row per revision: when, who, the request
-- and a one-line summary. No table here has a foreign key to the live
-- tables, whose rows are deleted while their history is kept.
--
-- The backfill gives every existing firewall its current tree as one
-- revision, valid from its current revision number.

-- +goose Up
CREATE TABLE firewall_revisions (
    firewall_id text NOT NULL,
    revision    bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    actor       text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    summary     text NOT NULL DEFAULT '',
    CONSTRAINT firewall_revisions_pkey PRIMARY KEY (firewall_id, revision)
);

CREATE TABLE firewall_versions (
    firewall_id    text NOT NULL,
    valid_from     bigint NOT NULL,
    valid_to       bigint,
    name           text NOT NULL,
    description    text NOT NULL,
    labels         jsonb NOT NULL,
    default_action text NOT NULL,
    etag           text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (firewall_id, valid_from)
);
CREATE INDEX firewall_versions_valid_to ON firewall_versions (firewall_id, valid_to, valid_from);

CREATE TABLE policy_versions (
    policy_id      text NOT NULL,
    valid_from     bigint NOT NULL,
    valid_to       bigint,
    firewall_id    text NOT NULL,
    name           text NOT NULL,
    description    text NOT NULL,
    priority       integer NOT NULL,
    default_action text NOT NULL,
    enabled        boolean NOT NULL,
    etag           text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (policy_id, valid_from)
);
CREATE INDEX policy_versions_valid_to ON policy_versions (firewall_id, valid_to, valid_from);

CREATE TABLE rule_versions (
    rule_id           text NOT NULL,
    valid_from        bigint NOT NULL,
    valid_to          bigint,
    firewall_id       text NOT NULL,
    policy_id         text NOT NULL,
    name              text NOT NULL,
    description       text NOT NULL,
    order_key         bigint NOT NULL,
    action            text NOT NULL,
    protocol          text NOT NULL,
    sources           jsonb NOT NULL,
    destinations      jsonb NOT NULL,
    source_ports      jsonb NOT NULL,
    destination_ports jsonb NOT NULL,
    enabled           boolean NOT NULL,
    expires_at        timestamptz,
    etag              text NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (rule_id, valid_from)
);
CREATE INDEX rule_versions_valid_to ON rule_versions (firewall_id, valid_to, valid_from);

INSERT INTO firewall_revisions (firewall_id, revision, created_at, actor, request_id, summary)
    SELECT id, revision, updated_at, '', '', 'history starts: the tree as it stood when revisions began to be kept'
    FROM firewalls;
INSERT INTO firewall_versions (firewall_id, valid_from, name, description, labels, default_action, etag, created_at, updated_at)
    SELECT id, revision, name, description, labels, default_action, etag, created_at, updated_at FROM firewalls;
INSERT INTO policy_versions (policy_id, valid_from, firewall_id, name, description, priority, default_action, enabled, etag, created_at, updated_at)
    SELECT p.id, f.revision, p.firewall_id, p.name, p.description, p.priority, p.default_action, p.enabled, p.etag, p.created_at, p.updated_at
    FROM policies p JOIN firewalls f ON f.id = p.firewall_id;
INSERT INTO rule_versions (rule_id, valid_from, firewall_id, policy_id, name, description, order_key, action, protocol,
        sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at)
    SELECT r.id, f.revision, r.firewall_id, r.policy_id, r.name, r.description, r.order_key, r.action, r.protocol,
        r.sources, r.destinations, r.source_ports, r.destination_ports, r.enabled, r.expires_at, r.etag, r.created_at, r.updated_at
    FROM rules r JOIN firewalls f ON f.id = r.firewall_id;

-- +goose Down
DROP TABLE rule_versions;
DROP TABLE policy_versions;
DROP TABLE firewall_versions;
DROP TABLE firewall_revisions;
