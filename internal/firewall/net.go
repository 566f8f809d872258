package firewall

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of ports, 1 ≤ Low ≤ High ≤ 65535.
type PortRange struct {
	Low, High uint16
}

// Contains reports whether port lies in the range.
func (r PortRange) Contains(port uint16) bool { return r.Low <= port && port <= r.High }

// String returns "443" for a single port and "1024-65535" for a range.
func (r PortRange) String() string {
	if r.Low == r.High {
		return strconv.Itoa(int(r.Low))
	}
	return strconv.Itoa(int(r.Low)) + "-" + strconv.Itoa(int(r.High))
}

// MarshalText writes the range as String does.
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses the range as ParsePortRange does.
func (r *PortRange) UnmarshalText(b []byte) error {
	parsed, err := ParsePortRange(string(b))
	if err != nil {
		return err
	}
	*r = parsed
	return nil
}

// ParsePortRange parses "443" or "1024-65535".
func ParsePortRange(s string) (PortRange, error) {
	lowText, highText, isRange := strings.Cut(s, "-")
	low, err := parsePort(lowText)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{Low: low, High: low}, nil
	}
	high, err := parsePort(highText)
	if err != nil {
		return PortRange{}, err
	}
	if low > high {
		return PortRange{}, fmt.Errorf("range %q is inverted; did you mean \"%d-%d\"?", s, high, low)
	}
	return PortRange{Low: low, High: high}, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("expected a port such as \"443\" or a range such as \"1024-65535\"")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a port number; expected \"443\" or \"1024-65535\"", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %s is out of range; ports are 1 to 65535", s)
	}
	return uint16(n), nil
}

// ParsePrefix parses an IPv4 or IPv6 CIDR, or a host address, which it
// returns as a /32 or /128. A CIDR with host bits set is refused, because it
// almost always hides a typo in the address or the length.
func ParsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 or IPv6 address or CIDR", s)
		}
		if err := checkAddr(s, addr); err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR such as 10.0.0.0/8 or 2001:db8::/32", s)
	}
	if err := checkAddr(s, p.Addr()); err != nil {
		return netip.Prefix{}, err
	}
	if masked := p.Masked(); masked != p {
		return netip.Prefix{}, fmt.Errorf("%s has host bits set; did you mean %s?", s, masked)
	}
	return p, nil
}

func checkAddr(s string, addr netip.Addr) error {
	if addr.Zone() != "" {
		return fmt.Errorf("%q has a zone; zones are not allowed in rules", s)
	}
	if addr.Is4In6() {
		return fmt.Errorf("%q is an IPv4-mapped IPv6 address; write it as IPv4 (%s)", s, addr.Unmap())
	}
	return nil
}

// ParsePrefixes parses a list of CIDRs, recording a problem at
// "location[i]" for each bad or repeated entry. It returns the entries that parsed.
func ParsePrefixes(location string, in []string, ps *Problems) []netip.Prefix {
	if len(in) > MaxListEntries {
		ps.Add(location, len(in), "at most %d entries are allowed, got %d", MaxListEntries, len(in))
		return nil
	}
	return parsePrefixList(location, in, ps)
}

// parsePrefixList is ParsePrefixes without a bound on the count, which
// each caller sets for its own list.
func parsePrefixList(location string, in []string, ps *Problems) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	seen := make(map[netip.Prefix]int, len(in))
	for i, s := range in {
		loc := fmt.Sprintf("%s[%d]", location, i)
		p, err := ParsePrefix(s)
		if err != nil {
			ps.Add(loc, s, "%s", err)
			continue
		}
		if j, dup := seen[p]; dup {
			ps.Add(loc, s, "%s repeats %s[%d]", p, location, j)
			continue
		}
		seen[p] = i
		out = append(out, p)
	}
	return out
}

// ParsePortRanges parses a list of ports and port ranges, recording a problem
// at "location[i]" for each bad or repeated entry. It returns the entries that parsed.
func ParsePortRanges(location string, in []string, ps *Problems) []PortRange {
	if len(in) > MaxListEntries {
		ps.Add(location, len(in), "at most %d entries are allowed, got %d", MaxListEntries, len(in))
		return nil
	}
	out := make([]PortRange, 0, len(in))
	seen := make(map[PortRange]int, len(in))
	for i, s := range in {
		loc := fmt.Sprintf("%s[%d]", location, i)
		r, err := ParsePortRange(s)
		if err != nil {
			ps.Add(loc, s, "%s", err)
			continue
		}
		if j, dup := seen[r]; dup {
			ps.Add(loc, s, "%s repeats %s[%d]", r, location, j)
			continue
		}
		seen[r] = i
		out = append(out, r)
	}
	return out
}
