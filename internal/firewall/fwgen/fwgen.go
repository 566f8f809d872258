// Package fwgen draws random firewall trees and flows for tests and
// benchmarks: adversarial trees that stress every corner of the semantics,
// realistic ones shaped like production rule bases, and hard ones with no
// structure at all. It is shared by the engine, analysis and export tests,
// so that each is checked on the same kinds of firewall.
package fwgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Now is the time the generated expiries are drawn around: evaluate at Now,
// or just before or after it, to see expired and unexpired rules alike.
var Now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// PtrTime returns a pointer to t, for expiries.
func PtrTime(t time.Time) *time.Time { return &t }

func randAddr4(r *rand.Rand) netip.Addr {
	var b [4]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return netip.AddrFrom4(b)
}

func randAddr6(r *rand.Rand) netip.Addr {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return netip.AddrFrom16(b)
}

// randomInside returns a random address of p.
func randomInside(r *rand.Rand, p netip.Prefix) netip.Addr {
	var a netip.Addr
	if p.Addr().Is4() {
		a = randAddr4(r)
	} else {
		a = randAddr6(r)
	}
	return withPrefix(a, p)
}

// withPrefix replaces the first p.Bits() bits of a with those of p.
func withPrefix(a netip.Addr, p netip.Prefix) netip.Addr {
	pb := p.Masked().Addr().AsSlice()
	ab := a.AsSlice()
	n := p.Bits()
	for i := range ab {
		switch {
		case n >= 8:
			ab[i] = pb[i]
			n -= 8
		case n > 0:
			mask := byte(0xff << (8 - n))
			ab[i] = pb[i]&mask | ab[i]&^mask
			n = 0
		}
	}
	out, _ := netip.AddrFromSlice(ab)
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	host := len(b)*8 - p.Bits()
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		if host >= 8 {
			b[i] = 0xff
			host -= 8
		} else {
			b[i] |= byte(1<<host - 1)
			host = 0
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// ---------------------------------------------------------------------------
// Adversarial random trees for the differential tests: a few overlapping
// networks, every protocol, port ranges, disabled and expired rules,
// policies with every default, and now and then an entry the domain would
// refuse.

// Adversarial draws small trees that stress the semantics.
type Adversarial struct {
	r    *rand.Rand
	v4   []netip.Prefix
	v6   []netip.Prefix
	seq  int
	junk bool // also generate entries that validation refuses
	// sparse makes rules specific (few empty lists, mostly ports), so that
	// flows reach deep into big trees instead of hitting an early catch-all.
	Sparse bool
}

// NewAdversarial returns a generator drawing from r; with junk it also draws
// entries that validation refuses.
func NewAdversarial(r *rand.Rand, junk bool) *Adversarial {
	g := &Adversarial{r: r, junk: junk}
	bases4 := []netip.Addr{
		netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("10.1.2.0"), netip.MustParseAddr("10.1.2.128"),
		netip.MustParseAddr("192.168.1.0"), netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"),
		netip.MustParseAddr("172.16.0.0"), randAddr4(r), randAddr4(r),
	}
	bases6 := []netip.Addr{
		netip.MustParseAddr("2001:db8::"), netip.MustParseAddr("2001:db8:0:1::"), netip.MustParseAddr("fd00::"),
		netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
		netip.MustParseAddr("::ffff:10.1.2.0"), randAddr6(r),
	}
	for range 3 + r.IntN(10) {
		b := pick(r, bases4)
		g.v4 = append(g.v4, netip.PrefixFrom(b, g.len4()).Masked())
	}
	for range 2 + r.IntN(8) {
		b := pick(r, bases6)
		g.v6 = append(g.v6, netip.PrefixFrom(b, g.len6()).Masked())
	}
	return g
}

func (g *Adversarial) len4() int {
	switch g.r.IntN(6) {
	case 0:
		return g.r.IntN(33)
	case 1:
		return 32
	case 2:
		return 24
	case 3:
		return 8 + g.r.IntN(25)
	default:
		return 16 + g.r.IntN(17)
	}
}

func (g *Adversarial) len6() int {
	switch g.r.IntN(5) {
	case 0:
		return g.r.IntN(129)
	case 1:
		return 128
	case 2:
		return 64
	default:
		return 32 + g.r.IntN(97)
	}
}

func (g *Adversarial) id(kind string) string {
	g.seq++
	return fmt.Sprintf("%s-%04d", kind, g.seq)
}

// prefix returns a prefix near one of the generator's networks: the network
// itself, a subnet of it or a supernet of it.
func (g *Adversarial) prefix(v6 bool) netip.Prefix {
	r := g.r
	if g.junk && r.IntN(200) == 0 {
		switch r.IntN(3) {
		case 0:
			return netip.Prefix{}
		case 1: // host bits set
			return netip.PrefixFrom(randAddr4(r), 8+r.IntN(24))
		default:
			return netip.PrefixFrom(randAddr6(r), r.IntN(128))
		}
	}
	base := pick(r, g.v4)
	if v6 {
		base = pick(r, g.v6)
	}
	switch r.IntN(4) {
	case 0:
		return base
	case 1: // supernet
		return netip.PrefixFrom(base.Addr(), r.IntN(base.Bits()+1)).Masked()
	default: // subnet
		bits := base.Bits() + r.IntN(base.Addr().BitLen()-base.Bits()+1)
		if g.Sparse {
			bits = max(bits, base.Addr().BitLen()-r.IntN(9))
		}
		return netip.PrefixFrom(randomInside(r, base), bits).Masked()
	}
}

func (g *Adversarial) prefixes() []netip.Prefix {
	r := g.r
	if g.Sparse && r.IntN(30) != 0 || r.IntN(3) != 0 {
		// a list
	} else {
		return nil
	}
	n := 1 + r.IntN(3)
	if r.IntN(20) == 0 {
		n = 5 + r.IntN(20) // long lists exercise the cross-product limit
	}
	v6 := r.IntN(3) == 0
	out := make([]netip.Prefix, 0, n)
	for range n {
		mixed := r.IntN(8) == 0
		out = append(out, g.prefix(v6 != mixed))
	}
	return out
}

func (g *Adversarial) ports() []firewall.PortRange {
	r := g.r
	if !g.Sparse && r.IntN(2) == 0 || g.Sparse && r.IntN(10) == 0 {
		return nil
	}
	n := 1 + r.IntN(3)
	if r.IntN(15) == 0 {
		n = 4 + r.IntN(12)
	}
	out := make([]firewall.PortRange, 0, n)
	common := []uint16{1, 22, 53, 80, 443, 1023, 1024, 8080, 65534, 65535}
	for range n {
		var pr firewall.PortRange
		switch r.IntN(4) {
		case 0:
			p := pick(r, common)
			pr = firewall.PortRange{Low: p, High: p}
		case 1:
			lo := uint16(1 + r.IntN(65535))
			pr = firewall.PortRange{Low: lo, High: lo}
		case 2:
			lo := pick(r, common)
			hi := min(65535, int(lo)+r.IntN(2000))
			pr = firewall.PortRange{Low: lo, High: uint16(hi)}
		default:
			a, b := uint16(1+r.IntN(65535)), uint16(1+r.IntN(65535))
			pr = firewall.PortRange{Low: min(a, b), High: max(a, b)}
		}
		if g.junk && r.IntN(100) == 0 {
			if r.IntN(2) == 0 {
				pr.Low = 0
			} else {
				pr.Low, pr.High = pr.High+1, pr.Low
			}
		}
		out = append(out, pr)
	}
	return out
}

func (g *Adversarial) rule(pos int) firewall.Rule {
	r := g.r
	rule := firewall.NewRule()
	rule.ID = g.id("r")
	rule.Position = pos
	rule.Action = pick(r, []firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject})
	rule.Protocol = pick(r, []firewall.Protocol{firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6, firewall.TCP, firewall.UDP})
	rule.Sources = g.prefixes()
	rule.Destinations = g.prefixes()
	if rule.Protocol.HasPorts() || (g.junk && r.IntN(50) == 0) {
		rule.SourcePorts = g.ports()
		if r.IntN(2) == 0 {
			rule.SourcePorts = nil
		}
		rule.DestinationPorts = g.ports()
	}
	rule.Enabled = r.IntN(10) != 0
	if r.IntN(6) == 0 {
		rule.ExpiresAt = PtrTime(pick(r, []time.Time{
			Now.Add(-time.Hour), Now, Now.Add(time.Nanosecond), Now.Add(-time.Nanosecond), Now.Add(time.Hour),
		}))
	}
	if g.junk && r.IntN(100) == 0 {
		switch r.IntN(3) {
		case 0:
			rule.Action = pick(r, []firewall.Action{firewall.Next, ""})
		case 1:
			rule.Protocol = pick(r, []firewall.Protocol{"", "sctp", "TCP"})
		default:
			rule.Position = pos - 1 // a tie
		}
	}
	return rule
}

// Tree returns a firewall with up to maxPolicies policies and about nRules
// rules in all.
func (g *Adversarial) Tree(maxPolicies, nRules int) firewall.Tree {
	r := g.r
	fw := firewall.NewFirewall()
	fw.ID = g.id("fw")
	fw.Revision = r.Int64N(1000)
	fw.DefaultAction = pick(r, []firewall.Action{firewall.Allow, firewall.Deny})
	if g.junk && r.IntN(50) == 0 {
		fw.DefaultAction = pick(r, []firewall.Action{"", firewall.Next, "bogus"}) // Compile must refuse it
	}
	t := firewall.Tree{Firewall: fw}
	np := 1 + r.IntN(maxPolicies)
	prios := r.Perm(np * 3)
	for i := range np {
		p := firewall.NewPolicy()
		p.ID = g.id("p")
		p.Name = "policy " + p.ID
		p.Priority = prios[i]
		if g.junk && r.IntN(20) == 0 && i > 0 {
			p.Priority = t.Policies[0].Policy.Priority // a tie, broken by id
		}
		p.Enabled = r.IntN(6) != 0
		p.DefaultAction = pick(r, []firewall.Action{firewall.Next, firewall.Next, firewall.Next, firewall.Allow, firewall.Deny})
		if g.junk && r.IntN(30) == 0 {
			p.DefaultAction = pick(r, []firewall.Action{"", firewall.Reject, "bogus"})
		}
		n := nRules / np
		if i == 0 {
			n += nRules % np
		}
		pt := firewall.PolicyTree{Policy: p}
		for _, pos := range r.Perm(n) { // stored in any order
			pt.Rules = append(pt.Rules, g.rule(pos+1))
		}
		t.Policies = append(t.Policies, pt)
	}
	return t
}

// Flows draws flows for one tree, biased towards the edges of its prefixes and
// port ranges.
type Flows struct {
	r            *rand.Rand
	addrs4       []netip.Addr
	addrs6       []netip.Addr
	ports        []uint16
	withOddAddrs bool
}

// NewFlows returns a flow generator for t; with odd it also draws flows no
// rule names.
func NewFlows(r *rand.Rand, t *firewall.Tree, odd bool) *Flows {
	fg := &Flows{r: r, withOddAddrs: odd}
	add := func(a netip.Addr) {
		if a.Is4() {
			fg.addrs4 = append(fg.addrs4, a)
		} else {
			fg.addrs6 = append(fg.addrs6, a)
		}
	}
	addPrefix := func(p netip.Prefix) {
		if !p.IsValid() {
			return
		}
		p = p.Masked()
		first, last := p.Addr(), lastAddr(p)
		add(first)
		add(last)
		if prev := first.Prev(); prev.IsValid() {
			add(prev)
		}
		if next := last.Next(); next.IsValid() {
			add(next)
		}
		add(randomInside(r, p))
	}
	addPort := func(p int) {
		if p >= 0 && p <= 65535 {
			fg.ports = append(fg.ports, uint16(p))
		}
	}
	for _, p := range []int{0, 1, 22, 80, 443, 1024, 65535} {
		addPort(p)
	}
	for _, pt := range t.Policies {
		for _, rule := range pt.Rules {
			for _, p := range rule.Sources {
				addPrefix(p)
			}
			for _, p := range rule.Destinations {
				addPrefix(p)
			}
			for _, pr := range append(rule.SourcePorts[:len(rule.SourcePorts):len(rule.SourcePorts)], rule.DestinationPorts...) {
				addPort(int(pr.Low) - 1)
				addPort(int(pr.Low))
				addPort(int(pr.High))
				addPort(int(pr.High) + 1)
			}
		}
	}
	for range 8 {
		add(randAddr4(r))
		add(randAddr6(r))
	}
	return fg
}

func (fg *Flows) addr(v6 bool) netip.Addr {
	r := fg.r
	if fg.withOddAddrs {
		switch r.IntN(100) {
		case 0: // IPv4-mapped IPv6: must be treated as IPv6
			return netip.AddrFrom16(pick(r, fg.addrs4).As16())
		case 1:
			return pick(r, fg.addrs6).WithZone("eth0")
		case 2:
			return netip.Addr{}
		}
	}
	if v6 {
		return pick(r, fg.addrs6)
	}
	return pick(r, fg.addrs4)
}

// Flow returns the next flow.
func (fg *Flows) Flow() firewall.Flow {
	r := fg.r
	f := firewall.Flow{Protocol: pick(r, []firewall.Protocol{firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6, firewall.TCP, firewall.UDP})}
	if fg.withOddAddrs && r.IntN(200) == 0 {
		f.Protocol = pick(r, []firewall.Protocol{"sctp", firewall.AnyProtocol, ""})
	}
	v6 := r.IntN(3) == 0
	f.Source = fg.addr(v6)
	if r.IntN(20) == 0 {
		v6 = !v6 // mixed families
	}
	f.Destination = fg.addr(v6)
	if f.Protocol.HasPorts() || r.IntN(10) == 0 { // ports on an icmp flow must be ignored
		f.SourcePort = pick(r, fg.ports)
		f.DestinationPort = pick(r, fg.ports)
	}
	return f
}

// ---------------------------------------------------------------------------
// Benchmark rule sets.

// realisticGen draws firewalls like real ones: a few policies, rules whose
// prefixes (/8–/32, /32–/128) come from a limited set of networks, common
// ports and port ranges, mostly tcp and udp.
type realisticGen struct {
	r    *rand.Rand
	nets []netip.Prefix // v4 then v6
	n4   int
	seq  int
	// The address objects rules draw their prefixes from, unless unique:
	// real rule bases name the same hosts and subnets over and over.
	pool4, pool6 []netip.Prefix
	unique       bool
}

// Sizes of the address object pool: the same for every rule count.
const (
	pool4Size = 3000
	pool6Size = 800
)

func newRealisticGen(seed uint64) *realisticGen {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	g := &realisticGen{r: r}
	for i := range 64 {
		g.nets = append(g.nets, netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i)))
	}
	for i := range 16 {
		g.nets = append(g.nets, netip.MustParsePrefix(fmt.Sprintf("172.%d.0.0/16", 16+i)))
	}
	for i := range 32 {
		g.nets = append(g.nets, netip.MustParsePrefix(fmt.Sprintf("192.168.%d.0/24", i)))
	}
	for range 64 { // public blocks of partners and services
		g.nets = append(g.nets, netip.PrefixFrom(randAddr4(r), 12+r.IntN(13)).Masked())
	}
	g.nets = append(g.nets, netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"))
	g.n4 = len(g.nets)
	for i := range 32 {
		g.nets = append(g.nets, netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)))
	}
	for i := range 16 {
		g.nets = append(g.nets, netip.MustParsePrefix(fmt.Sprintf("fd00:%x::/48", i)))
	}
	for range 8 {
		g.nets = append(g.nets, netip.PrefixFrom(randAddr6(r), 32).Masked())
	}
	// The pool is drawn with its own generator, so it is the same whatever
	// the seed and size of the rule set.
	pg := &realisticGen{r: rand.New(rand.NewPCG(1, 0x9001)), nets: g.nets, n4: g.n4}
	for range pool4Size {
		g.pool4 = append(g.pool4, pg.prefix(false))
	}
	for range pool6Size {
		g.pool6 = append(g.pool6, pg.prefix(true))
	}
	return g
}

