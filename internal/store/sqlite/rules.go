package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

const ruleColumns = `id, firewall_id, policy_id, name, description, position, action, protocol,
	sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at`

func scanRule(row scanner) (firewall.Rule, error) {
	var r firewall.Rule
	var src, dst, srcPorts, dstPorts string
	var expires sql.NullInt64
	var created, updated int64
	err := row.Scan(&r.ID, &r.FirewallID, &r.PolicyID, &r.Name, &r.Description, &r.Position,
		&r.Action, &r.Protocol, &src, &dst, &srcPorts, &dstPorts, &r.Enabled, &expires,
		&r.ETag, &created, &updated)
	if err != nil {
		return r, err
	}
	r.ExpiresAt = fromNullMicros(expires)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, decodeRuleLists(&r, src, dst, srcPorts, dstPorts)
}

// decodeRuleLists parses the four list columns of a stored rule into r.
func decodeRuleLists(r *firewall.Rule, src, dst, srcPorts, dstPorts string) error {
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
	row := r.q.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM rules
		WHERE id = ? AND policy_id = ? AND firewall_id = ?`, id, policyID, firewallID)
	rule, err := scanRule(row)
	if errors.Is(err, sql.ErrNoRows) {
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
	err := t.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM rules WHERE policy_id = ?`, policyID).Scan(&n)
	return n, classify(err, "count rules of filtering policy %s", policyID)
}

