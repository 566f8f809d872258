package export_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/export/kerneltest"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// groupsTree is a small firewall written against groups: a nested address
// group of both families, a group whose name is not an identifier, a rule
// with literal ∪ group sources, and service groups.
func groupsTree() firewall.Tree {
	ag := func(id, name string, members []netip.Prefix, nested ...string) firewall.AddressGroup {
		g := firewall.AddressGroup{Name: name, Addresses: members}
		g.ID = id
		for _, n := range nested {
			g.Groups = append(g.Groups, firewall.GroupRef{ID: n})
		}
		return g
	}
	sg := func(id, name string, svcs ...firewall.Service) firewall.ServiceGroup {
		g := firewall.ServiceGroup{Name: name, Services: svcs}
		g.ID = id
		return g
	}
	fw := firewall.NewFirewall()
	fw.ID, fw.Name = "fw-g", "groups"
	pol := firewall.NewPolicy()
	pol.ID, pol.Name, pol.DefaultAction = "pol-g", "edge", firewall.Deny
	rule := func(id string, pos int, a firewall.Action) firewall.Rule {
		r := firewall.NewRule()
		r.ID, r.Name, r.Position, r.Action = id, id, pos, a
		return r
	}
	web := rule("r-web", 1, firewall.Allow)
	web.Sources = pfx("192.0.2.7/32")
	web.SourceGroups = []firewall.GroupRef{{ID: "ag-web", Name: "web-servers"}}
	web.ServiceGroups = []firewall.GroupRef{{ID: "sg-web", Name: "web"}}
	dns := rule("r-dns", 2, firewall.Reject)
	dns.DestinationGroups = []firewall.GroupRef{{ID: "ag-dns"}}
	dns.ServiceGroups = []firewall.GroupRef{{ID: "sg-dns"}}
	empty := rule("r-empty", 3, firewall.Deny)
	empty.SourceGroups = []firewall.GroupRef{{ID: "ag-empty"}} // no members: any source
	empty.Protocol = firewall.ICMP
	pol.Enabled = true
	return firewall.Tree{Firewall: fw, Policies: []firewall.PolicyTree{{Policy: pol, Rules: []firewall.Rule{web, dns, empty}}},
		Groups: firewall.Groups{
			Address: map[string]firewall.AddressGroup{
				"ag-web":   ag("ag-web", "web-servers", pfx("10.1.0.0/24", "2001:db8:1::/64"), "ag-front"),
				"ag-front": ag("ag-front", "front ends/ä", pfx("10.1.0.128/25", "10.2.0.0/16")),
				"ag-dns":   ag("ag-dns", "dns", pfx("10.53.0.0/24")),
				"ag-empty": ag("ag-empty", "empty", nil),
			},
			Service: map[string]firewall.ServiceGroup{
				"sg-web": sg("sg-web", "web", firewall.Service{Protocol: firewall.TCP, Ports: ports("80", "443")}, firewall.Service{Protocol: firewall.ICMP}),
				"sg-dns": sg("sg-dns", "dns", firewall.Service{Protocol: firewall.UDP, Ports: ports("53")}, firewall.Service{Protocol: firewall.TCP, Ports: ports("53")}),
			},
		}}
}

