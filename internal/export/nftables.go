package export

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// nftCommentMax is nft's comment limit (128 characters, NUL included).
const nftCommentMax = 127

// nftables renders the plan as one table inet, replaced atomically: the
// file first declares the table (so that the delete cannot fail when it is
// absent), deletes it, and defines it again, all in one transaction.
func (p *plan) nftables() (*Result, error) {
	table := p.opt.Table
	if table == "" {
		table = tableName(p.fw.Name)
	} else if !validTable(table) {
		return nil, &Error{Format: NFTables, Problems: []Problem{{Field: "table", Reason: fmt.Sprintf("%q is not a table name: use letters, digits, '_' and '-', starting with a letter", table)}}}
	}
	res := &Result{ContentType: "text/plain; charset=utf-8", RulesIn: p.rulesIn}
	w := &nftWriter{res: res, out: make([]byte, 0, 112*(p.rulesIn+8)), merge: p.opt.Merge}
	var jumps []*planPolicy
	for i := range p.policies {
		pp := &p.policies[i]
		if !pp.p.Enabled {
			w.out = fmt.Appendf(w.out, "\t# %s, priority %d: disabled, left out with its %d rule(s)\n",
				lineText(policyLabel(pp.p)), pp.p.Priority, len(pp.rules))
			for j := range pp.rules {
				w.rule(pp.p, &pp.rules[j])
			}
			continue
		}
		jumps = append(jumps, pp)
		w.out = fmt.Appendf(w.out, "\t# %s, priority %d, default %s\n\tchain %s {\n", lineText(policyLabel(pp.p)), pp.p.Priority, pp.p.DefaultAction, pp.chain)
		for j := range pp.rules {
			w.rule(pp.p, &pp.rules[j])
		}
		w.flush()
		switch pp.p.DefaultAction {
		case firewall.Allow:
			w.out = append(w.out, "\t\taccept\n"...)
		case firewall.Deny:
			w.out = append(w.out, "\t\tdrop\n"...)
		default:
			w.out = append(w.out, "\t\treturn\n"...)
		}
		w.out = append(w.out, "\t}\n"...)
	}
	policy := "drop"
	if p.fw.DefaultAction == firewall.Allow {
		policy = "accept"
	}
	w.out = fmt.Appendf(w.out, "\tchain %s {\n\t\ttype filter hook %s priority 0; policy %s;\n", p.opt.Hook, p.opt.Hook, policy)
	if p.opt.Stateful {
		w.out = append(w.out, "\t\tct state established,related accept\n"...)
	}
	for _, pp := range jumps {
		w.out = fmt.Appendf(w.out, "\t\tjump %s comment \"%s\"\n", pp.chain, commentText(policyLabel(pp.p), nftCommentMax))
	}
	w.out = append(w.out, "\t}\n}\n"...)

	var head strings.Builder
	head.WriteString("#!/usr/sbin/nft -f\n")
	p.header(&head, res)
	fmt.Fprintf(&head, "# Loading this file replaces table inet %s and touches nothing else.\n", table)
	fmt.Fprintf(&head, "table inet %s {}\ndelete table inet %s\ntable inet %s {\n", table, table, table)
	if p.sets != nil {
		p.sets.nftSets(&head)
	}
	res.Text = concat(head.String(), w.out)
	return res, nil
}

// concat returns head followed by body in one new slice.
func concat(head string, body []byte) []byte {
	out := make([]byte, 0, len(head)+len(body))
	return append(append(out, head...), body...)
}

// header writes the comment lines every format starts with.
func (p *plan) header(b *strings.Builder, res *Result) {
	fmt.Fprintf(b, "# FireFlow export of firewall %q (id %s), revision %d\n", lineText(p.fw.Name), lineText(p.fw.ID), p.fw.Revision)
	fmt.Fprintf(b, "# format %s, hook %s, stateful %t, expiry judged at %s\n", p.opt.Format, p.opt.Hook, p.opt.Stateful, p.opt.Now.UTC().Format(time.RFC3339))
	fmt.Fprintf(b, "# rules in %d, rendered %d as %d statement(s), left out %d\n", res.RulesIn, res.RulesRendered, res.Statements, len(res.LeftOut))
}

type nftWriter struct {
	res     *Result
	out     []byte
	merge   bool
	pending group // statements waiting to be merged (merge only)
}

