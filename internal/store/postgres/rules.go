package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

const ruleColumns = `id, firewall_id, policy_id, name, description, position, action, protocol,
	sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at`

func scanRule(row scanner) (firewall.Rule, error) {
	var r firewall.Rule
	var src, dst, srcPorts, dstPorts []string
	err := row.Scan(&r.ID, &r.FirewallID, &r.PolicyID, &r.Name, &r.Description, &r.Position,
		&r.Action, &r.Protocol, &src, &dst, &srcPorts, &dstPorts, &r.Enabled, &r.ExpiresAt,
		&r.ETag, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return r, err
	}
	r.ExpiresAt = utcPtr(r.ExpiresAt)
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	return r, decodeRuleLists(&r, src, dst, srcPorts, dstPorts)
}

// decodeRuleLists parses the four list columns of a stored rule into r.
func decodeRuleLists(r *firewall.Rule, src, dst, srcPorts, dstPorts []string) error {
	var errs [4]error
	r.Sources, errs[0] = decodePrefixes(src)
	r.Destinations, errs[1] = decodePrefixes(dst)
	r.SourcePorts, errs[2] = decodePorts(srcPorts)
	r.DestinationPorts, errs[3] = decodePorts(dstPorts)
	if err := errors.Join(errs[:]...); err != nil {
		return errors.Join(errors.New("decode stored rule "+r.ID), err)
	}
	return nil
}

// GetRule reads one rule of a policy.
func (r reader) GetRule(ctx context.Context, firewallID, policyID, id string) (firewall.Rule, error) {
	row := r.q.QueryRow(ctx, `SELECT `+ruleColumns+` FROM rules
		WHERE id = $1 AND policy_id = $2 AND firewall_id = $3`, id, policyID, firewallID)
	rule, err := scanRule(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return rule, r.ruleNotFound(ctx, firewallID, policyID, id)
	}
	return rule, classify(err, "get rule %s", id)
}

// ruleNotFound names the first missing of the firewall, the policy and the rule.
func (r reader) ruleNotFound(ctx context.Context, firewallID, policyID, id string) error {
	if err := r.missing(ctx, firewallID, policyID); err != nil {
		return err
	}
	return firewall.NotFound("rule", id)
}

// ListRules reads one page of a policy's rules, by default in position order.
func (r reader) ListRules(ctx context.Context, firewallID, policyID string, q firewall.Query) (firewall.Page[firewall.Rule], error) {
	l := store.ListStatement{Resource: filter.Rules, Columns: ruleColumns, From: "rules",
		Where: func(b *filter.Builder) []string {
			return []string{"policy_id = " + b.Arg(policyID), "firewall_id = " + b.Arg(firewallID)}
		}}
	p, err := listPage(ctx, r.q, l, q, scanRule)
	if err != nil {
		return p, classify(err, "list rules of filtering policy %s", policyID)
	}
	if len(p.Items) == 0 {
		return p, r.missing(ctx, firewallID, policyID)
	}
	return p, nil
}

// CountRules counts the rules of a policy; a missing policy has none.
func (t *tx) CountRules(ctx context.Context, policyID string) (int, error) {
	var n int
	err := t.q.QueryRow(ctx, `SELECT COUNT(*) FROM rules WHERE policy_id = $1`, policyID).Scan(&n)
	return n, classify(err, "count rules of filtering policy %s", policyID)
}

// CreateRule inserts r at r.Position, or at the end if that is 0.
func (t *tx) CreateRule(ctx context.Context, r *firewall.Rule) error {
	if r.Position == 0 {
		return t.appendRule(ctx, r)
	}
	n, err := t.CountRules(ctx, r.PolicyID)
	if err != nil {
		return err
	}
	if err := store.CheckPosition(r.Position, n+1); err != nil {
		return err
	}
	// An insert goes in parked out of the way first, so that a missing
	// policy or a clashing name fails before any other rule has moved.
	at := int64(parked)
	if r.Position == n+1 {
		at = int64(r.Position)
	}
	if _, err := t.insertRule(ctx, r, "$18", at); err != nil {
		return err
	}
	if r.Position <= n {
		return t.renumber(ctx, r.PolicyID, r.Position, n, +1, r.ID, r.Position)
	}
	return nil
}

