package export

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Format is a ruleset syntax to render.
type Format string

// The formats Render writes.
const (
	NFTables  Format = "nftables"  // nft -f input, one table inet
	IPTables  Format = "iptables"  // iptables-restore input, IPv4 filter table
	IP6Tables Format = "ip6tables" // ip6tables-restore input, IPv6 filter table
)

// Formats lists the formats in the order the API documents them.
var Formats = []Format{NFTables, IPTables, IP6Tables}

// Hook is the netfilter hook the firewall's base chain sits on.
type Hook string

// The hooks a firewall can be exported on.
const (
	Forward Hook = "forward"
	Input   Hook = "input"
	Output  Hook = "output"
)

// Options says how to render a tree.
type Options struct {
	Format Format
	// Hook defaults to Forward.
	Hook Hook
	// Stateful accepts established and related traffic before any rule, so
	// that return traffic passes while every new flow is decided as before.
	Stateful bool
	// Now is the time expiry is judged at: rules expired at Now are left
	// out. The zero time means time.Now().
	Now time.Time
	// Table overrides the nftables table name; "" derives it from the
	// firewall's name.
	Table string
	// Merge joins consecutive nftables statements of the same shape and
	// verdict into one with a set or concatenation, so that the kernel
	// walks fewer rules; first-match order is kept exactly. Comments then
	// name the first and last rule of each merged statement.
	Merge bool
	// IPSet renders, for iptables and ip6tables, the address groups the
	// rules use as ipsets (Result.IPSets, to load with `ipset restore`
	// first) matched with -m set, instead of expanding their members into
	// the rules. nftables always renders groups as named sets.
	IPSet bool
}

// ParseOptions reads the textual options of an export request (the query
// parameters format, hook, stateful and merge); empty ones but format take
// their defaults. Problems name the parameter. (ParseIPSet reads ipset.)
func ParseOptions(format, hook, stateful, merge string) (Options, error) {
	var ps firewall.Problems
	o := Options{Format: Format(format), Hook: Forward}
	switch o.Format {
	case NFTables, IPTables, IP6Tables:
	default:
		ps.Add("format", format, "format must be one of nftables, iptables, ip6tables")
	}
	if hook != "" {
		o.Hook = Hook(hook)
		switch o.Hook {
		case Forward, Input, Output:
		default:
			ps.Add("hook", hook, "hook must be one of forward, input, output")
		}
	}
	if stateful != "" {
		b, err := strconv.ParseBool(stateful)
		if err != nil {
			ps.Add("stateful", stateful, "stateful must be true or false")
		}
		o.Stateful = b
	}
	if merge != "" {
		b, err := strconv.ParseBool(merge)
		switch {
		case err != nil:
			ps.Add("merge", merge, "merge must be true or false")
		case b && o.Format != NFTables:
			ps.Add("merge", merge, "merge is for nftables only")
		}
		o.Merge = b
	}
	if err := ps.Err("the export options are not valid"); err != nil {
		return Options{}, err
	}
	return o, nil
}

// Result is a rendered ruleset and what went into it.
type Result struct {
	// Text is the ruleset, ready for nft -f or *tables-restore.
	Text []byte
	// ContentType is the media type to serve Text with.
	ContentType string
	// RulesIn counts the rules of the tree, in every policy.
	RulesIn int
	// RulesRendered counts the rules that produced at least one statement.
	RulesRendered int
	// Statements counts the rule statements written for rules (jumps,
	// defaults and the stateful accept aside). It can exceed
	// RulesRendered: a rule that holds both families, or a protocol-any
	// reject, takes two.
	Statements int
	// LeftOut lists the rules left out and why (disabled, expired, in a
	// disabled policy, or matching no flow of the rendered families).
	LeftOut []LeftOut
	// IPSets is `ipset restore` input defining the sets Text matches on,
	// for iptables with Options.IPSet; nil otherwise.
	IPSets []byte
}

// LeftOut is a rule the rendering leaves out, with the reason.
type LeftOut struct {
	PolicyID, RuleID string
	Reason           string
}

// Problem is one rule, policy or firewall field that cannot be rendered.
type Problem struct {
	PolicyID string `json:"policy_id,omitempty"`
	RuleID   string `json:"rule_id,omitempty"`
	// Field is the offending field, such as "protocol" or "sources[2]".
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// Error says why a tree cannot be rendered faithfully, listing every
// problem. The API answers it with 422.
type Error struct {
	Format   Format
	Problems []Problem
}

// Error lists the problems on one line.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot export as %s: %d problem(s)", e.Format, len(e.Problems))
	for i, p := range e.Problems {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-i)
			break
		}
		b.WriteString("; ")
		if p.PolicyID != "" {
			b.WriteString("policy " + p.PolicyID + " ")
		}
		if p.RuleID != "" {
			b.WriteString("rule " + p.RuleID + " ")
		}
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Reason)
	}
	return b.String()
}

// Render writes t in the format opt names. A tree that cannot be rendered
// faithfully returns an *Error and no text.
func Render(t *firewall.Tree, opt Options) (*Result, error) {
	if opt.Hook == "" {
		opt.Hook = Forward
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	switch opt.Hook {
	case Forward, Input, Output:
	default:
		return nil, &Error{Format: opt.Format, Problems: []Problem{{Field: "hook", Reason: fmt.Sprintf("hook %q is not one of forward, input, output", opt.Hook)}}}
	}
	p, err := newPlan(t, opt)
	if err != nil {
		return nil, err
	}
	switch opt.Format {
	case NFTables:
		return p.nftables()
	case IPTables:
		return p.iptables(fam4)
	case IP6Tables:
		return p.iptables(fam6)
	}
	return nil, &Error{Format: opt.Format, Problems: []Problem{{Field: "format", Reason: fmt.Sprintf("format %q is not one of nftables, iptables, ip6tables", opt.Format)}}}
}

// ParseIPSet reads the ipset query parameter into o: "true" renders the
// address groups of an iptables export as ipsets. The problem names the
// parameter.
func ParseIPSet(o *Options, ipset string) error {
	if ipset == "" {
		return nil
	}
	var ps firewall.Problems
	b, err := strconv.ParseBool(ipset)
	switch {
	case err != nil:
		ps.Add("ipset", ipset, "ipset must be true or false")
	case b && o.Format == NFTables:
		ps.Add("ipset", ipset, "ipset is for iptables and ip6tables; nftables always renders groups as named sets")
	}
	o.IPSet = b && err == nil
	return ps.Err("the export options are not valid")
}
