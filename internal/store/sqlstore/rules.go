package sqlstore

import (
	"context"
	"errors"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ruleColumns are a rule's stored columns. A rule has no stored position:
// its order_key is a sparse sort key, and its position is derived on read
// (see order.go).
const ruleColumns = `id, firewall_id, policy_id, name, description, order_key, action, protocol,
	sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at`

// positionColumn derives the position of the row of rules being read, for
// reads of one rule: the rules of the buckets before its own (see
// order.go), plus those of its bucket up to it.
const positionColumn = `((SELECT CAST(COALESCE(SUM(b.n), 0) AS BIGINT) FROM rule_buckets b
		WHERE b.policy_id = rules.policy_id AND b.bucket < rules.order_key / ` + bucketSize + `)
	+ (SELECT COUNT(*) FROM rules k WHERE k.policy_id = rules.policy_id
		AND k.order_key >= rules.order_key / ` + bucketSize + ` * ` + bucketSize + ` AND k.order_key <= rules.order_key))`

// The uniqueness constraints of the rules table.
var (
	rulePKey     = Constraint{Table: "rules", Column: "id", Name: "rules_pkey"}
	ruleName     = Constraint{Table: "rules", Column: "name_key", Name: "rules_name_unique"}
	ruleOrderKey = Constraint{Table: "rules", Column: "order_key", Name: "rules_order_key_unique"}
)

// keyedRule is a rule as read, with its order key; its position is set
// once the keys around it are known.
type keyedRule struct {
	firewall.Rule
	key int64
}

// scanRule reads ruleColumns, then extra.
func scanRule(row Row, extra ...any) (keyedRule, error) {
	var r keyedRule
	var src, dst, srcPorts, dstPorts string
	err := row.Scan(append([]any{&r.ID, &r.FirewallID, &r.PolicyID, &r.Name, &r.Description, &r.key,
		&r.Action, &r.Protocol, &src, &dst, &srcPorts, &dstPorts, &r.Enabled, nullTimeScan{&r.ExpiresAt},
		&r.ETag, timeScan{&r.CreatedAt}, timeScan{&r.UpdatedAt}}, extra...)...)
	if err != nil {
		return r, err
	}
	return r, decodeRuleLists(&r.Rule, src, dst, srcPorts, dstPorts)
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
	row := r.q.queryRow(ctx, `SELECT `+ruleColumns+`, `+positionColumn+` FROM rules
		WHERE id = ? AND policy_id = ? AND firewall_id = ?`, id, policyID, firewallID)
	var pos int
	rule, err := scanRule(row, &pos)
	if errors.Is(err, ErrNoRows) {
		return rule.Rule, r.ruleNotFound(ctx, firewallID, policyID, id)
	}
	rule.Position = pos
	if err != nil {
		return rule.Rule, r.classify(err, "get rule %s", id)
	}
	return rule.Rule, r.fillRuleGroups(ctx, []*firewall.Rule{&rule.Rule}, "x.rule_id = ?", id)
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
			b.Scope(policyID)
			return []string{"policy_id = " + b.Arg(policyID), "firewall_id = " + b.Arg(firewallID)}
		}}
	kp, err := listPage(ctx, r.q, l, q, func(row Row) (keyedRule, error) { return scanRule(row) })
	if err != nil {
		return firewall.Page[firewall.Rule]{}, r.classify(err, "list rules of filtering policy %s", policyID)
	}
	if len(kp.Items) == 0 {
		return firewall.Page[firewall.Rule]{Items: []firewall.Rule{}}, r.missing(ctx, firewallID, policyID)
	}
	if err := r.setPositions(ctx, policyID, kp.Items); err != nil {
		return firewall.Page[firewall.Rule]{}, err
	}
	p := firewall.Page[firewall.Rule]{Items: make([]firewall.Rule, len(kp.Items)), NextPageToken: kp.NextPageToken}
	ptrs := make([]*firewall.Rule, len(kp.Items))
	for i, kr := range kp.Items {
		p.Items[i] = kr.Rule
		ptrs[i] = &p.Items[i]
	}
	return p, r.fillRuleGroupsByID(ctx, ptrs)
}