// appendRule inserts r after the policy's last rule, the common case,
// which saves the count's round trip. The caller holds the firewall's
// lock, so no other append can take the same position.
func (t *tx) appendRule(ctx context.Context, r *firewall.Rule) error {
	pos, err := t.insertRule(ctx, r, "(SELECT COALESCE(MAX(position), 0) + 1 FROM rules WHERE policy_id = $3)")
	if err != nil {
		return err
	}
	r.Position = pos
	return nil
}

// insertRule inserts r at position (an SQL expression, whose arguments
// follow ruleValues' as $18 ...) together with its rule_addresses and
// rule_ports rows, in one round trip, and returns the position it took.
func (t *tx) insertRule(ctx context.Context, r *firewall.Rule, position string, args ...any) (int, error) {
	b := &pgx.Batch{}
	var pos int
	b.Queue(`INSERT INTO rules (`+ruleInsertColumns+`, position)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, `+position+`)
		RETURNING position`, append(ruleValues(r), args...)...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&pos)
	})
	queueIndex(b, r)
	if err := t.q.SendBatch(ctx, b).Close(); err != nil {
		return 0, t.ruleWriteError(ctx, err, r, "create")
	}
	return pos, nil
}

// ruleInsertColumns are the columns a new rule sets, but for its position.
const ruleInsertColumns = `id, firewall_id, policy_id, name, name_key, description, action, protocol,
	sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at`

// ruleValues returns the values of ruleInsertColumns for r.
func ruleValues(r *firewall.Rule) []any {
	return []any{r.ID, r.FirewallID, r.PolicyID, r.Name, nullKey(r.Name), r.Description, r.Action, r.Protocol,
		encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.SourcePorts), encodeList(r.DestinationPorts),
		r.Enabled, r.ExpiresAt, r.ETag, r.CreatedAt, r.UpdatedAt}
}