// object returns an address object of the pool, the first ones more often.
func (g *realisticGen) object(v6 bool) netip.Prefix {
	pool := g.pool4
	if v6 {
		pool = g.pool6
	}
	u := g.r.Float64()
	return pool[int(u*u*float64(len(pool)))]
}

var commonPorts = []uint16{22, 25, 53, 80, 110, 123, 143, 389, 443, 445, 465, 587, 636, 993, 995, 1433, 1521, 2049, 3306, 3389, 5432, 5672, 6379, 8080, 8443, 9092, 9200, 9418, 11211, 27017}

var commonRanges = []firewall.PortRange{{Low: 1024, High: 65535}, {Low: 8000, High: 8999}, {Low: 30000, High: 32767}, {Low: 49152, High: 65535}, {Low: 6000, High: 6063}, {Low: 5060, High: 5061}}

func (g *realisticGen) prefix(v6 bool) netip.Prefix {
	r := g.r
	var base netip.Prefix
	if v6 {
		base = g.nets[g.n4+r.IntN(len(g.nets)-g.n4)]
	} else {
		base = g.nets[r.IntN(g.n4)]
	}
	var bits int
	if v6 {
		switch x := r.IntN(100); {
		case x < 10:
			bits = base.Bits()
		case x < 20:
			bits = 56
		case x < 60:
			bits = 64
		case x < 90:
			bits = 128
		default:
			bits = base.Bits() + r.IntN(129-base.Bits())
		}
	} else {
		switch x := r.IntN(100); {
		case x < 5:
			bits = 8
		case x < 15:
			bits = 16
		case x < 50:
			bits = 24
		case x < 85:
			bits = 32
		default:
			bits = 8 + r.IntN(25)
		}
	}
	bits = max(bits, base.Bits())
	return netip.PrefixFrom(randomInside(r, base), bits).Masked()
}

