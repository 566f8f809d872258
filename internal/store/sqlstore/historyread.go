package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// TreeAt reads the firewall's tree as of revision in one read transaction.
func (s *Store) TreeAt(ctx context.Context, firewallID string, revision int64) (store.Tree, error) {
	var t store.Tree
	err := s.backend.InReadTx(ctx, func(c Conn) error {
		var err error
		t, err = NewReader(c, s.d).treeAt(ctx, firewallID, revision)
		return err
	})
	return t, err
}

// valid selects the versions valid at a revision: two index ranges of
// (firewall_id, valid_to, valid_from), the current versions and those
// closed after it, rather than an OR that the planners may turn into a
// scan of the firewall's whole history.
func valid(columns, table string) string {
	return `SELECT ` + columns + ` FROM ` + table + ` WHERE firewall_id = ? AND valid_to IS NULL AND valid_from <= ?
		UNION ALL SELECT ` + columns + ` FROM ` + table + ` WHERE firewall_id = ? AND valid_to > ? AND valid_from <= ?`
}

// treeAt reads the tree as of revision; the caller runs it in one snapshot.
func (r Reader) treeAt(ctx context.Context, firewallID string, revision int64) (store.Tree, error) {
	if err := r.checkKept(ctx, firewallID, revision); err != nil {
		return store.Tree{}, err
	}
	args := []any{firewallID, revision, firewallID, revision, revision}
	var t store.Tree
	fws, err := queryAll(ctx, r.q, scanFirewall, valid(`firewall_id, name, description, labels, default_action,
		valid_from, etag, created_at, updated_at`, "firewall_versions"), args...)
	if err != nil {
		return t, r.classify(err, "read firewall %s at revision %d", firewallID, revision)
	}
	if len(fws) != 1 {
		return t, fmt.Errorf("firewall %s has %d versions at revision %d", firewallID, len(fws), revision)
	}
	t.Firewall = fws[0]
	t.Firewall.Revision = revision
	if t.Policies, err = queryAll(ctx, r.q, scanPolicy, `SELECT * FROM (`+valid(`policy_id, firewall_id, name,
		description, priority, default_action, enabled, etag, created_at, updated_at`, "policy_versions")+`) AS v
		ORDER BY priority, policy_id`, args...); err != nil {
		return t, r.classify(err, "read policies of firewall %s at revision %d", firewallID, revision)
	}
	// The live rule count sizes the result: most revisions are near it.
	var hint int
	if err := r.q.queryRow(ctx, `SELECT COALESCE(SUM(rule_count), 0) FROM policies WHERE firewall_id = ?`,
		firewallID).Scan(&hint); err != nil {
		return t, r.classify(err, "count rules of firewall %s", firewallID)
	}
	rules := make([]keyedRule, 0, hint+hint/8)
	// Sorted here rather than by the database, whose sorter would copy
	// every column of every row once more.
	rows, err := r.q.query(ctx, valid(`rule_id, firewall_id, policy_id, name, description, order_key, action, protocol,
		sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at`,
		"rule_versions"), args...)
	if err != nil {
		return t, r.classify(err, "read rules of firewall %s at revision %d", firewallID, revision)
	}
	defer rows.Close()
	for rows.Next() {
		kr, err := scanRule(rows)
		if err != nil {
			return t, r.classify(err, "read rules of firewall %s at revision %d", firewallID, revision)
		}
		rules = append(rules, kr)
	}
	if err := rows.Err(); err != nil {
		return t, r.classify(err, "read rules of firewall %s at revision %d", firewallID, revision)
	}
	slices.SortFunc(rules, func(a, b keyedRule) int {
		return cmp.Or(strings.Compare(a.PolicyID, b.PolicyID), cmp.Compare(a.key, b.key))
	})
	t.Rules = numberGroups(rules)
	return t, nil
}

// checkKept answers whether revision of the firewall can be read: a
// firewall.CodeNotFound error for a missing firewall or a revision it has
// not reached, firewall.CodeGone for one pruned (or made before history
// was kept).
func (r Reader) checkKept(ctx context.Context, firewallID string, revision int64) error {
	var current, oldest int64
	err := r.q.queryRow(ctx, `SELECT revision,
		COALESCE((SELECT MIN(revision) FROM firewall_revisions WHERE firewall_id = f.id), 0)
		FROM firewalls f WHERE id = ?`, firewallID).Scan(&current, &oldest)
	switch {
	case errors.Is(err, ErrNoRows):
		return firewall.NotFound("firewall", firewallID)
	case err != nil:
		return r.classify(err, "read revision of firewall %s", firewallID)
	case revision < 1 || revision > current:
		return &firewall.Error{Code: firewall.CodeNotFound,
			Message:  fmt.Sprintf("firewall %q has no revision %d", firewallID, revision),
			Problems: []firewall.Problem{{Location: "revision", Value: revision, Message: fmt.Sprintf("revisions run from 1 to the current %d", current)}}}
	case revision < oldest || oldest == 0:
		return &firewall.Error{Code: firewall.CodeGone,
			Message:  fmt.Sprintf("revision %d of firewall %q is no longer kept", revision, firewallID),
			Problems: []firewall.Problem{{Location: "revision", Value: revision, Message: fmt.Sprintf("the oldest revision kept is %d", oldest)}}}
	}
	return nil
}
