package firewall

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Validate normalises f's name to NFC, checks every field of f and
// returns all problems as one *Error.
func (f *Firewall) Validate() error {
	var ps Problems
	f.Name = norm.NFC.String(f.Name)
	checkName(&ps, "name", f.Name, true)
	checkDescription(&ps, f.Description)
	checkLabels(&ps, f.Labels)
	checkAction(&ps, "default_action", f.DefaultAction, Allow, Deny)
	return ps.Err("the firewall is not valid")
}

// Validate normalises p's name to NFC, checks every field of p and
// returns all problems as one *Error.
func (p *Policy) Validate() error {
	var ps Problems
	p.Name = norm.NFC.String(p.Name)
	checkName(&ps, "name", p.Name, true)
	checkDescription(&ps, p.Description)
	if p.Priority < 0 || p.Priority > MaxPriority {
		ps.Add("priority", p.Priority, "priority must be between 0 and %d", MaxPriority)
	}
	checkAction(&ps, "default_action", p.DefaultAction, Allow, Deny, Next)
	return ps.Err("the filtering policy is not valid")
}

// Validate checks every field of r and returns all problems as one *Error.
func (r *Rule) Validate() error {
	var ps Problems
	r.Check(&ps)
	return ps.Err("the rule is not valid")
}

// Check normalises r's name to NFC and adds every problem with r to ps.
// Callers that parse addresses and ports themselves use it to report
// parse and model problems together.
func (r *Rule) Check(ps *Problems) {
	r.Name = norm.NFC.String(r.Name)
	checkName(ps, "name", r.Name, false)
	checkDescription(ps, r.Description)
	if r.Position < 0 {
		ps.Add("position", r.Position, "position must be 1 or more")
	}
	checkAction(ps, "action", r.Action, Allow, Deny, Reject)
	knownProtocol := true
	switch r.Protocol {
	case AnyProtocol, TCP, UDP, ICMP, ICMPv6:
	default:
		knownProtocol = false
		ps.Add("protocol", string(r.Protocol), "protocol must be one of any, tcp, udp, icmp, icmpv6")
	}
	if len(r.Sources) > MaxListEntries {
		ps.Add("sources", len(r.Sources), "at most %d entries are allowed", MaxListEntries)
	}
	if len(r.Destinations) > MaxListEntries {
		ps.Add("destinations", len(r.Destinations), "at most %d entries are allowed", MaxListEntries)
	}
	if r.ExpiresAt != nil && (r.ExpiresAt.Year() < 1970 || r.ExpiresAt.Year() > 9999) {
		ps.Add("expires_at", r.ExpiresAt.String(), "expires_at must lie between the years 1970 and 9999 in UTC")
	}
	checkRefs(ps, "source_groups", r.SourceGroups)
	checkRefs(ps, "destination_groups", r.DestinationGroups)
	checkRefs(ps, "service_groups", r.ServiceGroups)
	if len(r.ServiceGroups) > 0 && (r.Protocol != AnyProtocol || len(r.SourcePorts) > 0 || len(r.DestinationPorts) > 0) {
		ps.Add("service_groups", len(r.ServiceGroups), "a rule with service_groups takes its protocols and ports from them: leave protocol any and source_ports and destination_ports empty")
	}
	if knownProtocol { // with an unknown protocol, port complaints would only be noise
		checkPorts(ps, "source_ports", r.SourcePorts, r.Protocol)
		checkPorts(ps, "destination_ports", r.DestinationPorts, r.Protocol)
	}
}

func checkPorts(ps *Problems, location string, ports []PortRange, proto Protocol) {
	if len(ports) > MaxListEntries {
		ps.Add(location, len(ports), "at most %d entries are allowed", MaxListEntries)
	}
	if len(ports) > 0 && !proto.HasPorts() {
		ps.Add(location, string(proto), "%s are only allowed with protocol tcp or udp", location)
	}
	for _, p := range ports {
		if p.Low == 0 || p.Low > p.High {
			ps.Add(location, p.String(), "%s must hold ports 1 to 65535 with low ≤ high", location)
			return
		}
	}
}

