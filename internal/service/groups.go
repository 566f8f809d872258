package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// GroupUsage is what uses a group, directly or through nesting.
type GroupUsage = store.GroupUsage

// ListAddressGroups returns one page of address groups, by default by name.
func (s *Service) ListAddressGroups(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AddressGroup], error) {
	return s.store.ListAddressGroups(ctx, clampPage(q))
}

// GetAddressGroup returns one address group.
func (s *Service) GetAddressGroup(ctx context.Context, id string) (firewall.AddressGroup, error) {
	return s.store.GetAddressGroup(ctx, id)
}

// ListServiceGroups returns one page of service groups, by default by name.
func (s *Service) ListServiceGroups(ctx context.Context, q firewall.Query) (firewall.Page[firewall.ServiceGroup], error) {
	return s.store.ListServiceGroups(ctx, clampPage(q))
}

// GetServiceGroup returns one service group.
func (s *Service) GetServiceGroup(ctx context.Context, id string) (firewall.ServiceGroup, error) {
	return s.store.GetServiceGroup(ctx, id)
}

// GroupUsagePage is one page of what uses a group.
type GroupUsagePage struct {
	// Groups nest the group, directly or through others, by name; the
	// first page holds them all, later pages none.
	Groups []firewall.GroupRef
	// Rules are this page's rules that refer to the group or to one of
	// Groups, ordered by firewall, policy and rule id, then field and
	// position.
	Rules []store.RuleUse
	// NextPageToken continues the listing; empty on the last page.
	NextPageToken string
}

// AddressGroupUsage lists, one page at a time, the rules that use an
// address group, directly or through nesting, and the groups nesting it.
func (s *Service) AddressGroupUsage(ctx context.Context, id string, q firewall.Query) (GroupUsagePage, error) {
	return s.usage(ctx, store.AddressGroupKind, id, q)
}

// ServiceGroupUsage is AddressGroupUsage for service groups.
func (s *Service) ServiceGroupUsage(ctx context.Context, id string, q firewall.Query) (GroupUsagePage, error) {
	return s.usage(ctx, store.ServiceGroupKind, id, q)
}

