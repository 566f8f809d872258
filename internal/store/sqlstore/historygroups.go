package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// Revisions carry groups (migration 00009). A rule version keeps the ids of
// the rule's groups (group_refs), copied from the live row like its other
// columns. Groups are global and change on their own, so their contents are
// versioned apart: every write of a group appends a row to group_versions,
// and firewall_group_versions says which version of each group, nesting
// included, a firewall's tree used over which revisions, valid_from to
// valid_to as the element versions are. A firewall's rows change only in a
// transaction that makes one of its revisions and could have changed the
// groups it uses: one that wrote a group (whose update raises the revision
// of every firewall using it), wrote a rule with group references, or
// changed a rule that had some. The flush then compares the groups the
// live tree uses, with their current versions, against the open rows, and
// closes and opens only what differs. Reading revision n is then one
// indexed range read of the firewall's rows valid at n, joined to the
// versions by key: its cost follows the groups used at n, not the history.

// groupHistory is what one write transaction did to groups.
type groupHistory struct {
	// written are the groups written: every firewall whose revision the
	// transaction makes moves to their new versions.
	written map[groupKey]bool
	// refs are the rules written with group references: rule id →
	// firewall id.
	refs map[string]string
}

// storedGroupRefs is a rule's group references as group_refs keeps them.
type storedGroupRefs struct {
	Source      []string `json:"source,omitempty"`
	Destination []string `json:"destination,omitempty"`
	Service     []string `json:"service,omitempty"`
}

func refIDs(refs []firewall.GroupRef) []string {
	if len(refs) == 0 {
		return nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.ID
	}
	return out
}

func refsOf(ids []string) []firewall.GroupRef {
	if len(ids) == 0 {
		return nil
	}
	out := make([]firewall.GroupRef, len(ids))
	for i, id := range ids {
		out[i] = firewall.GroupRef{ID: id}
	}
	return out
}

// groupRefs returns the group_refs column of r (” when it uses no group)
// and notes a rule with references for the flush.
func (t *Tx) groupRefs(r *firewall.Rule) string {
	if len(r.SourceGroups)+len(r.DestinationGroups)+len(r.ServiceGroups) == 0 {
		return ""
	}
	if t.hist.groups.refs == nil {
		t.hist.groups.refs = map[string]string{}
	}
	t.hist.groups.refs[r.ID] = r.FirewallID
	b, _ := json.Marshal(storedGroupRefs{refIDs(r.SourceGroups), refIDs(r.DestinationGroups), refIDs(r.ServiceGroups)})
	return string(b)
}

// setGroupRefIDs sets r's group references from a group_refs column, by
// id only: groupsAt names them as they were named at the revision.
func setGroupRefIDs(r *firewall.Rule, text string) error {
	if text == "" {
		return nil
	}
	s, ok := splitGroupRefs(text)
	if !ok {
		s = storedGroupRefs{}
		if err := json.Unmarshal([]byte(text), &s); err != nil {
			return fmt.Errorf("decode group references of stored rule %s: %w", r.ID, err)
		}
	}
	r.SourceGroups, r.DestinationGroups, r.ServiceGroups = refsOf(s.Source), refsOf(s.Destination), refsOf(s.Service)
	return nil
}

// splitGroupRefs reads a group_refs column without encoding/json, as
// splitList reads a list: reading a tree decodes one per rule. It reports
// false for anything but an object of the three keys, each at most once,
// with arrays of plain strings (whitespace allowed, as PostgreSQL's
// json_build_object writes it), which the caller hands to encoding/json.
func splitGroupRefs(text string) (storedGroupRefs, bool) {
	var s storedGroupRefs
	rest := trimJSONSpace(text)
	if len(rest) < 2 || rest[0] != '{' || rest[len(rest)-1] != '}' {
		return s, false
	}
	rest = trimJSONSpace(rest[1 : len(rest)-1])
	var seen [3]bool
	for rest != "" {
		key := -1
		for i, k := range [3]string{`"source"`, `"destination"`, `"service"`} {
			if strings.HasPrefix(rest, k) {
				key, rest = i, trimJSONSpace(rest[len(k):])
				break
			}
		}
		if key < 0 || seen[key] || rest == "" || rest[0] != ':' {
			return s, false
		}
		seen[key] = true
		rest = trimJSONSpace(rest[1:])
		// A ']' inside an id cuts the list in an open string, which
		// appendList refuses.
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return s, false
		}
		list, ok := appendList(nil, rest[:end+1])
		if !ok {
			return s, false
		}
		*[3]*[]string{&s.Source, &s.Destination, &s.Service}[key] = list
		if rest = trimJSONSpace(rest[end+1:]); rest == "" {
			break
		}
		if rest[0] != ',' {
			return s, false
		}
		if rest = trimJSONSpace(rest[1:]); rest == "" {
			return s, false // a trailing comma
		}
	}
	return s, true
}