func (g *realisticGen) prefixes(v6 bool, emptyPct int) []netip.Prefix {
	r := g.r
	if r.IntN(100) < emptyPct {
		return nil
	}
	n := 1
	if r.IntN(10) == 0 {
		n = 2 + r.IntN(3)
	}
	out := make([]netip.Prefix, n)
	for i := range out {
		if g.unique {
			out[i] = g.prefix(v6)
		} else {
			out[i] = g.object(v6)
		}
	}
	return out
}

func (g *realisticGen) rule(pos int) firewall.Rule {
	r := g.r
	g.seq++
	rule := firewall.NewRule()
	rule.ID = fmt.Sprintf("rule-%06d", g.seq)
	rule.Position = pos
	v6 := r.IntN(5) == 0
	switch x := r.IntN(100); {
	case x < 55:
		rule.Protocol = firewall.TCP
	case x < 75:
		rule.Protocol = firewall.UDP
	case x < 85:
		rule.Protocol = firewall.ICMP
		if v6 {
			rule.Protocol = firewall.ICMPv6
		}
	default:
		rule.Protocol = firewall.AnyProtocol
	}
	// Real rule sets name at least one side: any→any rules are the few
	// catch-alls Realistic adds itself.
	rule.Sources = g.prefixes(v6, 30)
	if len(rule.Sources) == 0 {
		rule.Destinations = g.prefixes(v6, 0)
	} else {
		rule.Destinations = g.prefixes(v6, 5)
	}
	if rule.Protocol.HasPorts() {
		if r.IntN(10) != 0 {
			n := 1
			if r.IntN(5) == 0 {
				n = 2 + r.IntN(3)
			}
			for range n {
				if r.IntN(8) == 0 {
					rule.DestinationPorts = append(rule.DestinationPorts, pick(r, commonRanges))
				} else {
					p := pick(r, commonPorts)
					rule.DestinationPorts = append(rule.DestinationPorts, firewall.PortRange{Low: p, High: p})
				}
			}
		}
		if r.IntN(20) == 0 {
			rule.SourcePorts = []firewall.PortRange{{Low: 1024, High: 65535}}
		}
	}
	switch x := r.IntN(100); {
	case x < 60:
		rule.Action = firewall.Allow
	case x < 90:
		rule.Action = firewall.Deny
	default:
		rule.Action = firewall.Reject
	}
	rule.Enabled = r.IntN(50) != 0
	if r.IntN(33) == 0 {
		rule.ExpiresAt = PtrTime(Now.Add(time.Duration(r.IntN(48)-24) * time.Hour))
	}
	return rule
}

