// Package storetest is the conformance suite that every store.Store
// implementation must pass, so that the service can rely on one behaviour
// whatever the database.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// testCase is one behaviour of the contract, run on a fresh store.
type testCase struct {
	name string
	run  func(t *testing.T, f *fixture)
}

// Run runs every case of the suite as a parallel subtest. open must return a
// fresh, migrated, empty store and register its cleanup with t.Cleanup; it
// is called once per case, concurrently.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	var all []testCase
	for _, group := range [][]testCase{
		firewallCases(), policyCases(), ruleCases(), pagingCases(), txCases(), idempotencyCases(), auditCases(), treeCases(),
		changeRequestCases(), storeCases(), historyCases(), historyGroupCases(), historyListCases(), groupCases(),
		filterCases(),
	} {
		all = append(all, group...)
	}
	for _, c := range all {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newFixture(t, open(t)))
		})
	}
}

// fixture builds resources in one store with distinct, deterministic
// timestamps and etags, and fails the test on unexpected errors.
type fixture struct {
	t     *testing.T
	s     store.Store
	ctx   context.Context
	ticks *atomic.Int64
}

func newFixture(t *testing.T, s store.Store) *fixture {
	return &fixture{t: t, s: s, ctx: t.Context(), ticks: new(atomic.Int64)}
}

// with returns the fixture for a subtest, which must fail through its own t.
func (f *fixture) with(t *testing.T) *fixture {
	c := *f
	c.t = t
	return &c
}

// now returns a new UTC time, one millisecond and one microsecond after the
// previous one. The start has a non-zero microsecond part, so that lost
// precision shows.
func (f *fixture) now() time.Time {
	start := time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)
	return start.Add(time.Duration(f.ticks.Add(1)) * (time.Millisecond + time.Microsecond))
}

func (f *fixture) id() string { return uuid.Must(uuid.NewV7()).String() }

func (f *fixture) etag() string { return fmt.Sprintf("W/\"%d\"", f.ticks.Add(1)) }

// update runs fn in a transaction and fails the test if it returns an error.
func (f *fixture) update(fn func(tx store.Tx) error) {
	f.t.Helper()
	if err := f.s.Update(f.ctx, func(_ context.Context, tx store.Tx) error { return fn(tx) }); err != nil {
		f.t.Fatalf("Update: %v", err)
	}
}

// try runs fn in a transaction and returns its error.
func (f *fixture) try(fn func(tx store.Tx) error) error {
	return f.s.Update(f.ctx, func(_ context.Context, tx store.Tx) error { return fn(tx) })
}

func (f *fixture) newFirewall(name string) firewall.Firewall {
	fw := firewall.NewFirewall()
	at := f.now()
	fw.ID, fw.Name, fw.ETag, fw.CreatedAt, fw.UpdatedAt, fw.Revision = f.id(), name, f.etag(), at, at, 1
	return fw
}

func (f *fixture) newPolicy(firewallID, name string, priority int) firewall.Policy {
	p := firewall.NewPolicy()
	at := f.now()
	p.ID, p.FirewallID, p.Name, p.Priority, p.ETag, p.CreatedAt, p.UpdatedAt = f.id(), firewallID, name, priority, f.etag(), at, at
	return p
}

func (f *fixture) newRule(firewallID, policyID string, position int, name string) firewall.Rule {
	r := firewall.NewRule()
	at := f.now()
	r.ID, r.FirewallID, r.PolicyID, r.Position, r.Name, r.ETag, r.CreatedAt, r.UpdatedAt = f.id(), firewallID, policyID, position, name, f.etag(), at, at
	r.Action = firewall.Allow
	return r
}

// firewall creates a firewall named name.
func (f *fixture) firewall(name string) firewall.Firewall {
	f.t.Helper()
	fw := f.newFirewall(name)
	f.update(func(tx store.Tx) error { return tx.CreateFirewall(f.ctx, &fw) })
	return fw
}

