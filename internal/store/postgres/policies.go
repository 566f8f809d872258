package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

const policyColumns = `id, firewall_id, name, description, priority, default_action, enabled, etag, created_at, updated_at`

func scanPolicy(row scanner) (firewall.Policy, error) {
	var p firewall.Policy
	err := row.Scan(&p.ID, &p.FirewallID, &p.Name, &p.Description, &p.Priority,
		&p.DefaultAction, &p.Enabled, &p.ETag, &p.CreatedAt, &p.UpdatedAt)
	p.CreatedAt, p.UpdatedAt = utc(p.CreatedAt), utc(p.UpdatedAt)
	return p, err
}

// GetPolicy reads one policy of a firewall.
func (r reader) GetPolicy(ctx context.Context, firewallID, id string) (firewall.Policy, error) {
	row := r.q.QueryRow(ctx, `SELECT `+policyColumns+` FROM policies WHERE id = $1 AND firewall_id = $2`,
		id, firewallID)
	p, err := scanPolicy(row)
	if errors.Is(err, pgx.ErrNoRows) {
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
	_, err := t.q.Exec(ctx, `INSERT INTO policies
		(id, firewall_id, name, name_key, description, priority, default_action, enabled, etag, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		p.ID, p.FirewallID, p.Name, firewall.NameKey(p.Name), p.Description, p.Priority,
		p.DefaultAction, p.Enabled, p.ETag, p.CreatedAt, p.UpdatedAt)
	return t.policyWriteError(ctx, err, p, "create")
}

// UpdatePolicy writes p's name, description, priority, default action,
// enabled flag, etag and updated_at.
func (t *tx) UpdatePolicy(ctx context.Context, p *firewall.Policy) error {
	tag, err := t.q.Exec(ctx, `UPDATE policies
		SET name = $1, name_key = $2, description = $3, priority = $4, default_action = $5, enabled = $6, etag = $7, updated_at = $8
		WHERE id = $9 AND firewall_id = $10`,
		p.Name, firewall.NameKey(p.Name), p.Description, p.Priority, p.DefaultAction,
		p.Enabled, p.ETag, p.UpdatedAt, p.ID, p.FirewallID)
	if err != nil {
		return t.policyWriteError(ctx, err, p, "update")
	}
	if tag.RowsAffected() == 0 {
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
	case violates(err, "policies_name_unique"):
		existing := p.Name
		t.policyName(ctx, p.FirewallID, "name_key = $2", firewall.NameKey(p.Name), &existing)
		return firewall.ConflictOn("name", p.Name, "a filtering policy named %q already exists in this firewall", existing)
	case violates(err, "policies_priority_unique"):
		var existing string
		if t.policyName(ctx, p.FirewallID, "priority = $2", p.Priority, &existing) {
			return firewall.ConflictOn("priority", p.Priority, "priority %d is already used by filtering policy %q", p.Priority, existing)
		}
		return firewall.ConflictOn("priority", p.Priority, "priority %d is already used by another filtering policy", p.Priority)
	case violates(err, "policies_pkey"):
		return firewall.ConflictOn("id", p.ID, "a filtering policy with id %q already exists", p.ID)
	}
	return classify(err, "%s filtering policy %s", op, p.ID)
}

// policyName reads into name the name of the firewall's policy matching
// cond, and reports whether it found one. It only decorates a conflict
// message, so a failure just leaves name alone. It reads outside the failed
// transaction, which PostgreSQL no longer lets run statements.
func (t *tx) policyName(ctx context.Context, firewallID, cond string, arg any, name *string) bool {
	return t.pool.QueryRow(ctx, `SELECT name FROM policies WHERE firewall_id = $1 AND `+cond,
		firewallID, arg).Scan(name) == nil
}

// DeletePolicy deletes the policy and, with cascade, its rules.
func (t *tx) DeletePolicy(ctx context.Context, firewallID, id string, cascade bool) error {
	var name string
	var n int
	err := t.q.QueryRow(ctx, `SELECT name, (SELECT COUNT(*) FROM rules WHERE policy_id = p.id)
		FROM policies p WHERE id = $1 AND firewall_id = $2`, id, firewallID).Scan(&name, &n)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return t.policyNotFound(ctx, firewallID, id)
	case err != nil:
		return classify(err, "delete filtering policy %s", id)
	case n > 0 && !cascade:
		return firewall.Conflict("filtering policy %q still has %d %s; delete them first or pass ?cascade=true",
			name, n, plural(n, "rule", "rules"))
	}
	_, err = t.q.Exec(ctx, `DELETE FROM policies WHERE id = $1`, id)
	return classify(err, "delete filtering policy %s", id)
}
