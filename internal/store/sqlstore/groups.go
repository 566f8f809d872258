package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// groupTables names the tables of one kind of group (see migration 00008).
type groupTables struct {
	kind     store.GroupKind
	table    string // the groups
	nesting  string // group_id nests member_id
	refs     string // rules' references
	refSide  string // the side column of refs, or the side of all its rows
	resource *filter.Resource
	pkey     Constraint
	name     Constraint
}

var (
	addressTables = groupTables{kind: store.AddressGroupKind, table: "address_groups", nesting: "address_group_nesting",
		refs: "rule_address_groups", refSide: "x.side", resource: filter.AddressGroups,
		pkey: Constraint{Table: "address_groups", Column: "id", Name: "address_groups_pkey"},
		name: Constraint{Table: "address_groups", Column: "name_key", Name: "address_groups_name_key_unique"}}
	serviceTables = groupTables{kind: store.ServiceGroupKind, table: "service_groups", nesting: "service_group_nesting",
		refs: "rule_service_groups", refSide: "3", resource: filter.ServiceGroups,
		pkey: Constraint{Table: "service_groups", Column: "id", Name: "service_groups_pkey"},
		name: Constraint{Table: "service_groups", Column: "name_key", Name: "service_groups_name_key_unique"}}
)

func tablesOf(kind store.GroupKind) groupTables {
	if kind == store.ServiceGroupKind {
		return serviceTables
	}
	return addressTables
}

const groupColumns = `id, name, description, labels, members, etag, created_at, updated_at`

// groupHead is what both kinds of group store alike, with their members as text.
type groupHead struct {
	meta        firewall.Meta
	name, descr string
	labels      map[string]string
	members     string
}

func scanGroupHead(row Row) (groupHead, error) {
	var g groupHead
	var labels string
	err := row.Scan(&g.meta.ID, &g.name, &g.descr, &labels, &g.members, &g.meta.ETag,
		timeScan{&g.meta.CreatedAt}, timeScan{&g.meta.UpdatedAt})
	if err != nil {
		return g, err
	}
	g.labels, err = decodeLabels(labels)
	return g, err
}

func scanAddressGroup(row Row) (firewall.AddressGroup, error) {
	h, err := scanGroupHead(row)
	if err != nil {
		return firewall.AddressGroup{}, err
	}
	g := firewall.AddressGroup{Meta: h.meta, Name: h.name, Description: h.descr, Labels: h.labels, Groups: []firewall.GroupRef{}}
	if g.Addresses, err = decodePrefixes(h.members); err != nil {
		return g, fmt.Errorf("decode stored address group %s: %w", h.meta.ID, err)
	}
	return g, nil
}

// storedService is a service as the members column keeps it.
type storedService struct {
	Protocol firewall.Protocol `json:"protocol"`
	Ports    []string          `json:"ports"`
}

func encodeServices(list []firewall.Service) string {
	out := make([]storedService, len(list))
	for i, s := range list {
		out[i] = storedService{Protocol: s.Protocol, Ports: texts(s.Ports)}
	}
	b, _ := json.Marshal(out) // plain strings always marshal
	return string(b)
}

func decodeServices(text string) ([]firewall.Service, error) {
	if text == "[]" {
		return []firewall.Service{}, nil // as encoding/json gives it, without it
	}
	var stored []storedService
	if err := json.Unmarshal([]byte(text), &stored); err != nil {
		return nil, err
	}
	out := make([]firewall.Service, len(stored))
	for i, s := range stored {
		ports, err := store.ParseList(s.Ports, firewall.ParsePortRange)
		if err != nil {
			return nil, err
		}
		out[i] = firewall.Service{Protocol: s.Protocol, Ports: ports}
	}
	return out, nil
}

func texts[T fmt.Stringer](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = v.String()
	}
	return out
}

func scanServiceGroup(row Row) (firewall.ServiceGroup, error) {
	h, err := scanGroupHead(row)
	if err != nil {
		return firewall.ServiceGroup{}, err
	}
	g := firewall.ServiceGroup{Meta: h.meta, Name: h.name, Description: h.descr, Labels: h.labels, Groups: []firewall.GroupRef{}}
	if g.Services, err = decodeServices(h.members); err != nil {
		return g, fmt.Errorf("decode stored service group %s: %w", h.meta.ID, err)
	}
	return g, nil
}