func (s *Service) usage(ctx context.Context, kind store.GroupKind, id string, q firewall.Query) (GroupUsagePage, error) {
	q = clampPage(q)
	var err error
	if kind == store.AddressGroupKind {
		_, err = s.store.GetAddressGroup(ctx, id)
	} else {
		_, err = s.store.GetServiceGroup(ctx, id)
	}
	if err != nil {
		return GroupUsagePage{}, err
	}
	binding := "usage/" + kind.String() + "/" + id
	var after *store.RuleUseKey
	if q.PageToken != "" {
		k, err := decodeUsageToken(q.PageToken, binding)
		if err != nil {
			return GroupUsagePage{}, err
		}
		after = &k
	}
	var out GroupUsagePage
	if out.Rules, err = s.store.GroupRuleUses(ctx, kind, id, after, q.PageSize+1); err != nil {
		return GroupUsagePage{}, err
	}
	if len(out.Rules) > q.PageSize {
		out.Rules = out.Rules[:q.PageSize]
		k := out.Rules[q.PageSize-1].Key()
		out.NextPageToken = store.EncodeCursor(store.NewCursor(binding, []any{k.FirewallID, k.PolicyID, k.RuleID, k.Side, k.Position}))
	}
	if after == nil {
		graph, err := s.store.GroupGraph(ctx, kind)
		if err != nil {
			return GroupUsagePage{}, err
		}
		for _, g := range nesters(graph, id)[1:] {
			out.Groups = append(out.Groups, firewall.GroupRef{ID: g, Name: graph[g].Name})
		}
		slices.SortFunc(out.Groups, func(a, b firewall.GroupRef) int {
			if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	return out, nil
}

// decodeUsageToken reads the key of the last use of the previous page.
func decodeUsageToken(token, binding string) (store.RuleUseKey, error) {
	c, err := store.DecodeCursor(token, binding)
	if err != nil {
		return store.RuleUseKey{}, err
	}
	var k store.RuleUseKey
	var errs []error
	if len(c.Keys) != 5 {
		errs = append(errs, fmt.Errorf("%d keys", len(c.Keys)))
	} else {
		for i, dst := range []any{&k.FirewallID, &k.PolicyID, &k.RuleID, &k.Side, &k.Position} {
			errs = append(errs, json.Unmarshal(c.Keys[i], dst))
		}
	}
	if errors.Join(errs...) != nil {
		var ps firewall.Problems
		ps.Add("page_token", nil, "the page token is not one this service issued; pass the next_page_token of the previous page unchanged")
		return k, ps.Err("the page token is not valid")
	}
	return k, nil
}

// CreateAddressGroup validates and stores a new address group, resolving
// its nested groups by id or name and checking the nesting limits.
func (s *Service) CreateAddressGroup(ctx context.Context, g firewall.AddressGroup, idem Idempotency) (firewall.AddressGroup, bool, error) {
	if err := g.Validate(); err != nil {
		return firewall.AddressGroup{}, false, err
	}
	g.Meta = firewall.Meta{}
	s.stamp(&g.Meta)
	out := g
	replayed, err := create(ctx, s, idem, &out, func(g *firewall.AddressGroup) string { return g.ID },
		func(ctx context.Context, tx store.Tx) error {
			out = g
			var err error
			if out.Groups, err = s.checkNesting(ctx, tx, store.AddressGroupKind, out.ID, out.Name, len(out.Addresses), out.Groups); err != nil {
				return err
			}
			if err := tx.CreateAddressGroup(ctx, &out); err != nil {
				return err
			}
			return s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindAddressGroup, out.ID, "", nil, out})
		})
	if err != nil {
		return firewall.AddressGroup{}, false, fmt.Errorf("create address group: %w", err)
	}
	return out, replayed, nil
}

// CreateServiceGroup validates and stores a new service group.
func (s *Service) CreateServiceGroup(ctx context.Context, g firewall.ServiceGroup, idem Idempotency) (firewall.ServiceGroup, bool, error) {
	if err := g.Validate(); err != nil {
		return firewall.ServiceGroup{}, false, err
	}
	g.Meta = firewall.Meta{}
	s.stamp(&g.Meta)
	out := g
	replayed, err := create(ctx, s, idem, &out, func(g *firewall.ServiceGroup) string { return g.ID },
		func(ctx context.Context, tx store.Tx) error {
			out = g
			var err error
			if out.Groups, err = s.checkNesting(ctx, tx, store.ServiceGroupKind, out.ID, out.Name, len(out.Services), out.Groups); err != nil {
				return err
			}
			if err := tx.CreateServiceGroup(ctx, &out); err != nil {
				return err
			}
			return s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindServiceGroup, out.ID, "", nil, out})
		})
	if err != nil {
		return firewall.ServiceGroup{}, false, fmt.Errorf("create service group: %w", err)
	}
	return out, replayed, nil
}

// UpdateAddressGroup applies patch to the group and, when its members,
// nesting or name change, raises the revision of every firewall that uses
// it, in the same transaction.
func (s *Service) UpdateAddressGroup(ctx context.Context, id string, pre Precondition, patch firewall.AddressGroupPatch) (firewall.AddressGroup, error) {
	var out firewall.AddressGroup
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockAddressGroup(ctx, id)
		if err != nil {
			return err
		}
		if err := pre.check("address group", id, cur.ETag); err != nil {
			return err
		}
		next, err := patch.Apply(cur)
		if err != nil {
			return err
		}
		if patch.Groups.Set {
			if next.Groups, err = s.checkNesting(ctx, tx, store.AddressGroupKind, id, next.Name, len(next.Addresses), next.Groups); err != nil {
				return err
			}
		} else if patch.Addresses.Set {
			if _, err = s.checkNesting(ctx, tx, store.AddressGroupKind, id, next.Name, len(next.Addresses), next.Groups); err != nil {
				return err
			}
		}
		s.stamp(&next.Meta)
		if err := tx.UpdateAddressGroup(ctx, &next); err != nil {
			return err
		}
		out = next
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindAddressGroup, id, "", cur, next}); err != nil {
			return err
		}
		if patch.Addresses.Set || patch.Groups.Set || cur.Name != next.Name {
			return s.propagate(ctx, tx, store.AddressGroupKind, next.ID, next.Name)
		}
		return nil
	})
	if err != nil {
		return firewall.AddressGroup{}, fmt.Errorf("update address group %s: %w", id, err)
	}
	return out, nil
}

