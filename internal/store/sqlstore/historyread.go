package sqlstore

import (
	"context"
	"errors"
	"fmt"

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
	hint, err := r.ruleCountHint(ctx, firewallID)
	if err != nil {
		return t, r.classify(err, "count rules of firewall %s", firewallID)
	}
	// Most revisions are near the live rule count. The rules are sorted
	// here rather than by the database, whose sorter would copy every
	// column of every row once more.
	var refs string
	how := treeRead{hint: hint + hint/8, extra: []any{&refs},
		then: func(rule *firewall.Rule) error { return setGroupRefIDs(rule, refs) }}
	if t.Rules, err = r.readTreeRules(ctx, firewallID, how,
		valid(treeRuleColumns("rule_id")+", group_refs", "rule_versions"), args...); err != nil {
		return t, r.classify(err, "read rules of firewall %s at revision %d", firewallID, revision)
	}
	t.Groups, err = r.groupsAt(ctx, firewallID, revision, t.Rules)
	return t, err
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
