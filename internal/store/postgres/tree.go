package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// GetRevision reads a firewall's revision. Every replica reads it before
// using a compiled tree, so a change made through another replica shows at
// once.
func (r reader) GetRevision(ctx context.Context, firewallID string) (int64, error) {
	var rev int64
	err := r.q.QueryRow(ctx, `SELECT revision FROM firewalls WHERE id = $1`, firewallID).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, firewall.NotFound("firewall", firewallID)
	}
	return rev, classify(err, "get revision of firewall %s", firewallID)
}

// LoadTree reads a firewall's tree inside one REPEATABLE READ transaction,
// whose snapshot keeps a write from slipping in between the three queries.
func (s *Store) LoadTree(ctx context.Context, firewallID string) (store.Tree, error) {
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return store.Tree{}, classify(err, "begin read transaction")
	}
	// A read transaction has nothing to commit.
	defer func() { _ = pgTx.Rollback(context.WithoutCancel(ctx)) }()
	r := reader{q: pgTx}
	var t store.Tree
	if t.Firewall, err = r.GetFirewall(ctx, firewallID); err != nil {
		return store.Tree{}, err
	}
	if t.Policies, err = queryAll(ctx, r.q, scanPolicy, `SELECT `+policyColumns+` FROM policies
		WHERE firewall_id = $1 ORDER BY priority, id`, firewallID); err != nil {
		return store.Tree{}, classify(err, "load policies of firewall %s", firewallID)
	}
	if t.Rules, err = queryAll(ctx, r.q, scanRule, `SELECT `+ruleColumns+` FROM rules
		WHERE policy_id IN (SELECT id FROM policies WHERE firewall_id = $1)
		ORDER BY policy_id, position`, firewallID); err != nil {
		return store.Tree{}, classify(err, "load rules of firewall %s", firewallID)
	}
	return t, nil
}
