package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/analysis"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ChangeImpact is what a change request does to the tree it was written
// against: the structural and semantic diffs, and the analysis findings
// it adds and removes.
type ChangeImpact struct {
	Structural      TreeDiff        `json:"structural"`
	Semantic        SemanticDiff    `json:"semantic"`
	FindingsAdded   []FindingChange `json:"findings_added"`
	FindingsRemoved []FindingChange `json:"findings_removed"`
}

// DecodeImpact reads the impact a change request was stored with.
func DecodeImpact(cr firewall.ChangeRequest) (ChangeImpact, error) {
	var im ChangeImpact
	if err := json.Unmarshal(cr.Impact, &im); err != nil {
		return ChangeImpact{}, fmt.Errorf("decode impact of change request %s: %w", cr.ID, err)
	}
	return im, nil
}

type changeRequestKey struct{}

// withChangeRequest marks the audit events written under ctx as made by
// change request id.
func withChangeRequest(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, changeRequestKey{}, id)
}

func changeRequestFrom(ctx context.Context) string {
	id, _ := ctx.Value(changeRequestKey{}).(string)
	return id
}

// ListChangeRequests returns one page of a firewall's change requests, by
// default newest first.
// An open or approved request the firewall has moved past in a way that
// conflicts is shown stale (see showStale).
func (s *Service) ListChangeRequests(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.ChangeRequest], error) {
	p, err := s.store.ListChangeRequests(ctx, firewallID, clampPage(q))
	if err != nil {
		return p, err
	}
	return p, s.showStale(ctx, firewallID, p.Items)
}

// GetChangeRequest returns one change request, shown stale as the list
// shows it.
func (s *Service) GetChangeRequest(ctx context.Context, firewallID, id string) (firewall.ChangeRequest, error) {
	cr, err := s.store.GetChangeRequest(ctx, firewallID, id)
	if err != nil {
		return cr, err
	}
	one := []firewall.ChangeRequest{cr}
	err = s.showStale(ctx, firewallID, one)
	return one[0], err
}

// CreateChangeRequest stores a proposed change with its impact on the
// tree at in.BaseRevision: the caller is its author, and it starts open.
// Elements its operations create get their ids now, so that a later
// recomputation names the same ones; a candidate's elements are matched to
// the base's by id, else by name.
func (s *Service) CreateChangeRequest(ctx context.Context, firewallID string, in firewall.ChangeRequest, idem Idempotency) (firewall.ChangeRequest, bool, error) {
	if err := in.Validate(); err != nil {
		return firewall.ChangeRequest{}, false, err
	}
	base, err := s.baseTree(ctx, firewallID, in.BaseRevision)
	if err != nil {
		return firewall.ChangeRequest{}, false, err
	}
	cr := firewall.ChangeRequest{FirewallID: firewallID, Title: in.Title, Description: in.Description,
		BaseRevision: in.BaseRevision, Base: &base, State: firewall.ChangeOpen, Author: callerFrom(ctx).Subject,
		Comments: []firewall.ChangeComment{}}
	var target firewall.Tree
	if in.Operations != nil {
		cr.Operations = s.withIDs(in.Operations)
		if target, err = firewall.ApplyOperations(base, cr.Operations); err != nil {
			return firewall.ChangeRequest{}, false, err
		}
	} else {
		matched := s.matchTree(base, withoutRepeats(*in.Candidate), false)
		cr.Candidate, target = &matched, matched
	}
	im, err := s.impact(base, target)
	if err != nil {
		return firewall.ChangeRequest{}, false, err
	}
	if cr.Impact, err = json.Marshal(im); err != nil {
		return firewall.ChangeRequest{}, false, fmt.Errorf("encode impact: %w", err)
	}
	cr.NoOp = im.Semantic.NoOp
	s.stamp(&cr.Meta)
	out := cr
	replayed, err := create(ctx, s, idem, &out, func(cr *firewall.ChangeRequest) string { return cr.ID },
		func(ctx context.Context, tx store.Tx) error {
			out = cr
			if err := tx.CreateChangeRequest(ctx, &out); err != nil {
				return err
			}
			return s.audit(withChangeRequest(ctx, out.ID), tx,
				auditEntry{firewall.AuditCreate, firewall.KindChangeRequest, out.ID, firewallID, nil, reviewImage(out)})
		})
	if err != nil {
		return firewall.ChangeRequest{}, false, fmt.Errorf("create change request in firewall %s: %w", firewallID, err)
	}
	return out, replayed, nil
}

