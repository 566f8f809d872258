package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func ruleCases() []testCase {
	return []testCase{
		{"Rule/CreateGetRoundTrip", ruleRoundTrip},
		{"Rule/UpdateKeepsPositionAndCreatedAt", ruleUpdate},
		{"Rule/NameUniqueWithinPolicy", ruleNameUnique},
		{"Rule/CreateAtPosition", ruleCreateAt},
		{"Rule/Move", ruleMove},
		{"Rule/DeleteClosesGap", ruleDelete},
		{"Rule/PositionsFollowModel", ruleModel},
		{"Rule/CrowdedPlacesFollowModel", ruleCrowdedPlaces},
		{"Rule/ListedPositionsFollowModel", ruleListedPositions},
		{"Rule/CreateInMissingParent", ruleCreateMissingParent},
		{"Rule/NotFoundNamesMissingAncestor", ruleNotFound},
		{"Rule/CountRules", ruleCount},
		{"Rule/ListEmpty", ruleListEmpty},
		{"Rule/RefusesPositionsThatLeaveGaps", rulePositionsWithoutGaps},
		{"Rule/FullPageOfAThousand", ruleFullPage},
	}
}

// ruleFullPage lists a page of the most rules a page holds, which takes
// the store past SQLite's limit of 500 terms in one compound SELECT.
func ruleFullPage(t *testing.T, f *fixture) {
	fw, p, _ := f.tree("edge", 0)
	f.update(func(tx store.Tx) error {
		for range firewall.MaxPageSize + 5 {
			r := f.newRule(fw.ID, p.ID, 0, "")
			if err := tx.CreateRule(f.ctx, &r); err != nil {
				return err
			}
		}
		return nil
	})
	page, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{PageSize: firewall.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != firewall.MaxPageSize || page.NextPageToken == "" {
		t.Fatalf("%d rules and token %q, want a full page and a next one", len(page.Items), page.NextPageToken)
	}
	for i, r := range page.Items {
		if r.Position != i+1 {
			t.Fatalf("item %d has position %d", i, r.Position)
		}
	}
}

// rulePositionsWithoutGaps covers a check the service makes first; the
// store repeats it so that positions stay 1..n whatever the caller does.
func rulePositionsWithoutGaps(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("edge", 2)
	tests := []struct {
		name string
		call func(tx store.Tx) error
	}{
		{"create past the end", func(tx store.Tx) error {
			r := f.newRule(fw.ID, p.ID, 4, "")
			return tx.CreateRule(f.ctx, &r)
		}},
		{"create at a negative position", func(tx store.Tx) error {
			r := f.newRule(fw.ID, p.ID, -1, "")
			return tx.CreateRule(f.ctx, &r)
		}},
		{"move to 0", func(tx store.Tx) error { return tx.MoveRule(f.ctx, &rules[0], 0) }},
		{"move past the end", func(tx store.Tx) error { return tx.MoveRule(f.ctx, &rules[0], 3) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, f.try(tc.call), firewall.CodeInvalid)
		})
	}
	got, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "rules after the refused changes", got.Items, rules)
}

func ruleRoundTrip(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	p := f.policy(fw.ID, "web", 100)
	expires := f.now().Add(72 * time.Hour)
	tests := []struct {
		name   string
		modify func(*firewall.Rule)
	}{
		{"defaults, unnamed", func(*firewall.Rule) {}},
		{"every field", func(r *firewall.Rule) {
			r.Name = "allow-https"
			r.Description = "HTTPS from the offices"
			r.Action = firewall.Reject
			r.Protocol = firewall.TCP
			r.Sources = prefixes(t, "10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "2001:db8::1")
			r.Destinations = prefixes(t, "0.0.0.0/0", "::/0")
			r.SourcePorts = ports(t, "1024-65535")
			r.DestinationPorts = ports(t, "443", "8443", "1-1023")
			r.Enabled = false
			r.ExpiresAt = &expires
			r.UpdatedAt = r.CreatedAt.Add(time.Second)
		}},
		{"udp deny", func(r *firewall.Rule) {
			r.Name, r.Action, r.Protocol = "dns", firewall.Deny, firewall.UDP
			r.DestinationPorts = ports(t, "53")
		}},
		{"icmpv6", func(r *firewall.Rule) {
			r.Name, r.Protocol = "ping6", firewall.ICMPv6
			r.Sources = prefixes(t, "fe80::/10")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			want := f.newRule(fw.ID, p.ID, 0, "")
			tc.modify(&want)
			f.update(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &want) })
			got, err := f.s.GetRule(f.ctx, fw.ID, p.ID, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "rule", got, want)
			wantUTC(t, got.CreatedAt, got.UpdatedAt)
			if got.ExpiresAt != nil {
				wantUTC(t, *got.ExpiresAt)
			}
		})
	}
}