// TestRenderGroups: each address group a rule uses is one named set per
// family with its nesting flattened, matched beside the literal list;
// iptables expands groups, or matches ipsets when asked; and the tools
// accept every rendering.
func TestRenderGroups(t *testing.T) {
	tree := groupsTree()
	nft, err := export.Render(&tree, export.Options{Format: export.NFTables, Now: goldenNow})
	if err != nil {
		t.Fatal(err)
	}
	text := string(nft.Text)
	for _, want := range []string{
		"set g_web-servers_v4 {\n\t\ttype ipv4_addr; flags interval;\n\t\telements = { 10.1.0.0/24, 10.2.0.0/16 }\n\t}",
		"set g_web-servers_v6 {\n\t\ttype ipv6_addr; flags interval;\n\t\telements = { 2001:db8:1::/64 }\n\t}",
		"set g_dns_v4 {",
		"ip saddr 192.0.2.7 tcp dport { 80, 443 } accept",
		"ip saddr @g_web-servers_v4 tcp dport { 80, 443 } accept",
		"ip6 saddr @g_web-servers_v6 tcp dport { 80, 443 } accept",
		"ip saddr @g_web-servers_v4 meta l4proto icmp accept",
		"ip daddr @g_dns_v4 udp dport 53 reject",
		"ip daddr @g_dns_v4 tcp dport 53 reject with tcp reset",
		"meta l4proto icmp drop", // the empty group: any source
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the nftables export lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "g_dns_v6") || strings.Contains(text, "g_empty") || strings.Contains(text, "ag-front") && strings.Contains(text, "set g_front") {
		t.Errorf("a set without members, or a nested group, is declared:\n%s", text)
	}
	if nft.RulesRendered != 3 {
		t.Errorf("RulesRendered = %d, want 3 (a rule's services count once)", nft.RulesRendered)
	}
	ipt, err := export.Render(&tree, export.Options{Format: export.IPTables, Now: goldenNow})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(ipt.Text); strings.Contains(s, "match-set") || !strings.Contains(s, "-s 10.2.0.0/16") || ipt.IPSets != nil {
		t.Errorf("iptables without ipset must expand groups:\n%s", s)
	}
	withSets, err := export.Render(&tree, export.Options{Format: export.IPTables, Now: goldenNow, IPSet: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-m set --match-set g_web-servers_v4 src", "-m set --match-set g_dns_v4 dst", "-s 192.0.2.7"} {
		if !strings.Contains(string(withSets.Text), want) {
			t.Errorf("iptables with ipset lacks %q:\n%s", want, withSets.Text)
		}
	}
	for _, want := range []string{"create g_web-servers_v4 hash:net family inet -exist", "add g_web-servers_v4 10.2.0.0/16", "flush g_dns_v4"} {
		if !strings.Contains(string(withSets.IPSets), want) {
			t.Errorf("the ipsets lack %q:\n%s", want, withSets.IPSets)
		}
	}
	six, err := export.Render(&tree, export.Options{Format: export.IP6Tables, Now: goldenNow, IPSet: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(six.IPSets), "create g_web-servers_v6 hash:net family inet6") || strings.Contains(string(six.IPSets), "_v4") {
		t.Errorf("ip6tables ipsets:\n%s", six.IPSets)
	}
	t.Run("tools", func(t *testing.T) {
		kerneltest.Require(t, "nft", "iptables-restore", "ip6tables-restore")
		checkTool(t, export.NFTables, nft.Text)
		checkTool(t, export.IPTables, ipt.Text)
	})
}

// TestSetNames: set names are nft identifiers and ipset names (at most
// 31 bytes), distinct for distinct groups whatever their names.
func TestSetNames(t *testing.T) {
	names := []string{"a b", "a_b", "a-b", "web", "web", strings.Repeat("long", 30), strings.Repeat("long", 30) + "x", "中文", "", "1st", "set", "ip"}
	tree := groupsTree()
	tree.Policies[0].Rules[0].SourceGroups = nil
	for i, n := range names {
		g := firewall.AddressGroup{Name: n, Addresses: pfx(fmt.Sprintf("10.9.%d.0/24", i), fmt.Sprintf("2001:db8:9:%x::/64", i))}
		g.ID = fmt.Sprintf("ag-n%d", i)
		tree.Groups.Address[g.ID] = g
		tree.Policies[0].Rules[0].SourceGroups = append(tree.Policies[0].Rules[0].SourceGroups, firewall.GroupRef{ID: g.ID})
	}
	ident := regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)
	for _, opt := range []export.Options{{Format: export.NFTables}, {Format: export.IPTables, IPSet: true}, {Format: export.IP6Tables, IPSet: true}} {
		opt.Now = goldenNow
		res, err := export.Render(&tree, opt)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`(?m)^\tset (\S+) \{`)
		if opt.Format != export.NFTables {
			re = regexp.MustCompile(`(?m)^create (\S+) `)
		}
		seen := map[string]bool{}
		for _, m := range re.FindAllStringSubmatch(string(res.Text)+string(res.IPSets), -1) {
			n := m[1]
			if !ident.MatchString(n) || seen[n] || opt.Format != export.NFTables && len(n) > 31 {
				t.Errorf("%s: set name %q is not a fresh identifier (of at most 31 bytes for ipset)", opt.Format, n)
			}
			seen[n] = true
		}
		// One set per named group and family, and the dns group's IPv4 set.
		want := map[export.Format]int{export.NFTables: 2*len(names) + 1, export.IPTables: len(names) + 1, export.IP6Tables: len(names)}[opt.Format]
		if len(seen) != want {
			t.Errorf("%s: %d sets, want one per group and family", opt.Format, len(seen))
		}
	}
}