// baseTree reads the tree a change request is written against: the
// current one, or an older kept revision.
func (s *Service) baseTree(ctx context.Context, firewallID string, rev int64) (firewall.Tree, error) {
	cur, err := s.GetTree(ctx, firewallID)
	if err != nil {
		return firewall.Tree{}, err
	}
	now := cur.Firewall.Revision
	switch {
	case rev == now:
		return cur, nil
	case rev > now:
		return firewall.Tree{}, firewall.ConflictOn("base_revision", rev,
			"base_revision %d is ahead of the firewall's current revision %d", rev, now)
	}
	t, err := s.TreeAt(ctx, firewallID, rev)
	if firewall.CodeOf(err) == firewall.CodeGone {
		return firewall.Tree{}, firewall.ConflictOn("base_revision", rev,
			"base_revision %d is no longer kept; write the change against the current revision %d", rev, now)
	}
	return t, err
}

// withIDs returns a copy of ops in which the policies and rules that
// create operations make have ids, etags and times of their own.
func (s *Service) withIDs(ops []firewall.Operation) []firewall.Operation {
	out := slices.Clone(ops)
	for i := range out {
		op := &out[i]
		switch {
		case op.Policy != nil:
			p := *op.Policy
			p.Meta = s.freshMeta()
			op.Policy = &p
		case op.Rule != nil:
			r := *op.Rule
			r.Meta = s.freshMeta()
			op.Rule = &r
		}
	}
	return out
}

// impact computes what target does to base.
func (s *Service) impact(base, target firewall.Tree) (ChangeImpact, error) {
	im := ChangeImpact{Structural: DiffTrees(base, target)}
	mo, mn, err := s.models(base, target)
	if err != nil {
		return ChangeImpact{}, err
	}
	if im.Semantic, err = compareModels(mo, mn, 0); err != nil {
		return ChangeImpact{}, err
	}
	if im.FindingsAdded, im.FindingsRemoved, err = findingsDiff(mo, mn); err != nil {
		return ChangeImpact{}, err
	}
	im.FindingsAdded, im.FindingsRemoved = nonNil(im.FindingsAdded), nonNil(im.FindingsRemoved)
	return im, nil
}

// reviewImage is what the audit log keeps of a change request: its
// review, not the trees it carries.
func reviewImage(cr firewall.ChangeRequest) map[string]any {
	return map[string]any{"id": cr.ID, "title": cr.Title, "state": cr.State, "base_revision": cr.BaseRevision,
		"author": cr.Author, "reviewer": cr.Reviewer, "applied_revision": cr.AppliedRevision,
		"stale_reason": cr.StaleReason, "no_op": cr.NoOp, "etag": cr.ETag}
}

// ApproveChangeRequest approves an open change request. Nobody approves
// their own (a forbidden error); the route gives the approver role.
func (s *Service) ApproveChangeRequest(ctx context.Context, firewallID, id, comment string, pre Precondition) (firewall.ChangeRequest, error) {
	return s.review(ctx, firewallID, id, firewall.ChangeApproved, "approve", comment, pre)
}

// RejectChangeRequest rejects an open change request; as for approving,
// the author cannot.
func (s *Service) RejectChangeRequest(ctx context.Context, firewallID, id, comment string, pre Precondition) (firewall.ChangeRequest, error) {
	return s.review(ctx, firewallID, id, firewall.ChangeRejected, "reject", comment, pre)
}

// CancelChangeRequest withdraws an open or approved change request.
func (s *Service) CancelChangeRequest(ctx context.Context, firewallID, id, comment string, pre Precondition) (firewall.ChangeRequest, error) {
	return s.review(ctx, firewallID, id, firewall.ChangeCancelled, "cancel", comment, pre)
}