// CountRules returns the rule count the policy keeps; a missing policy
// has none.
func (t *Tx) CountRules(ctx context.Context, policyID string) (int, error) {
	var n int
	err := t.q.queryRow(ctx, `SELECT COALESCE((SELECT rule_count FROM policies WHERE id = ?), 0)`, policyID).Scan(&n)
	return n, t.classify(err, "count rules of filtering policy %s", policyID)
}

// countStatement adds delta to the policy's rule count.
func countStatement(policyID string, delta int) Statement {
	return Statement{`UPDATE policies SET rule_count = rule_count + ? WHERE id = ?`, []any{int64(delta), policyID}}
}

// CreateRule inserts r at r.Position, or at the end if that is 0. It
// writes one row (and the rule's index rows), unless the keys around the
// place are too close to leave room, when it renumbers the policy first.
func (t *Tx) CreateRule(ctx context.Context, r *firewall.Rule) error {
	key, pos, err := t.placeFor(ctx, r.PolicyID, "", r.Position, nil)
	if err != nil {
		return err
	}
	if err := t.q.run(ctx, append(t.insertStatements(r, key), countStatement(r.PolicyID, 1), bucketStatement(r.PolicyID, key, 1))); err != nil {
		return t.ruleWriteError(ctx, err, r, "create")
	}
	t.hist.createdRule(r.FirewallID, r.PolicyID, r.ID)
	r.Position = pos
	return nil
}

// LoadRules inserts rules into an empty policy in bulk, at the positions
// they hold, which must be 1..n: for benchmarks and imports, which would
// otherwise count and place the rules one by one.
// Where the Conn batches, loadBatch rules go in each round trip.
func (t *Tx) LoadRules(ctx context.Context, rules []firewall.Rule) error {
	const loadBatch = 500
	for start := 0; start < len(rules); start += loadBatch {
		var stmts []Statement
		added := map[string]int{}
		for i := start; i < min(start+loadBatch, len(rules)); i++ {
			stmts = append(stmts, t.insertStatements(&rules[i], keyOf(rules[i].Position))...)
			added[rules[i].PolicyID]++
		}
		for policyID, n := range added {
			stmts = append(stmts, countStatement(policyID, n))
		}
		if err := t.q.run(ctx, stmts); err != nil {
			return t.classify(err, "load rules %d to %d", start+1, min(start+loadBatch, len(rules)))
		}
	}
	loaded := map[string]bool{}
	for _, r := range rules {
		if !loaded[r.PolicyID] {
			loaded[r.PolicyID] = true
			t.hist.wholePolicy(r.FirewallID, r.PolicyID)
			if err := t.q.run(ctx, rebuildBuckets(r.PolicyID)); err != nil {
				return t.classify(err, "count rules of filtering policy %s", r.PolicyID)
			}
		}
	}
	return nil
}

