package export

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

const (
	// iptCommentMax is xt_comment's limit (256 bytes, NUL included).
	iptCommentMax = 255
	// multiportMax is how many ports one multiport match holds; a range
	// counts as two.
	multiportMax = 15
	// inlineMax bounds the lines one rule's cross product of lists may
	// take inline; beyond it the lists are chained (see iptWriter.chained).
	inlineMax = 1024
)

// iptables renders the plan's rules of one family as iptables-restore (or
// ip6tables-restore) input for the filter table. Restoring it replaces the
// whole filter table of that family, atomically.
func (p *plan) iptables(f family) (*Result, error) {
	res := &Result{ContentType: "text/plain; charset=utf-8", RulesIn: p.rulesIn}
	w := &iptWriter{f: f, res: res, out: make([]byte, 0, 144*(p.rulesIn+8))}
	var jumps []*planPolicy
	for i := range p.policies {
		pp := &p.policies[i]
		if !pp.p.Enabled {
			w.out = fmt.Appendf(w.out, "# %s, priority %d: disabled, left out with its %d rule(s)\n",
				lineText(policyLabel(pp.p)), pp.p.Priority, len(pp.rules))
			w.rules(pp)
			continue
		}
		jumps = append(jumps, pp)
		w.chains = append(w.chains, pp.chain)
		w.out = fmt.Appendf(w.out, "# %s, priority %d, default %s\n", lineText(policyLabel(pp.p)), pp.p.Priority, pp.p.DefaultAction)
		w.rules(pp)
		target := "RETURN"
		switch pp.p.DefaultAction {
		case firewall.Allow:
			target = "ACCEPT"
		case firewall.Deny:
			target = "DROP"
		}
		w.out = fmt.Appendf(w.out, "-A %s -j %s\n", pp.chain, target)
	}
	base := strings.ToUpper(string(p.opt.Hook))
	if p.opt.Stateful {
		w.out = fmt.Appendf(w.out, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", base)
	}
	for _, pp := range jumps {
		w.out = fmt.Appendf(w.out, "-A %s -m comment --comment \"%s\" -j %s\n", base, commentText(policyLabel(pp.p), iptCommentMax), pp.chain)
	}
	w.out = append(w.out, "COMMIT\n"...)

	var out strings.Builder
	p.header(&out, res)
	if p.sets != nil {
		res.IPSets = p.sets.ipsets(f)
		out.WriteString("# It matches ipsets of address groups: load Result.IPSets (ipset restore) first.\n")
	}
	fmt.Fprintf(&out, "# Restoring this file replaces the %s filter table.\n", map[family]string{fam4: "IPv4", fam6: "IPv6"}[f])
	out.WriteString("*filter\n")
	for _, builtin := range []string{"INPUT", "FORWARD", "OUTPUT"} {
		policy := "ACCEPT"
		if builtin == base && p.fw.DefaultAction == firewall.Deny {
			policy = "DROP"
		}
		fmt.Fprintf(&out, ":%s %s [0:0]\n", builtin, policy)
	}
	for _, c := range w.chains {
		fmt.Fprintf(&out, ":%s - [0:0]\n", c)
	}
	res.Text = concat(out.String(), w.out)
	return res, nil
}

type iptWriter struct {
	f      family
	res    *Result
	out    []byte
	chains []string // user chains to declare, in order
	subs   int      // chained rules so far, for unique chain names
	cont   bool     // the rule continues one already counted (another service)
}

// rules writes the policy's rules. The plan rules of one rule's services
// count as one rule: those without a part of the family are passed over,
// and the rule is left out only when none has one.
func (w *iptWriter) rules(pp *planPolicy) {
	for j := 0; j < len(pp.rules); {
		k := j + 1
		for k < len(pp.rules) && pp.rules[k].cont {
			k++
		}
		group := pp.rules[j:k]
		j = k
		w.cont = false
		if !slices.ContainsFunc(group, func(g planRule) bool { return g.skip == "" && g.part(w.f) != nil }) {
			w.rule(pp, &group[0]) // left out, once
			continue
		}
		for i := range group {
			if group[i].part(w.f) != nil {
				w.rule(pp, &group[i])
				w.cont = true
			}
		}
	}
}

func (w *iptWriter) rule(pp *planPolicy, pr *planRule) {
	skip := pr.skip
	pt := pr.part(w.f)
	if skip == "" && pt == nil {
		skip = fmt.Sprintf("matches no IPv%d flow: protocol %s with sources %s and destinations %s",
			w.f, pr.r.Protocol, familiesOf(pr.r.Sources), familiesOf(pr.r.Destinations))
	}
	if skip != "" {
		w.out = fmt.Appendf(w.out, "# %s: %s, left out\n", lineText(ruleLabel(pr.r)), skip)
		w.res.LeftOut = append(w.res.LeftOut, LeftOut{PolicyID: pp.p.ID, RuleID: pr.r.ID, Reason: skip})
		return
	}
	if !w.cont {
		w.res.RulesRendered++
		if pr.r.ExpiresAt != nil {
			w.out = fmt.Appendf(w.out, "# %s expires at %s: export again then\n", lineText(ruleLabel(pr.r)), pr.r.ExpiresAt.UTC().Format(time.RFC3339Nano))
		}
	}
	r := pr.r
	proto := ""
	switch r.Protocol {
	case firewall.TCP, firewall.UDP, firewall.ICMP:
		proto = " -p " + string(r.Protocol)
	case firewall.ICMPv6:
		proto = " -p ipv6-icmp"
	}
	dims := [][]string{
		setAlts(addrAlts(" -s ", pt.src), pt.src, pt.srcSets, "src"),
		setAlts(addrAlts(" -d ", pt.dst), pt.dst, pt.dstSets, "dst"),
		// iptables takes one multiport match per rule: when both lists
		// need one, the source ports go one range per line.
		portAlts(string(r.Protocol), "sport", pr.sports, len(pr.dports) < 2),
		portAlts(string(r.Protocol), "dport", pr.dports, true),
	}
	// A multiport match goes last: after it, a bare --dport would be read
	// as multiport's --dports.
	if strings.Contains(dims[2][0], "multiport") {
		dims[2], dims[3] = dims[3], dims[2]
	}
	comment := " -m comment --comment \"" + commentText(ruleLabel(r), iptCommentMax) + "\""
	verdicts := w.verdicts(r)
	lines := len(verdicts)
	multi := 0
	for _, d := range dims {
		lines *= len(d)
		if len(d) > 1 {
			multi++
		}
	}
	if multi > 1 && lines > inlineMax {
		w.chained(pp.chain, proto, dims, comment, verdicts)
		return
	}
	w.inline(pp.chain, proto, dims, "", comment, verdicts)
}

// verdict is one target, with the protocol it needs ("" for none).
type verdict struct{ proto, target string }

// verdicts returns the targets of r: one, or for a protocol-any reject a
// TCP reset for tcp followed by an ICMP unreachable for the rest.
func (w *iptWriter) verdicts(r *firewall.Rule) []verdict {
	v := &verdicts4
	if w.f == fam6 {
		v = &verdicts6
	}
	switch {
	case r.Action == firewall.Allow:
		return v.accept
	case r.Action == firewall.Deny:
		return v.drop
	case r.Protocol == firewall.TCP:
		return v.reset
	case r.Protocol == firewall.AnyProtocol:
		return v.anyReject
	}
	return v.unreach
}

// verdictSet holds a family's targets, shared by every rule.
type verdictSet struct{ accept, drop, reset, anyReject, unreach []verdict }

func newVerdictSet(unreach string) verdictSet {
	reset := verdict{"", " -j REJECT --reject-with tcp-reset"}
	return verdictSet{
		accept:    []verdict{{"", " -j ACCEPT"}},
		drop:      []verdict{{"", " -j DROP"}},
		reset:     []verdict{reset},
		anyReject: []verdict{{" -p tcp", reset.target}, {"", unreach}},
		unreach:   []verdict{{"", unreach}},
	}
}

var (
	verdicts4 = newVerdictSet(" -j REJECT --reject-with icmp-admin-prohibited")
	verdicts6 = newVerdictSet(" -j REJECT --reject-with icmp6-adm-prohibited")
)

// inline writes the cross product of dims (up to four lists), each line
// with every verdict.
func (w *iptWriter) inline(chain, proto string, dims [][]string, prefix, comment string, verdicts []verdict) {
	var idx [4]int
	for {
		for _, v := range verdicts {
			p := proto
			if v.proto != "" {
				p = v.proto
			}
			b := w.out
			b = append(b, "-A "...)
			b = append(append(append(b, chain...), p...), prefix...)
			for d := range dims {
				b = append(b, dims[d][idx[d]]...)
			}
			b = append(append(append(b, comment...), v.target...), '\n')
			w.out = b
			w.res.Statements++
		}
		d := len(dims) - 1
		for ; d >= 0; d-- {
			if idx[d]++; idx[d] < len(dims[d]) {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// chained writes a rule whose lists would multiply into too many lines as
// a chain of user chains, one per list: each line of a level jumps to the
// next level, and the last level decides. A level that finds no match
// returns to the one above, which tries its next entry, so the rule
// matches exactly when every list does. Single-entry lists ride on the
// first level.
func (w *iptWriter) chained(chain, proto string, dims [][]string, comment string, verdicts []verdict) {
	w.subs++
	var multi [][]string
	singles := ""
	for _, d := range dims {
		if len(d) > 1 {
			multi = append(multi, d)
		} else {
			singles += d[0]
		}
	}
	from := chain
	for lvl, alts := range multi {
		if lvl == len(multi)-1 {
			for _, alt := range alts {
				w.inline(from, proto, nil, alt, comment, verdicts)
			}
			return
		}
		next := fmt.Sprintf("ff-r%d-%d", w.subs, lvl+2)
		w.chains = append(w.chains, next)
		for _, alt := range alts {
			if lvl == 0 {
				alt += singles
			}
			w.out = append(w.out, "-A "+from+proto+alt+comment+" -j "+next+"\n"...)
		}
		from = next
	}
}

// setAlts adds to a side's alternatives one ipset match per set: the side
// matches the literal list or any of the sets.
func setAlts(alts []string, lits []netip.Prefix, sets []string, dir string) []string {
	if len(sets) == 0 {
		return alts
	}
	if len(lits) == 0 {
		alts = nil // the empty literal list is no alternative beside sets
	}
	for _, s := range sets {
		alts = append(alts, " -m set --match-set "+s+" "+dir)
	}
	return alts
}

func addrAlts(flag string, ps []netip.Prefix) []string {
	if len(ps) == 0 {
		return []string{""}
	}
	out := make([]string, len(ps))
	var b [64]byte
	for i, p := range ps {
		out[i] = string(appendPrefix(append(b[:0], flag...), p))
	}
	return out
}

// portAlts packs the ranges into matches: a lone range uses the protocol's
// own --sport/--dport, more use multiport (when allowed), at most 15 ports
// (a range counting two) per match.
func portAlts(proto, dir string, prs []firewall.PortRange, multiport bool) []string {
	if len(prs) == 0 {
		return []string{""}
	}
	if len(prs) == 1 || !multiport {
		out := make([]string, len(prs))
		for i, pr := range prs {
			out[i] = " -m " + proto + " --" + dir + " " + iptPort(pr)
		}
		return out
	}
	var out []string
	var cur []string
	weight := 0
	flush := func() {
		if len(cur) == 1 {
			out = append(out, " -m "+proto+" --"+dir+" "+cur[0])
		} else if len(cur) > 0 {
			out = append(out, " -m multiport --"+dir+"s "+strings.Join(cur, ","))
		}
		cur, weight = cur[:0], 0
	}
	for _, pr := range prs {
		wt := 1
		if pr.Low != pr.High {
			wt = 2
		}
		if weight+wt > multiportMax {
			flush()
		}
		cur = append(cur, iptPort(pr))
		weight += wt
	}
	flush()
	return out
}

func iptPort(pr firewall.PortRange) string {
	if pr.Low == pr.High {
		return fmt.Sprint(pr.Low)
	}
	return fmt.Sprintf("%d:%d", pr.Low, pr.High)
}
