package export

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/import/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportFixtures reads real iptables-save and nft -j output (made from
// the .nft and .rules sources beside them) and checks every policy, rule
// and statement not imported.
func TestImportFixtures(t *testing.T) {
	stateful := "the stateful accept of return traffic (established, related): FireFlow decides new flows, which it never matches; export with stateful=true adds it back"
	unreached := "never reached: an earlier statement decides every flow, or leaves the chain"
	cases := []struct {
		name   string
		format ImportFormat
		input  []byte
		chain  string
		want   string
	}{
		{"iptables", ImportIPTables, readFixture(t, "mixed.iptables"), "", `start FORWARD default "deny"
policy "ff-p1" 10 next
  1 allow tcp src=10.0.0.0/8 dst=192.168.1.5/32 dport=22,80,1000-2000
  2 deny udp src=0.0.0.0/0 sport=53 dport=1024-65535
  3 reject tcp src=0.0.0.0/0
  4 reject icmp
  5 deny any src=0.0.0.0/5,8.0.0.0/7,11.0.0.0/8,12.0.0.0/6,16.0.0.0/4,32.0.0.0/3,64.0.0.0/2,128.0.0.0/1
policy "ff-p2" 20 deny
  1 allow tcp src=0.0.0.0/0 sport=1-2 dport=3
skipped line 16: interface match -i eth0: FireFlow rules match no interfaces
ignored line 8: ` + stateful + `
ignored line 17: ` + stateful + `
`},
		{"iptables and ip6tables in one input", ImportIPTables, append(readFixture(t, "mixed.iptables"), readFixture(t, "mixed.ip6tables")...), "FORWARD", `start FORWARD default "deny"
policy "ff-p1 (IPv4)" 10 next
  1 allow tcp src=10.0.0.0/8 dst=192.168.1.5/32 dport=22,80,1000-2000
  2 deny udp src=0.0.0.0/0 sport=53 dport=1024-65535
  3 reject tcp src=0.0.0.0/0
  4 reject icmp
  5 deny any src=0.0.0.0/5,8.0.0.0/7,11.0.0.0/8,12.0.0.0/6,16.0.0.0/4,32.0.0.0/3,64.0.0.0/2,128.0.0.0/1
policy "ff-p2 (IPv4)" 20 next
  1 allow tcp src=0.0.0.0/0 sport=1-2 dport=3
  2 deny any src=0.0.0.0/0
policy "ff-p1 (IPv6)" 30 next
  1 reject icmpv6 src=2001:db8::/32
  2 allow icmpv6
  3 reject tcp src=::/0
  4 reject udp src=::/0
skipped line 16: interface match -i eth0: FireFlow rules match no interfaces
ignored line 8: ` + stateful + `
ignored line 17: ` + stateful + `
`},
		{"nftables inet", ImportNFTables, readFixture(t, "mixed.nft.json"), "", `start inet/fw1/forward default "deny"
policy "p1" 10 next
  1 allow tcp src=10.0.0.0/8,192.168.1.1/32 dst=10.1.2.0/25,10.1.2.128/26,10.1.2.192/29,10.1.2.200/32 dport=22,80,1000-2000
  2 deny udp src=2001:db8::/32 sport=53
  3 reject tcp
  4 reject icmp
  5 reject icmp
  6 allow icmpv6
  7 deny any src=0.0.0.0/5,8.0.0.0/7,11.0.0.0/8,12.0.0.0/6,16.0.0.0/4,32.0.0.0/3,64.0.0.0/2,128.0.0.0/1
  8 allow tcp sport=1-2 dport=3
policy "p2" 20 deny
  1 allow any dst=::1/128,2001:db8::/64
skipped inet fw1 chain p1 handle 16: interface match (meta iifname): FireFlow rules match no interfaces
skipped inet fw1 chain p1 handle 17: th ports without a tcp or udp protocol match read the header of any protocol
ignored inet fw1 chain forward handle 4: ` + stateful + `
`},
		{"nftables named sets and an ip table", ImportNFTables, readFixture(t, "sets.nft.json"), "filt/forwardc", `start ip/filt/forwardc default "allow"
policy "forwardc" 10 next
  1 deny any src=10.0.0.0/8,172.16.0.1/32,172.16.0.2/31,172.16.0.4/30,172.16.0.8/31,192.168.0.1/32
  2 allow tcp src=0.0.0.0/0 dport=22,100-200
  3 reject any src=0.0.0.0/0
ignored table inet t6: not the table of the start chain; none of it is imported
ignored table ip nat: not the table of the start chain; none of it is imported
ignored ip filt chain forwardc handle 10: ` + unreached + `
ignored ip filt chain forwardc handle 12: ` + unreached + `
ignored ip filt chain forwardc handle 13: ` + unreached + `
ignored ip filt chain forwardc handle 14: ` + unreached + `
ignored ip filt chain forwardc handle 15: ` + unreached + `
ignored ip filt chain forwardc handle 16: ` + unreached + `
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Import(c.format, c.input, ImportOptions{Chain: c.chain})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, describe(res)); diff != "" {
				t.Fatalf("import (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImportStatements checks single statements: what each becomes, or
// why it is skipped.
func TestImportStatements(t *testing.T) {
	wrap := func(rules ...string) []byte {
		return []byte("*filter\n:FORWARD ACCEPT [0:0]\n:u - [0:0]\n:v - [0:0]\n" + strings.Join(rules, "\n") + "\nCOMMIT\n")
	}
	cases := []struct {
		name  string
		rules []string
		want  string // the policies and rules, or the first skip reason
	}{
		{"negated protocol", []string{"-A FORWARD ! -p tcp -j DROP"},
			"deny udp src=0.0.0.0/0|deny icmp|deny icmpv6 src=0.0.0.0/0"},
		{"negated port", []string{"-A FORWARD -p tcp ! --dport 22 -j DROP"},
			"deny tcp src=0.0.0.0/0 dport=1-21,23-65535"},
		{"either port", []string{"-A FORWARD -p udp -m multiport --ports 53,123 -j ACCEPT"},
			"allow udp src=0.0.0.0/0 sport=53,123|allow udp src=0.0.0.0/0 dport=53,123"},
		{"conditional jump inlined", []string{"-A FORWARD -s 10.0.0.0/8 -j u", "-A u -s 10.1.0.0/16 -j ACCEPT", "-A u -s 192.168.0.0/16 -j ACCEPT", "-A u -j DROP"},
			"allow any src=10.1.0.0/16|deny any src=10.0.0.0/8"},
		{"nested chains", []string{"-A FORWARD -j u", "-A u -p tcp -j v", "-A v --dport 22 -p tcp -j ACCEPT", "-A v -j RETURN", "-A u -j REJECT"},
			"u: allow tcp src=0.0.0.0/0 dport=22|reject any src=0.0.0.0/0"},
		{"trailing conditional return", []string{"-A FORWARD -j u", "-A u -p tcp -j ACCEPT", "-A u -p udp -j RETURN"},
			"u: allow tcp src=0.0.0.0/0"},
		{"conditional return in a base chain", []string{"-A FORWARD -p udp -j RETURN", "-A FORWARD -j DROP"},
			"allow udp src=0.0.0.0/0|deny any src=0.0.0.0/0"},
		{"conditional return in the middle", []string{"-A FORWARD -j u", "-A u -p udp -j RETURN", "-A u -j DROP"},
			"skip: a RETURN on a condition before other statements"},
		{"goto", []string{"-A FORWARD -g u"}, "skip: goto"},
		{"interface", []string{"-A FORWARD -o eth1 -j DROP"}, "skip: interface match"},
		{"mark", []string{"-A FORWARD -m mark --mark 1 -j DROP"}, "skip: match module mark"},
		{"sctp", []string{"-A FORWARD -p sctp -j DROP"}, "skip: protocol sctp"},
		{"tcp flags", []string{"-A FORWARD -p tcp --syn -j DROP"}, "skip: option --syn"},
		{"new state", []string{"-A FORWARD -m conntrack --ctstate NEW -j ACCEPT"}, "skip: connection-state match"},
		{"unknown target", []string{"-A FORWARD -j MARK --set-mark 1"}, "skip: target MARK"},
		{"logging decides nothing", []string{"-A FORWARD -p tcp -j LOG --log-prefix \"x y\"", "-A FORWARD -j DROP"}, "deny any src=0.0.0.0/0"},
		{"dotted mask", []string{"-A FORWARD -s 10.0.0.0/255.255.0.0 -j DROP"}, "deny any src=10.0.0.0/16"},
		{"port 0 is no flow's port", []string{"-A FORWARD -p tcp --dport 0 -j DROP", "-A FORWARD -p udp --sport 0:10 -j DROP", "-A FORWARD -p tcp ! --dport 0 -j ACCEPT"},
			"deny udp src=0.0.0.0/0 sport=1-10|allow tcp src=0.0.0.0/0 dport=1-65535"},
		{"counters prefix", []string{"[5:300] -A FORWARD -p icmp -j ACCEPT"}, "allow icmp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Import(ImportIPTables, wrap(c.rules...), ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if skip, ok := strings.CutPrefix(c.want, "skip: "); ok {
				if len(res.Skipped) == 0 || !strings.Contains(res.Skipped[0].Reason, skip) {
					t.Fatalf("skipped %v, want a reason with %q", res.Skipped, skip)
				}
				return
			}
			if len(res.Skipped) > 0 {
				t.Fatalf("skipped %v", res.Skipped)
			}
			var got []string
			for _, p := range res.Policies {
				for i, r := range p.Rules {
					s := describeRule(r)
					if i == 0 && p.Policy.Name != "FORWARD" {
						s = p.Policy.Name + ": " + s
					}
					got = append(got, s)
				}
			}
			if g := strings.Join(got, "|"); g != c.want {
				t.Fatalf("got  %s\nwant %s", g, c.want)
			}
		})
	}
}

// TestImportSyntaxErrors: input that neither tool prints is refused with
// the line (or JSON location) and the reason.
func TestImportSyntaxErrors(t *testing.T) {
	cases := []struct {
		name   string
		format ImportFormat
		input  string
		line   int
		reason string
	}{
		{"no commit", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n", 1, "not closed by COMMIT"},
		{"rule outside a table", ImportIPTables, "-A FORWARD -j DROP\n", 1, "outside a table"},
		{"undeclared chain", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n-A X -j DROP\nCOMMIT\n", 3, "not declared"},
		{"bad address", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 10.0.0.256 -j DROP\nCOMMIT\n", 3, "not an IP address"},
		{"wrong family", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 2001:db8::/32 -j DROP\nCOMMIT\n", 3, "not IPv4"},
		{"bad port", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp --dport 70000 -j DROP\nCOMMIT\n", 3, "not a port"},
		{"missing value", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s\nCOMMIT\n", 3, "needs a value"},
		{"open quote", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -m comment --comment \"x -j DROP\nCOMMIT\n", 3, "quoted string"},
		{"bad policy", ImportIPTables, "*filter\n:FORWARD REJECT [0:0]\nCOMMIT\n", 2, "only ACCEPT and DROP"},
		{"unknown line", ImportIPTables, "*filter\n-P FORWARD DROP\nCOMMIT\n", 2, "unexpected statement"},
		{"loop", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n:a - [0:0]\n:b - [0:0]\n-A FORWARD -j a\n-A a -j b\n-A b -j a\nCOMMIT\n", 0, "jumps back"},
		{"jumps that multiply", ImportIPTables, "*filter\n:FORWARD DROP [0:0]\n:a - [0:0]\n:b - [0:0]\n:c - [0:0]\n:d - [0:0]\n" +
			strings.Repeat("-A FORWARD -p tcp -j a\n", 200) + strings.Repeat("-A a -p tcp -j b\n", 200) +
			strings.Repeat("-A b -p tcp -j c\n", 200) + strings.Repeat("-A c -p tcp -j d\n", 200) + "COMMIT\n", 0, "expand into more than"},
		{"not json", ImportNFTables, "*filter", 0, "not the JSON"},
		{"no nftables array", ImportNFTables, `{"x": []}`, 0, "no \"nftables\" array"},
		{"rule of unknown chain", ImportNFTables, `{"nftables": [{"table": {"family": "inet", "name": "t"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": []}}]}`, 0, "does not list"},
		{"bad address value", ImportNFTables, `{"nftables": [{"table": {"family": "inet", "name": "t"}}, {"chain": {"family": "inet", "table": "t", "name": "c", "type": "filter", "hook": "forward", "policy": "drop"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "::1"}}, {"accept": null}]}}]}`, 0, "not an address of family IPv4"},
		{"jump to a missing chain", ImportNFTables, `{"nftables": [{"table": {"family": "inet", "name": "t"}}, {"chain": {"family": "inet", "table": "t", "name": "c", "type": "filter", "hook": "forward"}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"jump": {"target": "x"}}]}}]}`, 0, "does not list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Import(c.format, []byte(c.input), ImportOptions{})
			var se *ImportSyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want an *ImportSyntaxError", err)
			}
			if se.Line != c.line || !strings.Contains(se.Reason, c.reason) {
				t.Fatalf("error line %d %q, want line %d and %q", se.Line, se.Reason, c.line, c.reason)
			}
			if c.format == ImportNFTables && se.Location == "" {
				t.Fatalf("JSON error without a location: %v", se)
			}
		})
	}
}

// TestImportChainErrors: a start chain that is missing or ambiguous names
// the problem.
func TestImportChainErrors(t *testing.T) {
	nft := readFixture(t, "sets.nft.json")
	for _, c := range []struct {
		format ImportFormat
		input  []byte
		chain  string
		reason string
	}{
		{ImportIPTables, readFixture(t, "mixed.iptables"), "NOPE", "no filter table"},
		{ImportNFTables, nft, "nope", "no table has this chain"},
		{ImportNFTables, nft, "", "ambiguous"},
		{ImportNFTables, nft, "nat/post", "a nat chain"},
	} {
		t.Run(c.chain, func(t *testing.T) {
			_, err := Import(c.format, c.input, ImportOptions{Chain: c.chain})
			var ce *ImportChainError
			if !errors.As(err, &ce) || !strings.Contains(ce.Reason, c.reason) {
				t.Fatalf("error %v, want a chain error with %q", err, c.reason)
			}
		})
	}
}
