package filter

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	expr "google.golang.org/genproto/googleapis/api/expr/v1alpha1"

	"github.com/fireflow/fireflow/internal/firewall"
)

// The child tables that index a rule's lists, which a store keeps in step
// with every rule write (see AddressRows and PortRows):
//
//	rule_addresses (rule_id, side, family, lo, hi)  -- one row per CIDR
//	rule_ports     (rule_id, side, lo, hi)          -- one row per port range
//
// side is 1 for sources and 2 for destinations; family is 4 or 6; lo and hi
// are the first and last address of the CIDR as 16 bytes (IPv4 mapped into
// IPv6), which compare bytewise in both SQLite (BLOB) and PostgreSQL (bytea).

// AddressRow is one CIDR of a rule, as rule_addresses stores it.
type AddressRow struct {
	Side   Side
	Family int
	Lo, Hi []byte
}

// PrefixRows returns the address rows of list, without a side: how
// address_group_ranges stores a group's own addresses.
func PrefixRows(list []netip.Prefix) []AddressRow {
	rows := make([]AddressRow, len(list))
	for i, p := range list {
		ar := rangeOf(p)
		rows[i] = AddressRow{Family: ar.family, Lo: ar.lo, Hi: ar.hi}
	}
	return rows
}

// PortRow is one port range of a rule, as rule_ports stores it.
type PortRow struct {
	Side   Side
	Lo, Hi int
}

// AddressRows returns the rule_addresses rows of r.
func AddressRows(r firewall.Rule) []AddressRow {
	rows := make([]AddressRow, 0, len(r.Sources)+len(r.Destinations))
	for _, side := range []struct {
		side Side
		list []netip.Prefix
	}{{Source, r.Sources}, {Destination, r.Destinations}} {
		for _, p := range side.list {
			ar := rangeOf(p)
			rows = append(rows, AddressRow{Side: side.side, Family: ar.family, Lo: ar.lo, Hi: ar.hi})
		}
	}
	return rows
}

// PortRows returns the rule_ports rows of r.
func PortRows(r firewall.Rule) []PortRow {
	rows := make([]PortRow, 0, len(r.SourcePorts)+len(r.DestinationPorts))
	for _, side := range []struct {
		side Side
		list []firewall.PortRange
	}{{Source, r.SourcePorts}, {Destination, r.DestinationPorts}} {
		for _, p := range side.list {
			rows = append(rows, PortRow{Side: side.side, Lo: int(p.Low), Hi: int(p.High)})
		}
	}
	return rows
}

// addrRange is a CIDR as its family and first and last 16-byte address.
type addrRange struct {
	family int
	lo, hi []byte
}

func rangeOf(p netip.Prefix) addrRange {
	p = p.Masked()
	first := p.Addr()
	family, bits := 6, p.Bits()
	if first.Is4() {
		family, bits = 4, bits+96
	}
	lo := first.As16()
	hi := lo
	for i := bits; i < 128; i++ {
		hi[i/8] |= 1 << (7 - i%8)
	}
	return addrRange{family: family, lo: lo[:], hi: hi[:]}
}

// parseRange parses an address or a CIDR; a CIDR with host bits set is
// refused unless loose, where it stands for its network.
func parseRange(s string, loose bool) (addrRange, error) {
	if loose && strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err == nil && p.Addr().Zone() == "" && !p.Addr().Is4In6() {
			return rangeOf(p), nil
		}
	}
	p, err := firewall.ParsePrefix(s)
	if err != nil {
		return addrRange{}, err
	}
	return rangeOf(p), nil
}

// hasEntry emits "the list holds exactly this CIDR" as an IN over the
// child table, which the planner may answer from the value index when the
// entry is rare, or probe per rule when it is common.
func (r addrRange) hasEntry(side Side) cond {
	return func(b *Builder) string {
		return "rules.id IN (SELECT a.rule_id FROM rule_addresses a WHERE a.side = " + b.Arg(int64(side)) +
			" AND a.family = " + b.Arg(int64(r.family)) + " AND a.lo = " + b.Arg(r.lo) + " AND a.hi = " + b.Arg(r.hi) + ")"
	}
}

func anyAddress(b *Builder, side Side) string {
	return "EXISTS (SELECT 1 FROM rule_addresses a WHERE a.rule_id = rules.id AND a.side = " + b.Arg(int64(side)) + ")"
}

func anyPort(b *Builder, side Side) string {
	return "EXISTS (SELECT 1 FROM rule_ports p WHERE p.rule_id = rules.id AND p.side = " + b.Arg(int64(side)) + ")"
}

// portEntry emits "the list holds exactly this range", like hasEntry.
func portEntry(p firewall.PortRange, side Side) cond {
	return func(b *Builder) string {
		return "rules.id IN (SELECT p.rule_id FROM rule_ports p WHERE p.side = " + b.Arg(int64(side)) +
			" AND p.lo = " + b.Arg(int64(p.Low)) + " AND p.hi = " + b.Arg(int64(p.High)) + ")"
	}
}