// review moves a change request to next in one transaction, noting who
// did it and what they said.
func (s *Service) review(ctx context.Context, firewallID, id string, next firewall.ChangeState, action, comment string, pre Precondition) (firewall.ChangeRequest, error) {
	if err := firewall.CheckComment(comment); err != nil {
		return firewall.ChangeRequest{}, err
	}
	var out firewall.ChangeRequest
	var stale error
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		stale = nil
		cr, err := lockChangeRequest(ctx, tx, firewallID, id, pre)
		if err != nil {
			return err
		}
		caller := callerFrom(ctx)
		if next == firewall.ChangeApproved || next == firewall.ChangeRejected {
			if caller.Subject == cr.Author {
				return firewall.Forbidden("%s wrote change request %q; another person must %s it", cr.Author, cr.ID, action)
			}
			cr.Reviewer = caller.Subject
		}
		if err := cr.CanMove(next); err != nil {
			return err
		}
		if next == firewall.ChangeApproved {
			// Approving what would no longer apply as reviewed would
			// approve something nobody saw; the request goes stale.
			reason, err := s.staleIn(ctx, tx, cr)
			if err != nil {
				return err
			}
			if reason != "" {
				cr.StaleReason = reason
				if out, err = s.record(ctx, tx, cr, firewall.ChangeStale, "stale", comment); err == nil {
					stale = staleError(out)
				}
				return err
			}
		}
		out, err = s.record(ctx, tx, cr, next, action, comment)
		return err
	})
	if err != nil {
		return firewall.ChangeRequest{}, fmt.Errorf("%s change request %s: %w", action, id, err)
	}
	return out, stale
}

// lockChangeRequest locks the change request's firewall, so that its
// transitions and applies take turns with every change to the tree, and
// reads it.
func lockChangeRequest(ctx context.Context, tx store.Tx, firewallID, id string, pre Precondition) (firewall.ChangeRequest, error) {
	if _, err := tx.LockFirewall(ctx, firewallID); err != nil {
		return firewall.ChangeRequest{}, err
	}
	cr, err := tx.GetChangeRequest(ctx, firewallID, id)
	if err != nil {
		return firewall.ChangeRequest{}, err
	}
	return cr, pre.check("change request", id, cr.ETag)
}

// record writes cr in state next, with a comment for the step, and audits it.
func (s *Service) record(ctx context.Context, tx store.Tx, cr firewall.ChangeRequest, next firewall.ChangeState, action, comment string) (firewall.ChangeRequest, error) {
	before := reviewImage(cr)
	cr.State = next
	s.stamp(&cr.Meta)
	cr.Comments = append(slices.Clone(cr.Comments), firewall.ChangeComment{At: cr.UpdatedAt, Actor: callerFrom(ctx).Subject, Action: action, Text: comment})
	if err := tx.UpdateChangeRequest(ctx, &cr); err != nil {
		return firewall.ChangeRequest{}, err
	}
	err := s.audit(withChangeRequest(ctx, cr.ID), tx,
		auditEntry{firewall.AuditUpdate, firewall.KindChangeRequest, cr.ID, cr.FirewallID, before, reviewImage(cr)})
	return cr, err
}

// ApplyChangeRequest applies an approved change request in one
// transaction. When the firewall has moved past the base, the change is
// first recomputed on the current tree: it applies only if its operations
// still apply (for a candidate, only if the parts it changes are as they
// were at the base) and its semantic diff is unchanged. Otherwise the
// request becomes stale, which is committed, and a conflict error gives
// the reason. Every audit event of the applied change names the request.
func (s *Service) ApplyChangeRequest(ctx context.Context, firewallID, id, comment string, pre Precondition) (firewall.ChangeRequest, error) {
	if err := firewall.CheckComment(comment); err != nil {
		return firewall.ChangeRequest{}, err
	}
	var out firewall.ChangeRequest
	var stale error
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		stale = nil
		cr, err := lockChangeRequest(ctx, tx, firewallID, id, pre)
		if err != nil {
			return err
		}
		if err := cr.CanMove(firewall.ChangeApplied); err != nil {
			return err
		}
		loaded, err := tx.LoadTree(ctx, firewallID)
		if err != nil {
			return err
		}
		cur := engineTree(loaded)
		target, reason, err := s.rebase(cr, cur)
		if err != nil {
			return err
		}
		if reason != "" {
			cr.StaleReason = reason
			if out, err = s.record(ctx, tx, cr, firewall.ChangeStale, "stale", comment); err != nil {
				return err
			}
			stale = staleError(out)
			return nil
		}
		res, err := s.replaceIn(withChangeRequest(ctx, cr.ID), tx, firewallID,
			Precondition{TreeETag(cur.Firewall.Revision)}, withoutRepeats(target), treeReplace{summary: "applied change request " + cr.ID})
		if err != nil {
			return err
		}
		cr.AppliedRevision = res.Revision
		out, err = s.record(ctx, tx, cr, firewall.ChangeApplied, "apply", comment)
		return err
	})
	if err != nil {
		return firewall.ChangeRequest{}, fmt.Errorf("apply change request %s: %w", id, err)
	}
	return out, stale
}

