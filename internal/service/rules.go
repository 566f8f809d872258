package service

import (
	"context"
	"fmt"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ListRules returns one page of a policy's rules: those q.Filter selects,
// by default in position order.
func (s *Service) ListRules(ctx context.Context, firewallID, policyID string, q firewall.Query) (firewall.Page[firewall.Rule], error) {
	return s.store.ListRules(ctx, firewallID, policyID, clampPage(q))
}

// GetRule returns one rule.
func (s *Service) GetRule(ctx context.Context, firewallID, policyID, id string) (firewall.Rule, error) {
	return s.store.GetRule(ctx, firewallID, policyID, id)
}

// CreateRule validates and stores a new rule at r.Position, or at the end
// when the position is 0, shifting the rules after it.
func (s *Service) CreateRule(ctx context.Context, firewallID, policyID string, r firewall.Rule, idem Idempotency) (firewall.Rule, bool, error) {
	if err := r.Validate(); err != nil {
		return firewall.Rule{}, false, err
	}
	r.Meta, r.FirewallID, r.PolicyID = firewall.Meta{}, firewallID, policyID
	s.stamp(&r.Meta)
	out := r
	replayed, err := create(ctx, s, idem, &out, func(r *firewall.Rule) string { return r.ID },
		func(ctx context.Context, tx store.Tx) error {
			if _, err := lockPolicy(ctx, tx, firewallID, policyID); err != nil {
				return err
			}
			// The store checks r.Position against the policy's rules, with
			// the same problem the service would give, so it is counted once.
			out = r
			if err := resolveRuleGroups(ctx, tx, &out); err != nil {
				return err
			}
			if err := tx.CreateRule(ctx, &out); err != nil {
				return err
			}
			if err := s.bump(ctx, tx, firewallID); err != nil {
				return err
			}
			return s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindRule, out.ID, firewallID, nil, out})
		})
	if err != nil {
		return firewall.Rule{}, false, fmt.Errorf("create rule in policy %s: %w", policyID, err)
	}
	return out, replayed, nil
}

// UpdateRule applies patch to the current rule inside the transaction and
// stores the result, if the precondition holds. A rule's position changes
// only through MoveRule.
func (s *Service) UpdateRule(ctx context.Context, firewallID, policyID, id string, pre Precondition, patch firewall.RulePatch) (firewall.Rule, error) {
	var out firewall.Rule
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := lockRule(ctx, tx, firewallID, policyID, id, pre)
		if err != nil {
			return err
		}
		next, err := patch.Apply(cur)
		if err != nil {
			return err
		}
		next.Meta, next.FirewallID, next.PolicyID = cur.Meta, cur.FirewallID, cur.PolicyID
		if err := resolveRuleGroups(ctx, tx, &next); err != nil {
			return err
		}
		s.stamp(&next.Meta)
		if err := tx.UpdateRule(ctx, &next); err != nil {
			return err
		}
		out = next
		if err := s.bump(ctx, tx, firewallID); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindRule, id, firewallID, cur, next})
	})
	if err != nil {
		return firewall.Rule{}, fmt.Errorf("update rule %s: %w", id, err)
	}
	return out, nil
}

// MoveTarget says where a rule moves: to a position, or just before or just
// after another rule of the same policy. Exactly one field is set.
type MoveTarget struct {
	Position int
	Before   string
	After    string
}

// MoveRule moves a rule within its policy, renumbering the rules in between
// so that positions stay 1..n.
func (s *Service) MoveRule(ctx context.Context, firewallID, policyID, id string, pre Precondition, to MoveTarget) (firewall.Rule, error) {
	var out firewall.Rule
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := lockRule(ctx, tx, firewallID, policyID, id, pre)
		if err != nil {
			return err
		}
		pos, err := s.resolveMove(ctx, tx, cur, to)
		if err != nil {
			return err
		}
		moved := cur
		s.stamp(&moved.Meta)
		if err := tx.MoveRule(ctx, &moved, pos); err != nil {
			return err
		}
		out = moved
		if err := s.bump(ctx, tx, firewallID); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditMove, firewall.KindRule, id, firewallID, cur, moved})
	})
	if err != nil {
		return firewall.Rule{}, fmt.Errorf("move rule %s: %w", id, err)
	}
	return out, nil
}

// resolveMove turns a move target into the rule's final position.
func (s *Service) resolveMove(ctx context.Context, tx store.Tx, r firewall.Rule, to MoveTarget) (int, error) {
	if to.Before == "" && to.After == "" {
		n, err := tx.CountRules(ctx, r.PolicyID)
		if err != nil {
			return 0, err
		}
		if to.Position < 1 || to.Position > n {
			return 0, positionError("position", to.Position, n)
		}
		return to.Position, nil
	}
	field, anchorID := "before", to.Before
	if to.After != "" {
		field, anchorID = "after", to.After
	}
	if anchorID == r.ID {
		var ps firewall.Problems
		ps.Add(field, anchorID, "a rule cannot be moved relative to itself")
		return 0, ps.Err("the move is not valid")
	}
	anchor, err := tx.GetRule(ctx, r.FirewallID, r.PolicyID, anchorID)
	if firewall.CodeOf(err) == firewall.CodeNotFound {
		var ps firewall.Problems
		ps.Add(field, anchorID, "no rule %q in this filtering policy", anchorID)
		return 0, ps.Err("the move is not valid")
	}
	if err != nil {
		return 0, err
	}
	// Positions of the other rules once r is taken out of the list.
	at := anchor.Position
	if at > r.Position {
		at--
	}
	if field == "after" {
		at++
	}
	return at, nil
}

// DeleteRule deletes a rule and closes the gap it leaves.
func (s *Service) DeleteRule(ctx context.Context, firewallID, policyID, id string, pre Precondition) error {
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := lockRule(ctx, tx, firewallID, policyID, id, pre)
		if err != nil {
			return err
		}
		if err := tx.DeleteRule(ctx, firewallID, policyID, id); err != nil {
			return err
		}
		if err := s.bump(ctx, tx, firewallID); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditDelete, firewall.KindRule, id, firewallID, cur, nil})
	})
	if err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return nil
}

// lockRule locks the rule's firewall tree, reads the rule and checks the precondition.
func lockRule(ctx context.Context, tx store.Tx, firewallID, policyID, id string, pre Precondition) (firewall.Rule, error) {
	if _, err := tx.LockFirewall(ctx, firewallID); err != nil {
		return firewall.Rule{}, err
	}
	r, err := tx.GetRule(ctx, firewallID, policyID, id)
	if err != nil {
		return firewall.Rule{}, err
	}
	return r, pre.check("rule", id, r.ETag)
}

func positionError(field string, got, highest int) error {
	var ps firewall.Problems
	if highest < 1 {
		ps.Add(field, got, "the filtering policy has no rules to move between")
	} else {
		ps.Add(field, got, "%s must be between 1 and %d", field, highest)
	}
	return ps.Err("the position is out of range")
}
