package service

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// TreeETag is the etag of a firewall's whole tree at a revision: the tree
// changes exactly when the revision does.
func TreeETag(revision int64) string { return fmt.Sprintf("tree-%d", revision) }

// GetTree returns the firewall's current tree, read in one snapshot.
func (s *Service) GetTree(ctx context.Context, firewallID string) (firewall.Tree, error) {
	t, err := s.store.LoadTree(ctx, firewallID)
	if err != nil {
		return firewall.Tree{}, err
	}
	return engineTree(t), nil
}

// TreeResult is what replacing a tree did, or would do.
type TreeResult struct {
	// Changed is false when the tree already equalled the one asked for:
	// no revision was made.
	Changed bool
	DryRun  bool
	// Revision is the firewall's revision after the change (the current
	// one for a dry run or an unchanged tree).
	Revision int64
	// Tree is the tree after the change, or as it would be.
	Tree       firewall.Tree
	Structural TreeDiff
	// Semantic, FindingsAdded and FindingsRemoved are set for dry runs.
	Semantic        *SemanticDiff
	FindingsAdded   []FindingChange
	FindingsRemoved []FindingChange
	// ChangedGroups, for a rollback, are the groups of the revision whose
	// contents differ now.
	ChangedGroups []GroupChange
}

// ReplaceTree makes the firewall's tree equal target in one transaction,
// under pre on the tree's etag (TreeETag). Policies and rules are matched
// to the current ones by id, else by name, so that their ids survive; the
// rest are created with new ids, and current ones left unmatched are
// deleted. A target equal to the current tree makes no revision. A dry run
// saves nothing and reports the structural and semantic diffs and the
// findings the change adds and removes.
func (s *Service) ReplaceTree(ctx context.Context, firewallID string, pre Precondition, target firewall.Tree, dryRun bool) (TreeResult, error) {
	if err := target.Validate(); err != nil {
		return TreeResult{}, err
	}
	target = withoutRepeats(target)
	if !dryRun {
		return s.replaceTree(ctx, firewallID, pre, target, treeReplace{})
	}
	if err := resolveTreeGroups(ctx, s.store, &target); err != nil {
		return TreeResult{}, err
	}
	cur, err := s.currentTree(ctx, firewallID)
	if err != nil {
		return TreeResult{}, err
	}
	if err := pre.check("firewall tree", firewallID, TreeETag(cur.Firewall.Revision)); err != nil {
		return TreeResult{}, err
	}
	next := s.matchTree(cur, target, false)
	out := TreeResult{DryRun: true, Revision: cur.Firewall.Revision, Tree: next, Structural: DiffTrees(cur, next)}
	out.Changed = !out.Structural.Empty()
	mo, mn, added, removed, err := s.currentAndNext(firewallID, cur, next)
	if err != nil {
		return TreeResult{}, err
	}
	sem, err := compareModels(mo, mn, 0)
	if err != nil {
		return TreeResult{}, err
	}
	out.Semantic = &sem
	out.FindingsAdded, out.FindingsRemoved = added, removed
	return out, nil
}

// treeReplace says how replaceTree treats its target.
type treeReplace struct {
	// restore matches by id only and gives unmatched elements the ids
	// they carry: the target is an earlier revision of this very tree.
	restore bool
	// summary, if set, describes the revision made.
	summary string
}

func (s *Service) replaceTree(ctx context.Context, firewallID string, pre Precondition, target firewall.Tree, how treeReplace) (TreeResult, error) {
	var out TreeResult
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = s.replaceIn(ctx, tx, firewallID, pre, target, how)
		return err
	})
	if err != nil {
		return TreeResult{}, fmt.Errorf("replace the tree of firewall %s: %w", firewallID, err)
	}
	return out, nil
}

