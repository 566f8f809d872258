package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// fixture is a service over a fresh, migrated SQLite file, with a firewall
// and a policy to put rules in, and a clock the test moves.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	svc   *service.Service
	clock *clock
	fw    firewall.Firewall
	pol   firewall.Policy
}

// clock is a settable time source, so that idempotency expiry is tested
// without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := service.WithCaller(context.Background(), service.Caller{Subject: "alice", Roles: []string{"editor"}, RequestID: "req-1"})
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f := &fixture{t: t, ctx: ctx, svc: service.New(db, service.WithClock(c.Now)), clock: c}
	f.fw = f.createFirewall("edge")
	f.pol = f.createPolicy(f.fw.ID, "baseline", 100)
	return f
}

func (f *fixture) createFirewall(name string) firewall.Firewall {
	f.t.Helper()
	fw := firewall.NewFirewall()
	fw.Name = name
	out, _, err := f.svc.CreateFirewall(f.ctx, fw, service.Idempotency{})
	if err != nil {
		f.t.Fatalf("create firewall %s: %v", name, err)
	}
	return out
}

func (f *fixture) createPolicy(firewallID, name string, priority int) firewall.Policy {
	f.t.Helper()
	p := firewall.NewPolicy()
	p.Name, p.Priority = name, priority
	out, _, err := f.svc.CreatePolicy(f.ctx, firewallID, p, service.Idempotency{})
	if err != nil {
		f.t.Fatalf("create policy %s: %v", name, err)
	}
	return out
}

// createRule inserts a rule named name at position (0: at the end).
func (f *fixture) createRule(name string, position int) firewall.Rule {
	f.t.Helper()
	r := firewall.NewRule()
	r.Name, r.Action, r.Position = name, firewall.Allow, position
	out, _, err := f.svc.CreateRule(f.ctx, f.fw.ID, f.pol.ID, r, service.Idempotency{})
	if err != nil {
		f.t.Fatalf("create rule %s at %d: %v", name, position, err)
	}
	return out
}

// order returns the names of the policy's rules in list order, and checks
// that their positions are 1..n in that order.
func (f *fixture) order() []string {
	f.t.Helper()
	page, err := f.svc.ListRules(f.ctx, f.fw.ID, f.pol.ID, firewall.Query{})
	if err != nil {
		f.t.Fatalf("list rules: %v", err)
	}
	names := make([]string, len(page.Items))
	for i, r := range page.Items {
		names[i] = r.Name
		if r.Position != i+1 {
			f.t.Errorf("rule %s is item %d of the list but has position %d", r.Name, i+1, r.Position)
		}
	}
	return names
}

func (f *fixture) revision() int64 {
	f.t.Helper()
	fw, err := f.svc.GetFirewall(f.ctx, f.fw.ID)
	if err != nil {
		f.t.Fatalf("get firewall: %v", err)
	}
	return fw.Revision
}

func (f *fixture) ruleID(name string) string {
	f.t.Helper()
	page, err := f.svc.ListRules(f.ctx, f.fw.ID, f.pol.ID, firewall.Query{Filter: fmt.Sprintf("name = %q", name)})
	if err != nil || len(page.Items) != 1 {
		f.t.Fatalf("find rule %s: %v, %d found", name, err, len(page.Items))
	}
	return page.Items[0].ID
}