// TestRenderRefusesGroups: a group the tree lacks, a member the domain
// refuses and service groups beside the rule's own protocol cannot be
// rendered faithfully.
func TestRenderRefusesGroups(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *firewall.Tree)
		field  string
	}{
		{"missing group", func(t *firewall.Tree) { delete(t.Groups.Address, "ag-dns") }, "destination_groups[0]"},
		{"missing nested group", func(t *firewall.Tree) { delete(t.Groups.Address, "ag-front") }, "source_groups[0]"},
		{"host bits", func(t *firewall.Tree) {
			g := t.Groups.Address["ag-front"]
			g.Addresses = []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 8)}
			t.Groups.Address["ag-front"] = g
		}, "source_groups[0]"},
		{"protocol beside service groups", func(t *firewall.Tree) { t.Policies[0].Rules[0].Protocol = firewall.TCP }, "service_groups"},
		{"icmp service with ports", func(t *firewall.Tree) {
			g := t.Groups.Service["sg-dns"]
			g.Services = append(g.Services, firewall.Service{Protocol: firewall.ICMP, Ports: ports("1")})
			t.Groups.Service["sg-dns"] = g
		}, "service_groups[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := groupsTree()
			tt.break_(&tree)
			for _, f := range export.Formats {
				_, err := export.Render(&tree, export.Options{Format: f, Now: goldenNow})
				var xe *export.Error
				if !errors.As(err, &xe) || len(xe.Problems) != 1 || xe.Problems[0].Field != tt.field || xe.Problems[0].Reason == "" {
					t.Fatalf("%s: Render error %v, want one problem on %s", f, err, tt.field)
				}
			}
		})
	}
}

// TestToolsAcceptRandomGroups: the tools accept exports of random trees
// with nested groups, ipsets included.
func TestToolsAcceptRandomGroups(t *testing.T) {
	kerneltest.Require(t, "nft", "iptables-restore", "ip6tables-restore")
	r := rand.New(rand.NewPCG(17, 7))
	for i := range 15 {
		tree := fwgen.NewAdversarial(r, false).Tree(4, 40)
		fwgen.Groups(r, &tree, 8, 4)
		for _, opt := range []export.Options{{Format: export.NFTables, Merge: i%2 == 0}, {Format: export.IPTables, IPSet: i%2 == 0}, {Format: export.IP6Tables}} {
			opt.Now = fwgen.Now
			res, err := export.Render(&tree, opt)
			if err != nil {
				t.Fatalf("tree %d: Render %s: %v", i, opt.Format, err)
			}
			if opt.IPSet {
				continue // --test cannot see ipsets outside the namespace; the kernel test loads them
			}
			checkTool(t, opt.Format, res.Text)
		}
	}
}