func ruleUpdate(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("edge", 3)
	orig := rules[1]
	expires := f.now()
	changed := orig
	changed.Name = "ssh"
	changed.Description = "changed"
	changed.Action = firewall.Deny
	changed.Protocol = firewall.TCP
	changed.Sources = prefixes(t, "198.51.100.0/24")
	changed.Destinations = prefixes(t, "2001:db8::/48")
	changed.SourcePorts = ports(t, "22")
	changed.DestinationPorts = ports(t, "22", "2222-2223")
	changed.Enabled = false
	changed.ExpiresAt = &expires
	changed.ETag = f.etag()
	changed.UpdatedAt = f.now()
	changed.Position = 3        // must not move
	changed.CreatedAt = f.now() // must not change
	f.update(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &changed) })

	got, err := f.s.GetRule(f.ctx, fw.ID, p.ID, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := changed
	want.Position, want.CreatedAt = orig.Position, orig.CreatedAt
	wantEqual(t, "updated rule", got, want)
	wantEqual(t, "order", f.ruleIDs(fw.ID, p.ID), idsOf(rules))

	// Clearing the optional fields round-trips too.
	cleared := want
	cleared.Name, cleared.ExpiresAt, cleared.Sources, cleared.SourcePorts = "", nil, nil, nil
	f.update(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &cleared) })
	got, err = f.s.GetRule(f.ctx, fw.ID, p.ID, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "cleared rule", got, cleared)
}

func ruleNameUnique(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	p := f.policy(fw.ID, "web", 100)
	f.rule(fw.ID, p.ID, 0, "Allow-SSH")
	other := f.rule(fw.ID, p.ID, 0, "other")
	// Unnamed rules never clash.
	for range 3 {
		f.rule(fw.ID, p.ID, 0, "")
	}
	before := f.ruleIDs(fw.ID, p.ID)

	for _, name := range []string{"Allow-SSH", "allow-ssh"} {
		for _, pos := range []int{0, 1} {
			r := f.newRule(fw.ID, p.ID, pos, name)
			wantConflictOn(t, f.try(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) }), "name")
		}
	}
	wantEqual(t, "rules after refused creates", f.ruleIDs(fw.ID, p.ID), before)

	renamed := other
	renamed.Name = "ALLOW-ssh"
	wantConflictOn(t, f.try(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &renamed) }), "name")
	renamed.Name = ""
	f.update(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &renamed) })

	// Names are unique per policy only.
	p2 := f.policy(fw.ID, "ssh", 200)
	f.rule(fw.ID, p2.ID, 0, "allow-ssh")
}

func ruleCreateAt(t *testing.T, f *fixture) {
	tests := []struct {
		name     string
		position int
		want     int // index in the final order, 0-based
	}{
		{"first", 1, 0},
		{"second", 2, 1},
		{"middle", 3, 2},
		{"last existing", 4, 3},
		{"end", 5, 4},
		{"zero appends", 0, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			fw, p, rules := f.tree("fw "+tc.name, 4)
			r := f.rule(fw.ID, p.ID, tc.position, "new")
			if r.Position != tc.want+1 {
				t.Errorf("CreateRule set Position %d, want %d", r.Position, tc.want+1)
			}
			want := slices.Insert(idsOf(rules), tc.want, r.ID)
			wantEqual(t, "order", f.ruleIDs(fw.ID, p.ID), want)
		})
	}
	t.Run("into empty policy", func(t *testing.T) {
		f := f.with(t)
		fw, p, _ := f.tree("empty", 0)
		for _, pos := range []int{1, 1, 0, 2} {
			f.rule(fw.ID, p.ID, pos, "")
		}
		if n := len(f.ruleIDs(fw.ID, p.ID)); n != 4 {
			t.Fatalf("got %d rules, want 4", n)
		}
	})
}