func wantCode(t *testing.T, err error, code firewall.Code) {
	t.Helper()
	if got := firewall.CodeOf(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

// TestPositions checks that the service keeps positions 1..n through
// inserts, moves and deletes, against a plain slice doing the same.
func TestPositions(t *testing.T) {
	f := newFixture(t)
	var want []string
	insert := func(name string, at int) { // at is 1-based; 0 appends
		f.createRule(name, at)
		if at == 0 {
			want = append(want, name)
		} else {
			want = slices.Insert(want, at-1, name)
		}
	}
	// move moves rule name; to names its anchor rule by name.
	move := func(name string, to service.MoveTarget) {
		t.Helper()
		byID := to
		if to.Before != "" {
			byID.Before = f.ruleID(to.Before)
		}
		if to.After != "" {
			byID.After = f.ruleID(to.After)
		}
		if _, err := f.svc.MoveRule(f.ctx, f.fw.ID, f.pol.ID, f.ruleID(name), nil, byID); err != nil {
			t.Fatalf("move %s to %+v: %v", name, to, err)
		}
		i := slices.Index(want, name)
		want = slices.Delete(want, i, i+1)
		switch {
		case to.Position != 0:
			want = slices.Insert(want, to.Position-1, name)
		case to.Before != "":
			want = slices.Insert(want, slices.Index(want, to.Before), name)
		default:
			want = slices.Insert(want, slices.Index(want, to.After)+1, name)
		}
	}
	steps := []struct {
		name string
		do   func()
	}{
		{"append three", func() { insert("a", 0); insert("b", 0); insert("c", 0) }},
		{"insert at the top", func() { insert("top", 1) }},
		{"insert in the middle", func() { insert("mid", 3) }},
		{"insert just after the end", func() { insert("end", len(want)+1) }},
		{"move to the top", func() { move("end", service.MoveTarget{Position: 1}) }},
		{"move to the bottom", func() { move("top", service.MoveTarget{Position: len(want)}) }},
		{"move before", func() { move("c", service.MoveTarget{Before: "a"}) }},
		{"move after", func() { move("end", service.MoveTarget{After: "mid"}) }},
		{"move to where it is", func() { move("b", service.MoveTarget{Position: slices.Index(want, "b") + 1}) }},
		{"delete the first", func() {
			if err := f.svc.DeleteRule(f.ctx, f.fw.ID, f.pol.ID, f.ruleID(want[0]), nil); err != nil {
				t.Fatal(err)
			}
			want = want[1:]
		}},
		{"delete from the middle", func() {
			name := want[2]
			if err := f.svc.DeleteRule(f.ctx, f.fw.ID, f.pol.ID, f.ruleID(name), nil); err != nil {
				t.Fatal(err)
			}
			want = slices.Delete(want, 2, 3)
		}},
	}
	for _, st := range steps {
		st.do()
		if diff := cmp.Diff(want, f.order()); diff != "" {
			t.Fatalf("after %q, the order differs from a plain list (-want +got):\n%s", st.name, diff)
		}
	}

	bad := []struct {
		name string
		do   func() error
	}{
		{"insert past the end", func() error {
			r := firewall.NewRule()
			r.Action, r.Position = firewall.Deny, len(want)+2
			_, _, err := f.svc.CreateRule(f.ctx, f.fw.ID, f.pol.ID, r, service.Idempotency{})
			return err
		}},
		{"move past the end", func() error {
			_, err := f.svc.MoveRule(f.ctx, f.fw.ID, f.pol.ID, f.ruleID(want[0]), nil, service.MoveTarget{Position: len(want) + 1})
			return err
		}},
		{"move relative to itself", func() error {
			_, err := f.svc.MoveRule(f.ctx, f.fw.ID, f.pol.ID, f.ruleID(want[0]), nil, service.MoveTarget{Before: f.ruleID(want[0])})
			return err
		}},
		{"move before a missing rule", func() error {
			_, err := f.svc.MoveRule(f.ctx, f.fw.ID, f.pol.ID, f.ruleID(want[0]), nil, service.MoveTarget{Before: "01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f"})
			return err
		}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			wantCode(t, b.do(), firewall.CodeInvalid)
			if diff := cmp.Diff(want, f.order()); diff != "" {
				t.Errorf("a refused change moved rules (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRevisionRisesOnEveryTreeChange checks that each change anywhere in
// the firewall's tree raises its revision by one, and that reads and
// refused changes leave it alone.
func TestRevisionRisesOnEveryTreeChange(t *testing.T) {
	f := newFixture(t)
	other := f.createFirewall("other")
	r1 := f.createRule("r1", 0)
	changes := []struct {
		name   string
		do     func() error
		raises bool
	}{
		{"create rule", func() error { f.createRule("r2", 1); return nil }, true},
		{"patch rule", func() error {
			_, err := f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, r1.ID, nil, firewall.RulePatch{Action: firewall.Some(firewall.Deny)})
			return err
		}, true},
		{"move rule", func() error {
			_, err := f.svc.MoveRule(f.ctx, f.fw.ID, f.pol.ID, r1.ID, nil, service.MoveTarget{Position: 1})
			return err
		}, true},
		{"patch policy", func() error {
			_, err := f.svc.UpdatePolicy(f.ctx, f.fw.ID, f.pol.ID, nil, firewall.PolicyPatch{Enabled: firewall.Some(false)})
			return err
		}, true},
		{"patch firewall", func() error {
			_, err := f.svc.UpdateFirewall(f.ctx, f.fw.ID, nil, firewall.FirewallPatch{Description: firewall.Some("x")})
			return err
		}, true},
		{"create policy", func() error { f.createPolicy(f.fw.ID, "second", 200); return nil }, true},
		{"delete rule", func() error { return f.svc.DeleteRule(f.ctx, f.fw.ID, f.pol.ID, r1.ID, nil) }, true},
		{"read", func() error {
			_, err := f.svc.ListRules(f.ctx, f.fw.ID, f.pol.ID, firewall.Query{})
			return err
		}, false},
		{"change another firewall", func() error { f.createPolicy(other.ID, "p", 1); return nil }, false},
		{"refused patch", func() error {
			_, err := f.svc.UpdatePolicy(f.ctx, f.fw.ID, f.pol.ID, nil, firewall.PolicyPatch{Priority: firewall.Some(200)})
			wantCode(t, err, firewall.CodeConflict)
			return nil
		}, false},
		{"stale precondition", func() error {
			_, err := f.svc.UpdateFirewall(f.ctx, f.fw.ID, service.Precondition{"stale"}, firewall.FirewallPatch{Description: firewall.Some("y")})
			wantCode(t, err, firewall.CodePreconditionFailed)
			return nil
		}, false},
		{"delete policy with cascade", func() error { return f.svc.DeletePolicy(f.ctx, f.fw.ID, f.pol.ID, nil, true) }, true},
	}
	for _, c := range changes {
		before := f.revision()
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := before
		if c.raises {
			want++
		}
		if got := f.revision(); got != want {
			t.Errorf("%s: revision went from %d to %d, want %d", c.name, before, got, want)
		}
	}
}

// TestIdempotency checks that a retried create returns the first result
// without creating again, that the same key with another body is refused,
// and that a key is forgotten after 24 hours.
func TestIdempotency(t *testing.T) {
	f := newFixture(t)
	create := func(name, key, hash string) (firewall.Policy, bool, error) {
		p := firewall.NewPolicy()
		p.Name, p.Priority = name, 10
		return f.svc.CreatePolicy(f.ctx, f.fw.ID, p, service.Idempotency{Key: key, RequestHash: hash})
	}
	count := func() int {
		page, err := f.svc.ListPolicies(f.ctx, f.fw.ID, firewall.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	}
	first, replayed, err := create("web", "k1", "h1")
	if err != nil || replayed {
		t.Fatalf("first create: replayed %v, error %v", replayed, err)
	}
	n := count()
	revision := f.revision()

	again, replayed, err := create("web", "k1", "h1")
	if err != nil || !replayed {
		t.Fatalf("retry: replayed %v, error %v; want a replay", replayed, err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("the replay differs from the first answer (-first +replay):\n%s", diff)
	}
	if count() != n || f.revision() != revision {
		t.Errorf("the replay wrote: %d policies (want %d), revision %d (want %d)", count(), n, f.revision(), revision)
	}

	_, _, err = create("other", "k1", "h2")
	wantCode(t, err, firewall.CodeIdempotencyMismatch)
	if count() != n {
		t.Errorf("a refused reuse of the key created a policy")
	}

	// Another key is another request: a second policy named web clashes.
	_, _, err = create("web", "k2", "h1")
	wantCode(t, err, firewall.CodeConflict)

	f.clock.Advance(24*time.Hour + time.Second)
	_, replayed, err = create("web", "k1", "h1")
	if replayed {
		t.Errorf("a key older than 24 hours was replayed")
	}
	wantCode(t, err, firewall.CodeConflict) // the key is forgotten, so this is a new create of a taken name
}

// TestAudit checks that every change records one event, in the same
// transaction, with the caller and the resource before and after.
func TestAudit(t *testing.T) {
	f := newFixture(t)
	r := f.createRule("web", 0)
	if _, err := f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, r.ID, nil, firewall.RulePatch{Description: firewall.Some("new")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.MoveRule(f.ctx, f.fw.ID, f.pol.ID, r.ID, nil, service.MoveTarget{Position: 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteRule(f.ctx, f.fw.ID, f.pol.ID, r.ID, nil); err != nil {
		t.Fatal(err)
	}
	// A refused change records nothing.
	_, err := f.svc.UpdateFirewall(f.ctx, f.fw.ID, nil, firewall.FirewallPatch{Name: firewall.Null[string]()})
	wantCode(t, err, firewall.CodeInvalid)

	page, err := f.svc.ListAuditEvents(f.ctx, firewall.Query{OrderBy: "occurred_at, id"})
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		Action, Kind, ID      string
		Before, After         string // the description in each image; "-" when absent
		Subject, Request, Fwl string
	}
	desc := func(img json.RawMessage) string {
		if img == nil {
			return "-"
		}
		var v struct{ Description string }
		if err := json.Unmarshal(img, &v); err != nil {
			t.Fatalf("audit image %s: %v", img, err)
		}
		return v.Description
	}
	var got []event
	for _, ev := range page.Items {
		got = append(got, event{string(ev.Action), ev.ResourceType, ev.ResourceID, desc(ev.Before), desc(ev.After),
			ev.ActorSubject, ev.RequestID, ev.FirewallID})
	}
	fw, pol := f.fw.ID, f.pol.ID
	want := []event{
		{"create", firewall.KindFirewall, fw, "-", "", "alice", "req-1", fw},
		{"create", firewall.KindPolicy, pol, "-", "", "alice", "req-1", fw},
		{"create", firewall.KindRule, r.ID, "-", "", "alice", "req-1", fw},
		{"update", firewall.KindRule, r.ID, "", "new", "alice", "req-1", fw},
		{"move", firewall.KindRule, r.ID, "new", "new", "alice", "req-1", fw},
		{"delete", firewall.KindRule, r.ID, "new", "-", "alice", "req-1", fw},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
}

// TestCascade checks that deleting a firewall or policy with children is
// refused without cascade and removes the whole subtree with it.
func TestCascade(t *testing.T) {
	tests := []struct {
		name   string
		delete func(f *fixture, cascade bool) error
		gone   func(f *fixture) error
	}{
		{"policy with rules",
			func(f *fixture, cascade bool) error {
				return f.svc.DeletePolicy(f.ctx, f.fw.ID, f.pol.ID, nil, cascade)
			},
			func(f *fixture) error { _, err := f.svc.GetPolicy(f.ctx, f.fw.ID, f.pol.ID); return err }},
		{"firewall with policies",
			func(f *fixture, cascade bool) error { return f.svc.DeleteFirewall(f.ctx, f.fw.ID, nil, cascade) },
			func(f *fixture) error { _, err := f.svc.GetFirewall(f.ctx, f.fw.ID); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.createRule("web", 0)
			wantCode(t, tt.delete(f, false), firewall.CodeConflict)
			if _, err := f.svc.GetRule(f.ctx, f.fw.ID, f.pol.ID, r.ID); err != nil {
				t.Fatalf("a refused delete removed a rule: %v", err)
			}
			if err := tt.delete(f, true); err != nil {
				t.Fatalf("delete with cascade: %v", err)
			}
			wantCode(t, tt.gone(f), firewall.CodeNotFound)
			_, err := f.svc.GetRule(f.ctx, f.fw.ID, f.pol.ID, r.ID)
			wantCode(t, err, firewall.CodeNotFound)
		})
	}
}

// TestUpdateAppliesThePatchInTheTransaction checks that a patch is applied
// to the resource as stored when the transaction runs, not as the caller
// last saw it, and that a refused patch writes nothing.
func TestUpdateAppliesThePatchInTheTransaction(t *testing.T) {
	f := newFixture(t)
	r := f.createRule("web", 0)
	if _, err := f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, r.ID, nil, firewall.RulePatch{Sources: firewall.Some([]string{"10.0.0.0/8"})}); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, r.ID, nil, firewall.RulePatch{Protocol: firewall.Some(firewall.TCP)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Sources) != 1 || got.Sources[0].String() != "10.0.0.0/8" || got.Protocol != firewall.TCP {
		t.Errorf("the second patch lost the first: %+v", got)
	}
	_, err = f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, r.ID, service.Precondition{got.ETag},
		firewall.RulePatch{Protocol: firewall.Some(firewall.ICMP), DestinationPorts: firewall.Some([]string{"443"})})
	wantCode(t, err, firewall.CodeInvalid)
	stored, err := f.svc.GetRule(f.ctx, f.fw.ID, f.pol.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.ETag != got.ETag || stored.Protocol != firewall.TCP {
		t.Errorf("a refused patch wrote: %+v", stored)
	}
}
