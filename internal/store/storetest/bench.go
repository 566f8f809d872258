package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// benchPolicies is how many policies, each in its own firewall, the
// benchmarks spread their writes over, as many clients would.
const benchPolicies = 64

// Benchmark runs the store benchmarks on s, a fresh migrated store:
// reading a firewall by id, and appending a rule in the transaction the
// service runs for POST .../rules (lock the firewall, read the policy,
// insert, bump the revision, append the audit event), from 8
// goroutines per CPU over benchPolicies policies.
func Benchmark(b *testing.B, s store.Store) {
	ctx := b.Context()
	fws := make([]firewall.Firewall, benchPolicies)
	ps := make([]firewall.Policy, benchPolicies)
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for i := range fws {
			now := time.Now().UTC().Truncate(time.Microsecond)
			fws[i] = firewall.NewFirewall()
			fws[i].ID, fws[i].Name, fws[i].ETag, fws[i].CreatedAt, fws[i].UpdatedAt = newID(), fmt.Sprintf("bench-%d", i), "e", now, now
			if err := tx.CreateFirewall(ctx, &fws[i]); err != nil {
				return err
			}
			ps[i] = firewall.NewPolicy()
			ps[i].ID, ps[i].FirewallID, ps[i].Name, ps[i].ETag, ps[i].CreatedAt, ps[i].UpdatedAt = newID(), fws[i].ID, "bench", "e", now, now
			if err := tx.CreatePolicy(ctx, &ps[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.Run("GetFirewall", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetFirewall(ctx, fws[next.Add(1)%benchPolicies].ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("CreateRule", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) % benchPolicies
				if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return appendRule(ctx, tx, ps[i]) }); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rules/s")
	})
}

// appendRule is the service's transaction for creating a rule at the end.
func appendRule(ctx context.Context, tx store.Tx, p firewall.Policy) error {
	return insertRule(ctx, tx, p, 0)
}

// bumpAndAudit ends a change to r as the service does: the firewall's
// revision rises and the audit log records the change.
func bumpAndAudit(ctx context.Context, tx store.Tx, p firewall.Policy, action firewall.AuditAction, r firewall.Rule) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := tx.BumpRevision(ctx, p.FirewallID, "e2", now); err != nil {
		return err
	}
	after, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.AppendAuditEvent(ctx, firewall.AuditEvent{ID: newID(), OccurredAt: now, ActorSubject: "bench",
		Action: action, ResourceType: firewall.KindRule, ResourceID: r.ID, FirewallID: p.FirewallID, After: after})
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