// Realistic returns a firewall of nRules rules in five policies (one of
// them disabled), all with default next, and a default deny. The first
// policy starts with a few any→any rules (icmp, dns, a telnet block); all
// other rules name a source or a destination or both, drawn from a fixed
// pool of address objects, or with unique, fresh prefixes for nearly every
// rule (a much bigger index).
func Realistic(seed uint64, nRules int, unique bool) firewall.Tree {
	g := newRealisticGen(seed)
	g.unique = unique
	fw := firewall.NewFirewall()
	fw.ID, fw.Name, fw.Revision = "fw-bench", "bench", 42
	t := firewall.Tree{Firewall: fw}
	shares := []int{10, 40, 5, 30, 15}
	for i, share := range shares {
		p := firewall.NewPolicy()
		p.ID, p.Name, p.Priority = fmt.Sprintf("pol-%d", i), fmt.Sprintf("policy %d", i), 100*(i+1)
		p.Enabled = i != 2
		pt := firewall.PolicyTree{Policy: p}
		n := nRules * share / 100
		if i == 0 {
			for _, c := range catchAlls() {
				c.Position = len(pt.Rules) + 1
				pt.Rules = append(pt.Rules, c)
			}
			n -= len(pt.Rules)
		}
		for range n {
			pt.Rules = append(pt.Rules, g.rule(len(pt.Rules)+1))
		}
		t.Policies = append(t.Policies, pt)
	}
	return t
}

