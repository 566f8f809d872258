package service

import (
	"context"
	"fmt"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ListFirewalls returns one page of firewalls: those q.Filter selects, by
// default ordered by name. A bad filter, order or token is invalid input.
func (s *Service) ListFirewalls(ctx context.Context, q firewall.Query) (firewall.Page[firewall.Firewall], error) {
	return s.store.ListFirewalls(ctx, clampPage(q))
}

// GetFirewall returns one firewall.
func (s *Service) GetFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	return s.store.GetFirewall(ctx, id)
}

// CreateFirewall validates and stores a new firewall. It reports whether the
// result replays an earlier request with the same idempotency key.
func (s *Service) CreateFirewall(ctx context.Context, f firewall.Firewall, idem Idempotency) (firewall.Firewall, bool, error) {
	if err := f.Validate(); err != nil {
		return firewall.Firewall{}, false, err
	}
	f.Meta = firewall.Meta{}
	s.stamp(&f.Meta)
	f.Revision = 1
	out := f
	replayed, err := create(ctx, s, idem, &out, func(f *firewall.Firewall) string { return f.ID },
		func(ctx context.Context, tx store.Tx) error {
			out = f
			if err := tx.CreateFirewall(ctx, &out); err != nil {
				return err
			}
			return s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindFirewall, out.ID, out.ID, nil, out})
		})
	if err != nil {
		return firewall.Firewall{}, false, fmt.Errorf("create firewall: %w", err)
	}
	return out, replayed, nil
}

// UpdateFirewall applies patch to the current firewall inside the
// transaction and stores the result, if the precondition holds.
func (s *Service) UpdateFirewall(ctx context.Context, id string, pre Precondition, patch firewall.FirewallPatch) (firewall.Firewall, error) {
	var out firewall.Firewall
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockFirewall(ctx, id)
		if err != nil {
			return err
		}
		if err := pre.check("firewall", id, cur.ETag); err != nil {
			return err
		}
		next, err := patch.Apply(cur)
		if err != nil {
			return err
		}
		next.Meta = cur.Meta
		s.stamp(&next.Meta)
		if err := tx.UpdateFirewall(ctx, &next); err != nil {
			return err
		}
		// A change of the firewall itself is a change of its tree too.
		if next.Revision, err = tx.BumpRevision(ctx, id, next.ETag, next.UpdatedAt); err != nil {
			return err
		}
		out = next
		return s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindFirewall, id, id, cur, next})
	})
	if err != nil {
		return firewall.Firewall{}, fmt.Errorf("update firewall %s: %w", id, err)
	}
	return out, nil
}

// DeleteFirewall deletes a firewall; with cascade, its policies and rules too.
func (s *Service) DeleteFirewall(ctx context.Context, id string, pre Precondition, cascade bool) error {
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.LockFirewall(ctx, id)
		if err != nil {
			return err
		}
		if err := pre.check("firewall", id, cur.ETag); err != nil {
			return err
		}
		if err := tx.DeleteFirewall(ctx, id, cascade); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{firewall.AuditDelete, firewall.KindFirewall, id, id, cur, nil})
	})
	if err != nil {
		return fmt.Errorf("delete firewall %s: %w", id, err)
	}
	return nil
}