// replaceIn is ReplaceTree's write inside tx, for the callers that apply a
// tree as part of a larger transaction (change requests).
func (s *Service) replaceIn(ctx context.Context, tx store.Tx, firewallID string, pre Precondition, target firewall.Tree, how treeReplace) (TreeResult, error) {
	fw, err := tx.LockFirewall(ctx, firewallID)
	if err != nil {
		return TreeResult{}, err
	}
	if err := pre.check("firewall tree", firewallID, TreeETag(fw.Revision)); err != nil {
		return TreeResult{}, err
	}
	loaded, err := tx.LoadTree(ctx, firewallID)
	if err != nil {
		return TreeResult{}, err
	}
	cur := engineTree(loaded)
	if err := resolveTreeGroups(ctx, tx, &target); err != nil {
		return TreeResult{}, err
	}
	next := s.matchTree(cur, target, how.restore)
	out := TreeResult{Revision: fw.Revision, Tree: cur, Structural: DiffTrees(cur, next)}
	if out.Structural.Empty() {
		return out, nil
	}
	if err := s.applyTree(ctx, tx, cur, next); err != nil {
		return TreeResult{}, err
	}
	if how.summary != "" {
		tx.NoteRevision(firewallID, how.summary)
	}
	if err := s.bump(ctx, tx, firewallID); err != nil {
		return TreeResult{}, err
	}
	after, err := tx.LoadTree(ctx, firewallID)
	if err != nil {
		return TreeResult{}, err
	}
	out.Tree, out.Revision, out.Changed = engineTree(after), after.Firewall.Revision, true
	return out, nil
}

// matchTree returns target with ids of the current tree's elements it
// matches, by id, else by name, and meta of the current ones; unmatched
// elements get new ids. To restore an earlier revision, elements match by
// id only and unmatched ones keep their ids, so that the result is the
// earlier tree itself, its deleted elements back under their own ids.
func (s *Service) matchTree(cur, target firewall.Tree, restore bool) firewall.Tree {
	polName := func(p *firewall.PolicyTree) string { return firewall.NameKey(p.Policy.Name) }
	tpolName := func(p firewall.PolicyTree) string { return firewall.NameKey(p.Policy.Name) }
	ruleName := func(r *firewall.Rule) string { return firewall.NameKey(r.Name) }
	truleName := func(r firewall.Rule) string { return firewall.NameKey(r.Name) }
	if restore {
		polName = func(*firewall.PolicyTree) string { return "" }
		tpolName = func(firewall.PolicyTree) string { return "" }
		ruleName = func(*firewall.Rule) string { return "" }
		truleName = func(firewall.Rule) string { return "" }
	}
	unmatched := func(m firewall.Meta) firewall.Meta {
		fresh := s.freshMeta()
		if restore && m.ID != "" {
			fresh.ID, fresh.CreatedAt = m.ID, m.CreatedAt
		}
		return fresh
	}
	next := firewall.Tree{Firewall: target.Firewall, Policies: make([]firewall.PolicyTree, len(target.Policies)), Groups: target.Groups}
	next.Firewall.Meta, next.Firewall.Revision = cur.Firewall.Meta, cur.Firewall.Revision
	curPol := make([]*firewall.PolicyTree, len(cur.Policies))
	for i := range cur.Policies {
		curPol[i] = &cur.Policies[i]
	}
	pm := matchBy(curPol, target.Policies,
		func(p *firewall.PolicyTree) string { return p.Policy.ID }, polName,
		func(p firewall.PolicyTree) string { return p.Policy.ID }, tpolName)
	for i, tp := range target.Policies {
		np := firewall.PolicyTree{Policy: tp.Policy}
		np.Policy.FirewallID = cur.Firewall.ID
		var curRules []*firewall.Rule
		if m := pm[i]; m != nil {
			np.Policy.Meta = m.Policy.Meta
			for j := range m.Rules {
				curRules = append(curRules, &m.Rules[j])
			}
		} else {
			np.Policy.Meta = unmatched(tp.Policy.Meta)
		}
		trs := sortedRules(tp.Rules)
		rm := matchBy(curRules, trs,
			func(r *firewall.Rule) string { return r.ID }, ruleName,
			func(r firewall.Rule) string { return r.ID }, truleName)
		np.Rules = make([]firewall.Rule, len(tp.Rules))
		for j, tr := range trs {
			nr := tr
			if m := rm[j]; m != nil {
				nr.Meta = m.Meta
			} else {
				nr.Meta = unmatched(tr.Meta)
			}
			nr.FirewallID, nr.PolicyID, nr.Position = cur.Firewall.ID, np.Policy.ID, j+1
			np.Rules[j] = nr
		}
		next.Policies[i] = np
	}
	return next
}

