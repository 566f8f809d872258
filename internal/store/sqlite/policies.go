package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

const policyColumns = `id, firewall_id, name, description, priority, default_action, enabled, etag, created_at, updated_at`

func scanPolicy(row scanner) (firewall.Policy, error) {
	var p firewall.Policy
	var created, updated int64
	err := row.Scan(&p.ID, &p.FirewallID, &p.Name, &p.Description, &p.Priority,
		&p.DefaultAction, &p.Enabled, &p.ETag, &created, &updated)
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return p, err
}

// GetPolicy reads one policy of a firewall.
func (r reader) GetPolicy(ctx context.Context, firewallID, id string) (firewall.Policy, error) {
	row := r.q.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE id = ? AND firewall_id = ?`,
		id, firewallID)
	p, err := scanPolicy(row)
	if errors.Is(err, sql.ErrNoRows) {
		return p, r.policyNotFound(ctx, firewallID, id)
	}
	return p, classify(err, "get filtering policy %s", id)
}

// policyNotFound names the firewall if it is missing, else the policy.
func (r reader) policyNotFound(ctx context.Context, firewallID, id string) error {
	if err := r.missing(ctx, firewallID, ""); err != nil {
		return err
	}
	return firewall.NotFound("filtering policy", id)
}

// ListPolicies reads one page of a firewall's policies, by default in priority order.
func (r reader) ListPolicies(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.Policy], error) {
	l := store.ListStatement{Resource: filter.Policies, Columns: policyColumns, From: "policies",
		Where: func(b *filter.Builder) []string { return []string{"firewall_id = " + b.Arg(firewallID)} }}
	p, err := listPage(ctx, r.q, l, q, scanPolicy)
	if err != nil {
		return p, classify(err, "list filtering policies of firewall %s", firewallID)
	}
	// Items prove that the firewall exists; only an empty page needs a look.
	if len(p.Items) == 0 {
		return p, r.missing(ctx, firewallID, "")
	}
	return p, nil
}

// CreatePolicy inserts p.
func (t *tx) CreatePolicy(ctx context.Context, p *firewall.Policy) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO policies
		(id, firewall_id, name, name_key, description, priority, default_action, enabled, etag, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.FirewallID, p.Name, firewall.NameKey(p.Name), p.Description, p.Priority,
		p.DefaultAction, p.Enabled, p.ETag, micros(p.CreatedAt), micros(p.UpdatedAt))
	return t.policyWriteError(ctx, err, p, "create")
}

// UpdatePolicy writes p's name, description, priority, default action,
// enabled flag, etag and updated_at.
func (t *tx) UpdatePolicy(ctx context.Context, p *firewall.Policy) error {
	res, err := t.q.ExecContext(ctx, `UPDATE policies
		SET name = ?, name_key = ?, description = ?, priority = ?, default_action = ?, enabled = ?, etag = ?, updated_at = ?
		WHERE id = ? AND firewall_id = ?`,
		p.Name, firewall.NameKey(p.Name), p.Description, p.Priority, p.DefaultAction,
		p.Enabled, p.ETag, micros(p.UpdatedAt), p.ID, p.FirewallID)
	if err != nil {
		return t.policyWriteError(ctx, err, p, "update")
	}
	if !affected(res) {
		return t.policyNotFound(ctx, p.FirewallID, p.ID)
	}
	return nil
}

func (t *tx) policyWriteError(ctx context.Context, err error, p *firewall.Policy, op string) error {
	switch {
	case err == nil:
		return nil
	case isForeignKey(err):
		return firewall.NotFound("firewall", p.FirewallID)
	case uniqueOn(err, "policies", "name_key"):
		existing := p.Name
		t.policyName(ctx, p.FirewallID, "name_key = ?", firewall.NameKey(p.Name), &existing)
		return firewall.ConflictOn("name", p.Name, "a filtering policy named %q already exists in this firewall", existing)
	case uniqueOn(err, "policies", "priority"):
		var existing string
		if t.policyName(ctx, p.FirewallID, "priority = ?", p.Priority, &existing) {
			return firewall.ConflictOn("priority", p.Priority, "priority %d is already used by filtering policy %q", p.Priority, existing)
		}
		return firewall.ConflictOn("priority", p.Priority, "priority %d is already used by another filtering policy", p.Priority)
	case uniqueOn(err, "policies", "id"):
		return firewall.ConflictOn("id", p.ID, "a filtering policy with id %q already exists", p.ID)
	}
	return classify(err, "%s filtering policy %s", op, p.ID)
}

// policyName reads into name the name of the firewall's policy matching
// cond, and reports whether it found one. It only decorates a conflict
// message, so a failure just leaves name alone.
func (t *tx) policyName(ctx context.Context, firewallID, cond string, arg any, name *string) bool {
	return t.q.QueryRowContext(ctx, `SELECT name FROM policies WHERE firewall_id = ? AND `+cond,
		firewallID, arg).Scan(name) == nil
}

// DeletePolicy deletes the policy and, with cascade, its rules.
func (t *tx) DeletePolicy(ctx context.Context, firewallID, id string, cascade bool) error {
	var name string
	var n int
	err := t.q.QueryRowContext(ctx, `SELECT name, (SELECT COUNT(*) FROM rules WHERE policy_id = p.id)
		FROM policies p WHERE id = ? AND firewall_id = ?`, id, firewallID).Scan(&name, &n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return t.policyNotFound(ctx, firewallID, id)
	case err != nil:
		return classify(err, "delete filtering policy %s", id)
	case n > 0 && !cascade:
		return firewall.Conflict("filtering policy %q still has %d %s; delete them first or pass ?cascade=true",
			name, n, plural(n, "rule", "rules"))
	}
	_, err = t.q.ExecContext(ctx, `DELETE FROM policies WHERE id = ?`, id)
	return classify(err, "delete filtering policy %s", id)
}
