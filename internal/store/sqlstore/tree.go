package sqlstore

import (
	"context"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// loadTree reads a firewall's tree; the caller runs it in one snapshot.
func (r Reader) loadTree(ctx context.Context, firewallID string) (store.Tree, error) {
	var t store.Tree
	var err error
	if t.Firewall, err = r.GetFirewall(ctx, firewallID); err != nil {
		return store.Tree{}, err
	}
	if t.Policies, err = queryAll(ctx, r.q, scanPolicy, `SELECT `+policyColumns+` FROM policies
		WHERE firewall_id = ? ORDER BY priority, id`, firewallID); err != nil {
		return store.Tree{}, r.classify(err, "load policies of firewall %s", firewallID)
	}
	hint, err := r.ruleCountHint(ctx, firewallID)
	if err != nil {
		return store.Tree{}, r.classify(err, "count rules of firewall %s", firewallID)
	}
	// The rules carry their group references by id (group_refs, written
	// with every rule); loadTreeGroups names them.
	var refs string
	how := treeRead{hint: hint, sorted: true, extra: []any{&refs},
		then: func(rule *firewall.Rule) error { return setGroupRefIDs(rule, refs) }}
	if t.Rules, err = r.readTreeRules(ctx, firewallID, how, `SELECT `+treeRuleColumns("id")+`, group_refs FROM rules
		WHERE policy_id IN (SELECT id FROM policies WHERE firewall_id = ?)
		ORDER BY policy_id, order_key`, firewallID); err != nil {
		return store.Tree{}, r.classify(err, "load rules of firewall %s", firewallID)
	}
	if t.Groups, err = r.loadTreeGroups(ctx, t.Rules); err != nil {
		return store.Tree{}, r.classify(err, "load groups of firewall %s", firewallID)
	}
	return t, nil
}
