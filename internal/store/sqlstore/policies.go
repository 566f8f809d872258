package sqlstore

import (
	"context"
	"errors"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
)

const policyColumns = `id, firewall_id, name, description, priority, default_action, enabled, etag, created_at, updated_at`

// The uniqueness constraints of the policies table.
var (
	policyPKey     = Constraint{Table: "policies", Column: "id", Name: "policies_pkey"}
	policyName     = Constraint{Table: "policies", Column: "name_key", Name: "policies_name_unique"}
	policyPriority = Constraint{Table: "policies", Column: "priority", Name: "policies_priority_unique"}
)

func scanPolicy(row Row) (firewall.Policy, error) {
	var p firewall.Policy
	err := row.Scan(&p.ID, &p.FirewallID, &p.Name, &p.Description, &p.Priority,
		&p.DefaultAction, &p.Enabled, &p.ETag, timeScan{&p.CreatedAt}, timeScan{&p.UpdatedAt})
	return p, err
}

// GetPolicy reads one policy of a firewall.
func (r Reader) GetPolicy(ctx context.Context, firewallID, id string) (firewall.Policy, error) {
	row := r.q.queryRow(ctx, `SELECT `+policyColumns+` FROM policies WHERE id = ? AND firewall_id = ?`,
		id, firewallID)
	p, err := scanPolicy(row)
	if errors.Is(err, ErrNoRows) {
		return p, r.policyNotFound(ctx, firewallID, id)
	}
	return p, r.classify(err, "get filtering policy %s", id)
}

// policyNotFound names the firewall if it is missing, else the policy.
func (r Reader) policyNotFound(ctx context.Context, firewallID, id string) error {
	if err := r.missing(ctx, firewallID, ""); err != nil {
		return err
	}
	return firewall.NotFound("filtering policy", id)
}

// ListPolicies reads one page of a firewall's policies, by default in priority order.
func (r Reader) ListPolicies(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.Policy], error) {
	l := listStatement{resource: filter.Policies, columns: policyColumns, from: "policies",
		where: func(b *filter.Builder) []string { return []string{"firewall_id = " + b.Arg(firewallID)} }}
	p, err := listPage(ctx, r.q, l, q, scanPolicy)
	if err != nil {
		return p, r.classify(err, "list filtering policies of firewall %s", firewallID)
	}
	// Items prove that the firewall exists; only an empty page needs a look.
	if len(p.Items) == 0 {
		return p, r.missing(ctx, firewallID, "")
	}
	return p, nil
}

// CreatePolicy inserts p.
func (t *Tx) CreatePolicy(ctx context.Context, p *firewall.Policy) error {
	_, err := t.q.exec(ctx, `INSERT INTO policies
		(id, firewall_id, name, name_key, description, priority, default_action, enabled, etag, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.FirewallID, p.Name, firewall.NameKey(p.Name), p.Description, p.Priority,
		p.DefaultAction, p.Enabled, p.ETag, t.q.d.Time(p.CreatedAt), t.q.d.Time(p.UpdatedAt))
	if err == nil {
		t.hist.policy(p.FirewallID, p.ID)
	}
	return t.policyWriteError(ctx, err, p, "create")
}

// UpdatePolicy writes p's name, description, priority, default action,
// enabled flag, etag and updated_at.
func (t *Tx) UpdatePolicy(ctx context.Context, p *firewall.Policy) error {
	n, err := t.q.exec(ctx, `UPDATE policies
		SET name = ?, name_key = ?, description = ?, priority = ?, default_action = ?, enabled = ?, etag = ?, updated_at = ?
		WHERE id = ? AND firewall_id = ?`,
		p.Name, firewall.NameKey(p.Name), p.Description, p.Priority, p.DefaultAction,
		p.Enabled, p.ETag, t.q.d.Time(p.UpdatedAt), p.ID, p.FirewallID)
	if err != nil {
		return t.policyWriteError(ctx, err, p, "update")
	}
	if n == 0 {
		return t.policyNotFound(ctx, p.FirewallID, p.ID)
	}
	t.hist.policy(p.FirewallID, p.ID)
	return nil
}

func (t *Tx) policyWriteError(ctx context.Context, err error, p *firewall.Policy, op string) error {
	switch {
	case err == nil:
		return nil
	case t.q.d.ForeignKey(err):
		return firewall.NotFound("firewall", p.FirewallID)
	case t.q.d.Unique(err, policyName):
		existing := p.Name
		t.policyName(ctx, p.FirewallID, "name_key = ?", firewall.NameKey(p.Name), &existing)
		return firewall.ConflictOn("name", p.Name, "a filtering policy named %q already exists in this firewall", existing)
	case t.q.d.Unique(err, policyPriority):
		var existing string
		if t.policyName(ctx, p.FirewallID, "priority = ?", p.Priority, &existing) {
			return firewall.ConflictOn("priority", p.Priority, "priority %d is already used by filtering policy %q", p.Priority, existing)
		}
		return firewall.ConflictOn("priority", p.Priority, "priority %d is already used by another filtering policy", p.Priority)
	case t.q.d.Unique(err, policyPKey):
		return firewall.ConflictOn("id", p.ID, "a filtering policy with id %q already exists", p.ID)
	}
	return t.classify(err, "%s filtering policy %s", op, p.ID)
}

// policyName reads into name the name of the firewall's policy matching
// cond, and reports whether it found one. It only decorates a conflict
// message, so a failure just leaves name alone.
func (t *Tx) policyName(ctx context.Context, firewallID, cond string, arg any, name *string) bool {
	return t.explain.q.queryRow(ctx, `SELECT name FROM policies WHERE firewall_id = ? AND `+cond,
		firewallID, arg).Scan(name) == nil
}

// DeletePolicy deletes the policy and, with cascade, its rules.
func (t *Tx) DeletePolicy(ctx context.Context, firewallID, id string, cascade bool) error {
	var name string
	var n int
	err := t.q.queryRow(ctx, `SELECT name, (SELECT COUNT(*) FROM rules WHERE policy_id = p.id)
		FROM policies p WHERE id = ? AND firewall_id = ?`, id, firewallID).Scan(&name, &n)
	switch {
	case errors.Is(err, ErrNoRows):
		return t.policyNotFound(ctx, firewallID, id)
	case err != nil:
		return t.classify(err, "delete filtering policy %s", id)
	case n > 0 && !cascade:
		return firewall.Conflict("filtering policy %q still has %d %s; delete them first or pass ?cascade=true",
			name, n, plural(n, "rule", "rules"))
	}
	if n > 0 {
		// The cascade deletes the rules: their versions close too.
		ids, err := queryAll(ctx, t.q, func(row Row) (string, error) {
			var id string
			return id, row.Scan(&id)
		}, `SELECT id FROM rules WHERE policy_id = ?`, id)
		if err != nil {
			return t.classify(err, "delete filtering policy %s", id)
		}
		for _, r := range ids {
			t.hist.rule(firewallID, id, r)
		}
	}
	if _, err = t.q.exec(ctx, `DELETE FROM policies WHERE id = ?`, id); err != nil {
		return t.classify(err, "delete filtering policy %s", id)
	}
	t.hist.policy(firewallID, id)
	return nil
}