func catchAlls() []firewall.Rule {
	mk := func(id string, a firewall.Action, p firewall.Protocol, ports ...firewall.PortRange) firewall.Rule {
		r := firewall.NewRule()
		r.ID, r.Action, r.Protocol, r.DestinationPorts = id, a, p, ports
		return r
	}
	return []firewall.Rule{
		mk("catch-icmp", firewall.Allow, firewall.ICMP),
		mk("catch-icmpv6", firewall.Allow, firewall.ICMPv6),
		mk("catch-telnet", firewall.Reject, firewall.TCP, firewall.PortRange{Low: 23, High: 23}),
		mk("catch-dns", firewall.Allow, firewall.UDP, firewall.PortRange{Low: 53, High: 53}),
	}
}

// RealisticFlows returns n flows: about half built to hit a random rule of
// t, the rest drawn from the same networks with common ports (most of those
// fall through to the defaults).
func RealisticFlows(seed uint64, t *firewall.Tree, n int) []firewall.Flow {
	g := newRealisticGen(seed)
	r := g.r
	var rules []*firewall.Rule
	for i := range t.Policies {
		for j := range t.Policies[i].Rules {
			rules = append(rules, &t.Policies[i].Rules[j])
		}
	}
	flows := make([]firewall.Flow, n)
	for i := range flows {
		var f firewall.Flow
		if len(rules) > 0 && r.IntN(2) == 0 {
			rule := pick(r, rules)
			v6 := false
			if len(rule.Destinations) > 0 {
				v6 = rule.Destinations[0].Addr().Is6()
			}
			f.Protocol = rule.Protocol
			if f.Protocol == firewall.AnyProtocol {
				f.Protocol = firewall.TCP
			}
			f.Source = g.addrIn(rule.Sources, v6)
			f.Destination = g.addrIn(rule.Destinations, v6)
			f.SourcePort = uint16(1024 + r.IntN(64512))
			f.DestinationPort = pick(r, commonPorts)
			if len(rule.DestinationPorts) > 0 {
				pr := pick(r, rule.DestinationPorts)
				f.DestinationPort = pr.Low + uint16(r.IntN(int(pr.High-pr.Low)+1))
			}
		} else {
			v6 := r.IntN(5) == 0
			f.Source = g.addrIn(nil, v6)
			f.Destination = g.addrIn(nil, v6)
			switch x := r.IntN(100); {
			case x < 60:
				f.Protocol = firewall.TCP
			case x < 85:
				f.Protocol = firewall.UDP
			default:
				f.Protocol = firewall.ICMP
				if v6 {
					f.Protocol = firewall.ICMPv6
				}
			}
			f.SourcePort = uint16(1024 + r.IntN(64512))
			f.DestinationPort = pick(r, commonPorts)
			if r.IntN(5) == 0 {
				f.DestinationPort = uint16(1 + r.IntN(65535))
			}
		}
		if !f.Protocol.HasPorts() {
			f.SourcePort, f.DestinationPort = 0, 0
		}
		flows[i] = f
	}
	return flows
}