// UpdateServiceGroup is UpdateAddressGroup for service groups.
func (s *Service) UpdateServiceGroup(ctx context.Context, id string, pre Precondition, patch firewall.ServiceGroupPatch) (firewall.ServiceGroup, error) {
	var out firewall.ServiceGroup
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockServiceGroup(ctx, id)
		if err != nil {
			return err
		}
		if err := pre.check("service group", id, cur.ETag); err != nil {
			return err
		}
		next, err := patch.Apply(cur)
		if err != nil {
			return err
		}
		if patch.Groups.Set || patch.Services.Set {
			refs, err := s.checkNesting(ctx, tx, store.ServiceGroupKind, id, next.Name, len(next.Services), next.Groups)
			if err != nil {
				return err
			}
			next.Groups = refs
		}
		s.stamp(&next.Meta)
		if err := tx.UpdateServiceGroup(ctx, &next); err != nil {
			return err
		}
		out = next
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindServiceGroup, id, "", cur, next}); err != nil {
			return err
		}
		if patch.Services.Set || patch.Groups.Set || cur.Name != next.Name {
			return s.propagate(ctx, tx, store.ServiceGroupKind, id, next.Name)
		}
		return nil
	})
	if err != nil {
		return firewall.ServiceGroup{}, fmt.Errorf("update service group %s: %w", id, err)
	}
	return out, nil
}

// DeleteAddressGroup deletes an address group that nothing uses; one in
// use answers a conflict listing its users.
func (s *Service) DeleteAddressGroup(ctx context.Context, id string, pre Precondition) error {
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockAddressGroup(ctx, id)
		if err != nil {
			return err
		}
		if err := pre.check("address group", id, cur.ETag); err != nil {
			return err
		}
		if err := inUse(ctx, tx, store.AddressGroupKind, id, cur.Name); err != nil {
			return err
		}
		if err := tx.DeleteAddressGroup(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditDelete, firewall.KindAddressGroup, id, "", cur, nil})
	})
	if err != nil {
		return fmt.Errorf("delete address group %s: %w", id, err)
	}
	return nil
}

// DeleteServiceGroup is DeleteAddressGroup for service groups.
func (s *Service) DeleteServiceGroup(ctx context.Context, id string, pre Precondition) error {
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockServiceGroup(ctx, id)
		if err != nil {
			return err
		}
		if err := pre.check("service group", id, cur.ETag); err != nil {
			return err
		}
		if err := inUse(ctx, tx, store.ServiceGroupKind, id, cur.Name); err != nil {
			return err
		}
		if err := tx.DeleteServiceGroup(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditDelete, firewall.KindServiceGroup, id, "", cur, nil})
	})
	if err != nil {
		return fmt.Errorf("delete service group %s: %w", id, err)
	}
	return nil
}

// maxListedUsers bounds the users a refused delete lists one by one.
const maxListedUsers = 20