func ruleMove(t *testing.T, f *fixture) {
	tests := []struct {
		name     string
		from, to int // 1-based
	}{
		{"last to first", 5, 1},
		{"first to last", 1, 5},
		{"up one", 3, 2},
		{"down one", 2, 3},
		{"up across", 4, 2},
		{"down across", 2, 4},
		{"same place", 3, 3},
		{"first stays", 1, 1},
		{"last stays", 5, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			fw, p, rules := f.tree("fw "+tc.name, 5)
			r := rules[tc.from-1]
			r.ETag, r.UpdatedAt = f.etag(), f.now()
			f.update(func(tx store.Tx) error { return tx.MoveRule(f.ctx, &r, tc.to) })
			if r.Position != tc.to {
				t.Errorf("MoveRule set Position %d, want %d", r.Position, tc.to)
			}
			want := slices.Delete(idsOf(rules), tc.from-1, tc.from)
			want = slices.Insert(want, tc.to-1, r.ID)
			wantEqual(t, "order", f.ruleIDs(fw.ID, p.ID), want)

			got, err := f.s.GetRule(f.ctx, fw.ID, p.ID, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "moved rule", got, r)
			// Only the moved rule's etag changes; the shifted ones keep theirs.
			for i, other := range rules {
				if other.ID == r.ID {
					continue
				}
				got, err := f.s.GetRule(f.ctx, fw.ID, p.ID, other.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.ETag != rules[i].ETag {
					t.Errorf("rule %d etag changed from %q to %q", i+1, rules[i].ETag, got.ETag)
				}
			}
		})
	}
}

func ruleDelete(t *testing.T, f *fixture) {
	tests := []struct {
		name   string
		n, del int // del is 1-based
	}{
		{"first", 4, 1},
		{"middle", 4, 2},
		{"last", 4, 4},
		{"only", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			fw, p, rules := f.tree("fw "+tc.name, tc.n)
			f.update(func(tx store.Tx) error { return tx.DeleteRule(f.ctx, fw.ID, p.ID, rules[tc.del-1].ID) })
			want := slices.Delete(idsOf(rules), tc.del-1, tc.del)
			wantEqual(t, "order", f.ruleIDs(fw.ID, p.ID), want)
			_, err := f.s.GetRule(f.ctx, fw.ID, p.ID, rules[tc.del-1].ID)
			wantNotFound(t, err, "rule", rules[tc.del-1].ID)
			// The freed name and the end position are usable again.
			f.rule(fw.ID, p.ID, 0, "")
		})
	}
}

// ruleModel runs random inserts, moves and deletes against the store and a
// slice, and compares the two after every step.
func ruleModel(t *testing.T, f *fixture) {
	fw, p, _ := f.tree("edge", 0)
	rng := rand.New(rand.NewPCG(1, 2))
	var model []string
	for step := range 150 {
		n := len(model)
		switch op := rng.IntN(10); {
		case n == 0 || op < 4:
			pos := rng.IntN(n + 2) // 0 appends
			r := f.rule(fw.ID, p.ID, pos, "")
			if pos == 0 {
				pos = n + 1
			}
			model = slices.Insert(model, pos-1, r.ID)
		case op < 8:
			from, to := rng.IntN(n), rng.IntN(n)
			r, err := f.s.GetRule(f.ctx, fw.ID, p.ID, model[from])
			if err != nil {
				t.Fatal(err)
			}
			f.update(func(tx store.Tx) error { return tx.MoveRule(f.ctx, &r, to+1) })
			id := model[from]
			model = slices.Insert(slices.Delete(model, from, from+1), to, id)
		default:
			i := rng.IntN(n)
			f.update(func(tx store.Tx) error { return tx.DeleteRule(f.ctx, fw.ID, p.ID, model[i]) })
			model = slices.Delete(model, i, i+1)
		}
		if got := f.ruleIDs(fw.ID, p.ID); !slices.Equal(got, model) {
			t.Fatalf("after step %d: store order differs from model\n got %v\nwant %v", step, got, model)
		}
	}
}

func ruleCreateMissingParent(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("edge", 2)
	other := f.firewall("core")
	missingFW, missingP := f.id(), f.id()
	tests := []struct {
		name               string
		firewallID, policy string
		kind, id           string
	}{
		{"firewall missing", missingFW, p.ID, "firewall", missingFW},
		{"policy missing", fw.ID, missingP, "filtering policy", missingP},
		{"policy in another firewall", other.ID, p.ID, "filtering policy", p.ID},
	}
	for _, tc := range tests {
		for _, pos := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/position %d", tc.name, pos), func(t *testing.T) {
				f := f.with(t)
				r := f.newRule(tc.firewallID, tc.policy, pos, "x")
				wantNotFound(t, f.try(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) }), tc.kind, tc.id)
				wantEqual(t, "rules of the policy", f.ruleIDs(fw.ID, p.ID), idsOf(rules))
			})
		}
	}
}