// targetOn is the tree the change request makes of t: its operations
// applied to t, or its candidate.
func targetOn(cr firewall.ChangeRequest, t firewall.Tree) (firewall.Tree, error) {
	if cr.Operations == nil {
		return *cr.Candidate, nil
	}
	return firewall.ApplyOperations(t, cr.Operations)
}

// rebase returns the tree the change request makes of cur, or a reason
// why it no longer applies as it was reviewed.
func (s *Service) rebase(cr firewall.ChangeRequest, cur firewall.Tree) (firewall.Tree, string, error) {
	t, reason, _, err := s.rebaseUntil(cr, cur)
	return t, reason, err
}

// rebaseUntil is rebase, and also the first instant after now at which a
// rule of the trees it judged expires, when its verdict may change (zero:
// never).
func (s *Service) rebaseUntil(cr firewall.ChangeRequest, cur firewall.Tree) (firewall.Tree, string, time.Time, error) {
	moved := fmt.Sprintf("the firewall moved from revision %d to %d", cr.BaseRevision, cur.Firewall.Revision)
	if cur.Firewall.Revision == cr.BaseRevision {
		t, err := targetOn(cr, cur)
		if err != nil {
			return firewall.Tree{}, "its operations do not apply: " + err.Error(), time.Time{}, nil
		}
		return t, "", time.Time{}, nil
	}
	if cr.Base == nil {
		return firewall.Tree{}, "", time.Time{}, fmt.Errorf("change request %s has no base tree", cr.ID)
	}
	base := *cr.Base
	baseT, err := targetOn(cr, base)
	if err != nil {
		return firewall.Tree{}, "", time.Time{}, fmt.Errorf("recompute change request %s on its base: %w", cr.ID, err)
	}
	var curT firewall.Tree
	if cr.Operations != nil {
		if curT, err = firewall.ApplyOperations(cur, cr.Operations); err != nil {
			return firewall.Tree{}, moved + " and its operations no longer apply: " + err.Error(), time.Time{}, nil
		}
	} else {
		var reason string
		if curT, reason = mergeCandidate(base, *cr.Candidate, cur); reason != "" {
			return firewall.Tree{}, moved + " and " + reason, time.Time{}, nil
		}
	}
	reason, until, err := s.sameEffect(base, baseT, cur, curT)
	if err != nil || reason == "" {
		return curT, "", until, err
	}
	return firewall.Tree{}, moved + " and " + reason, until, nil
}