// inUse returns a conflict naming the rules and groups that refer to the
// group directly, or nil when none do.
func inUse(ctx context.Context, tx store.Tx, kind store.GroupKind, id, name string) error {
	u, err := tx.GroupUsage(ctx, kind, id)
	if err != nil {
		return err
	}
	var direct []firewall.Problem
	for _, r := range u.Rules {
		if r.Via.ID == id {
			label := r.RuleID
			if r.RuleName != "" {
				label = fmt.Sprintf("%s (%s)", r.RuleName, r.RuleID)
			}
			direct = append(direct, firewall.Problem{Location: "path.group_id", Value: r.RuleID,
				Message: fmt.Sprintf("rule %s of policy %q in firewall %q refers to it in %s", label, r.PolicyName, r.FirewallName, r.Field)})
		}
	}
	nesting, err := nestingGroups(ctx, tx, kind, id, u.Groups)
	if err != nil {
		return err
	}
	for _, g := range nesting {
		direct = append(direct, firewall.Problem{Location: "path.group_id", Value: g.ID,
			Message: fmt.Sprintf("%s %q nests it", kind, g.Name)})
	}
	if len(direct) == 0 {
		return nil
	}
	n := len(direct)
	if len(direct) > maxListedUsers {
		direct = direct[:maxListedUsers]
	}
	return &firewall.Error{Code: firewall.CodeConflict, Problems: direct,
		Message: fmt.Sprintf("%s %q is in use by %d %s; remove those references first (GET its usage for the full list)",
			kind, name, n, pluralWord(n, "rule or group", "rules and groups"))}
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// nestingGroups returns those of candidates that nest group id directly.
func nestingGroups(ctx context.Context, tx store.Tx, kind store.GroupKind, id string, candidates []firewall.GroupRef) ([]firewall.GroupRef, error) {
	if len(candidates) == 0 {
		return nil, nil
	}
	graph, err := tx.GroupGraph(ctx, kind)
	if err != nil {
		return nil, err
	}
	var out []firewall.GroupRef
	for _, c := range candidates {
		if slices.Contains(graph[c.ID].Nested, id) {
			out = append(out, c)
		}
	}
	return out, nil
}

// propagate raises the revision of every firewall whose rules use the
// group, directly or through nesting, and records each revision in the
// audit log, so that every replica's cached matcher goes stale at once.
// It first locks the groups that nest this one, so that a rule or a
// nesting that starts to use them waits for this change and is counted.
func (s *Service) propagate(ctx context.Context, tx store.Tx, kind store.GroupKind, id, name string) error {
	u, err := tx.GroupUsage(ctx, kind, id)
	if err != nil {
		return err
	}
	if len(u.Groups) > 0 {
		ids := make([]string, len(u.Groups))
		for i, g := range u.Groups {
			ids[i] = g.ID
		}
		slices.Sort(ids)
		for _, gid := range ids {
			if err := lockGroup(ctx, tx, kind, gid); err != nil {
				return err
			}
		}
		if u, err = tx.GroupUsage(ctx, kind, id); err != nil {
			return err
		}
	}
	var fws []string
	for _, r := range u.Rules {
		if !slices.Contains(fws, r.FirewallID) {
			fws = append(fws, r.FirewallID)
		}
	}
	slices.Sort(fws)
	for _, fw := range fws {
		cur, err := tx.LockFirewall(ctx, fw)
		if err != nil {
			return err
		}
		var m firewall.Meta
		s.stamp(&m)
		rev, err := tx.BumpRevision(ctx, fw, m.ETag, m.UpdatedAt)
		if err != nil {
			return fmt.Errorf("bump revision of firewall %s: %w", fw, err)
		}
		cause := map[string]string{"kind": strings.ReplaceAll(kind.String(), " ", "_"), "id": id, "name": name}
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindFirewall, fw, fw,
			map[string]any{"revision": cur.Revision},
			map[string]any{"revision": rev, "caused_by": cause}}); err != nil {
			return err
		}
	}
	return nil
}

func lockGroup(ctx context.Context, tx store.Tx, kind store.GroupKind, id string) error {
	var err error
	if kind == store.AddressGroupKind {
		_, err = tx.LockAddressGroup(ctx, id)
	} else {
		_, err = tx.LockServiceGroup(ctx, id)
	}
	return err
}

// resolveRefs turns references by id or name into references carrying
// both, naming location[i] for each one that names no group.
func resolveRefs(ctx context.Context, tx store.Reader, kind store.GroupKind, location string, refs []firewall.GroupRef, ps *firewall.Problems) []firewall.GroupRef {
	if len(refs) == 0 {
		return refs
	}
	out := make([]firewall.GroupRef, 0, len(refs))
	seen := map[string]bool{}
	for i, ref := range refs {
		got, err := findRef(ctx, tx, kind, ref)
		if err != nil {
			if firewall.CodeOf(err) != firewall.CodeNotFound {
				ps.Add(location, nil, "could not resolve the references: %v", err)
				return nil
			}
			key := ref.ID
			if key == "" {
				key = ref.Name
			}
			ps.Add(fmt.Sprintf("%s[%d]", location, i), key, "no %s has the id or name %q", kind, key)
			continue
		}
		if seen[got.ID] {
			ps.Add(fmt.Sprintf("%s[%d]", location, i), got.Name, "%s %q is listed twice", kind, got.Name)
			continue
		}
		seen[got.ID] = true
		out = append(out, got)
	}
	return out
}