// placeholders returns "?, ?, ..." for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// inChunk bounds the ids bound in one IN list, well below both engines'
// limits on parameters.
const inChunk = 500

// nestedRefs reads the groups that the groups ids nest, in order, by group.
func (r Reader) nestedRefs(ctx context.Context, t groupTables, ids []string) (map[string][]firewall.GroupRef, error) {
	out := map[string][]firewall.GroupRef{}
	for start := 0; start < len(ids); start += inChunk {
		chunk := ids[start:min(start+inChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.q.query(ctx, `SELECT n.group_id, n.member_id, g.name FROM `+t.nesting+` n
			JOIN `+t.table+` g ON g.id = n.member_id
			WHERE n.group_id IN (`+placeholders(len(chunk))+`) ORDER BY n.group_id, n.position`, args...)
		if err != nil {
			return nil, r.classify(err, "read nested %ss", t.kind)
		}
		for rows.Next() {
			var group string
			var ref firewall.GroupRef
			if err := rows.Scan(&group, &ref.ID, &ref.Name); err != nil {
				rows.Close()
				return nil, r.classify(err, "read nested %ss", t.kind)
			}
			out[group] = append(out[group], ref)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, r.classify(err, "read nested %ss", t.kind)
		}
	}
	return out, nil
}

// getGroup reads one group with suffix (such as FOR UPDATE) appended, and
// its nested groups.
func getGroup[G any](ctx context.Context, r Reader, t groupTables, id, suffix string, scan func(Row) (G, error), nest func(*G) *[]firewall.GroupRef) (G, error) {
	g, err := scan(r.q.queryRow(ctx, `SELECT `+groupColumns+` FROM `+t.table+` WHERE id = ?`+suffix, id))
	if errors.Is(err, ErrNoRows) {
		return g, firewall.NotFound(t.kind.String(), id)
	}
	if err != nil {
		return g, r.classify(err, "get %s %s", t.kind, id)
	}
	refs, err := r.nestedRefs(ctx, t, []string{id})
	if err != nil {
		return g, err
	}
	if len(refs[id]) > 0 {
		*nest(&g) = refs[id]
	}
	return g, nil
}

// listGroups reads one page of groups with their nested groups.
func listGroups[G any](ctx context.Context, r Reader, t groupTables, q firewall.Query, scan func(Row) (G, error), head func(*G) (string, *[]firewall.GroupRef)) (firewall.Page[G], error) {
	l := listStatement{resource: t.resource, columns: groupColumns, from: t.table}
	p, err := listPage(ctx, r.q, l, q, scan)
	if err != nil {
		return p, r.classify(err, "list %ss", t.kind)
	}
	ids := make([]string, len(p.Items))
	for i := range p.Items {
		ids[i], _ = head(&p.Items[i])
	}
	refs, err := r.nestedRefs(ctx, t, ids)
	if err != nil {
		return p, err
	}
	for i := range p.Items {
		id, nest := head(&p.Items[i])
		if len(refs[id]) > 0 {
			*nest = refs[id]
		}
	}
	return p, nil
}

func addressNest(g *firewall.AddressGroup) *[]firewall.GroupRef           { return &g.Groups }
func serviceNest(g *firewall.ServiceGroup) *[]firewall.GroupRef           { return &g.Groups }
func addressHead(g *firewall.AddressGroup) (string, *[]firewall.GroupRef) { return g.ID, &g.Groups }
func serviceHead(g *firewall.ServiceGroup) (string, *[]firewall.GroupRef) { return g.ID, &g.Groups }

// GetAddressGroup reads one address group.
func (r Reader) GetAddressGroup(ctx context.Context, id string) (firewall.AddressGroup, error) {
	return getGroup(ctx, r, addressTables, id, "", scanAddressGroup, addressNest)
}

// ListAddressGroups reads one page of address groups, by default in name order.
func (r Reader) ListAddressGroups(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AddressGroup], error) {
	return listGroups(ctx, r, addressTables, q, scanAddressGroup, addressHead)
}

// GetServiceGroup reads one service group.
func (r Reader) GetServiceGroup(ctx context.Context, id string) (firewall.ServiceGroup, error) {
	return getGroup(ctx, r, serviceTables, id, "", scanServiceGroup, serviceNest)
}

// ListServiceGroups reads one page of service groups, by default in name order.
func (r Reader) ListServiceGroups(ctx context.Context, q firewall.Query) (firewall.Page[firewall.ServiceGroup], error) {
	return listGroups(ctx, r, serviceTables, q, scanServiceGroup, serviceHead)
}

// FindGroup returns the group whose id is key, else whose name is.
func (r Reader) FindGroup(ctx context.Context, kind store.GroupKind, key string) (firewall.GroupRef, error) {
	t := tablesOf(kind)
	var ref firewall.GroupRef
	err := r.q.queryRow(ctx, `SELECT id, name FROM `+t.table+` WHERE id = ? OR name_key = ?
		ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`, key, firewall.NameKey(key), key).Scan(&ref.ID, &ref.Name)
	if errors.Is(err, ErrNoRows) {
		return ref, firewall.NotFound(kind.String(), key)
	}
	return ref, r.classify(err, "find %s %q", kind, key)
}

// GroupGraph reads every group of kind with its member count and nesting.
func (r Reader) GroupGraph(ctx context.Context, kind store.GroupKind) (map[string]store.GroupNode, error) {
	t := tablesOf(kind)
	type node struct {
		id string
		store.GroupNode
	}
	nodes, err := queryAll(ctx, r.q, func(row Row) (node, error) {
		var n node
		return n, row.Scan(&n.id, &n.Name, &n.Members)
	}, `SELECT id, name, member_count FROM `+t.table)
	if err != nil {
		return nil, r.classify(err, "read the %s graph", kind)
	}
	out := make(map[string]store.GroupNode, len(nodes))
	for _, n := range nodes {
		out[n.id] = n.GroupNode
	}
	edges, err := queryAll(ctx, r.q, func(row Row) ([2]string, error) {
		var e [2]string
		return e, row.Scan(&e[0], &e[1])
	}, `SELECT group_id, member_id FROM `+t.nesting+` ORDER BY group_id, position`)
	if err != nil {
		return nil, r.classify(err, "read the %s graph", kind)
	}
	for _, e := range edges {
		n := out[e[0]]
		n.Nested = append(n.Nested, e[1])
		out[e[0]] = n
	}
	return out, nil
}

// ancestors is a recursive CTE, to prefix a statement, of the group bound
// to its ? and every group that nests it, directly or through others.
func ancestors(t groupTables) string {
	return `WITH RECURSIVE anc(id) AS (SELECT CAST(? AS TEXT) UNION
		SELECT n.group_id FROM ` + t.nesting + ` n JOIN anc ON n.member_id = anc.id) `
}

// GroupUsage lists the groups and rules that use group id.
func (r Reader) GroupUsage(ctx context.Context, kind store.GroupKind, id string) (store.GroupUsage, error) {
	t := tablesOf(kind)
	var u store.GroupUsage
	var err error
	u.Groups, err = queryAll(ctx, r.q, func(row Row) (firewall.GroupRef, error) {
		var ref firewall.GroupRef
		return ref, row.Scan(&ref.ID, &ref.Name)
	}, ancestors(t)+`SELECT g.id, g.name FROM `+t.table+` g
		WHERE g.id IN (SELECT id FROM anc) AND g.id <> ? ORDER BY g.name_key, g.id`, id, id)
	if err != nil {
		return u, r.classify(err, "read the groups nesting %s %s", kind, id)
	}
	u.Rules, err = r.GroupRuleUses(ctx, kind, id, nil, 0)
	return u, err
}

// GroupRuleUses returns one page of the rules using group id, directly or
// through nesting, by keyset on (firewall, policy, rule, side, position).
func (r Reader) GroupRuleUses(ctx context.Context, kind store.GroupKind, id string, after *store.RuleUseKey, limit int) ([]store.RuleUse, error) {
	t := tablesOf(kind)
	args := []any{id}
	where := ""
	if after != nil {
		// Spelled out, not a row-value comparison: the side of service
		// references is a constant, not a column.
		where = ` AND (r.firewall_id > ? OR r.firewall_id = ? AND (r.policy_id > ? OR r.policy_id = ? AND (r.id > ? OR r.id = ? AND (` +
			t.refSide + ` > ? OR ` + t.refSide + ` = ? AND x.position > ?))))`
		args = append(args, after.FirewallID, after.FirewallID, after.PolicyID, after.PolicyID, after.RuleID, after.RuleID,
			int64(after.Side), int64(after.Side), int64(after.Position))
	}
	q := ancestors(t) + `SELECT r.firewall_id, f.name, r.policy_id, p.name, r.id, r.name, ` + t.refSide + `, x.position, g.id, g.name
		FROM ` + t.refs + ` x
		JOIN rules r ON r.id = x.rule_id
		JOIN policies p ON p.id = r.policy_id
		JOIN firewalls f ON f.id = r.firewall_id
		JOIN ` + t.table + ` g ON g.id = x.group_id
		WHERE x.group_id IN (SELECT id FROM anc)` + where + `
		ORDER BY r.firewall_id, r.policy_id, r.id, ` + t.refSide + `, x.position`
	if limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	uses, err := queryAll(ctx, r.q, func(row Row) (store.RuleUse, error) {
		var ru store.RuleUse
		var side, pos int64
		err := row.Scan(&ru.FirewallID, &ru.FirewallName, &ru.PolicyID, &ru.PolicyName, &ru.RuleID, &ru.RuleName,
			&side, &pos, &ru.Via.ID, &ru.Via.Name)
		ru.Side, ru.Position = int(side), int(pos)
		ru.Field = sideField(ru.Side)
		return ru, err
	}, q, args...)
	if err != nil {
		return nil, r.classify(err, "read the rules using %s %s", kind, id)
	}
	return uses, nil
}

func sideField(side int) string {
	switch side {
	case int(filter.Source):
		return "source_groups"
	case int(filter.Destination):
		return "destination_groups"
	}
	return "service_groups"
}

// LockAddressGroup reads the group and holds its lock until the transaction ends.
func (t *Tx) LockAddressGroup(ctx context.Context, id string) (firewall.AddressGroup, error) {
	return getGroup(ctx, t.Reader, addressTables, id, t.q.d.ForUpdate, scanAddressGroup, addressNest)
}

// LockServiceGroup reads the group and holds its lock until the transaction ends.
func (t *Tx) LockServiceGroup(ctx context.Context, id string) (firewall.ServiceGroup, error) {
	return getGroup(ctx, t.Reader, serviceTables, id, t.q.d.ForUpdate, scanServiceGroup, serviceNest)
}

// groupRow is a group's stored form, whatever its kind.
type groupRow struct {
	meta        firewall.Meta
	name, descr string
	labels      map[string]string
	members     string
	count       int
	nested      []firewall.GroupRef
	// ranges are an address group's own addresses, for the filters.
	ranges []filter.AddressRow
}

func addressRow(g *firewall.AddressGroup) groupRow {
	return groupRow{meta: g.Meta, name: g.Name, descr: g.Description, labels: g.Labels,
		members: encodeList(g.Addresses), count: len(g.Addresses), nested: g.Groups, ranges: filter.PrefixRows(g.Addresses)}
}

func serviceRow(g *firewall.ServiceGroup) groupRow {
	return groupRow{meta: g.Meta, name: g.Name, descr: g.Description, labels: g.Labels,
		members: encodeServices(g.Services), count: len(g.Services), nested: g.Groups}
}

// childStatements returns the statements that write g's nesting and
// address rows.
func childStatements(t groupTables, g groupRow) []Statement {
	var stmts []Statement
	for i, ref := range g.nested {
		stmts = append(stmts, Statement{`INSERT INTO ` + t.nesting + ` (group_id, position, member_id) VALUES (?, ?, ?)`,
			[]any{g.meta.ID, int64(i), ref.ID}})
	}
	seen := map[string]bool{}
	for _, a := range g.ranges {
		k := fmt.Sprint(a.Family, " ", string(a.Lo), " ", string(a.Hi))
		if seen[k] {
			continue
		}
		seen[k] = true
		stmts = append(stmts, Statement{`INSERT INTO address_group_ranges (group_id, family, lo, hi) VALUES (?, ?, ?, ?)`,
			[]any{g.meta.ID, int64(a.Family), a.Lo, a.Hi}})
	}
	return stmts
}

func (t *Tx) createGroup(ctx context.Context, gt groupTables, g groupRow) error {
	labels, err := encodeLabels(g.labels)
	if err != nil {
		return err
	}
	stmts := append([]Statement{{`INSERT INTO ` + gt.table + `
		(id, name, name_key, description, labels, members, member_count, etag, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, []any{g.meta.ID, g.name, firewall.NameKey(g.name), g.descr, labels,
		g.members, int64(g.count), g.meta.ETag, t.q.d.Time(g.meta.CreatedAt), t.q.d.Time(g.meta.UpdatedAt)}}},
		childStatements(gt, g)...)
	stmts = append(stmts, t.groupVersionStatements(gt, g, labels)...)
	return t.groupWriteError(ctx, t.q.run(ctx, stmts), gt, g, "create")
}

func (t *Tx) updateGroup(ctx context.Context, gt groupTables, g groupRow) error {
	labels, err := encodeLabels(g.labels)
	if err != nil {
		return err
	}
	n, err := t.q.exec(ctx, `UPDATE `+gt.table+`
		SET name = ?, name_key = ?, description = ?, labels = ?, members = ?, member_count = ?, etag = ?, updated_at = ?
		WHERE id = ?`, g.name, firewall.NameKey(g.name), g.descr, labels, g.members, int64(g.count),
		g.meta.ETag, t.q.d.Time(g.meta.UpdatedAt), g.meta.ID)
	if err != nil {
		return t.groupWriteError(ctx, err, gt, g, "update")
	}
	if n == 0 {
		return firewall.NotFound(gt.kind.String(), g.meta.ID)
	}
	stmts := append([]Statement{
		{`DELETE FROM ` + gt.nesting + ` WHERE group_id = ?`, []any{g.meta.ID}},
		{`DELETE FROM address_group_ranges WHERE group_id = ?`, []any{g.meta.ID}},
	}, childStatements(gt, g)...)
	stmts = append(stmts, t.groupVersionStatements(gt, g, labels)...)
	return t.groupWriteError(ctx, t.q.run(ctx, stmts), gt, g, "update")
}

func (t *Tx) groupWriteError(ctx context.Context, err error, gt groupTables, g groupRow, op string) error {
	switch {
	case err == nil:
		return nil
	case t.q.d.Unique(err, gt.name):
		existing := g.name
		_ = t.explain.q.queryRow(ctx, `SELECT name FROM `+gt.table+` WHERE name_key = ?`,
			firewall.NameKey(g.name)).Scan(&existing)
		return firewall.ConflictOn("name", g.name, "an %s named %q already exists", gt.kind, existing)
	case t.q.d.Unique(err, gt.pkey):
		return firewall.ConflictOn("id", g.meta.ID, "an %s with id %q already exists", gt.kind, g.meta.ID)
	case t.q.d.ForeignKey(err):
		// The service resolved every nested group; one was deleted since.
		return firewall.Conflict("a nested %s was deleted at the same time; retry", gt.kind)
	}
	return t.classify(err, "%s %s %s", op, gt.kind, g.meta.ID)
}

func (t *Tx) deleteGroup(ctx context.Context, gt groupTables, id string) error {
	var refs, nests int
	err := t.q.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM `+gt.refs+` WHERE group_id = ?),
		(SELECT COUNT(*) FROM `+gt.nesting+` WHERE member_id = ?)`, id, id).Scan(&refs, &nests)
	if err != nil {
		return t.classify(err, "delete %s %s", gt.kind, id)
	}
	if refs+nests > 0 {
		return firewall.Conflict("%s %q is used by %d %s and %d %s", gt.kind, id,
			refs, plural(refs, "rule reference", "rule references"), nests, plural(nests, "group", "groups"))
	}
	n, err := t.q.exec(ctx, `DELETE FROM `+gt.table+` WHERE id = ?`, id)
	if err != nil {
		return t.classify(err, "delete %s %s", gt.kind, id)
	}
	if n == 0 {
		return firewall.NotFound(gt.kind.String(), id)
	}
	return t.classify(t.q.run(ctx, forgetGroupStatements(gt, id)), "delete versions of %s %s", gt.kind, id)
}

// CreateAddressGroup inserts g with its nesting; references are by id.
func (t *Tx) CreateAddressGroup(ctx context.Context, g *firewall.AddressGroup) error {
	return t.createGroup(ctx, addressTables, addressRow(g))
}

// UpdateAddressGroup writes every field of g and replaces its nesting.
func (t *Tx) UpdateAddressGroup(ctx context.Context, g *firewall.AddressGroup) error {
	return t.updateGroup(ctx, addressTables, addressRow(g))
}

// DeleteAddressGroup deletes the group unless something refers to it.
func (t *Tx) DeleteAddressGroup(ctx context.Context, id string) error {
	return t.deleteGroup(ctx, addressTables, id)
}

// CreateServiceGroup inserts g with its nesting; references are by id.
func (t *Tx) CreateServiceGroup(ctx context.Context, g *firewall.ServiceGroup) error {
	return t.createGroup(ctx, serviceTables, serviceRow(g))
}

// UpdateServiceGroup writes every field of g and replaces its nesting.
func (t *Tx) UpdateServiceGroup(ctx context.Context, g *firewall.ServiceGroup) error {
	return t.updateGroup(ctx, serviceTables, serviceRow(g))
}

// DeleteServiceGroup deletes the group unless something refers to it.
func (t *Tx) DeleteServiceGroup(ctx context.Context, id string) error {
	return t.deleteGroup(ctx, serviceTables, id)
}

// ruleGroupStatements returns the statements that write r's group
// references, by id.
func ruleGroupStatements(r *firewall.Rule) []Statement {
	var stmts []Statement
	for _, side := range []struct {
		side int64
		refs []firewall.GroupRef
	}{{int64(filter.Source), r.SourceGroups}, {int64(filter.Destination), r.DestinationGroups}} {
		for i, ref := range side.refs {
			stmts = append(stmts, Statement{`INSERT INTO rule_address_groups (rule_id, side, position, group_id) VALUES (?, ?, ?, ?)`,
				[]any{r.ID, side.side, int64(i), ref.ID}})
		}
	}
	for i, ref := range r.ServiceGroups {
		stmts = append(stmts, Statement{`INSERT INTO rule_service_groups (rule_id, position, group_id) VALUES (?, ?, ?)`,
			[]any{r.ID, int64(i), ref.ID}})
	}
	return stmts
}

// ruleGroupsQuery reads the group references of the rules that where
// selects (over x.rule_id), with the args where binds.
func ruleGroupsQuery(where string) string {
	return `SELECT x.rule_id, x.side, x.group_id, g.name, x.position FROM rule_address_groups x
		JOIN address_groups g ON g.id = x.group_id WHERE ` + where + `
		UNION ALL
		SELECT x.rule_id, 3, x.group_id, g.name, x.position FROM rule_service_groups x
		JOIN service_groups g ON g.id = x.group_id WHERE ` + where + `
		ORDER BY 1, 2, 5`
}

// fillRuleGroups sets the group references of rules from the rows of
// ruleGroupsQuery(where); args are bound once for each half.
func (r Reader) fillRuleGroups(ctx context.Context, rules []*firewall.Rule, where string, args ...any) error {
	if len(rules) == 0 {
		return nil
	}
	var byID map[string]*firewall.Rule // built at the first row: most trees have no references
	rows, err := r.q.query(ctx, ruleGroupsQuery(where), append(append([]any{}, args...), args...)...)
	if err != nil {
		return r.classify(err, "read group references of rules")
	}
	defer rows.Close()
	for rows.Next() {
		var ruleID string
		var side, pos int
		var ref firewall.GroupRef
		if err := rows.Scan(&ruleID, &side, &ref.ID, &ref.Name, &pos); err != nil {
			return r.classify(err, "read group references of rules")
		}
		if byID == nil {
			byID = make(map[string]*firewall.Rule, len(rules))
			for _, rule := range rules {
				byID[rule.ID] = rule
			}
		}
		rule := byID[ruleID]
		if rule == nil {
			continue
		}
		switch side {
		case int(filter.Source):
			rule.SourceGroups = append(rule.SourceGroups, ref)
		case int(filter.Destination):
			rule.DestinationGroups = append(rule.DestinationGroups, ref)
		default:
			rule.ServiceGroups = append(rule.ServiceGroups, ref)
		}
	}
	return r.classify(rows.Err(), "read group references of rules")
}

// fillRuleGroupsByID sets the group references of rules, looked up by id.
func (r Reader) fillRuleGroupsByID(ctx context.Context, rules []*firewall.Rule) error {
	for start := 0; start < len(rules); start += inChunk {
		chunk := rules[start:min(start+inChunk, len(rules))]
		args := make([]any, len(chunk))
		for i, rule := range chunk {
			args[i] = rule.ID
		}
		if err := r.fillRuleGroups(ctx, chunk, "x.rule_id IN ("+placeholders(len(chunk))+")", args...); err != nil {
			return err
		}
	}
	return nil
}

// treeRulesWhere selects, over x.rule_id, the rules of the firewall bound to its ?.
const treeRulesWhere = `x.rule_id IN (SELECT id FROM rules WHERE policy_id IN (SELECT id FROM policies WHERE firewall_id = ?))`

// loadTreeGroups reads the groups the rules use, nesting included, and
// names the rules' references, which the rules carry by id (from
// group_refs). Starting from the ids rather than from the link tables
// saves probing those once per rule of the firewall.
func (r Reader) loadTreeGroups(ctx context.Context, rules []firewall.Rule) (firewall.Groups, error) {
	var addrIDs, svcIDs []string
	seen := map[groupKey]bool{}
	add := func(ids *[]string, kind store.GroupKind, refs []firewall.GroupRef) {
		for _, ref := range refs {
			if k := (groupKey{int64(kind), ref.ID}); !seen[k] {
				seen[k] = true
				*ids = append(*ids, ref.ID)
			}
		}
	}
	for i := range rules {
		add(&addrIDs, store.AddressGroupKind, rules[i].SourceGroups)
		add(&addrIDs, store.AddressGroupKind, rules[i].DestinationGroups)
		add(&svcIDs, store.ServiceGroupKind, rules[i].ServiceGroups)
	}
	var g firewall.Groups
	addr, err := groupClosure(ctx, r, addressTables, addrIDs, scanAddressGroup, addressHead)
	if err != nil {
		return g, err
	}
	svc, err := groupClosure(ctx, r, serviceTables, svcIDs, scanServiceGroup, serviceHead)
	if err != nil {
		return g, err
	}
	if len(addr) > 0 {
		g.Address = make(map[string]firewall.AddressGroup, len(addr))
		for _, a := range addr {
			g.Address[a.ID] = a
		}
	}
	if len(svc) > 0 {
		g.Service = make(map[string]firewall.ServiceGroup, len(svc))
		for _, s := range svc {
			g.Service[s.ID] = s
		}
	}
	return g, nameRuleRefs(g, rules)
}

// nameRuleRefs names the group references of rules from g, which holds
// every group they use.
func nameRuleRefs(g firewall.Groups, rules []firewall.Rule) error {
	name := func(rule *firewall.Rule, kind store.GroupKind, refs []firewall.GroupRef) error {
		for i := range refs {
			var ok bool
			if kind == store.ServiceGroupKind {
				var sg firewall.ServiceGroup
				sg, ok = g.Service[refs[i].ID]
				refs[i].Name = sg.Name
			} else {
				var ag firewall.AddressGroup
				ag, ok = g.Address[refs[i].ID]
				refs[i].Name = ag.Name
			}
			if !ok {
				return fmt.Errorf("rule %s refers to %s %s, which does not exist", rule.ID, kind, refs[i].ID)
			}
		}
		return nil
	}
	for i := range rules {
		rule := &rules[i]
		for _, err := range []error{name(rule, store.AddressGroupKind, rule.SourceGroups),
			name(rule, store.AddressGroupKind, rule.DestinationGroups), name(rule, store.ServiceGroupKind, rule.ServiceGroups)} {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// groupClosure reads the groups ids (distinct) of t's kind and those they
// nest, at any depth, a level at a time, with their nesting named.
func groupClosure[G any](ctx context.Context, r Reader, t groupTables, ids []string, scan func(Row) (G, error), head func(*G) (string, *[]firewall.GroupRef)) ([]G, error) {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
	}
	var out []G
	for len(ids) > 0 {
		from := len(out)
		for start := 0; start < len(ids); start += inChunk {
			chunk := ids[start:min(start+inChunk, len(ids))]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			got, err := queryAll(ctx, r.q, scan, `SELECT `+groupColumns+` FROM `+t.table+`
				WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
			if err != nil {
				return nil, r.classify(err, "read %ss", t.kind)
			}
			out = append(out, got...)
		}
		nested, err := r.nestedRefs(ctx, t, ids)
		if err != nil {
			return nil, err
		}
		var next []string
		for i := from; i < len(out); i++ {
			id, nest := head(&out[i])
			refs := nested[id]
			if len(refs) == 0 {
				continue
			}
			*nest = refs
			for _, ref := range refs {
				if !seen[ref.ID] {
					seen[ref.ID] = true
					next = append(next, ref.ID)
				}
			}
		}
		ids = next
	}
	return out, nil
}
