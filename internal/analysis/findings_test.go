package analysis

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// rule builds a rule for the hand-written tests.
func rule(id string, pos int, a firewall.Action, p firewall.Protocol, src, dst []string, dports ...firewall.PortRange) firewall.Rule {
	r := firewall.NewRule()
	r.ID, r.Position, r.Action, r.Protocol, r.DestinationPorts = id, pos, a, p, dports
	for _, s := range src {
		r.Sources = append(r.Sources, netip.MustParsePrefix(s))
	}
	for _, s := range dst {
		r.Destinations = append(r.Destinations, netip.MustParsePrefix(s))
	}
	return r
}

func tree(def firewall.Action, policies ...firewall.PolicyTree) firewall.Tree {
	fw := firewall.NewFirewall()
	fw.ID, fw.Name, fw.DefaultAction, fw.Revision = "fw", "fw", def, 3
	return firewall.Tree{Firewall: fw, Policies: policies}
}

func policy(id string, prio int, def firewall.Action, rules ...firewall.Rule) firewall.PolicyTree {
	p := firewall.NewPolicy()
	p.ID, p.Name, p.Priority, p.DefaultAction = id, id, prio, def
	return firewall.PolicyTree{Policy: p, Rules: rules}
}

func findings(t *testing.T, tr firewall.Tree, opts Options) Report {
	t.Helper()
	m, err := New(tr, fwgen.Now)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.Findings(opts)
	if err != nil {
		t.Fatal(err)
	}
	em, err := engine.Compile(tr)
	if err != nil {
		t.Fatal(err)
	}
	checkExamples(t, &tr, em, fwgen.Now, rep)
	return rep
}

func byRule(rep Report, kind Kind) map[string]Finding {
	out := map[string]Finding{}
	for _, f := range rep.Findings {
		if f.Kind == kind {
			out[f.RuleID] = f
		}
	}
	return out
}

func TestUnionAwareness(t *testing.T) {
	tcp443 := firewall.PortRange{Low: 443, High: 443}
	tr := tree(firewall.Deny, policy("p", 1, firewall.Next,
		rule("low-half", 1, firewall.Allow, firewall.TCP, []string{"10.0.0.0/25"}, nil, tcp443),
		rule("high-half", 2, firewall.Deny, firewall.TCP, []string{"10.0.0.128/25"}, nil, tcp443),
		// covered by the union of the two halves, by neither alone
		rule("whole", 3, firewall.Allow, firewall.TCP, []string{"10.0.0.0/24"}, nil, tcp443),
		// covered by the halves only on 10.0.0.0/24: not unreachable
		rule("partly", 4, firewall.Allow, firewall.TCP, []string{"10.0.0.0/23"}, nil, tcp443),
	))
	rep := findings(t, tr, Options{Kinds: []Kind{Unreachable}})
	un := byRule(rep, Unreachable)
	f, ok := un["whole"]
	if !ok || len(un) != 1 {
		t.Fatalf("unreachable rules: %v, want only whole", un)
	}
	if f.CoveredByTotal != 2 || f.CoveredBy[0].RuleID != "low-half" || f.CoveredBy[1].RuleID != "high-half" {
		t.Errorf("whole is covered by %+v, want low-half and high-half", f.CoveredBy)
	}
	if !f.DifferentAction {
		t.Error("high-half denies what whole allows: different_action must be set")
	}
}