// findRef resolves one reference: by its id, else by its name.
func findRef(ctx context.Context, tx store.Reader, kind store.GroupKind, ref firewall.GroupRef) (firewall.GroupRef, error) {
	var err error
	for _, key := range []string{ref.ID, ref.Name} {
		if key == "" {
			continue
		}
		var got firewall.GroupRef
		if got, err = tx.FindGroup(ctx, kind, key); err == nil {
			return got, nil
		}
		if firewall.CodeOf(err) != firewall.CodeNotFound {
			return got, err
		}
	}
	if err == nil {
		err = firewall.NotFound(kind.String(), "")
	}
	return firewall.GroupRef{}, err
}

// resolveRuleGroups resolves a rule's group references in place; unknown
// groups are invalid input naming the field.
func resolveRuleGroups(ctx context.Context, tx store.Reader, r *firewall.Rule) error {
	var ps firewall.Problems
	r.SourceGroups = resolveRefs(ctx, tx, store.AddressGroupKind, "source_groups", r.SourceGroups, &ps)
	r.DestinationGroups = resolveRefs(ctx, tx, store.AddressGroupKind, "destination_groups", r.DestinationGroups, &ps)
	r.ServiceGroups = resolveRefs(ctx, tx, store.ServiceGroupKind, "service_groups", r.ServiceGroups, &ps)
	return ps.Err("the rule refers to groups that do not exist")
}

// checkNesting resolves a group's nested references and checks that the
// graph with the group's new members and nesting has no cycle, and that
// neither the group nor any group nesting it goes beyond the depth and
// expanded-size limits. It returns the resolved references.
func (s *Service) checkNesting(ctx context.Context, tx store.Tx, kind store.GroupKind, id, name string, members int, refs []firewall.GroupRef) ([]firewall.GroupRef, error) {
	var ps firewall.Problems
	resolved := resolveRefs(ctx, tx, kind, "groups", refs, &ps)
	if err := ps.Err("the " + kind.String() + " nests groups that do not exist"); err != nil {
		return nil, err
	}
	graph, err := tx.GroupGraph(ctx, kind)
	if err != nil {
		return nil, err
	}
	node := store.GroupNode{Name: name, Members: members}
	for _, r := range resolved {
		node.Nested = append(node.Nested, r.ID)
	}
	graph[id] = node
	if err := CheckGroupGraph(graph, id, kind.String()); err != nil {
		return nil, err
	}
	return resolved, nil
}

// CheckGroupGraph checks the nesting graph around group id: no cycle
// through it, and no group that is it or nests it deeper than
// firewall.MaxGroupDepth or larger, expanded, than
// firewall.MaxGroupExpanded. The rest of the graph is already checked.
func CheckGroupGraph(graph map[string]store.GroupNode, id, noun string) error {
	var ps firewall.Problems
	if cycle := findCycle(graph, id); cycle != nil {
		names := make([]string, len(cycle))
		for i, g := range cycle {
			names[i] = graph[g].Name
		}
		ps.Add("groups", strings.Join(names, " → "), "nesting makes a cycle: %s", strings.Join(names, " → "))
		return ps.Err("the " + noun + " nesting has a cycle")
	}
	depth := map[string]int{}
	var depthOf func(string) int
	depthOf = func(g string) int {
		if d, ok := depth[g]; ok {
			return d
		}
		d := 1
		for _, c := range graph[g].Nested {
			d = max(d, 1+depthOf(c))
		}
		depth[g] = d
		return d
	}
	for _, a := range nesters(graph, id) {
		if d := depthOf(a); d > firewall.MaxGroupDepth {
			ps.Add("groups", d, "%s %q would nest %d levels deep; at most %d levels are allowed", noun, graph[a].Name, d, firewall.MaxGroupDepth)
			return ps.Err("the " + noun + " nesting is too deep")
		}
		if n := expandedSize(graph, a); n > firewall.MaxGroupExpanded {
			ps.Add("groups", n, "%s %q would hold %d members with its nested groups expanded; at most %d are allowed",
				noun, graph[a].Name, n, firewall.MaxGroupExpanded)
			return ps.Err("the " + noun + " is too large")
		}
	}
	return nil
}