// groupVersionStatements append g, just written, as its kind's next
// version, and delete its earlier versions that no revision uses.
func (t *Tx) groupVersionStatements(gt groupTables, g groupRow, labels string) []Statement {
	if t.hist.groups.written == nil {
		t.hist.groups.written = map[groupKey]bool{}
	}
	t.hist.groups.written[groupKey{int64(gt.kind), g.meta.ID}] = true
	nested, _ := json.Marshal(append([]string{}, refIDs(g.nested)...)) // plain strings always marshal
	kind := int64(gt.kind)
	return []Statement{
		{`INSERT INTO group_versions (kind, group_id, version, name, description, labels, members, nested, etag, created_at, updated_at)
			VALUES (?, ?, (SELECT COALESCE(MAX(v.version), 0) + 1 FROM group_versions v WHERE v.kind = ? AND v.group_id = ?),
			?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{kind, g.meta.ID, kind, g.meta.ID, g.name, g.descr, labels, g.members, string(nested), g.meta.ETag,
				t.q.d.Time(g.meta.CreatedAt), t.q.d.Time(g.meta.UpdatedAt)}},
		{`DELETE FROM group_versions WHERE kind = ? AND group_id = ?
			AND version < (SELECT MAX(v.version) FROM group_versions v WHERE v.kind = ? AND v.group_id = ?)
			AND NOT EXISTS (SELECT 1 FROM firewall_group_versions m
				WHERE m.kind = ? AND m.group_id = ? AND m.version = group_versions.version)`,
			[]any{kind, g.meta.ID, kind, g.meta.ID, kind, g.meta.ID}},
	}
}

// forgetGroupStatements delete the versions of a deleted group that no
// revision uses.
func forgetGroupStatements(gt groupTables, id string) []Statement {
	kind := int64(gt.kind)
	return []Statement{{`DELETE FROM group_versions WHERE kind = ? AND group_id = ?
		AND NOT EXISTS (SELECT 1 FROM firewall_group_versions m
			WHERE m.kind = ? AND m.group_id = ? AND m.version = group_versions.version)`,
		[]any{kind, id, kind, id}}}
}

// groupKey names one group of either kind.
type groupKey struct {
	kind int64
	id   string
}

// openGroup is an open row of firewall_group_versions.
type openGroup struct {
	groupKey
	version, from int64
}

// firewallGroupStatements return the statements that make the firewall's
// open rows of firewall_group_versions name the groups its live tree uses,
// at their current versions, from p's revision; none when nothing the
// transaction did can have changed them. touched are the rules, other than
// those the transaction created or loaded, whose versions it writes.
func (t *Tx) firewallGroupStatements(ctx context.Context, fw string, p *pendingRevision, touched []string) ([]Statement, error) {
	refsChanged, err := t.refsMayHaveChanged(ctx, fw, touched)
	if err != nil || (!refsChanged && len(t.hist.groups.written) == 0) {
		return nil, err
	}
	if !refsChanged {
		stmts, ok, err := t.newVersionStatements(ctx, fw, p)
		if err != nil || ok {
			return stmts, err
		}
	}
	used := map[groupKey]int64{}
	for _, gt := range []groupTables{addressTables, serviceTables} {
		if err := t.usedGroups(ctx, gt, fw, used); err != nil {
			return nil, err
		}
	}
	open, err := queryAll(ctx, t.q, func(row Row) (openGroup, error) {
		var o openGroup
		return o, row.Scan(&o.kind, &o.id, &o.version, &o.from)
	}, `SELECT kind, group_id, version, valid_from FROM firewall_group_versions WHERE firewall_id = ? AND valid_to IS NULL`, fw)
	if err != nil {
		return nil, fmt.Errorf("read the groups firewall %s uses: %w", fw, err)
	}
	var stmts []Statement
	for _, o := range open {
		if v, ok := used[o.groupKey]; ok && v == o.version {
			delete(used, o.groupKey) // still used at the same version
			continue
		}
		stmts = append(stmts, closeStatement(fw, p, o))
	}
	for k, v := range used {
		stmts = append(stmts, openStatement(fw, p, k, v))
	}
	return stmts, nil
}

// closeStatement ends the firewall's use of a group version at p's revision.
func closeStatement(fw string, p *pendingRevision, o openGroup) Statement {
	if o.from == p.rev {
		// Opened earlier in an amended revision: it never held.
		return Statement{`DELETE FROM firewall_group_versions
			WHERE firewall_id = ? AND kind = ? AND group_id = ? AND valid_from = ?`, []any{fw, o.kind, o.id, o.from}}
	}
	return Statement{`UPDATE firewall_group_versions SET valid_to = ?
		WHERE firewall_id = ? AND kind = ? AND group_id = ? AND valid_from = ?`, []any{p.rev, fw, o.kind, o.id, o.from}}
}

// openStatement starts the firewall's use of version v of a group at p's revision.
func openStatement(fw string, p *pendingRevision, k groupKey, v int64) Statement {
	return Statement{`INSERT INTO firewall_group_versions (firewall_id, kind, group_id, valid_from, version)
		VALUES (?, ?, ?, ?, ?)`, []any{fw, k.kind, k.id, p.rev, v}}
}

// newVersionStatements handle the common group edit, when no rule's
// references changed: the firewall uses the same groups as before unless
// the nesting of one it uses changed, so each written group it uses moves
// to its current version, at a few indexed reads per written group. ok is
// false when a used group's nesting changed, and the caller must find the
// groups anew.
func (t *Tx) newVersionStatements(ctx context.Context, fw string, p *pendingRevision) (stmts []Statement, ok bool, err error) {
	for k := range t.hist.groups.written {
		o := openGroup{groupKey: k}
		err := t.q.queryRow(ctx, `SELECT version, valid_from FROM firewall_group_versions
			WHERE firewall_id = ? AND kind = ? AND group_id = ? AND valid_to IS NULL`, fw, k.kind, k.id).Scan(&o.version, &o.from)
		if errors.Is(err, ErrNoRows) {
			continue // the firewall does not use it
		}
		if err != nil {
			return nil, false, fmt.Errorf("read the version of group %s firewall %s uses: %w", k.id, fw, err)
		}
		type nesting struct {
			version int64
			nested  string
		}
		versions, err := queryAll(ctx, t.q, func(row Row) (nesting, error) {
			var v nesting
			return v, row.Scan(&v.version, &v.nested)
		}, `SELECT version, nested FROM group_versions WHERE kind = ? AND group_id = ?
			AND (version = ? OR version = (SELECT MAX(v.version) FROM group_versions v WHERE v.kind = ? AND v.group_id = ?))
			ORDER BY version`, k.kind, k.id, o.version, k.kind, k.id)
		if err != nil {
			return nil, false, fmt.Errorf("read versions of group %s: %w", k.id, err)
		}
		if len(versions) < 2 {
			continue // still at its current version
		}
		var was, is []string
		if json.Unmarshal([]byte(versions[0].nested), &was) != nil || json.Unmarshal([]byte(versions[1].nested), &is) != nil || !slices.Equal(was, is) {
			return nil, false, nil
		}
		stmts = append(stmts, closeStatement(fw, p, o), openStatement(fw, p, k, versions[1].version))
	}
	return stmts, true, nil
}

// refsMayHaveChanged reports whether the transaction may have changed the
// group references of the firewall's rules: it created or loaded a rule
// with references, or changed those of a touched rule (deleting one counts
// as changing them to none).
func (t *Tx) refsMayHaveChanged(ctx context.Context, fw string, touched []string) (bool, error) {
	h := t.hist.groups
	isTouched := make(map[string]bool, len(touched))
	for _, id := range touched {
		isTouched[id] = true
	}
	for id, f := range h.refs {
		if f == fw && !isTouched[id] {
			return true, nil // created or loaded with references
		}
	}
	for start := 0; start < len(touched); start += inChunk {
		chunk := touched[start:min(start+inChunk, len(touched))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		var n int
		err := t.q.queryRow(ctx, `SELECT COUNT(*) FROM rule_versions v LEFT JOIN rules r ON r.id = v.rule_id
			WHERE v.rule_id IN (`+placeholders(len(chunk))+`) AND v.valid_to IS NULL
			AND v.group_refs <> COALESCE(r.group_refs, '')`, args...).Scan(&n)
		if err != nil || n > 0 {
			return n > 0, err
		}
	}
	return false, nil
}

// usedGroups adds to used the groups of gt's kind that the firewall's live
// rules use, directly or through nesting, with their current versions.
func (t *Tx) usedGroups(ctx context.Context, gt groupTables, fw string, used map[groupKey]int64) error {
	kind := int64(gt.kind)
	rows, err := queryAll(ctx, t.q, func(row Row) (openGroup, error) {
		var o openGroup
		var v sql.NullInt64
		err := row.Scan(&o.id, &v)
		o.kind, o.version = kind, v.Int64
		if err == nil && !v.Valid {
			err = fmt.Errorf("%s %s has no version", gt.kind, o.id)
		}
		return o, err
	}, `WITH RECURSIVE used(id) AS (SELECT x.group_id FROM `+gt.refs+` x WHERE `+treeRulesWhere+`
		UNION SELECT n.member_id FROM `+gt.nesting+` n JOIN used u ON n.group_id = u.id)
		SELECT u.id, (SELECT MAX(v.version) FROM group_versions v WHERE v.kind = ? AND v.group_id = u.id) FROM used u`, fw, kind)
	if err != nil {
		return fmt.Errorf("read the %ss firewall %s uses: %w", gt.kind, fw, err)
	}
	for _, o := range rows {
		used[o.groupKey] = o.version
	}
	return nil
}

// dropGroupVersions deletes the firewall's rows of firewall_group_versions
// that closed at or before *before (all of them when before is nil), and
// the group versions no revision uses any more, except each live group's
// current one.
func (t *Tx) dropGroupVersions(ctx context.Context, fw string, before *int64) error {
	cond, args := `firewall_id = ?`, []any{fw}
	if before != nil {
		cond, args = cond+` AND valid_to <= ?`, append(args, *before)
	}
	gone, err := queryAll(ctx, t.q, func(row Row) (openGroup, error) {
		var o openGroup
		return o, row.Scan(&o.kind, &o.id, &o.version)
	}, `SELECT DISTINCT kind, group_id, version FROM firewall_group_versions WHERE `+cond, args...)
	if err != nil {
		return fmt.Errorf("read the group versions of firewall %s to prune: %w", fw, err)
	}
	if len(gone) == 0 {
		return nil
	}
	stmts := []Statement{{`DELETE FROM firewall_group_versions WHERE ` + cond, args}}
	for _, o := range gone {
		live := addressTables.table
		if o.kind == int64(store.ServiceGroupKind) {
			live = serviceTables.table
		}
		stmts = append(stmts, Statement{`DELETE FROM group_versions WHERE kind = ? AND group_id = ? AND version = ?
			AND NOT EXISTS (SELECT 1 FROM firewall_group_versions m WHERE m.kind = ? AND m.group_id = ? AND m.version = ?)
			AND (version < (SELECT MAX(v.version) FROM group_versions v WHERE v.kind = ? AND v.group_id = ?)
				OR NOT EXISTS (SELECT 1 FROM ` + live + ` g WHERE g.id = ?))`,
			[]any{o.kind, o.id, o.version, o.kind, o.id, o.version, o.kind, o.id, o.id}})
	}
	return t.q.run(ctx, stmts)
}

// groupVersion is a row of group_versions as a revision reads it.
type groupVersion struct {
	kind   int64
	head   groupHead
	nested string
}

// groupsAt reads the groups the firewall used at revision, with their
// contents as they were then, and names the group references of rules
// (read by id) and of the groups as the groups were named then.
func (r Reader) groupsAt(ctx context.Context, firewallID string, revision int64, rules []firewall.Rule) (firewall.Groups, error) {
	var g firewall.Groups
	versions, err := queryAll(ctx, r.q, func(row Row) (groupVersion, error) {
		var v groupVersion
		var labels string
		err := row.Scan(&v.kind, &v.head.meta.ID, &v.head.name, &v.head.descr, &labels, &v.head.members, &v.nested,
			&v.head.meta.ETag, timeScan{&v.head.meta.CreatedAt}, timeScan{&v.head.meta.UpdatedAt})
		if err == nil {
			v.head.labels, err = decodeLabels(labels)
		}
		return v, err
	}, `SELECT v.kind, v.group_id, v.name, v.description, v.labels, v.members, v.nested, v.etag, v.created_at, v.updated_at
		FROM (`+valid(`kind, group_id, version`, "firewall_group_versions")+`) m
		JOIN group_versions v ON v.kind = m.kind AND v.group_id = m.group_id AND v.version = m.version`,
		firewallID, revision, firewallID, revision, revision)
	if err != nil {
		return g, r.classify(err, "read groups of firewall %s at revision %d", firewallID, revision)
	}
	nested := map[groupKey][]firewall.GroupRef{}
	for _, v := range versions {
		ids, err := decodeList(v.nested, func(id string) (string, error) { return id, nil })
		if err != nil {
			return g, fmt.Errorf("decode nesting of stored group %s: %w", v.head.meta.ID, err)
		}
		nested[groupKey{v.kind, v.head.meta.ID}] = refsOf(ids)
		if err := addGroupVersion(&g, v); err != nil {
			return g, err
		}
	}
	name := func(kind store.GroupKind, refs []firewall.GroupRef) error {
		for i := range refs {
			var ok bool
			if kind == store.ServiceGroupKind {
				refs[i].Name, ok = g.Service[refs[i].ID].Name, hasKey(g.Service, refs[i].ID)
			} else {
				refs[i].Name, ok = g.Address[refs[i].ID].Name, hasKey(g.Address, refs[i].ID)
			}
			if !ok {
				return fmt.Errorf("revision %d of firewall %s refers to %s %s, whose version is not kept", revision, firewallID, kind, refs[i].ID)
			}
		}
		return nil
	}
	for k, refs := range nested {
		kind := store.GroupKind(k.kind)
		if err := name(kind, refs); err != nil {
			return g, err
		}
		if len(refs) == 0 {
			continue
		}
		if kind == store.ServiceGroupKind {
			sg := g.Service[k.id]
			sg.Groups = refs
			g.Service[k.id] = sg
		} else {
			ag := g.Address[k.id]
			ag.Groups = refs
			g.Address[k.id] = ag
		}
	}
	for i := range rules {
		rule := &rules[i]
		for _, err := range []error{name(store.AddressGroupKind, rule.SourceGroups),
			name(store.AddressGroupKind, rule.DestinationGroups), name(store.ServiceGroupKind, rule.ServiceGroups)} {
			if err != nil {
				return g, err
			}
		}
	}
	return g, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// addGroupVersion adds v to g, shaped as the live reads shape a group.
func addGroupVersion(g *firewall.Groups, v groupVersion) error {
	h := v.head
	if store.GroupKind(v.kind) == store.ServiceGroupKind {
		sg := firewall.ServiceGroup{Meta: h.meta, Name: h.name, Description: h.descr, Labels: h.labels, Groups: []firewall.GroupRef{}}
		var err error
		if sg.Services, err = decodeServices(h.members); err != nil {
			return fmt.Errorf("decode stored service group %s: %w", h.meta.ID, err)
		}
		if g.Service == nil {
			g.Service = map[string]firewall.ServiceGroup{}
		}
		g.Service[sg.ID] = sg
		return nil
	}
	ag := firewall.AddressGroup{Meta: h.meta, Name: h.name, Description: h.descr, Labels: h.labels, Groups: []firewall.GroupRef{}}
	var err error
	if ag.Addresses, err = decodePrefixes(h.members); err != nil {
		return fmt.Errorf("decode stored address group %s: %w", h.meta.ID, err)
	}
	if g.Address == nil {
		g.Address = map[string]firewall.AddressGroup{}
	}
	g.Address[ag.ID] = ag
	return nil
}
