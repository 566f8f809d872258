package service

import (
	"context"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/analysis"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// TestAnalyzeCache checks that an analysis is reused while the revision
// holds and no rule has expired, and made again after either changes.
func TestAnalyzeCache(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	s := New(db, WithClock(clock))

	fw := firewall.NewFirewall()
	fw.Name = "edge"
	fw, _, err = s.CreateFirewall(ctx, fw, Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	p := firewall.NewPolicy()
	p.Name, p.Priority = "web", 10
	p, _, err = s.CreatePolicy(ctx, fw.ID, p, Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	broad := firewall.NewRule()
	broad.Action, broad.Protocol = firewall.Deny, firewall.TCP
	broad.Sources = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	expiry := now.Add(2 * time.Hour)
	broad.ExpiresAt = &expiry
	broad, _, err = s.CreateRule(ctx, fw.ID, p.ID, broad, Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	narrow := firewall.NewRule()
	narrow.Action, narrow.Protocol = firewall.Allow, firewall.TCP
	narrow.Sources = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	narrow, _, err = s.CreateRule(ctx, fw.ID, p.ID, narrow, Idempotency{})
	if err != nil {
		t.Fatal(err)
	}

	kinds := func() map[analysis.Kind][]string {
		t.Helper()
		rep, err := s.Analyze(ctx, fw.ID, AnalysisOptions{ExpiringWithin: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		out := map[analysis.Kind][]string{}
		for _, f := range rep.Findings {
			out[f.Kind] = append(out[f.Kind], f.RuleID)
		}
		return out
	}
	got := kinds()
	if len(got[analysis.Unreachable]) != 1 || got[analysis.Unreachable][0] != narrow.ID || len(got[analysis.Expiring]) != 1 {
		t.Fatalf("before the expiry: %v, want %s unreachable and %s expiring", got, narrow.ID, broad.ID)
	}
	rev0, err := db.GetRevision(ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	first := s.analyses.get(fw.ID, rev0, clock())
	if first == nil {
		t.Fatal("the analysis is not cached")
	}
	advance(time.Hour)
	kinds()
	if s.analyses.get(fw.ID, rev0, clock()) != first {
		t.Fatal("the cached analysis was not reused within the revision and before any expiry")
	}
	// Once the broad rule has expired, the narrow one is reachable: the
	// cache must not serve the old answer.
	advance(2 * time.Hour)
	got = kinds()
	if len(got[analysis.Unreachable]) != 0 || len(got[analysis.Expired]) != 1 {
		t.Fatalf("after the expiry: %v, want nothing unreachable and %s expired", got, broad.ID)
	}
	// A change raises the revision: a new analysis.
	if err := s.DeleteRule(ctx, fw.ID, p.ID, broad.ID, nil); err != nil {
		t.Fatal(err)
	}
	got = kinds()
	if len(got[analysis.Expired]) != 0 {
		t.Fatalf("after deleting the expired rule: %v", got)
	}

	// Search and compare name the revision they used.
	res, rev, err := s.Search(ctx, fw.ID, HeaderSpace{Protocols: []firewall.Protocol{firewall.TCP}}, SearchTarget{Action: firewall.Allow}, false)
	if err != nil || !res.Exists || rev != rev0+1 {
		t.Fatalf("search: %+v at revision %d, %v", res, rev, err)
	}
	cand := firewall.Tree{Firewall: fw}
	cand.Firewall.DefaultAction = firewall.Allow
	cmp, err := s.CompareWith(ctx, fw.ID, "", &cand, 10)
	if err != nil || cmp.OldRevision != rev0+1 || cmp.Total == 0 {
		t.Fatalf("compare with an allow-all candidate: %+v, %v", cmp, err)
	}
}
