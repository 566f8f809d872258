package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// GetRevision reads a firewall's revision.
func (r reader) GetRevision(ctx context.Context, firewallID string) (int64, error) {
	var rev int64
	err := r.q.QueryRowContext(ctx, `SELECT revision FROM firewalls WHERE id = ?`, firewallID).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, firewall.NotFound("firewall", firewallID)
	}
	return rev, classify(err, "get revision of firewall %s", firewallID)
}

// LoadTree reads a firewall's tree inside one read transaction: WAL gives
// it a snapshot, so no write can slip in between the three queries.
func (s *Store) LoadTree(ctx context.Context, firewallID string) (store.Tree, error) {
	sqlTx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return store.Tree{}, classify(err, "begin read transaction")
	}
	// A read transaction has nothing to commit.
	defer func() { _ = sqlTx.Rollback() }()
	r := reader{q: sqlTx}
	var t store.Tree
	if t.Firewall, err = r.GetFirewall(ctx, firewallID); err != nil {
		return store.Tree{}, err
	}
	if t.Policies, err = queryAll(ctx, r.q, scanPolicy, `SELECT `+policyColumns+` FROM policies
		WHERE firewall_id = ? ORDER BY priority, id`, firewallID); err != nil {
		return store.Tree{}, classify(err, "load policies of firewall %s", firewallID)
	}
	if t.Rules, err = queryAll(ctx, r.q, scanRule, `SELECT `+ruleColumns+` FROM rules
		WHERE policy_id IN (SELECT id FROM policies WHERE firewall_id = ?)
		ORDER BY policy_id, position`, firewallID); err != nil {
		return store.Tree{}, classify(err, "load rules of firewall %s", firewallID)
	}
	return t, nil
}

func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}