func (g *realisticGen) addrIn(ps []netip.Prefix, v6 bool) netip.Addr {
	if len(ps) == 0 {
		return randomInside(g.r, g.prefix(v6))
	}
	return randomInside(g.r, pick(g.r, ps))
}

// Hard returns a firewall of nRules rules drawn uniformly: prefixes of
// any length at random addresses, random port ranges, every protocol. It
// has no structure for an index to exploit.
func Hard(seed uint64, nRules int) firewall.Tree {
	r := rand.New(rand.NewPCG(seed, 0x4a7d))
	fw := firewall.NewFirewall()
	fw.ID, fw.Name, fw.Revision = "fw-hard", "hard", 7
	t := firewall.Tree{Firewall: fw}
	randPrefixes := func(v6 bool) []netip.Prefix {
		if r.IntN(5) == 0 {
			return nil
		}
		out := make([]netip.Prefix, 1+r.IntN(3))
		for i := range out {
			if v6 {
				out[i] = netip.PrefixFrom(randAddr6(r), r.IntN(129)).Masked()
			} else {
				out[i] = netip.PrefixFrom(randAddr4(r), r.IntN(33)).Masked()
			}
		}
		return out
	}
	randPorts := func() []firewall.PortRange {
		if r.IntN(4) == 0 {
			return nil
		}
		out := make([]firewall.PortRange, 1+r.IntN(3))
		for i := range out {
			lo := 1 + r.IntN(65535)
			hi := min(65535, lo+int(r.ExpFloat64()*500))
			out[i] = firewall.PortRange{Low: uint16(lo), High: uint16(hi)}
		}
		return out
	}
	for i := range 4 {
		p := firewall.NewPolicy()
		p.ID, p.Name, p.Priority = fmt.Sprintf("hp-%d", i), fmt.Sprintf("hard %d", i), i
		pt := firewall.PolicyTree{Policy: p}
		for j := range nRules / 4 {
			rule := firewall.NewRule()
			rule.ID = fmt.Sprintf("hr-%d-%d", i, j)
			rule.Position = j + 1
			rule.Action = pick(r, []firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject})
			rule.Protocol = pick(r, []firewall.Protocol{firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6})
			v6 := r.IntN(2) == 0
			rule.Sources = randPrefixes(v6)
			rule.Destinations = randPrefixes(v6)
			if rule.Protocol.HasPorts() {
				rule.SourcePorts = randPorts()
				rule.DestinationPorts = randPorts()
			}
			pt.Rules = append(pt.Rules, rule)
		}
		t.Policies = append(t.Policies, pt)
	}
	return t
}