func checkName(ps *Problems, location, name string, required bool) {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		if required {
			ps.Add(location, name, "%s is required", location)
		}
	case n > MaxNameLen:
		ps.Add(location, name, "%s must be at most %d characters, got %d", location, MaxNameLen, n)
	case strings.TrimSpace(name) != name:
		ps.Add(location, name, "%s must not start or end with blanks", location)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		ps.Add(location, name, "%s must not contain control characters", location)
	default:
		if i := strings.IndexFunc(name, lookAlike); i >= 0 {
			r, _ := utf8.DecodeRuneInString(name[i:])
			ps.Add(location, name, "%s must not contain %s: such characters are invisible or move text, so that one name could pass for another", location, runeName(r))
		}
	}
}

// lookAlike reports the characters a name must not hold, beyond control
// characters: format characters (Cf: bidi overrides, zero-width joiners
// and spaces, the byte order mark ...) and every separator but the plain
// space (line and paragraph separators, no-break and other wide or narrow
// spaces).
func lookAlike(r rune) bool {
	return r != ' ' && (unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Z, r))
}

// runeName writes a rune for a message: U+202E (a format character).
func runeName(r rune) string {
	kind := "a separator other than the plain space"
	if unicode.Is(unicode.Cf, r) {
		kind = "a format character"
	}
	return fmt.Sprintf("U+%04X (%s)", r, kind)
}

func checkDescription(ps *Problems, d string) {
	if n := utf8.RuneCountInString(d); n > MaxDescriptionLen {
		ps.Add("description", n, "description must be at most %d characters, got %d", MaxDescriptionLen, n)
	}
}

func checkAction(ps *Problems, location string, a Action, allowed ...Action) {
	for _, ok := range allowed {
		if a == ok {
			return
		}
	}
	names := make([]string, len(allowed))
	for i, ok := range allowed {
		names[i] = string(ok)
	}
	ps.Add(location, string(a), "%s must be one of %s", location, strings.Join(names, ", "))
}

func checkLabels(ps *Problems, labels map[string]string) {
	if len(labels) > MaxLabels {
		ps.Add("labels", len(labels), "at most %d labels are allowed, got %d", MaxLabels, len(labels))
	}
	for k, v := range labels {
		loc := "labels." + k
		if msg := labelKeyProblem(k); msg != "" {
			ps.Add(loc, k, "label key %q %s", k, msg)
		}
		if msg := labelValueProblem(v); msg != "" {
			ps.Add(loc, v, "label value %q %s", v, msg)
		}
	}
}

// labelKeyProblem applies the Kubernetes label-key rules: an optional DNS
// subdomain prefix and a slash, then a name of at most 63 characters.
func labelKeyProblem(key string) string {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix {
		if prefix == "" || len(prefix) > 253 || !isDNSSubdomain(prefix) {
			return "has a prefix that is not a lowercase DNS subdomain of at most 253 characters"
		}
	}
	if name == "" {
		return "needs a name"
	}
	if len(name) > 63 {
		return "has a name longer than 63 characters"
	}
	if !isLabelToken(name) {
		return "must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'"
	}
	return ""
}

// labelValueProblem applies the Kubernetes label-value rules; empty is allowed.
func labelValueProblem(v string) string {
	if v == "" {
		return ""
	}
	if len(v) > 63 {
		return "is longer than 63 characters"
	}
	if !isLabelToken(v) {
		return "must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'"
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isLabelToken(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isDNSSubdomain(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" || len(part) > 63 || part[0] == '-' || part[len(part)-1] == '-' {
			return false
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// NameKey is the form in which names are compared for uniqueness, so that
// "Edge" and "edge" clash, and so do the composed and decomposed forms of
// "é" (names are stored in NFC, and lower-casing may undo it).
func NameKey(name string) string { return norm.NFC.String(strings.ToLower(norm.NFC.String(name))) }