func (s *Service) freshMeta() firewall.Meta {
	var m firewall.Meta
	s.stamp(&m)
	return m
}

// matchBy pairs each target element with a current one: first by id, then
// by non-empty name among those left.
func matchBy[C any, T any](cur []C, target []T, cid, cname func(C) string, tid, tname func(T) string) []C {
	out := make([]C, len(target))
	var zero C
	used := make([]bool, len(cur))
	ids, names := map[string]int{}, map[string]int{}
	for i, c := range cur {
		ids[cid(c)] = i
		if n := cname(c); n != "" {
			names[n] = i
		}
	}
	matched := make([]bool, len(target))
	for i, t := range target {
		if j, ok := ids[tid(t)]; ok && !used[j] {
			out[i], used[j], matched[i] = cur[j], true, true
		}
	}
	for i, t := range target {
		if matched[i] {
			continue
		}
		if j, ok := names[tname(t)]; ok && tname(t) != "" && !used[j] {
			out[i], used[j], matched[i] = cur[j], true, true
			continue
		}
		out[i] = zero
	}
	return out
}

// applyTree writes the changes from cur to next, next's elements carrying
// the ids of the current ones they replace; each change is audited.
func (s *Service) applyTree(ctx context.Context, tx store.Tx, cur, next firewall.Tree) error {
	fwID := cur.Firewall.ID
	if len(fieldChanges(cur.Firewall, next.Firewall)) > 0 {
		f := next.Firewall
		f.Meta, f.Revision = cur.Firewall.Meta, cur.Firewall.Revision
		s.stamp(&f.Meta)
		if err := tx.UpdateFirewall(ctx, &f); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindFirewall, fwID, fwID, cur.Firewall, f}); err != nil {
			return err
		}
	}
	curPol := map[string]*firewall.PolicyTree{}
	for i := range cur.Policies {
		curPol[cur.Policies[i].Policy.ID] = &cur.Policies[i]
	}
	keep := map[string]bool{}
	for _, np := range next.Policies {
		keep[np.Policy.ID] = true
	}
	for _, cp := range cur.Policies {
		if keep[cp.Policy.ID] {
			continue
		}
		if err := tx.DeletePolicy(ctx, fwID, cp.Policy.ID, true); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditDelete, firewall.KindPolicy, cp.Policy.ID, fwID, cp.Policy, nil}); err != nil {
			return err
		}
	}
	parked, err := s.parkPolicies(ctx, tx, curPol, next)
	if err != nil {
		return err
	}
	for i := range next.Policies {
		np := &next.Policies[i]
		cp := curPol[np.Policy.ID]
		if err := s.applyPolicy(ctx, tx, cp, np, parked[np.Policy.ID]); err != nil {
			return err
		}
		var rules []firewall.Rule
		if cp != nil {
			rules = cp.Rules
		}
		if err := s.applyRules(ctx, tx, rules, np.Rules); err != nil {
			return err
		}
	}
	return nil
}

// parkPolicies moves the kept policies whose priority or name changes to
// free priorities and names of their own first, so that policies trading
// priorities or names never clash on the way. It returns those it moved.
func (s *Service) parkPolicies(ctx context.Context, tx store.Tx, cur map[string]*firewall.PolicyTree, next firewall.Tree) (map[string]bool, error) {
	used := map[int]bool{}
	for _, cp := range cur {
		used[cp.Policy.Priority] = true
	}
	for _, np := range next.Policies {
		used[np.Policy.Priority] = true
	}
	free := firewall.MaxPriority
	parked := map[string]bool{}
	for _, np := range next.Policies {
		cp := cur[np.Policy.ID]
		if cp == nil || (cp.Policy.Priority == np.Policy.Priority && firewall.NameKey(cp.Policy.Name) == firewall.NameKey(np.Policy.Name)) {
			continue
		}
		for used[free] {
			free--
		}
		used[free] = true
		tmp := cp.Policy
		tmp.Priority, tmp.Name = free, "~moving~"+tmp.ID
		s.stamp(&tmp.Meta)
		if err := tx.UpdatePolicy(ctx, &tmp); err != nil {
			return nil, fmt.Errorf("park policy %s: %w", tmp.ID, err)
		}
		parked[np.Policy.ID] = true
	}
	return parked, nil
}