// rule writes the statements of one rule, or a comment saying why it is
// left out.
func (w *nftWriter) rule(pol *firewall.Policy, pr *planRule) {
	if pr.skip != "" {
		w.out = fmt.Appendf(w.out, "\t\t# %s: %s, left out\n", lineText(ruleLabel(pr.r)), pr.skip)
		w.res.LeftOut = append(w.res.LeftOut, LeftOut{PolicyID: pol.ID, RuleID: pr.r.ID, Reason: pr.skip})
		return
	}
	if !pr.cont {
		w.res.RulesRendered++
		if pr.r.ExpiresAt != nil {
			w.out = fmt.Appendf(w.out, "\t\t# %s expires at %s: export again then\n", lineText(ruleLabel(pr.r)), pr.r.ExpiresAt.UTC().Format(time.RFC3339Nano))
		}
	}
	comment := commentText(ruleLabel(pr.r), nftCommentMax)
	lines := w.lines
	if w.merge {
		lines = w.mergeLines
	}
	if pr.v4 != nil && pr.v6 != nil && pr.v4.anyAddr() {
		lines(pr, nil, 0, comment) // one statement for both families
		return
	}
	for _, f := range []family{fam4, fam6} {
		pt := pr.part(f)
		switch {
		case pt == nil:
		case len(pt.srcSets)+len(pt.dstSets) == 0:
			lines(pr, pt, f, comment)
		default:
			// Statements on named sets are not merged: the sets stay
			// whole, one per group.
			w.flush()
			for _, alt := range pt.alternatives() {
				w.lines(pr, &alt, f, comment)
			}
		}
	}
}

// lines writes the statements of one rule within one family (or both,
// when pt is nil): one, or two for a protocol-any reject, which must send
// a TCP reset to tcp flows and an ICMP unreachable to the others.
func (w *nftWriter) lines(pr *planRule, pt *part, f family, comment string) {
	r := pr.r
	b := w.out
	start := len(b)
	b = append(b, "\t\t"...)
	if pt != nil {
		ip := "ip"
		if f == fam6 {
			ip = "ip6"
		}
		if pt.anyAddr() {
			b = append(b, "meta nfproto ipv"...)
			b = append(b, byte('0'+f))
			b = append(b, ' ')
		}
		b = appendNftMatch(b, ip, " saddr ", pt.src, pt.srcSets)
		b = appendNftMatch(b, ip, " daddr ", pt.dst, pt.dstSets)
	}
	switch r.Protocol {
	case firewall.TCP, firewall.UDP:
		if len(pr.sports) == 0 && len(pr.dports) == 0 {
			b = append(b, "meta l4proto "...)
			b = append(b, r.Protocol...)
			b = append(b, ' ')
		}
		b = appendNftPorts(b, string(r.Protocol), " sport ", pr.sports)
		b = appendNftPorts(b, string(r.Protocol), " dport ", pr.dports)
	case firewall.ICMP:
		b = append(b, "meta l4proto icmp "...)
	case firewall.ICMPv6:
		b = append(b, "meta l4proto ipv6-icmp "...)
	}
	tail := func(b []byte, verdict string) []byte {
		b = append(b, verdict...)
		b = append(b, " comment \""...)
		b = append(b, comment...)
		b = append(b, "\"\n"...)
		w.res.Statements++
		return b
	}
	switch {
	case r.Action == firewall.Allow:
		b = tail(b, "accept")
	case r.Action == firewall.Deny:
		b = tail(b, "drop")
	case r.Protocol == firewall.TCP:
		b = tail(b, "reject with tcp reset")
	case r.Protocol == firewall.AnyProtocol:
		prefix := len(b)
		b = append(b, "meta l4proto tcp "...)
		b = tail(b, "reject with tcp reset")
		b = append(b, b[start:prefix]...)
		b = tail(b, "reject with icmpx type admin-prohibited")
	default:
		b = tail(b, "reject with icmpx type admin-prohibited")
	}
	w.out = b
}

// appendNftMatch matches the field on a named set, when the part's side is
// one, else on the literal list.
func appendNftMatch(b []byte, ip, field string, ps []netip.Prefix, sets []string) []byte {
	if len(sets) == 0 {
		return appendNftAddrs(b, ip, field, ps)
	}
	b = append(append(b, ip...), field...)
	return append(append(append(b, '@'), sets[0]...), ' ')
}

func appendNftAddrs(b []byte, ip, field string, ps []netip.Prefix) []byte {
	if len(ps) == 0 {
		return b
	}
	b = append(b, ip...)
	b = append(b, field...)
	if len(ps) == 1 {
		b = appendPrefix(b, ps[0])
		return append(b, ' ')
	}
	b = append(b, "{ "...)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendPrefix(b, p)
	}
	return append(b, " } "...)
}

func appendNftPorts(b []byte, proto, field string, prs []firewall.PortRange) []byte {
	if len(prs) == 0 {
		return b
	}
	b = append(b, proto...)
	b = append(b, field...)
	if len(prs) == 1 {
		b = appendPortRange(b, prs[0], '-')
		return append(b, ' ')
	}
	b = append(b, "{ "...)
	for i, pr := range prs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendPortRange(b, pr, '-')
	}
	return append(b, " } "...)
}

// appendPortRange appends "443", or "1024<sep>65535" for a range.
func appendPortRange(b []byte, pr firewall.PortRange, sep byte) []byte {
	b = strconv.AppendUint(b, uint64(pr.Low), 10)
	if pr.High == pr.Low {
		return b
	}
	return strconv.AppendUint(append(b, sep), uint64(pr.High), 10)
}