// HardFlows returns n flows for Hard: half inside a random rule's
// prefixes and ports, half uniformly random.
func HardFlows(seed uint64, t *firewall.Tree, n int) []firewall.Flow {
	r := rand.New(rand.NewPCG(seed, 0xf10))
	var rules []*firewall.Rule
	for i := range t.Policies {
		for j := range t.Policies[i].Rules {
			rules = append(rules, &t.Policies[i].Rules[j])
		}
	}
	flows := make([]firewall.Flow, n)
	for i := range flows {
		f := firewall.Flow{Protocol: pick(r, []firewall.Protocol{firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6})}
		v6 := r.IntN(2) == 0
		f.Source, f.Destination = randAddr4(r), randAddr4(r)
		if v6 {
			f.Source, f.Destination = randAddr6(r), randAddr6(r)
		}
		f.SourcePort, f.DestinationPort = uint16(r.IntN(65536)), uint16(r.IntN(65536))
		if r.IntN(2) == 0 {
			rule := pick(r, rules)
			if len(rule.Sources) > 0 {
				f.Source = randomInside(r, pick(r, rule.Sources))
			}
			if len(rule.Destinations) > 0 {
				f.Destination = randomInside(r, pick(r, rule.Destinations))
			}
			if rule.Protocol != firewall.AnyProtocol {
				f.Protocol = rule.Protocol
			}
			if len(rule.DestinationPorts) > 0 {
				pr := pick(r, rule.DestinationPorts)
				f.DestinationPort = pr.Low + uint16(r.IntN(int(pr.High-pr.Low)+1))
			}
		}
		if !f.Protocol.HasPorts() {
			f.SourcePort, f.DestinationPort = 0, 0
		}
		flows[i] = f
	}
	return flows
}