func (s *Service) applyPolicy(ctx context.Context, tx store.Tx, cp, np *firewall.PolicyTree, parked bool) error {
	p := np.Policy
	fwID := p.FirewallID
	if cp == nil {
		if err := tx.CreatePolicy(ctx, &p); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindPolicy, p.ID, fwID, nil, p})
	}
	if !parked && len(fieldChanges(cp.Policy, p)) == 0 {
		return nil
	}
	s.stamp(&p.Meta)
	if err := tx.UpdatePolicy(ctx, &p); err != nil {
		return err
	}
	return s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindPolicy, p.ID, fwID, cp.Policy, p})
}

// applyRules turns one policy's rules cur (in position order) into next:
// deletes, then updates, then moves and creates in target order.
func (s *Service) applyRules(ctx context.Context, tx store.Tx, cur, next []firewall.Rule) error {
	want := map[string]int{}
	for j, r := range next {
		want[r.ID] = j
	}
	byID := map[string]firewall.Rule{}
	var order []string
	for _, r := range cur {
		if _, ok := want[r.ID]; !ok {
			if err := tx.DeleteRule(ctx, r.FirewallID, r.PolicyID, r.ID); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, auditEntry{firewall.AuditDelete, firewall.KindRule, r.ID, r.FirewallID, r, nil}); err != nil {
				return err
			}
			continue
		}
		byID[r.ID] = r
		order = append(order, r.ID)
	}
	// Rules that trade names would clash on the way: unname the renamed
	// ones first.
	renamed := map[string]bool{}
	for _, nr := range next {
		cr, ok := byID[nr.ID]
		if !ok || cr.Name == "" || firewall.NameKey(cr.Name) == firewall.NameKey(nr.Name) {
			continue
		}
		tmp := cr
		tmp.Name = ""
		s.stamp(&tmp.Meta)
		if err := tx.UpdateRule(ctx, &tmp); err != nil {
			return fmt.Errorf("unname rule %s: %w", tmp.ID, err)
		}
		renamed[nr.ID] = true
	}
	for _, nr := range next {
		cr, ok := byID[nr.ID]
		if !ok || (!renamed[nr.ID] && sameRule(&cr, &nr)) {
			continue
		}
		r := nr
		r.Position = cr.Position
		s.stamp(&r.Meta)
		if err := tx.UpdateRule(ctx, &r); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindRule, r.ID, r.FirewallID, cr, r}); err != nil {
			return err
		}
		byID[r.ID] = r
	}
	for j, nr := range next {
		if j < len(order) && order[j] == nr.ID {
			continue
		}
		if k := slices.Index(order, nr.ID); k >= 0 {
			r := byID[nr.ID]
			before := r
			s.stamp(&r.Meta)
			if err := tx.MoveRule(ctx, &r, j+1); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, auditEntry{firewall.AuditMove, firewall.KindRule, r.ID, r.FirewallID, before, r}); err != nil {
				return err
			}
			order = slices.Insert(slices.Delete(order, k, k+1), j, nr.ID)
			continue
		}
		r := nr
		r.Position = j + 1
		r.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
		if err := tx.CreateRule(ctx, &r); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindRule, r.ID, r.FirewallID, nil, r}); err != nil {
			return err
		}
		order = slices.Insert(order, j, nr.ID)
	}
	return nil
}

// withoutRepeats drops entries a rule lists twice (the same prefix or port
// range), which mean nothing more and which the stores keep only once.
func withoutRepeats(t firewall.Tree) firewall.Tree {
	out := t
	out.Policies = slices.Clone(t.Policies)
	for i := range out.Policies {
		rules := slices.Clone(out.Policies[i].Rules)
		for j := range rules {
			r := &rules[j]
			r.Sources, r.Destinations = unique(r.Sources), unique(r.Destinations)
			r.SourcePorts, r.DestinationPorts = unique(r.SourcePorts), unique(r.DestinationPorts)
		}
		out.Policies[i].Rules = rules
	}
	return out
}

func unique[T comparable](xs []T) []T {
	if len(xs) < 2 {
		return xs
	}
	seen := make(map[T]bool, len(xs))
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
