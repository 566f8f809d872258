package export

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// A plain reference for the importer: random rulesets with the constructs
// the importer must flatten (conditional jumps, nested chains, RETURN,
// negations, multiport, counters, interfaces), written as iptables-save
// text or nft syntax, and decided by walking their chains packet by packet
// as the kernel does. The importer's firewall must decide every flow as
// the walk does, with the statements it reports as skipped left out.

type refRule struct {
	line           int       // in the iptables text; 0 for nft
	fam            refFamily // of src and dst when set
	src, dst       []netip.Prefix
	srcNeg, dstNeg bool
	proto          string // "", tcp, udp, icmp, icmpv6, or "tcp,udp" (nft only)
	protoNeg       bool
	sport, dport   []firewall.PortRange
	sportNeg       bool
	dportNeg       bool
	either         []firewall.PortRange // multiport --ports (iptables only)
	iface          bool
	target         string // ACCEPT, DROP, REJECT, RETURN, "" (count only) or a chain
	comment        string
	handle         int64 // filled after the nft dump
}

// refFamily mirrors impFamily for the reference, so that it shares no code
// with the importer.
type refFamily uint8

type refChain struct {
	name   string
	base   bool
	policy string // ACCEPT or DROP
	rules  []refRule
}

type refRuleset struct {
	fam    refFamily // 1 IPv4, 2 IPv6, 3 both (nft inet)
	chains []*refChain
}

type refGen struct {
	r     *rand.Rand
	nets4 []netip.Prefix
	nets6 []netip.Prefix
	ports []uint16
	nft   bool
}

func newRefGen(r *rand.Rand, nft bool) *refGen {
	g := &refGen{r: r, nft: nft}
	for range 4 {
		a := netip.AddrFrom4([4]byte{10, byte(r.IntN(3)), byte(r.IntN(256)), 0})
		g.nets4 = append(g.nets4, netip.PrefixFrom(a, 8+r.IntN(25)).Masked())
		b := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(r.IntN(3)), 15: byte(r.IntN(256))})
		g.nets6 = append(g.nets6, netip.PrefixFrom(b, 32+r.IntN(97)).Masked())
	}
	g.ports = []uint16{1, 22, 53, 80, 443, 1024, 8080, 65535}
	return g
}