// insertStatements returns the statements that insert r with order key at,
// with its rule_addresses and rule_ports rows.
func (t *Tx) insertStatements(r *firewall.Rule, at int64) []Statement {
	return append([]Statement{{SQL: `INSERT INTO rules
		(id, firewall_id, policy_id, name, name_key, description, order_key, action, protocol,
		 sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at, group_refs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, Args: []any{
		r.ID, r.FirewallID, r.PolicyID, r.Name, nullKey(r.Name), r.Description, at, r.Action, r.Protocol,
		encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.SourcePorts), encodeList(r.DestinationPorts),
		r.Enabled, t.q.d.nullTime(r.ExpiresAt), r.ETag, t.q.d.Time(r.CreatedAt), t.q.d.Time(r.UpdatedAt), t.groupRefs(r)}}},
		append(t.indexStatements(r), ruleGroupStatements(r)...)...)
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
		    enabled = ?, expires_at = ?, etag = ?, updated_at = ?, group_refs = ?
		WHERE id = ? AND policy_id = ? AND firewall_id = ?`,
		r.Name, nullKey(r.Name), r.Description, r.Action, r.Protocol,
		encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.SourcePorts), encodeList(r.DestinationPorts),
		r.Enabled, t.q.d.nullTime(r.ExpiresAt), r.ETag, t.q.d.Time(r.UpdatedAt), t.groupRefs(r),
		r.ID, r.PolicyID, r.FirewallID)
	if err != nil {
		return t.ruleWriteError(ctx, err, r, "update")
	}
	if n == 0 {
		return t.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	}
	t.hist.rule(r.FirewallID, r.PolicyID, r.ID)
	stmts := append([]Statement{
		{`DELETE FROM rule_addresses WHERE rule_id = ?`, []any{r.ID}},
		{`DELETE FROM rule_ports WHERE rule_id = ?`, []any{r.ID}},
		{`DELETE FROM rule_address_groups WHERE rule_id = ?`, []any{r.ID}},
		{`DELETE FROM rule_service_groups WHERE rule_id = ?`, []any{r.ID}},
	}, append(t.indexStatements(r), ruleGroupStatements(r)...)...)
	if err := t.q.run(ctx, stmts); err != nil {
		return t.ruleWriteError(ctx, err, r, "index")
	}
	return nil
}

// MoveRule moves r to position and writes its etag and updated_at: one
// row, unless the keys around the place leave no room (see CreateRule).
func (t *Tx) MoveRule(ctx context.Context, r *firewall.Rule, position int) error {
	var key int64
	err := t.q.queryRow(ctx, `SELECT order_key FROM rules WHERE id = ? AND policy_id = ? AND firewall_id = ?`,
		r.ID, r.PolicyID, r.FirewallID).Scan(&key)
	if errors.Is(err, ErrNoRows) {
		return t.ruleNotFound(ctx, r.FirewallID, r.PolicyID, r.ID)
	}
	if err != nil {
		return t.classify(err, "move rule %s", r.ID)
	}
	if position < 1 { // 0 would mean the end to placeFor
		n, err := t.CountRules(ctx, r.PolicyID)
		if err != nil {
			return err
		}
		return store.CheckPosition(position, n)
	}
	to, _, err := t.placeFor(ctx, r.PolicyID, r.ID, position, &key)
	if err != nil {
		return err
	}
	stmts := []Statement{{`UPDATE rules SET order_key = ?, etag = ?, updated_at = ? WHERE id = ?`,
		[]any{to, r.ETag, t.q.d.Time(r.UpdatedAt), r.ID}}}
	if bucketOf(to) != bucketOf(key) {
		stmts = append(stmts, bucketStatement(r.PolicyID, key, -1), bucketStatement(r.PolicyID, to, 1))
	}
	if err := t.q.run(ctx, stmts); err != nil {
		return t.classify(err, "move rule %s", r.ID)
	}
	t.hist.rule(r.FirewallID, r.PolicyID, r.ID)
	r.Position = position
	return nil
}

// DeleteRule deletes the rule. The positions after it close up by
// themselves, since they are counted, not stored.
func (t *Tx) DeleteRule(ctx context.Context, firewallID, policyID, id string) error {
	var key int64
	err := t.q.queryRow(ctx, `DELETE FROM rules WHERE id = ? AND policy_id = ? AND firewall_id = ?
		RETURNING order_key`, id, policyID, firewallID).Scan(&key)
	if errors.Is(err, ErrNoRows) {
		return t.ruleNotFound(ctx, firewallID, policyID, id)
	}
	if err != nil {
		return t.classify(err, "delete rule %s", id)
	}
	t.hist.rule(firewallID, policyID, id)
	return t.classify(t.q.run(ctx, []Statement{countStatement(policyID, -1), bucketStatement(policyID, key, -1)}),
		"delete rule %s", id)
}

func (t *Tx) ruleWriteError(ctx context.Context, err error, r *firewall.Rule, op string) error {
	switch {
	case t.q.d.ForeignKey(err):
		if err := t.explain.missing(ctx, r.FirewallID, r.PolicyID); err != nil {
			return err
		}
		// The service resolved every group; one was deleted since.
		return firewall.Conflict("a group the rule refers to was deleted at the same time; retry")
	case t.q.d.Unique(err, ruleName):
		existing := r.Name
		_ = t.explain.q.queryRow(ctx, `SELECT name FROM rules WHERE policy_id = ? AND name_key = ?`,
			r.PolicyID, nullKey(r.Name)).Scan(&existing)
		return firewall.ConflictOn("name", r.Name, "a rule named %q already exists in this filtering policy", existing)
	case t.q.d.Unique(err, rulePKey):
		return firewall.ConflictOn("id", r.ID, "a rule with id %q already exists", r.ID)
	case t.q.d.Unique(err, ruleOrderKey):
		// Only a caller that skipped LockFirewall can race another insert.
		return firewall.Conflict("the filtering policy changed at the same time; retry")
	}
	return t.classify(err, "%s rule %s", op, r.ID)
}
