package service

import (
	"context"
	"fmt"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ListPolicies returns one page of a firewall's policies: those q.Filter
// selects, by default in priority order.
func (s *Service) ListPolicies(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.Policy], error) {
	return s.store.ListPolicies(ctx, firewallID, clampPage(q))
}

// GetPolicy returns one filtering policy.
func (s *Service) GetPolicy(ctx context.Context, firewallID, id string) (firewall.Policy, error) {
	return s.store.GetPolicy(ctx, firewallID, id)
}

// CreatePolicy validates and stores a new policy in a firewall.
func (s *Service) CreatePolicy(ctx context.Context, firewallID string, p firewall.Policy, idem Idempotency) (firewall.Policy, bool, error) {
	if err := p.Validate(); err != nil {
		return firewall.Policy{}, false, err
	}
	p.Meta, p.FirewallID = firewall.Meta{}, firewallID
	s.stamp(&p.Meta)
	out := p
	replayed, err := create(ctx, s, idem, &out, func(p *firewall.Policy) string { return p.ID },
		func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.LockFirewall(ctx, firewallID); err != nil {
				return err
			}
			out = p
			if err := tx.CreatePolicy(ctx, &out); err != nil {
				return err
			}
			if err := s.bump(ctx, tx, firewallID); err != nil {
				return err
			}
			return s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindPolicy, out.ID, firewallID, nil, out})
		})
	if err != nil {
		return firewall.Policy{}, false, fmt.Errorf("create policy in firewall %s: %w", firewallID, err)
	}
	return out, replayed, nil
}

// UpdatePolicy applies patch to the current policy inside the transaction
// and stores the result, if the precondition holds.
func (s *Service) UpdatePolicy(ctx context.Context, firewallID, id string, pre Precondition, patch firewall.PolicyPatch) (firewall.Policy, error) {
	var out firewall.Policy
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := lockPolicy(ctx, tx, firewallID, id)
		if err != nil {
			return err
		}
		if err := pre.check("filtering policy", id, cur.ETag); err != nil {
			return err
		}
		next, err := patch.Apply(cur)
		if err != nil {
			return err
		}
		next.Meta, next.FirewallID = cur.Meta, cur.FirewallID
		s.stamp(&next.Meta)
		if err := tx.UpdatePolicy(ctx, &next); err != nil {
			return err
		}
		out = next
		if err := s.bump(ctx, tx, firewallID); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindPolicy, id, firewallID, cur, next})
	})
	if err != nil {
		return firewall.Policy{}, fmt.Errorf("update policy %s: %w", id, err)
	}
	return out, nil
}

// DeletePolicy deletes a policy; with cascade, its rules too.
func (s *Service) DeletePolicy(ctx context.Context, firewallID, id string, pre Precondition, cascade bool) error {
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := lockPolicy(ctx, tx, firewallID, id)
		if err != nil {
			return err
		}
		if err := pre.check("filtering policy", id, cur.ETag); err != nil {
			return err
		}
		if err := tx.DeletePolicy(ctx, firewallID, id, cascade); err != nil {
			return err
		}
		if err := s.bump(ctx, tx, firewallID); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditDelete, firewall.KindPolicy, id, firewallID, cur, nil})
	})
	if err != nil {
		return fmt.Errorf("delete policy %s: %w", id, err)
	}
	return nil
}

// lockPolicy locks the policy's firewall tree and reads the policy.
func lockPolicy(ctx context.Context, tx store.Tx, firewallID, id string) (firewall.Policy, error) {
	if _, err := tx.LockFirewall(ctx, firewallID); err != nil {
		return firewall.Policy{}, err
	}
	return tx.GetPolicy(ctx, firewallID, id)
}