func (g *refGen) prefixes(fam refFamily) []netip.Prefix {
	n := 1 + g.r.IntN(3)
	var out []netip.Prefix
	for range n {
		base := g.nets4[g.r.IntN(len(g.nets4))]
		if fam == 2 {
			base = g.nets6[g.r.IntN(len(g.nets6))]
		}
		bits := base.Bits() + g.r.IntN(base.Addr().BitLen()-base.Bits()+1)
		if g.r.IntN(3) == 0 {
			bits = g.r.IntN(base.Bits() + 1)
		}
		p := netip.PrefixFrom(base.Addr(), bits).Masked()
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func (g *refGen) portList(max int) []firewall.PortRange {
	n := 1 + g.r.IntN(max)
	var out []firewall.PortRange
	for range n {
		lo := g.ports[g.r.IntN(len(g.ports))]
		hi := lo
		if g.r.IntN(2) == 0 {
			hi = uint16(min(65535, int(lo)+g.r.IntN(3000)))
		}
		pr := firewall.PortRange{Low: lo, High: hi}
		overlaps := false
		for _, o := range out {
			overlaps = overlaps || !(pr.High < o.Low || o.High < pr.Low)
		}
		if !overlaps {
			out = append(out, pr)
		}
	}
	return out
}

func (g *refGen) rule(fam refFamily, later []string) refRule {
	r := g.r
	rule := refRule{fam: fam}
	if fam == 3 {
		rule.fam = refFamily(1 + r.IntN(2))
	}
	if r.IntN(2) == 0 {
		rule.src, rule.srcNeg = g.prefixes(rule.fam), r.IntN(4) == 0
		if rule.srcNeg && !g.nft {
			rule.src = rule.src[:1] // iptables negates one address
		}
	}
	if r.IntN(2) == 0 {
		rule.dst, rule.dstNeg = g.prefixes(rule.fam), r.IntN(4) == 0
		if rule.dstNeg && !g.nft {
			rule.dst = rule.dst[:1]
		}
	}
	// iptables-nft refuses a negated /0 (it would match nothing).
	rule.srcNeg = rule.srcNeg && rule.src[0].Bits() > 0
	rule.dstNeg = rule.dstNeg && rule.dst[0].Bits() > 0
	icmp := "icmp"
	if rule.fam == 2 {
		icmp = "icmpv6"
	}
	protos := []string{"", "tcp", "udp", "tcp", "udp", icmp}
	if g.nft {
		protos = append(protos, "tcp,udp")
	}
	rule.proto = protos[r.IntN(len(protos))]
	if rule.proto == "tcp" || rule.proto == "udp" || rule.proto == "tcp,udp" {
		maxPorts := 1
		if g.nft || r.IntN(2) == 0 {
			maxPorts = 4
		}
		if r.IntN(2) == 0 {
			rule.sport, rule.sportNeg = g.portList(maxPorts), r.IntN(4) == 0
		}
		if r.IntN(3) != 0 {
			rule.dport, rule.dportNeg = g.portList(maxPorts), r.IntN(4) == 0
		}
		if !g.nft && rule.sport == nil && rule.dport == nil && r.IntN(4) == 0 {
			rule.either = g.portList(4)
		}
	} else if rule.proto != "" && r.IntN(5) == 0 {
		rule.protoNeg = true
	}
	rule.iface = r.IntN(25) == 0
	targets := []string{"ACCEPT", "DROP", "REJECT", "ACCEPT", "DROP", "RETURN", ""}
	rule.target = targets[r.IntN(len(targets))]
	if len(later) > 0 && r.IntN(4) == 0 {
		rule.target = later[r.IntN(len(later))]
	}
	if r.IntN(3) == 0 {
		rule.comment = fmt.Sprintf("c %d \"q\"", r.IntN(100))
	}
	return rule
}

// ruleset draws a base chain and user chains; a chain jumps only to
// chains after it, so there are no loops.
func (g *refGen) ruleset(fam refFamily, base string) *refRuleset {
	r := g.r
	rs := &refRuleset{fam: fam}
	n := 2 + r.IntN(4)
	names := []string{base}
	for i := 1; i < n; i++ {
		names = append(names, fmt.Sprintf("c%d", i))
	}
	for i, name := range names {
		c := &refChain{name: name}
		if i == 0 {
			c.base, c.policy = true, []string{"ACCEPT", "DROP"}[r.IntN(2)]
		}
		for range r.IntN(8) {
			c.rules = append(c.rules, g.rule(fam, names[i+1:]))
		}
		if i == 0 { // the usual layout: unconditional jumps to policy chains
			for _, later := range names[1:] {
				if r.IntN(3) != 0 {
					pos := r.IntN(len(c.rules) + 1)
					c.rules = slices.Insert(c.rules, pos, refRule{fam: fam, target: later})
				}
			}
		}
		if i > 0 && r.IntN(2) == 0 {
			c.rules = append(c.rules, refRule{fam: fam, target: []string{"ACCEPT", "DROP", "RETURN"}[r.IntN(3)]})
		}
		rs.chains = append(rs.chains, c)
	}
	return rs
}

// --- the walk

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func inPorts(rs []firewall.PortRange, p uint16) bool {
	for _, r := range rs {
		if r.Low <= p && p <= r.High {
			return true
		}
	}
	return false
}

func flowFamily(f firewall.Flow) refFamily {
	if f.Source.Is4() {
		return 1
	}
	return 2
}

// matches says whether a packet of flow f matches rule, as the kernel does.
func (rule *refRule) matches(f firewall.Flow) bool {
	fam := flowFamily(f)
	addr := func(ps []netip.Prefix, neg bool, a netip.Addr) bool {
		if ps == nil {
			return true
		}
		return fam == rule.fam && inPrefixes(ps, a) != neg // ip saddr also asks for IPv4, even negated
	}
	if !addr(rule.src, rule.srcNeg, f.Source) || !addr(rule.dst, rule.dstNeg, f.Destination) {
		return false
	}
	if rule.proto != "" {
		in := slices.Contains(strings.Split(rule.proto, ","), string(f.Protocol))
		if in == rule.protoNeg {
			return false
		}
	}
	port := func(rs []firewall.PortRange, neg bool, p uint16) bool {
		return rs == nil || inPorts(rs, p) != neg
	}
	if !port(rule.sport, rule.sportNeg, f.SourcePort) || !port(rule.dport, rule.dportNeg, f.DestinationPort) {
		return false
	}
	if rule.either != nil && !inPorts(rule.either, f.SourcePort) && !inPorts(rule.either, f.DestinationPort) {
		return false
	}
	return true
}

// walk decides f in chain c: a verdict, or "" when the chain returns.
func (rs *refRuleset) walk(c *refChain, f firewall.Flow, skipped func(*refRule) bool) string {
	for i := range c.rules {
		rule := &c.rules[i]
		if skipped(rule) || !rule.matches(f) {
			continue
		}
		switch rule.target {
		case "ACCEPT", "DROP", "REJECT":
			return rule.target
		case "RETURN":
			return ""
		case "":
		default:
			if v := rs.walk(rs.chain(rule.target), f, skipped); v != "" {
				return v
			}
		}
	}
	return ""
}

// decide walks the base chain; a RETURN there, or its end, applies the
// chain's policy.
func (rs *refRuleset) decide(f firewall.Flow, skipped func(*refRule) bool) string {
	if v := rs.walk(rs.chains[0], f, skipped); v != "" {
		return v
	}
	return rs.chains[0].policy
}

func (rs *refRuleset) chain(name string) *refChain {
	for _, c := range rs.chains {
		if c.name == name {
			return c
		}
	}
	panic("no chain " + name)
}

var refActions = map[string]firewall.Action{"ACCEPT": firewall.Allow, "DROP": firewall.Deny, "REJECT": firewall.Reject}

// --- iptables-save text

func iptPorts(rs []firewall.PortRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strings.ReplaceAll(r.String(), "-", ":")
	}
	return strings.Join(parts, ",")
}

func refNeg(b bool) string {
	if b {
		return "! "
	}
	return ""
}

// iptablesText writes the ruleset as iptables-save prints it, numbering
// the rules' lines from first.
func (rs *refRuleset) iptablesText(first int) string {
	var b strings.Builder
	line := first
	w := func(format string, args ...any) {
		fmt.Fprintf(&b, format+"\n", args...)
		line++
	}
	w("*filter")
	for _, c := range rs.chains {
		if c.base {
			w(":%s %s [0:0]", c.name, c.policy)
		} else {
			w(":%s - [0:0]", c.name)
		}
	}
	for _, c := range rs.chains {
		for i := range c.rules {
			rule := &c.rules[i]
			rule.line = line
			parts := []string{"-A", c.name}
			if rule.src != nil {
				parts = append(parts, refNeg(rule.srcNeg)+"-s", strs(rule.src)[0])
				if len(rule.src) > 1 {
					parts[len(parts)-1] = strings.Join(strs(rule.src), ",")
				}
			}
			if rule.dst != nil {
				parts = append(parts, refNeg(rule.dstNeg)+"-d", strings.Join(strs(rule.dst), ","))
			}
			if rule.iface {
				parts = append(parts, "-i", "lo")
			}
			if rule.proto != "" {
				p := rule.proto
				if p == "icmpv6" {
					p = "ipv6-icmp"
				}
				parts = append(parts, refNeg(rule.protoNeg)+"-p", p)
			}
			if rule.sport != nil {
				parts = append(parts, "-m", "multiport", refNeg(rule.sportNeg)+"--sports", iptPorts(rule.sport))
			}
			if rule.dport != nil {
				if len(rule.dport) == 1 && rule.dport[0].Low == rule.dport[0].High {
					parts = append(parts, "-m", rule.proto, refNeg(rule.dportNeg)+"--dport", iptPorts(rule.dport))
				} else {
					parts = append(parts, "-m", "multiport", refNeg(rule.dportNeg)+"--dports", iptPorts(rule.dport))
				}
			}
			if rule.either != nil {
				parts = append(parts, "-m", "multiport", "--ports", iptPorts(rule.either))
			}
			if rule.comment != "" {
				parts = append(parts, "-m", "comment", "--comment", `"`+strings.ReplaceAll(rule.comment, `"`, `\"`)+`"`)
			}
			if rule.target != "" {
				parts = append(parts, "-j", rule.target)
			}
			w("%s", strings.Join(parts, " "))
		}
	}
	w("COMMIT")
	return b.String()
}

// --- the comparison

// refFlows draws flows around the ruleset's networks and ports.
func refFlows(r *rand.Rand, g *refGen, n int) []firewall.Flow {
	var addrs4, addrs6 []netip.Addr
	for _, p := range append(append([]netip.Prefix{}, g.nets4...), g.nets6...) {
		first, last := p.Addr(), impLastAddr(p)
		for _, a := range []netip.Addr{first, last, first.Prev(), last.Next()} {
			if !a.IsValid() {
				continue
			}
			if a.Is4() {
				addrs4 = append(addrs4, a)
			} else {
				addrs6 = append(addrs6, a)
			}
		}
	}
	pick := func(v6 bool) netip.Addr {
		if v6 {
			return addrs6[r.IntN(len(addrs6))]
		}
		return addrs4[r.IntN(len(addrs4))]
	}
	port := func() uint16 {
		p := int(g.ports[r.IntN(len(g.ports))]) + r.IntN(3) - 1
		return uint16(max(1, min(65535, p)))
	}
	out := make([]firewall.Flow, 0, n)
	for len(out) < n {
		v6 := r.IntN(2) == 0
		f := firewall.Flow{Source: pick(v6), Destination: pick(v6)}
		f.Protocol = []firewall.Protocol{firewall.TCP, firewall.UDP, firewall.TCP, firewall.UDP, firewall.ICMP}[r.IntN(5)]
		if f.Protocol == firewall.ICMP && v6 {
			f.Protocol = firewall.ICMPv6
		}
		if f.Protocol.HasPorts() {
			f.SourcePort, f.DestinationPort = port(), port()
		}
		out = append(out, f)
	}
	return out
}

// checkAgainstWalk compares the import's decisions with the walk's.
func checkAgainstWalk(t *testing.T, res *ImportResult, byFam map[refFamily]*refRuleset, flows []firewall.Flow,
	skipped func(*refRule) bool, context func() string) {
	t.Helper()
	tree := importedTree(res)
	m, err := engine.Compile(tree)
	if err != nil {
		t.Fatalf("compile the import: %v", err)
	}
	for _, f := range flows {
		rs := byFam[flowFamily(f)]
		if rs == nil {
			rs = byFam[3]
		}
		want := refActions[rs.decide(f, skipped)]
		got := m.Evaluate(f, fwgen.Now, false)
		if got.Action != want {
			t.Fatalf("flow %+v: the chains decide %s, the import %s (%s %s %s)\n%s", f, want, got.Action, got.DecidedBy, got.PolicyID, got.RuleID, context())
		}
	}
}

// TestImportAgainstChainWalkIPTables: random iptables-save text (IPv4 and
// IPv6 tables in one input) imports to a firewall that decides as walking
// the chains does.
func TestImportAgainstChainWalkIPTables(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 16))
	skippedRules := 0
	for i := range 200 {
		g := newRefGen(r, false)
		v4, v6 := g.ruleset(1, "FORWARD"), g.ruleset(2, "FORWARD")
		t4 := v4.iptablesText(1)
		header := "# Generated by ip6tables-save\n"
		t6 := v6.iptablesText(strings.Count(t4, "\n") + 2)
		text := t4 + header + t6
		res, err := Import(ImportIPTables, []byte(text), ImportOptions{})
		if err != nil {
			t.Fatalf("ruleset %d: %v\n%s", i, err, text)
		}
		lines := map[int]bool{}
		for _, s := range res.Skipped {
			lines[s.Line] = true
		}
		skippedRules += len(lines)
		skipped := func(rule *refRule) bool { return lines[rule.line] }
		checkAgainstWalk(t, res, map[refFamily]*refRuleset{1: v4, 2: v6}, refFlows(r, g, 300), skipped,
			func() string { return text + "\n" + describe(res) })
	}
	t.Logf("200 rulesets, %d statements skipped (interfaces, RETURNs that cannot be expressed)", skippedRules)
}