// UpdateRule writes every field of r except its position.
func (t *tx) UpdateRule(ctx context.Context, r *firewall.Rule) error {
	tag, err := t.q.Exec(ctx, `UPDATE rules
		SET name = $1, name_key = $2, description = $3, action = $4, protocol = $5,
		    sources = $6, destinations = $7, source_ports = $8, destination_ports = $9,
		    enabled = $10, expires_at = $11, etag = $12, updated_at = $13
		WHERE id = $14 AND policy_id = $15 AND firewall_id = $16`,
		r.Name, nullKey(r.Name), r.Description, r.Action, r.Protocol,
		encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.SourcePorts), encodeList(r.DestinationPorts),
		r.Enabled, r.ExpiresAt, r.ETag, r.UpdatedAt,
		r.ID, r.PolicyID, r.FirewallID)
	if err != nil {
		return t.ruleWriteError(ctx, err, r, "update")
	}
	if tag.RowsAffected() == 0 {
		return t.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM rule_addresses WHERE rule_id = $1`, r.ID)
	b.Queue(`DELETE FROM rule_ports WHERE rule_id = $1`, r.ID)
	queueIndex(b, r)
	return classify(t.q.SendBatch(ctx, b).Close(), "index rule %s", r.ID)
}

// MoveRule moves r to position and writes its etag and updated_at.
func (t *tx) MoveRule(ctx context.Context, r *firewall.Rule, position int) error {
	var from, n int
	err := t.q.QueryRow(ctx, `SELECT position, (SELECT COUNT(*) FROM rules WHERE policy_id = r.policy_id)
		FROM rules r WHERE id = $1 AND policy_id = $2 AND firewall_id = $3`,
		r.ID, r.PolicyID, r.FirewallID).Scan(&from, &n)
	if errors.Is(err, pgx.ErrNoRows) {
		return t.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	}
	if err != nil {
		return classify(err, "move rule %s", r.ID)
	}
	if err := store.CheckPosition(position, n); err != nil {
		return err
	}
	switch {
	case position < from:
		err = t.renumber(ctx, r.PolicyID, position, from, +1, r.ID, position)
	case position > from:
		err = t.renumber(ctx, r.PolicyID, from, position, -1, r.ID, position)
	}
	if err != nil {
		return err
	}
	_, err = t.q.Exec(ctx, `UPDATE rules SET etag = $1, updated_at = $2 WHERE id = $3`,
		r.ETag, r.UpdatedAt, r.ID)
	if err != nil {
		return classify(err, "move rule %s", r.ID)
	}
	r.Position = position
	return nil
}

// DeleteRule deletes the rule and closes the gap it leaves.
func (t *tx) DeleteRule(ctx context.Context, firewallID, policyID, id string) error {
	var pos int
	err := t.q.QueryRow(ctx, `DELETE FROM rules WHERE id = $1 AND policy_id = $2 AND firewall_id = $3
		RETURNING position`, id, policyID, firewallID).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return t.ruleNotFound(ctx, firewallID, policyID, id)
	}
	if err != nil {
		return classify(err, "delete rule %s", id)
	}
	return t.renumber(ctx, policyID, pos+1, lift-1, -1, "", 0)
}

// lift is added to positions being renumbered, and parked is where a new
// rule waits; both lie far above any real position.
const (
	lift   = 1 << 40
	parked = 2 * lift
)

// renumber adds delta to the positions lo..hi of a policy's rules, and puts
// the rule moved (which must be lifted too, or parked) at to.
//
// PostgreSQL checks a non-deferrable UNIQUE (policy_id, position) row by row
// during an UPDATE, so "position = position + 1" collides with the next
// rule. Lifting the range far above every position first, then setting the
// final values, keeps each intermediate state unique while the CHECK
// (position >= 1) still holds. (A deferrable constraint would avoid the
// lift but makes every check slower.)
func (t *tx) renumber(ctx context.Context, policyID string, lo, hi, delta int, moved string, to int) error {
	_, err := t.q.Exec(ctx, `UPDATE rules SET position = position + $1
		WHERE policy_id = $2 AND position BETWEEN $3 AND $4`, int64(lift), policyID, lo, hi)
	if err != nil {
		return classify(err, "renumber rules of filtering policy %s", policyID)
	}
	_, err = t.q.Exec(ctx, `UPDATE rules
		SET position = CASE WHEN id = $1 THEN $2 ELSE position - $3 + $4 END
		WHERE policy_id = $5 AND position >= $3`, moved, int64(to), int64(lift), int64(delta), policyID)
	return classify(err, "renumber rules of filtering policy %s", policyID)
}

func (t *tx) ruleWriteError(ctx context.Context, err error, r *firewall.Rule, op string) error {
	switch {
	case isForeignKey(err):
		return t.explain().ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	case violates(err, "rules_name_unique"):
		existing := r.Name
		_ = t.pool.QueryRow(ctx, `SELECT name FROM rules WHERE policy_id = $1 AND name_key = $2`,
			r.PolicyID, nullKey(r.Name)).Scan(&existing)
		return firewall.ConflictOn("name", r.Name, "a rule named %q already exists in this filtering policy", existing)
	case violates(err, "rules_pkey"):
		return firewall.ConflictOn("id", r.ID, "a rule with id %q already exists", r.ID)
	case violates(err, "rules_position_unique"):
		// Only a caller that skipped LockFirewall can race another append.
		return firewall.Conflict("the filtering policy changed at the same time; retry")
	}
	return classify(err, "%s rule %s", op, r.ID)
}