// findCycle returns a path from id back to id, or nil.
func findCycle(graph map[string]store.GroupNode, id string) []string {
	done := map[string]bool{}
	var path []string
	var walk func(string) bool
	walk = func(g string) bool {
		path = append(path, g)
		for _, c := range graph[g].Nested {
			if c == id {
				path = append(path, c)
				return true
			}
			if !done[c] {
				done[c] = true
				if walk(c) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if walk(id) {
		return path
	}
	return nil
}

// nesters returns id and every group that nests it, directly or not.
func nesters(graph map[string]store.GroupNode, id string) []string {
	parents := map[string][]string{}
	for g, n := range graph {
		for _, c := range n.Nested {
			parents[c] = append(parents[c], g)
		}
	}
	out := []string{id}
	seen := map[string]bool{id: true}
	for i := 0; i < len(out); i++ {
		for _, p := range parents[out[i]] {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// expandedSize counts the literal members of g and of every group it
// nests, each group once.
func expandedSize(graph map[string]store.GroupNode, g string) int {
	seen := map[string]bool{}
	n := 0
	var walk func(string)
	walk = func(x string) {
		if seen[x] {
			return
		}
		seen[x] = true
		n += graph[x].Members
		for _, c := range graph[x].Nested {
			walk(c)
		}
	}
	walk(g)
	return n
}

// resolveTreeGroups resolves the group references of t's rules to the
// stored groups, naming each unknown one by its place in the tree, and
// sets t.Groups to the groups they use, nesting included.
func resolveTreeGroups(ctx context.Context, rd store.Reader, t *firewall.Tree) error {
	var ps firewall.Problems
	for i := range t.Policies {
		rules := t.Policies[i].Rules
		for j := range rules {
			r := &rules[j]
			if len(r.SourceGroups)+len(r.DestinationGroups)+len(r.ServiceGroups) == 0 {
				continue
			}
			var rp firewall.Problems
			r.SourceGroups = resolveRefs(ctx, rd, store.AddressGroupKind, "source_groups", r.SourceGroups, &rp)
			r.DestinationGroups = resolveRefs(ctx, rd, store.AddressGroupKind, "destination_groups", r.DestinationGroups, &rp)
			r.ServiceGroups = resolveRefs(ctx, rd, store.ServiceGroupKind, "service_groups", r.ServiceGroups, &rp)
			for _, p := range rp {
				ps.Add(fmt.Sprintf("policies[%d].rules[%d].%s", i, j, p.Location), p.Value, "%s", p.Message)
			}
		}
	}
	if err := ps.Err("the tree refers to groups that do not exist"); err != nil {
		return err
	}
	var err error
	t.Groups, err = groupsOf(ctx, rd, t)
	return err
}

// groupsOf reads the groups t's rules refer to, with every group they nest.
func groupsOf(ctx context.Context, rd store.Reader, t *firewall.Tree) (firewall.Groups, error) {
	g := firewall.Groups{Address: map[string]firewall.AddressGroup{}, Service: map[string]firewall.ServiceGroup{}}
	var addr, svc []string
	for _, pt := range t.Policies {
		for _, r := range pt.Rules {
			for _, ref := range append(slices.Clone(r.SourceGroups), r.DestinationGroups...) {
				addr = append(addr, ref.ID)
			}
			for _, ref := range r.ServiceGroups {
				svc = append(svc, ref.ID)
			}
		}
	}
	for len(addr) > 0 {
		id := addr[len(addr)-1]
		addr = addr[:len(addr)-1]
		if _, ok := g.Address[id]; ok {
			continue
		}
		ag, err := rd.GetAddressGroup(ctx, id)
		if err != nil {
			return g, err
		}
		g.Address[id] = ag
		for _, n := range ag.Groups {
			addr = append(addr, n.ID)
		}
	}
	for len(svc) > 0 {
		id := svc[len(svc)-1]
		svc = svc[:len(svc)-1]
		if _, ok := g.Service[id]; ok {
			continue
		}
		sg, err := rd.GetServiceGroup(ctx, id)
		if err != nil {
			return g, err
		}
		g.Service[id] = sg
		for _, n := range sg.Groups {
			svc = append(svc, n.ID)
		}
	}
	return g, nil
}
