package export_test

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// TestRenderRefuses: a tree the domain would refuse cannot be rendered
// faithfully, and the error lists every rule and field at fault.
func TestRenderRefuses(t *testing.T) {
	good := goldenTree()
	tests := []struct {
		name   string
		break_ func(t *firewall.Tree)
		want   []export.Problem
	}{
		{"firewall default next", func(t *firewall.Tree) { t.Firewall.DefaultAction = firewall.Next },
			[]export.Problem{{Field: "default_action"}}},
		{"policy default reject", func(t *firewall.Tree) { t.Policies[1].Policy.DefaultAction = firewall.Reject },
			[]export.Problem{{PolicyID: "pol-web", Field: "default_action"}}},
		{"rule action next and unknown protocol", func(t *firewall.Tree) {
			t.Policies[1].Rules[0].Action = firewall.Next
			t.Policies[1].Rules[1].Protocol = "sctp"
		}, []export.Problem{{PolicyID: "pol-web", RuleID: "r-https", Field: "action"}, {PolicyID: "pol-web", RuleID: "r-ssh", Field: "protocol"}}},
		{"ports without tcp or udp", func(t *firewall.Tree) { t.Policies[1].Rules[2].DestinationPorts = ports("80") },
			[]export.Problem{{PolicyID: "pol-web", RuleID: "r-any-reject", Field: "destination_ports"}}},
		{"host bits and an inverted range", func(t *firewall.Tree) {
			t.Policies[1].Rules[1].Sources[0] = netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 8)
			t.Policies[1].Rules[1].SourcePorts = []firewall.PortRange{{Low: 9, High: 3}}
		}, []export.Problem{{PolicyID: "pol-web", RuleID: "r-ssh", Field: "sources[0]"}, {PolicyID: "pol-web", RuleID: "r-ssh", Field: "source_ports[0]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := goldenTree()
			// Deep enough a copy: the breakers replace slices' elements of
			// a fresh tree each time.
			tt.break_(&tree)
			for _, f := range export.Formats {
				res, err := export.Render(&tree, export.Options{Format: f, Now: goldenNow})
				var xe *export.Error
				if !errors.As(err, &xe) || res != nil {
					t.Fatalf("%s: Render = %v, %v; want an *export.Error", f, res, err)
				}
				if len(xe.Problems) != len(tt.want) {
					t.Fatalf("%s: problems %+v, want %+v", f, xe.Problems, tt.want)
				}
				for i, w := range tt.want {
					p := xe.Problems[i]
					if p.PolicyID != w.PolicyID || p.RuleID != w.RuleID || p.Field != w.Field || p.Reason == "" {
						t.Errorf("%s: problem %d = %+v, want %+v with a reason", f, i, p, w)
					}
				}
				if !strings.Contains(err.Error(), "cannot export as "+string(f)) {
					t.Errorf("error text %q", err)
				}
			}
		})
	}
	if _, err := export.Render(&good, export.Options{Format: "pf"}); err == nil {
		t.Fatal("format pf: no error")
	}
	if _, err := export.Render(&good, export.Options{Format: export.NFTables, Table: "bad name"}); err == nil {
		t.Fatal("table 'bad name': no error")
	}
}

// TestRenderCounts: every rule is either rendered or listed as left out,
// per output, and the header says so.
func TestRenderCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 50 {
		tree := fwgen.NewAdversarial(r, false).Tree(5, 50)
		for _, f := range export.Formats {
			res, err := export.Render(&tree, export.Options{Format: f, Now: fwgen.Now})
			if err != nil {
				t.Fatalf("tree %d %s: %v", i, f, err)
			}
			if res.RulesRendered+len(res.LeftOut) != res.RulesIn {
				t.Fatalf("tree %d %s: rendered %d + left out %d != in %d", i, f, res.RulesRendered, len(res.LeftOut), res.RulesIn)
			}
			for _, lo := range res.LeftOut {
				if lo.Reason == "" || !strings.Contains(string(res.Text), lo.RuleID) {
					t.Fatalf("tree %d %s: left out %+v without a reason or a comment", i, f, lo)
				}
			}
		}
	}
}

// FuzzParseOptions: the query parameters never panic, and what parses is
// a known format and hook, which Render accepts.
func FuzzParseOptions(f *testing.F) {
	for _, s := range [][4]string{{"nftables", "", "", ""}, {"iptables", "input", "true", "false"}, {"ip6tables", "output", "0", ""},
		{"pf", "x", "maybe", "no"}, {"", "", "", ""}, {"NFTABLES", "Forward", "TRUE", "1"}, {"nftables", "forward", "1", "true"}, {"iptables", "", "", "true"}} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	tree := goldenTree()
	f.Fuzz(func(t *testing.T, format, hook, stateful, merge string) {
		opt, err := export.ParseOptions(format, hook, stateful, merge)
		if err != nil {
			if firewall.CodeOf(err) != firewall.CodeInvalid {
				t.Fatalf("ParseOptions error %v has code %q", err, firewall.CodeOf(err))
			}
			return
		}
		opt.Now = goldenNow
		if _, err := export.Render(&tree, opt); err != nil {
			t.Fatalf("ParseOptions(%q, %q, %q, %q) = %+v, which Render refuses: %v", format, hook, stateful, merge, opt, err)
		}
	})
}

// FuzzRender draws random trees, junk included, from the fuzzer's seed:
// Render never panics, and either renders every rule or lists problems.
func FuzzRender(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42} {
		f.Add(s, true, uint8(0))
		f.Add(s, s%2 == 0, uint8(0x80|s)) // with groups
	}
	f.Fuzz(func(t *testing.T, seed uint64, junk bool, format uint8) {
		r := rand.New(rand.NewPCG(seed, 7))
		tree := fwgen.NewAdversarial(r, junk).Tree(4, 30)
		if format&0x80 != 0 { // the high bit adds nested groups
			fwgen.Groups(r, &tree, 4, 3)
		}
		fm := export.Formats[int(format&0x7f)%len(export.Formats)]
		res, err := export.Render(&tree, export.Options{Format: fm, Now: fwgen.Now, Stateful: seed%2 == 0, Merge: seed%3 == 0, IPSet: fm != export.NFTables && seed%5 == 0})
		var xe *export.Error
		switch {
		case err == nil && res.RulesRendered+len(res.LeftOut) != res.RulesIn:
			t.Fatalf("rendered %d + left out %d != in %d", res.RulesRendered, len(res.LeftOut), res.RulesIn)
		case err != nil && (!errors.As(err, &xe) || len(xe.Problems) == 0):
			t.Fatalf("error %v is not an *export.Error with problems", err)
		case err == nil && !junk && strings.Contains(string(res.Text), "\x00"):
			t.Fatal("NUL in the output")
		}
	})
}
