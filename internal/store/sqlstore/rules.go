package sqlstore

import (
	"context"
	"errors"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

const ruleColumns = `id, firewall_id, policy_id, name, description, position, action, protocol,
	sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at`

// The uniqueness constraints of the rules table.
var (
	rulePKey     = Constraint{Table: "rules", Column: "id", Name: "rules_pkey"}
	ruleName     = Constraint{Table: "rules", Column: "name_key", Name: "rules_name_unique"}
	rulePosition = Constraint{Table: "rules", Column: "position", Name: "rules_position_unique"}
)

func scanRule(row Row) (firewall.Rule, error) {
	var r firewall.Rule
	var src, dst, srcPorts, dstPorts string
	err := row.Scan(&r.ID, &r.FirewallID, &r.PolicyID, &r.Name, &r.Description, &r.Position,
		&r.Action, &r.Protocol, &src, &dst, &srcPorts, &dstPorts, &r.Enabled, nullTimeScan{&r.ExpiresAt},
		&r.ETag, timeScan{&r.CreatedAt}, timeScan{&r.UpdatedAt})
	if err != nil {
		return r, err
	}
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
func (r Reader) GetRule(ctx context.Context, firewallID, policyID, id string) (firewall.Rule, error) {
	row := r.q.queryRow(ctx, `SELECT `+ruleColumns+` FROM rules
		WHERE id = ? AND policy_id = ? AND firewall_id = ?`, id, policyID, firewallID)
	rule, err := scanRule(row)
	if errors.Is(err, ErrNoRows) {
		return rule, r.ruleNotFound(ctx, firewallID, policyID, id)
	}
	return rule, r.classify(err, "get rule %s", id)
}

// ruleNotFound names the first missing of the firewall, the policy and the rule.
func (r Reader) ruleNotFound(ctx context.Context, firewallID, policyID, id string) error {
	if err := r.missing(ctx, firewallID, policyID); err != nil {
		return err
	}
	return firewall.NotFound("rule", id)
}

// ListRules reads one page of a policy's rules, by default in position order.
func (r Reader) ListRules(ctx context.Context, firewallID, policyID string, q firewall.Query) (firewall.Page[firewall.Rule], error) {
	l := listStatement{resource: filter.Rules, columns: ruleColumns, from: "rules",
		where: func(b *filter.Builder) []string {
			return []string{"policy_id = " + b.Arg(policyID), "firewall_id = " + b.Arg(firewallID)}
		}}
	p, err := listPage(ctx, r.q, l, q, scanRule)
	if err != nil {
		return p, r.classify(err, "list rules of filtering policy %s", policyID)
	}
	if len(p.Items) == 0 {
		return p, r.missing(ctx, firewallID, policyID)
	}
	return p, nil
}

// CountRules counts the rules of a policy; a missing policy has none.
func (t *Tx) CountRules(ctx context.Context, policyID string) (int, error) {
	var n int
	err := t.q.queryRow(ctx, `SELECT COUNT(*) FROM rules WHERE policy_id = ?`, policyID).Scan(&n)
	return n, t.classify(err, "count rules of filtering policy %s", policyID)
}

// CreateRule inserts r at r.Position, or at the end if that is 0.
func (t *Tx) CreateRule(ctx context.Context, r *firewall.Rule) error {
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
	// A rule inserted before others goes in parked out of the way first,
	// so that a missing policy or a clashing name fails before any other
	// rule has moved.
	at := int64(pos)
	if pos <= n {
		at = parked
	}
	if err := t.q.run(ctx, t.insertStatements(r, at)); err != nil {
		return t.ruleWriteError(ctx, err, r, "create")
	}
	if pos <= n {
		if err := t.renumber(ctx, r.PolicyID, pos, n, +1, r.ID, pos); err != nil {
			return err
		}
	}
	r.Position = pos
	return nil
}

// LoadRules inserts rules into an empty policy in bulk, at the positions
// they hold, which must be 1..n: for benchmarks and imports, which would
// otherwise count and place the rules one by one.
func (t *Tx) LoadRules(ctx context.Context, rules []firewall.Rule) error {
	for i := range rules {
		if err := t.q.run(ctx, t.insertStatements(&rules[i], int64(rules[i].Position))); err != nil {
			return t.ruleWriteError(ctx, err, &rules[i], "load")
		}
	}
	return nil
}

// insertStatements returns the statements that insert r at position at,
// with its rule_addresses and rule_ports rows.
func (t *Tx) insertStatements(r *firewall.Rule, at int64) []Statement {
	return append([]Statement{{SQL: `INSERT INTO rules
		(id, firewall_id, policy_id, name, name_key, description, position, action, protocol,
		 sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, Args: []any{
		r.ID, r.FirewallID, r.PolicyID, r.Name, nullKey(r.Name), r.Description, at, r.Action, r.Protocol,
		encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.SourcePorts), encodeList(r.DestinationPorts),
		r.Enabled, t.q.d.nullTime(r.ExpiresAt), r.ETag, t.q.d.Time(r.CreatedAt), t.q.d.Time(r.UpdatedAt)}}},
		t.indexStatements(r)...)
}

// indexStatements returns the statements that write the rule's rows in
// rule_addresses and rule_ports, which the list filters search.
func (t *Tx) indexStatements(r *firewall.Rule) []Statement {
	if t.q.d.IndexRows != nil {
		return t.q.d.IndexRows(r)
	}
	var stmts []Statement
	for _, a := range filter.AddressRows(*r) {
		stmts = append(stmts, Statement{`INSERT INTO rule_addresses (rule_id, side, family, lo, hi) VALUES (?, ?, ?, ?, ?)`,
			[]any{r.ID, int64(a.Side), int64(a.Family), a.Lo, a.Hi}})
	}
	for _, p := range filter.PortRows(*r) {
		stmts = append(stmts, Statement{`INSERT INTO rule_ports (rule_id, side, lo, hi) VALUES (?, ?, ?, ?)`,
			[]any{r.ID, int64(p.Side), int64(p.Lo), int64(p.Hi)}})
	}
	return stmts
}

// UpdateRule writes every field of r except its position.
func (t *Tx) UpdateRule(ctx context.Context, r *firewall.Rule) error {
	n, err := t.q.exec(ctx, `UPDATE rules
		SET name = ?, name_key = ?, description = ?, action = ?, protocol = ?,
		    sources = ?, destinations = ?, source_ports = ?, destination_ports = ?,
		    enabled = ?, expires_at = ?, etag = ?, updated_at = ?
		WHERE id = ? AND policy_id = ? AND firewall_id = ?`,
		r.Name, nullKey(r.Name), r.Description, r.Action, r.Protocol,
		encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.SourcePorts), encodeList(r.DestinationPorts),
		r.Enabled, t.q.d.nullTime(r.ExpiresAt), r.ETag, t.q.d.Time(r.UpdatedAt),
		r.ID, r.PolicyID, r.FirewallID)
	if err != nil {
		return t.ruleWriteError(ctx, err, r, "update")
	}
	if n == 0 {
		return t.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	}
	stmts := append([]Statement{
		{`DELETE FROM rule_addresses WHERE rule_id = ?`, []any{r.ID}},
		{`DELETE FROM rule_ports WHERE rule_id = ?`, []any{r.ID}},
	}, t.indexStatements(r)...)
	return t.classify(t.q.run(ctx, stmts), "index rule %s", r.ID)
}

// MoveRule moves r to position and writes its etag and updated_at.
func (t *Tx) MoveRule(ctx context.Context, r *firewall.Rule, position int) error {
	var from, n int
	err := t.q.queryRow(ctx, `SELECT position, (SELECT COUNT(*) FROM rules WHERE policy_id = r.policy_id)
		FROM rules r WHERE id = ? AND policy_id = ? AND firewall_id = ?`,
		r.ID, r.PolicyID, r.FirewallID).Scan(&from, &n)
	if errors.Is(err, ErrNoRows) {
		return t.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	}
	if err != nil {
		return t.classify(err, "move rule %s", r.ID)
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
	_, err = t.q.exec(ctx, `UPDATE rules SET etag = ?, updated_at = ? WHERE id = ?`,
		r.ETag, t.q.d.Time(r.UpdatedAt), r.ID)
	if err != nil {
		return t.classify(err, "move rule %s", r.ID)
	}
	r.Position = position
	return nil
}

// DeleteRule deletes the rule and closes the gap it leaves.
func (t *Tx) DeleteRule(ctx context.Context, firewallID, policyID, id string) error {
	var pos int
	err := t.q.queryRow(ctx, `DELETE FROM rules WHERE id = ? AND policy_id = ? AND firewall_id = ?
		RETURNING position`, id, policyID, firewallID).Scan(&pos)
	if errors.Is(err, ErrNoRows) {
		return t.ruleNotFound(ctx, firewallID, policyID, id)
	}
	if err != nil {
		return t.classify(err, "delete rule %s", id)
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
// Both engines check UNIQUE (policy_id, position) row by row during an
// UPDATE, so "position = position + 1" collides with the next rule. Lifting
// the range far above every position first, then setting the final values,
// keeps each intermediate state unique while CHECK (position >= 1) holds.
func (t *Tx) renumber(ctx context.Context, policyID string, lo, hi, delta int, moved string, to int) error {
	_, err := t.q.exec(ctx, `UPDATE rules SET position = position + ?
		WHERE policy_id = ? AND position BETWEEN ? AND ?`, int64(lift), policyID, int64(lo), int64(hi))
	if err != nil {
		return t.classify(err, "renumber rules of filtering policy %s", policyID)
	}
	_, err = t.q.exec(ctx, `UPDATE rules
		SET position = CASE WHEN id = ? THEN ? ELSE position - ? + ? END
		WHERE policy_id = ? AND position >= ?`, moved, int64(to), int64(lift), int64(delta), policyID, int64(lift))
	return t.classify(err, "renumber rules of filtering policy %s", policyID)
}

func (t *Tx) ruleWriteError(ctx context.Context, err error, r *firewall.Rule, op string) error {
	switch {
	case t.q.d.ForeignKey(err):
		return t.explain.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	case t.q.d.Unique(err, ruleName):
		existing := r.Name
		_ = t.explain.q.queryRow(ctx, `SELECT name FROM rules WHERE policy_id = ? AND name_key = ?`,
			r.PolicyID, nullKey(r.Name)).Scan(&existing)
		return firewall.ConflictOn("name", r.Name, "a rule named %q already exists in this filtering policy", existing)
	case t.q.d.Unique(err, rulePKey):
		return firewall.ConflictOn("id", r.ID, "a rule with id %q already exists", r.ID)
	case t.q.d.Unique(err, rulePosition):
		// Only a caller that skipped LockFirewall can race another insert.
		return firewall.Conflict("the filtering policy changed at the same time; retry")
	}
	return t.classify(err, "%s rule %s", op, r.ID)
}