// emptyOrAny is SQL true when the rule has no rows on side in the child
// table (an empty list means any), or has one that match accepts; never
// NULL. match binds its arguments when called.
//
// SQLite probes the table per rule with two EXISTS. PostgreSQL would turn
// EXISTS under OR into a hashed subplan that reads every row of the side
// before the first rule comes back, so it gets one aggregate probe per
// rule instead, which a LIMIT stops early.
func (b *Builder) emptyOrAny(table, alias string, side Side, match func() string) string {
	if b.d.numbered {
		sideArg := b.Arg(int64(side))
		return "COALESCE((SELECT bool_or(" + match() + ") FROM " + table + " WHERE " + alias + ".rule_id = rules.id AND " +
			alias + ".side = " + sideArg + "), TRUE)"
	}
	none := anyAddress
	if alias == "p" {
		none = anyPort
	}
	s := "(NOT " + none(b, side) + " OR EXISTS (SELECT 1 FROM " + table + " WHERE " + alias + ".rule_id = rules.id AND " +
		alias + ".side = " + b.Arg(int64(side)) + " AND "
	return s + match() + "))"
}

// networkFunc is one of the rule functions.
type networkFunc struct {
	name string
	side Side
	// port functions take a port; the others an address or CIDR.
	port bool
	// overlaps asks for any common address rather than containment.
	overlaps bool
}

var networkFunctions = []networkFunc{
	{name: "source_contains", side: Source},
	{name: "destination_contains", side: Destination},
	{name: "source_overlaps", side: Source, overlaps: true},
	{name: "destination_overlaps", side: Destination, overlaps: true},
	{name: "source_port_contains", side: Source, port: true},
	{name: "destination_port_contains", side: Destination, port: true},
}

func networkFunction(name string) (networkFunc, bool) {
	for _, fn := range networkFunctions {
		if fn.name == name {
			return fn, true
		}
	}
	return networkFunc{}, false
}

func networkFunctionNames() string {
	names := make([]string, len(networkFunctions))
	for i, fn := range networkFunctions {
		names[i] = fn.name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// network checks a call of a network function. An empty list means any,
// as in evaluation, so a rule without sources contains every source; a
// CIDR of the other address family never contains or overlaps.
func (c *checker) network(e *expr.Expr, fn networkFunc, args []*expr.Expr) (cond, error) {
	if len(args) != 1 {
		return nil, c.fail(e, "%s takes one argument, found %d", fn.name, len(args))
	}
	arg := args[0]
	side := fn.side
	if fn.port {
		n, ok := intConst(arg)
		if !ok {
			if s, isString := stringConst(arg); isString {
				_, err := fmt.Sscan(s, &n)
				ok = err == nil && fmt.Sprint(n) == s
			}
		}
		if !ok || n < 1 || n > 65535 {
			return nil, c.fail(arg, "%s takes a port from 1 to 65535, found %s", fn.name, describe(arg))
		}
		return func(b *Builder) string {
			return b.emptyOrAny("rule_ports p", "p", side, func() string {
				return "p.lo <= " + b.Arg(n) + " AND p.hi >= " + b.Arg(n)
			})
		}, nil
	}
	s, ok := stringConst(arg)
	if !ok {
		return nil, c.fail(arg, "%s takes a quoted address or CIDR such as \"10.1.2.3\" or \"2001:db8::/32\", found %s", fn.name, describe(arg))
	}
	r, err := parseRange(s, fn.overlaps)
	if err != nil {
		return nil, c.fail(arg, "%s; %s takes an address or CIDR such as \"10.1.2.3\" or \"2001:db8::/32\"", err, fn.name)
	}
	// Containment: the entry starts at or before the range and ends at or
	// after it. Overlap: the entry starts before the range ends and ends
	// after it starts.
	loBound, hiBound := r.lo, r.hi
	if fn.overlaps {
		loBound, hiBound = r.hi, r.lo
	}
	match := func(b *Builder, alias string) func() string {
		return func() string {
			// Placeholders are bound in the order they appear in the text.
			s := alias + ".family = " + b.Arg(int64(r.family))
			return s + " AND " + alias + ".lo <= " + b.Arg(loBound) + " AND " + alias + ".hi >= " + b.Arg(hiBound)
		}
	}
	// A rule's address set is its literal entries plus the members of its
	// groups (docs/groups.md): it matches through a literal entry, through
	// a group, or by being empty, which no non-empty group allows. Each
	// part is built in text order, since that is the binding order.
	return func(b *Builder) string {
		literal := b.emptyOrAny("rule_addresses a", "a", side, match(b, "a"))
		// The cheap probe first: most rules have literal entries, and
		// then the group walk is never asked.
		noLiteral := "NOT " + anyAddress(b, side)
		nonEmpty := groupNonEmpty(b, side)
		hit := groupHit(b, side, match(b, "g"))
		return "((" + literal + " AND NOT (" + noLiteral + " AND " + nonEmpty + ")) OR " + hit + ")"
	}, nil
}