// policy creates a policy in the firewall.
func (f *fixture) policy(firewallID, name string, priority int) firewall.Policy {
	f.t.Helper()
	p := f.newPolicy(firewallID, name, priority)
	f.update(func(tx store.Tx) error { return tx.CreatePolicy(f.ctx, &p) })
	return p
}

// rule creates a rule at position (0 appends) and returns it as stored.
func (f *fixture) rule(firewallID, policyID string, position int, name string) firewall.Rule {
	f.t.Helper()
	r := f.newRule(firewallID, policyID, position, name)
	f.update(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
	return r
}

// tree creates a firewall with one policy holding n unnamed rules.
func (f *fixture) tree(name string, n int) (firewall.Firewall, firewall.Policy, []firewall.Rule) {
	f.t.Helper()
	fw := f.firewall(name)
	p := f.policy(fw.ID, name+"-policy", 100)
	rules := make([]firewall.Rule, n)
	for i := range rules {
		rules[i] = f.rule(fw.ID, p.ID, 0, "")
	}
	return fw, p, rules
}

// ruleIDs lists the policy's rules and returns their ids in order, failing
// the test unless their positions are exactly 1..n.
func (f *fixture) ruleIDs(firewallID, policyID string) []string {
	f.t.Helper()
	ids := []string{}
	q := firewall.Query{PageSize: firewall.MaxPageSize}
	for {
		page, err := f.s.ListRules(f.ctx, firewallID, policyID, q)
		if err != nil {
			f.t.Fatalf("ListRules: %v", err)
		}
		for _, r := range page.Items {
			ids = append(ids, r.ID)
			if r.Position != len(ids) {
				f.t.Fatalf("rule %d of the list has position %d; positions must be 1..n", len(ids), r.Position)
			}
		}
		if page.NextPageToken == "" {
			return ids
		}
		q.PageToken = page.NextPageToken
	}
}

func idsOf(rules []firewall.Rule) []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return ids
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, err error, code firewall.Code) {
	t.Helper()
	if got := firewall.CodeOf(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

// domainError returns err as a *firewall.Error, failing the test unless it
// is one with code.
func domainError(t *testing.T, err error, code firewall.Code) *firewall.Error {
	t.Helper()
	var fe *firewall.Error
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("got error %v (code %q), want code %q", err, firewall.CodeOf(err), code)
	}
	return fe
}

// wantNotFound fails the test unless err says that the resource of kind
// with id does not exist.
func wantNotFound(t *testing.T, err error, kind, id string) {
	t.Helper()
	fe := domainError(t, err, firewall.CodeNotFound)
	if want := firewall.NotFound(kind, id).Error(); fe.Message != want {
		t.Fatalf("got not-found error %q, want %q", fe.Message, want)
	}
}

// wantConflictOn fails the test unless err is a conflict on location, and
// returns its message.
func wantConflictOn(t *testing.T, err error, location string) string {
	t.Helper()
	fe := domainError(t, err, firewall.CodeConflict)
	if len(fe.Problems) != 1 || fe.Problems[0].Location != location {
		t.Fatalf("got conflict %v with problems %+v, want one problem at %q", err, fe.Problems, location)
	}
	return fe.Message
}

// wantEqual fails the test if got and want differ. Times compare as
// instants (wantUTC checks their location); prefixes compare by value.
func wantEqual[T any](t *testing.T, what string, got, want T, opts ...cmp.Option) {
	t.Helper()
	opts = append(opts, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }))
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Fatalf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// wantUTC fails the test unless every time is in UTC, which is what the
// store promises, not just an equal instant.
func wantUTC(t *testing.T, times ...time.Time) {
	t.Helper()
	for _, at := range times {
		if at.Location() != time.UTC {
			t.Fatalf("time %v is in %v, want UTC", at, at.Location())
		}
	}
}

func prefixes(t *testing.T, in ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(in))
	for i, s := range in {
		p, err := firewall.ParsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

func ports(t *testing.T, in ...string) []firewall.PortRange {
	t.Helper()
	out := make([]firewall.PortRange, len(in))
	for i, s := range in {
		r, err := firewall.ParsePortRange(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}