func ruleNotFound(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("edge", 2)
	p2 := f.policy(fw.ID, "second", 200)
	inP2 := f.rule(fw.ID, p2.ID, 0, "")
	other := f.firewall("core")
	missingFW, missingP, missingR := f.id(), f.id(), f.id()
	r := rules[0]

	// at returns r as if it lived at the given path.
	at := func(firewallID, policyID, id string) *firewall.Rule {
		c := r
		c.FirewallID, c.PolicyID, c.ID = firewallID, policyID, id
		return &c
	}
	paths := []struct {
		name                   string
		firewallID, policy, id string
		kind, missing          string
	}{
		{"firewall missing", missingFW, p.ID, r.ID, "firewall", missingFW},
		{"policy missing", fw.ID, missingP, r.ID, "filtering policy", missingP},
		{"policy in another firewall", other.ID, p.ID, r.ID, "filtering policy", p.ID},
		{"rule missing", fw.ID, p.ID, missingR, "rule", missingR},
		{"rule in another policy", fw.ID, p.ID, inP2.ID, "rule", inP2.ID},
	}
	for _, path := range paths {
		calls := []struct {
			name string
			call func(tx store.Tx) error
		}{
			{"Get", func(store.Tx) error { _, err := f.s.GetRule(f.ctx, path.firewallID, path.policy, path.id); return err }},
			{"GetInTx", func(tx store.Tx) error {
				_, err := tx.GetRule(f.ctx, path.firewallID, path.policy, path.id)
				return err
			}},
			{"Update", func(tx store.Tx) error { return tx.UpdateRule(f.ctx, at(path.firewallID, path.policy, path.id)) }},
			{"Move", func(tx store.Tx) error { return tx.MoveRule(f.ctx, at(path.firewallID, path.policy, path.id), 1) }},
			{"Delete", func(tx store.Tx) error { return tx.DeleteRule(f.ctx, path.firewallID, path.policy, path.id) }},
		}
		for _, c := range calls {
			t.Run(c.name+"/"+path.name, func(t *testing.T) {
				f := f.with(t)
				wantNotFound(t, f.try(c.call), path.kind, path.missing)
			})
		}
	}
	lists := []struct {
		name               string
		firewallID, policy string
		kind, missing      string
	}{
		{"firewall missing", missingFW, p.ID, "firewall", missingFW},
		{"policy missing", fw.ID, missingP, "filtering policy", missingP},
		{"policy in another firewall", other.ID, p.ID, "filtering policy", p.ID},
	}
	for _, l := range lists {
		t.Run("List/"+l.name, func(t *testing.T) {
			_, err := f.s.ListRules(f.ctx, l.firewallID, l.policy, firewall.Query{})
			wantNotFound(t, err, l.kind, l.missing)
		})
	}
	wantEqual(t, "rules after failed calls", f.ruleIDs(fw.ID, p.ID), idsOf(rules))
}

func ruleCount(t *testing.T, f *fixture) {
	fw, p, _ := f.tree("edge", 3)
	p2 := f.policy(fw.ID, "empty", 200)
	f.update(func(tx store.Tx) error {
		for _, c := range []struct {
			policy string
			want   int
		}{{p.ID, 3}, {p2.ID, 0}, {f.id(), 0}} {
			n, err := tx.CountRules(f.ctx, c.policy)
			if err != nil {
				return err
			}
			if n != c.want {
				t.Errorf("CountRules(%s) = %d, want %d", c.policy, n, c.want)
			}
		}
		// The count sees the transaction's own writes.
		r := f.newRule(fw.ID, p2.ID, 0, "")
		if err := tx.CreateRule(f.ctx, &r); err != nil {
			return err
		}
		if n, err := tx.CountRules(f.ctx, p2.ID); err != nil || n != 1 {
			t.Errorf("CountRules after a create in the same transaction = %d, %v; want 1", n, err)
		}
		return nil
	})
}

func ruleListEmpty(t *testing.T, f *fixture) {
	fw, p, _ := f.tree("edge", 0)
	page, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 || page.NextPageToken != "" {
		t.Fatalf("got %+v, want an empty last page", page)
	}
}
