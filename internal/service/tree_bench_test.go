package service_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// historyBench is a service over SQLite holding a 10,000-rule firewall.
func historyBench(b *testing.B) (*service.Service, context.Context, firewall.Tree) {
	b.Helper()
	ctx := service.WithCaller(context.Background(), service.Caller{Subject: "bench"})
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "fireflow.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	svc := service.New(db)
	fw := firewall.NewFirewall()
	fw.Name = "edge"
	created, _, err := svc.CreateFirewall(ctx, fw, service.Idempotency{})
	if err != nil {
		b.Fatal(err)
	}
	tree := fwgen.Realistic(1, 10000, false)
	tree.Firewall.Name = "edge"
	if _, err := svc.ReplaceTree(ctx, created.ID, nil, tree, false); err != nil {
		b.Fatal(err)
	}
	cur, err := svc.GetTree(ctx, created.ID)
	if err != nil {
		b.Fatal(err)
	}
	return svc, ctx, cur
}

// BenchmarkDryRunReplaceTree dry-runs a 10,000-rule tree that changes one
// rule: matching, structural diff, semantic compare and findings of both.
func BenchmarkDryRunReplaceTree(b *testing.B) {
	svc, ctx, cur := historyBench(b)
	next := cur
	next.Policies = append([]firewall.PolicyTree(nil), cur.Policies...)
	last := len(next.Policies) - 1
	next.Policies[last].Rules = append([]firewall.Rule(nil), cur.Policies[last].Rules...)
	r := &next.Policies[last].Rules[len(next.Policies[last].Rules)/2]
	if r.Action == firewall.Allow {
		r.Action = firewall.Deny
	} else {
		r.Action = firewall.Allow
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := svc.ReplaceTree(ctx, cur.Firewall.ID, nil, next, true)
		if err != nil || len(res.Structural.Rules) != 1 {
			b.Fatalf("%v %+v", err, res.Structural.Rules)
		}
	}
}