// --- nft syntax, read back through the kernel

func nftSet[T fmt.Stringer](vals []T) string {
	return "{ " + strings.Join(strs(vals), ", ") + " }"
}

func nftOp(negated bool) string {
	if negated {
		return "!= "
	}
	return ""
}

// nftText writes the ruleset as one inet table.
func (rs *refRuleset) nftText(table string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", table)
	for _, c := range rs.chains {
		fmt.Fprintf(&b, "\tchain %s {\n", c.name)
		if c.base {
			fmt.Fprintf(&b, "\t\ttype filter hook forward priority 0; policy %s;\n", strings.ToLower(c.policy))
		}
		for i := range c.rules {
			rule := &c.rules[i]
			var parts []string
			ip := "ip"
			if rule.fam == 2 {
				ip = "ip6"
			}
			if rule.src != nil {
				parts = append(parts, ip+" saddr "+nftOp(rule.srcNeg)+nftSet(impNormalizePrefixes(rule.src)))
			}
			if rule.dst != nil {
				parts = append(parts, ip+" daddr "+nftOp(rule.dstNeg)+nftSet(impNormalizePrefixes(rule.dst)))
			}
			if rule.iface {
				parts = append(parts, `iifname "lo"`)
			}
			th := "th"
			switch rule.proto {
			case "":
			case "tcp,udp":
				parts = append(parts, "meta l4proto "+nftOp(rule.protoNeg)+"{ tcp, udp }")
			case "icmpv6":
				parts = append(parts, "meta l4proto "+nftOp(rule.protoNeg)+"ipv6-icmp")
			default:
				parts = append(parts, "meta l4proto "+nftOp(rule.protoNeg)+rule.proto)
				th = rule.proto
			}
			if rule.sport != nil {
				parts = append(parts, th+" sport "+nftOp(rule.sportNeg)+nftSet(rule.sport))
			}
			if rule.dport != nil {
				parts = append(parts, th+" dport "+nftOp(rule.dportNeg)+nftSet(rule.dport))
			}
			switch rule.target {
			case "":
				parts = append(parts, "counter")
			case "ACCEPT", "DROP", "REJECT", "RETURN":
				parts = append(parts, strings.ToLower(rule.target))
			default:
				parts = append(parts, "jump "+rule.target)
			}
			if rule.comment != "" {
				parts = append(parts, `comment "`+strings.ReplaceAll(rule.comment, `"`, "")+`"`)
			}
			fmt.Fprintf(&b, "\t\t%s\n", strings.Join(parts, " "))
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// TestImportAgainstChainWalkNFTables: random inet tables, loaded by nft -f
// in the test's namespace and dumped by nft -j, import to a firewall that
// decides as walking the chains does.
func TestImportAgainstChainWalkNFTables(t *testing.T) {
	ns := importNS(t)
	r := rand.New(rand.NewPCG(4, 16))
	skippedRules := 0
	for i := range 60 {
		g := newRefGen(r, true)
		rs := g.ruleset(3, "forward")
		text := rs.nftText("ffimp_ref")
		dump := nsRun(t, ns, []byte(text), "sh", "-c", "nft flush ruleset && nft -f - && nft -j list ruleset")
		res, err := Import(ImportNFTables, dump, ImportOptions{})
		if err != nil {
			t.Fatalf("ruleset %d: %v\n%s", i, err, text)
		}
		// The dump lists each chain's rules in order; match handles to rules.
		handles, err := impRuleHandles(dump)
		if err != nil {
			t.Fatal(err)
		}
		skippedHandles := map[int64]bool{}
		for _, s := range res.Skipped {
			skippedHandles[s.Handle] = true
		}
		for _, c := range rs.chains {
			if len(handles[c.name]) != len(c.rules) {
				t.Fatalf("ruleset %d: chain %s has %d rules in the dump, %d written\n%s", i, c.name, len(handles[c.name]), len(c.rules), text)
			}
			for j := range c.rules {
				c.rules[j].handle = handles[c.name][j]
				if skippedHandles[c.rules[j].handle] {
					skippedRules++
				}
			}
		}
		skipped := func(rule *refRule) bool { return skippedHandles[rule.handle] }
		checkAgainstWalk(t, res, map[refFamily]*refRuleset{3: rs}, refFlows(r, g, 300), skipped,
			func() string { return text + "\n" + describe(res) })
	}
	t.Logf("60 rulesets, %d statements skipped (interfaces, RETURNs that cannot be expressed)", skippedRules)
}

// iptRuleLines reads the line of each rule of each chain, in order, from
// iptables-save output, for the table that starts after line from.
func iptRuleLines(dump string, from int) map[string][]int {
	out := map[string][]int{}
	for i, line := range strings.Split(dump, "\n") {
		if n := i + 1; n > from && strings.HasPrefix(line, "-A ") {
			chain := strings.Fields(line)[1]
			out[chain] = append(out[chain], n)
		}
		if i+1 > from && line == "COMMIT" {
			break
		}
	}
	return out
}

// singleAddresses keeps one address a side, as iptables-restore would
// otherwise write one rule per address pair (and refuses ! with several).
func (rs *refRuleset) singleAddresses() {
	for _, c := range rs.chains {
		for i := range c.rules {
			if r := &c.rules[i]; len(r.src) > 1 {
				r.src = r.src[:1]
			}
			if r := &c.rules[i]; len(r.dst) > 1 {
				r.dst = r.dst[:1]
			}
		}
	}
}

// TestImportAgainstChainWalkIPTablesKernel: the same random rulesets
// through iptables-restore and iptables-save (and their IPv6 twins).
func TestImportAgainstChainWalkIPTablesKernel(t *testing.T) {
	ns := importNS(t)
	r := rand.New(rand.NewPCG(5, 16))
	for i := range 40 {
		g := newRefGen(r, false)
		v4, v6 := g.ruleset(1, "FORWARD"), g.ruleset(2, "FORWARD")
		for _, rs := range []*refRuleset{v4, v6} {
			rs.singleAddresses()
		}
		d4 := nsRun(t, ns, []byte(v4.iptablesText(1)), "sh", "-c", "iptables-restore && iptables-save")
		d6 := nsRun(t, ns, []byte(v6.iptablesText(1)), "sh", "-c", "ip6tables-restore && ip6tables-save")
		dump := string(d4) + string(d6)
		res, err := Import(ImportIPTables, []byte(dump), ImportOptions{})
		if err != nil {
			t.Fatalf("ruleset %d: %v\n%s", i, err, dump)
		}
		lines := map[int]bool{}
		for _, s := range res.Skipped {
			lines[s.Line] = true
		}
		for _, set := range []struct {
			rs   *refRuleset
			from int
		}{{v4, 0}, {v6, strings.Count(string(d4), "\n")}} {
			byChain := iptRuleLines(dump, set.from)
			for _, c := range set.rs.chains {
				if len(byChain[c.name]) != len(c.rules) {
					t.Fatalf("ruleset %d: chain %s has %d rules in the dump, %d written\n%s", i, c.name, len(byChain[c.name]), len(c.rules), dump)
				}
				for j := range c.rules {
					c.rules[j].line = byChain[c.name][j]
				}
			}
		}
		skipped := func(rule *refRule) bool { return lines[rule.line] }
		checkAgainstWalk(t, res, map[refFamily]*refRuleset{1: v4, 2: v6}, refFlows(r, g, 300), skipped,
			func() string { return dump + "\n" + describe(res) })
	}
}