// CreateRule inserts r at r.Position, or at the end if that is 0.
func (t *tx) CreateRule(ctx context.Context, r *firewall.Rule) error {
	n, err := t.CountRules(ctx, r.PolicyID)
	if err != nil {
		return err
	}
	pos := r.Position
	if pos == 0 {
		pos = n + 1
	}
	if err := store.CheckPosition(pos, n+1); err != nil {
		return err
	}
	// The row goes in parked out of the way first, so that a missing policy
	// or a clashing name fails before any other rule has moved.
	_, err = t.q.ExecContext(ctx, `INSERT INTO rules
		(id, firewall_id, policy_id, name, name_key, description, position, action, protocol,
		 sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.FirewallID, r.PolicyID, r.Name, nullKey(r.Name), r.Description, parked, r.Action, r.Protocol,
		encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.SourcePorts), encodeList(r.DestinationPorts),
		r.Enabled, nullMicros(r.ExpiresAt), r.ETag, micros(r.CreatedAt), micros(r.UpdatedAt))
	if err != nil {
		return t.ruleWriteError(ctx, err, r, "create")
	}
	if err := t.indexRule(ctx, r, false); err != nil {
		return err
	}
	if err := t.renumber(ctx, r.PolicyID, pos, n, +1, r.ID, pos); err != nil {
		return err
	}
	r.Position = pos
	return nil
}

// indexRule writes the rule's rows in rule_addresses and rule_ports, which
// the list filters search, replacing any it had.
func (t *tx) indexRule(ctx context.Context, r *firewall.Rule, replace bool) error {
	if replace {
		for _, table := range []string{"rule_addresses", "rule_ports"} {
			if _, err := t.q.ExecContext(ctx, `DELETE FROM `+table+` WHERE rule_id = ?`, r.ID); err != nil {
				return classify(err, "index rule %s", r.ID)
			}
		}
	}
	for _, a := range filter.AddressRows(*r) {
		_, err := t.q.ExecContext(ctx, `INSERT INTO rule_addresses (rule_id, side, family, lo, hi) VALUES (?, ?, ?, ?, ?)`,
			r.ID, a.Side, a.Family, a.Lo, a.Hi)
		if err != nil {
			return classify(err, "index addresses of rule %s", r.ID)
		}
	}
	for _, p := range filter.PortRows(*r) {
		_, err := t.q.ExecContext(ctx, `INSERT INTO rule_ports (rule_id, side, lo, hi) VALUES (?, ?, ?, ?)`,
			r.ID, p.Side, p.Lo, p.Hi)
		if err != nil {
			return classify(err, "index ports of rule %s", r.ID)
		}
	}
	return nil
}

// UpdateRule writes every field of r except its position.
func (t *tx) UpdateRule(ctx context.Context, r *firewall.Rule) error {
	res, err := t.q.ExecContext(ctx, `UPDATE rules
		SET name = ?, name_key = ?, description = ?, action = ?, protocol = ?,
		    sources = ?, destinations = ?, source_ports = ?, destination_ports = ?,
		    enabled = ?, expires_at = ?, etag = ?, updated_at = ?
		WHERE id = ? AND policy_id = ? AND firewall_id = ?`,
		r.Name, nullKey(r.Name), r.Description, r.Action, r.Protocol,
		encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.SourcePorts), encodeList(r.DestinationPorts),
		r.Enabled, nullMicros(r.ExpiresAt), r.ETag, micros(r.UpdatedAt),
		r.ID, r.PolicyID, r.FirewallID)
	if err != nil {
		return t.ruleWriteError(ctx, err, r, "update")
	}
	if !affected(res) {
		return t.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	}
	return t.indexRule(ctx, r, true)
}

// MoveRule moves r to position and writes its etag and updated_at.
func (t *tx) MoveRule(ctx context.Context, r *firewall.Rule, position int) error {
	var from, n int
	err := t.q.QueryRowContext(ctx, `SELECT position, (SELECT COUNT(*) FROM rules WHERE policy_id = r.policy_id)
		FROM rules r WHERE id = ? AND policy_id = ? AND firewall_id = ?`,
		r.ID, r.PolicyID, r.FirewallID).Scan(&from, &n)
	if errors.Is(err, sql.ErrNoRows) {
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
	_, err = t.q.ExecContext(ctx, `UPDATE rules SET etag = ?, updated_at = ? WHERE id = ?`,
		r.ETag, micros(r.UpdatedAt), r.ID)
	if err != nil {
		return classify(err, "move rule %s", r.ID)
	}
	r.Position = position
	return nil
}

// DeleteRule deletes the rule and closes the gap it leaves.
func (t *tx) DeleteRule(ctx context.Context, firewallID, policyID, id string) error {
	var pos int
	err := t.q.QueryRowContext(ctx, `DELETE FROM rules WHERE id = ? AND policy_id = ? AND firewall_id = ?
		RETURNING position`, id, policyID, firewallID).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
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
// SQLite checks UNIQUE(policy_id, position) row by row during an UPDATE, so
// "position = position + 1" collides with the next rule. Lifting the range
// far above every position first, then setting the final values, keeps each
// intermediate state unique while the CHECK (position >= 1) still holds.
func (t *tx) renumber(ctx context.Context, policyID string, lo, hi, delta int, moved string, to int) error {
	_, err := t.q.ExecContext(ctx, `UPDATE rules SET position = position + ?
		WHERE policy_id = ? AND position BETWEEN ? AND ?`, lift, policyID, lo, hi)
	if err != nil {
		return classify(err, "renumber rules of filtering policy %s", policyID)
	}
	_, err = t.q.ExecContext(ctx, `UPDATE rules
		SET position = CASE WHEN id = ? THEN ? ELSE position - ? + ? END
		WHERE policy_id = ? AND position >= ?`, moved, to, lift, delta, policyID, lift)
	return classify(err, "renumber rules of filtering policy %s", policyID)
}

func (t *tx) ruleWriteError(ctx context.Context, err error, r *firewall.Rule, op string) error {
	switch {
	case isForeignKey(err):
		return t.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	case uniqueOn(err, "rules", "name_key"):
		existing := r.Name
		_ = t.q.QueryRowContext(ctx, `SELECT name FROM rules WHERE policy_id = ? AND name_key = ?`,
			r.PolicyID, nullKey(r.Name)).Scan(&existing)
		return firewall.ConflictOn("name", r.Name, "a rule named %q already exists in this filtering policy", existing)
	case uniqueOn(err, "rules", "id"):
		return firewall.ConflictOn("id", r.ID, "a rule with id %q already exists", r.ID)
	}
	return classify(err, "%s rule %s", op, r.ID)
}
