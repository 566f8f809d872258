package service_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// historyBench is a service over SQLite holding a 10,000-rule firewall.
func historyBench(b *testing.B) (*service.Service, context.Context, firewall.Tree) {
	b.Helper()
	svc, ctx, cur, _ := historyBenchStore(b)
	return svc, ctx, cur
}

// historyBenchStore is historyBench, and a maker of other services over the
// same store (each with caches of its own).
func historyBenchStore(b *testing.B) (*service.Service, context.Context, firewall.Tree, func() *service.Service) {
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
	return svc, ctx, cur, func() *service.Service { return service.New(db) }
}

// BenchmarkDryRunReplaceTree dry-runs a 10,000-rule tree that changes one
// rule: matching, structural diff, semantic compare and findings of both.
// "first" is the first dry run on a revision (a service with empty
// caches); "again" a dry run on a revision already dry-run or analysed,
// whose current tree and findings the analysis cache holds.
func BenchmarkDryRunReplaceTree(b *testing.B) {
	svc, ctx, cur, fresh := historyBenchStore(b)
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
	dryRun := func(b *testing.B, svc *service.Service) {
		res, err := svc.ReplaceTree(ctx, cur.Firewall.ID, nil, next, true)
		if err != nil || len(res.Structural.Rules) != 1 {
			b.Fatalf("%v %+v", err, res.Structural.Rules)
		}
	}
	b.Run("first", func(b *testing.B) {
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			s := fresh()
			b.StartTimer()
			start := cpuTime()
			dryRun(b, s)
			cpu += cpuTime() - start
		}
		b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
	})
	b.Run("again", func(b *testing.B) {
		dryRun(b, svc)
		b.ResetTimer()
		start := cpuTime()
		for b.Loop() {
			dryRun(b, svc)
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
	})
}

// cpuTime is the process's CPU time so far: on a shared machine the wall
// time of a benchmark mostly measures the other tenants.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// flipOne is a change request flipping the action of the middle rule of
// the last policy of cur that has rules.
func flipOne(cur firewall.Tree, title string) firewall.ChangeRequest {
	last := len(cur.Policies) - 1
	for len(cur.Policies[last].Rules) == 0 {
		last--
	}
	p := cur.Policies[last]
	r := p.Rules[len(p.Rules)/2]
	next := firewall.Allow
	if r.Action == firewall.Allow {
		next = firewall.Deny
	}
	return firewall.ChangeRequest{Title: title, BaseRevision: cur.Firewall.Revision, Operations: []firewall.Operation{{
		Op: firewall.OpPatchRule, PolicyID: p.Policy.ID, RuleID: r.ID, RulePatch: &firewall.RulePatch{Action: firewall.Some(next)}}}}
}

// BenchmarkCreateChangeRequest proposes one rule's change on a
// 10,000-rule firewall: the operation applied to a copy, both diffs, the
// findings of both trees, and the row with its base tree.
func BenchmarkCreateChangeRequest(b *testing.B) {
	svc, ctx, cur := historyBench(b)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := svc.CreateChangeRequest(ctx, cur.Firewall.ID, flipOne(cur, "flip"), service.Idempotency{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyMovedChangeRequest applies an approved one-rule change on
// a 10,000-rule firewall that moved since its base (an unrelated policy
// added): the recomputation on four trees (compiled for analysis, and the
// exact effect check of analysis.SameEffect) and the write through the
// tree replace.
func BenchmarkApplyMovedChangeRequest(b *testing.B) {
	svc, ctx, cur := historyBench(b)
	approver := service.WithCaller(ctx, service.Caller{Subject: "approver"})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		now, err := svc.GetTree(ctx, cur.Firewall.ID)
		if err != nil {
			b.Fatal(err)
		}
		cr, _, err := svc.CreateChangeRequest(ctx, cur.Firewall.ID, flipOne(now, "flip"), service.Idempotency{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.ApproveChangeRequest(approver, cur.Firewall.ID, cr.ID, "", nil); err != nil {
			b.Fatal(err)
		}
		p := firewall.NewPolicy()
		p.Name, p.Priority = "unrelated-"+string(rune('a'+i%26))+cr.ID[len(cr.ID)-6:], 60000-i
		if _, _, err := svc.CreatePolicy(ctx, cur.Firewall.ID, p, service.Idempotency{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := svc.ApplyChangeRequest(ctx, cur.Firewall.ID, cr.ID, "", nil); err != nil {
			b.Fatal(err)
		}
	}
}