func TestFindingKinds(t *testing.T) {
	exp := fwgen.Now.Add(-time.Hour)
	soon := fwgen.Now.Add(36 * time.Hour)
	later := fwgen.Now.Add(30 * 24 * time.Hour)
	expired := rule("expired", 5, firewall.Allow, firewall.UDP, nil, nil)
	expired.ExpiresAt = &exp
	expiring := rule("expiring", 6, firewall.Deny, firewall.UDP, []string{"192.0.2.0/24"}, nil)
	expiring.ExpiresAt = &soon
	far := rule("far", 7, firewall.Deny, firewall.UDP, []string{"198.51.100.0/24"}, nil)
	far.ExpiresAt = &later
	off := rule("off", 8, firewall.Allow, firewall.TCP, nil, nil)
	off.Enabled = false
	disabledPolicy := policy("disabled", 5, firewall.Allow)
	disabledPolicy.Policy.Enabled = false
	tr := tree(firewall.Deny,
		policy("first", 1, firewall.Next,
			rule("web", 1, firewall.Allow, firewall.TCP, nil, []string{"10.0.0.0/8"}, firewall.PortRange{Low: 80, High: 80}),
			rule("broad", 2, firewall.Allow, firewall.TCP, nil, []string{"10.0.0.0/8"}),
			rule("conflicting", 3, firewall.Deny, firewall.TCP, []string{"10.1.0.0/16"}, nil),
			rule("v6-icmp", 4, firewall.Allow, firewall.ICMP, []string{"2001:db8::/32"}, nil),
			expired, expiring, far, off,
		),
		disabledPolicy,
		policy("last-word", 10, firewall.Allow),
		policy("never", 20, firewall.Allow, rule("ghost", 1, firewall.Allow, firewall.AnyProtocol, nil, nil)),
	)
	rep := findings(t, tr, Options{ExpiringWithin: 48 * time.Hour})
	want := map[Kind][]string{
		Redundant:         {"web"}, // broad allows the same right after
		Unreachable:       {"v6-icmp", "ghost"},
		UnreachablePolicy: {"never"},
		Conflict:          {"web", "broad"}, // both decide flows conflicting denies
		Expired:           {"expired"},
		Expiring:          {"expiring"},
		Disabled:          {"off", ""},
	}
	got := map[Kind][]string{}
	for _, f := range rep.Findings {
		id := f.RuleID
		if f.Kind == UnreachablePolicy {
			id = f.PolicyID
		}
		got[f.Kind] = append(got[f.Kind], id)
		if f.Severity != f.Kind.Severity() || f.Message == "" {
			t.Errorf("finding %+v: severity or message missing", f)
		}
	}
	for k, ids := range want {
		if len(got[k]) != len(ids) {
			t.Errorf("%s: got %v, want %v", k, got[k], ids)
			continue
		}
		for i := range ids {
			if got[k][i] != ids[i] {
				t.Errorf("%s: got %v, want %v", k, got[k], ids)
			}
		}
	}
	if rep.Conflicts != 2 {
		t.Errorf("conflicts counted: %d, want 2", rep.Conflicts)
	}
	ghost := byRule(rep, Unreachable)["ghost"]
	// ghost matches everything: every decider before it takes some of its
	// flows, conflicting with another action.
	if n := ghost.CoveredByTotal; n != 6 || ghost.CoveredBy[n-1].PolicyID != "last-word" || ghost.CoveredBy[n-1].DecidedBy != firewall.ByPolicyDefault || !ghost.DifferentAction {
		t.Errorf("ghost: %+v, want covered by the five rules and the default of last-word, with a different action", ghost)
	}
}

// TestModelConcurrentUse runs findings, searches and compares on one model
// at once, as the service's cache does: the answers are those of a lone
// run (and -race finds no race).
func TestModelConcurrentUse(t *testing.T) {
	tr := fwgen.Realistic(3, 400, false)
	m, err := New(tr, fwgen.Now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(cloneTree(tr), fwgen.Now)
	if err != nil {
		t.Fatal(err)
	}
	sp := Space{Protocols: []firewall.Protocol{firewall.TCP}}
	want, _ := m.Findings(Options{})
	wantSearch, _ := m.Search(sp, Target{Action: firewall.Deny}, false)
	errs := make(chan error, 8)
	for range 4 {
		go func() {
			rep, err := m.Findings(Options{})
			if err == nil && len(rep.Findings) != len(want.Findings) {
				err = fmt.Errorf("%d findings, alone %d", len(rep.Findings), len(want.Findings))
			}
			errs <- err
		}()
		go func() {
			res, err := m.Search(sp, Target{Action: firewall.Deny}, false)
			if err == nil && res.Exists != wantSearch.Exists {
				err = fmt.Errorf("search exists %v, alone %v", res.Exists, wantSearch.Exists)
			}
			if err == nil {
				var c Comparison
				c, err = Compare(m, other, 0)
				if err == nil && c.Total != 0 {
					err = fmt.Errorf("a tree differs from its copy in %d regions", c.Total)
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