// mergeCandidate returns cur with the parts the candidate changes from
// base replaced by the candidate's, or why it cannot: one of those parts
// is no longer as it was at the base.
func mergeCandidate(base, cand, cur firewall.Tree) (firewall.Tree, string) {
	d := DiffTrees(base, cand)
	out := firewall.Tree{Firewall: cur.Firewall}
	if len(d.Firewall) > 0 {
		if len(fieldChanges(base.Firewall, cur.Firewall)) > 0 {
			return firewall.Tree{}, "the firewall's own fields changed since the base, and the candidate changes them too"
		}
		out.Firewall = cand.Firewall
		out.Firewall.Meta, out.Firewall.Revision = cur.Firewall.Meta, cur.Firewall.Revision
	}
	touched := map[string]bool{}
	for _, p := range d.Policies {
		touched[p.ID] = true
	}
	for _, r := range d.Rules {
		touched[r.PolicyID] = true
		if r.OldPolicyID != "" {
			touched[r.OldPolicyID] = true
		}
	}
	inBase := policiesByID(base)
	inCur := policiesByID(cur)
	inCand := policiesByID(cand)
	for id := range touched {
		bp, ok := inBase[id]
		if !ok {
			continue // added by the candidate
		}
		cp, ok := inCur[id]
		if !ok {
			return firewall.Tree{}, fmt.Sprintf("filtering policy %q, which the candidate changes, was deleted since the base", bp.Policy.Name)
		}
		if !samePolicyTree(bp, cp) {
			return firewall.Tree{}, fmt.Sprintf("filtering policy %q, which the candidate changes, changed since the base", bp.Policy.Name)
		}
	}
	for _, cp := range cur.Policies {
		if !touched[cp.Policy.ID] {
			out.Policies = append(out.Policies, cp)
		} else if np, ok := inCand[cp.Policy.ID]; ok {
			out.Policies = append(out.Policies, *np)
		}
	}
	for _, np := range cand.Policies {
		if _, ok := inBase[np.Policy.ID]; !ok {
			out.Policies = append(out.Policies, np)
		}
	}
	if err := out.Validate(); err != nil {
		return firewall.Tree{}, "the candidate no longer fits the current tree: " + err.Error()
	}
	return out, ""
}

func policiesByID(t firewall.Tree) map[string]*firewall.PolicyTree {
	m := make(map[string]*firewall.PolicyTree, len(t.Policies))
	for i := range t.Policies {
		m[t.Policies[i].Policy.ID] = &t.Policies[i]
	}
	return m
}

// samePolicyTree reports whether a policy and its rules are the same in
// content and order.
func samePolicyTree(a, b *firewall.PolicyTree) bool {
	if len(fieldChanges(a.Policy, b.Policy)) > 0 || len(a.Rules) != len(b.Rules) {
		return false
	}
	ra, rb := sortedRules(a.Rules), sortedRules(b.Rules)
	for i := range ra {
		if ra[i].ID != rb[i].ID || !sameRule(&ra[i], &rb[i]) {
			return false
		}
	}
	return true
}

// sameEffect reports, as a reason, whether the change does something else
// to cur than it did to base, judged exactly over the whole header space
// (analysis.SameEffect): every flow whose action it altered at the base it
// must alter now, from the same action to the same action, and every flow
// it left alone it must leave alone. It answers "" when the effect is
// unchanged, and the first instant a rule of the four trees expires.
func (s *Service) sameEffect(base, baseT, cur, curT firewall.Tree) (string, time.Time, error) {
	now := s.now()
	var ms [4]*analysis.Model
	var until time.Time
	for i, t := range []firewall.Tree{base, baseT, cur, curT} {
		var err error
		if ms[i], err = analysis.New(t, now); err != nil {
			return "", time.Time{}, fmt.Errorf("analyse a tree of the change: %w", err)
		}
		if u := ms[i].ValidUntil(); !u.IsZero() && (until.IsZero() || u.Before(until)) {
			until = u
		}
	}
	got, err := analysis.SameEffect(ms[0], ms[1], ms[2], ms[3])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("compare the change's effect: %w", err)
	}
	if got.Same {
		return "", until, nil
	}
	return fmt.Sprintf("its semantic diff changed: flows such as %s went from %s to %s at the base, and would go from %s to %s now",
		flowText(got.Example), decisionText(got.Base), decisionText(got.BaseChanged),
		decisionText(got.Current), decisionText(got.CurrentChanged)), until, nil
}

func decisionText(d firewall.Decision) string {
	var b strings.Builder
	b.WriteString(string(d.Action) + " by " + string(d.DecidedBy))
	if d.RuleID != "" {
		b.WriteString(" " + d.RuleID)
	} else if d.PolicyID != "" {
		b.WriteString(" of policy " + d.PolicyID)
	}
	return b.String()
}

func flowText(f firewall.Flow) string {
	if f.Protocol.HasPorts() {
		return fmt.Sprintf("%s %s:%d -> %s:%d", f.Protocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort)
	}
	return fmt.Sprintf("%s %s -> %s", f.Protocol, f.Source, f.Destination)
}
