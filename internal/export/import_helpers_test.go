package export

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fireflow/fireflow/internal/firewall"
)

// describe prints a result compactly, one line per policy, rule and
// statement, so that tests can compare it with what a person expects.
func describe(res *ImportResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "start %s default %q\n", res.StartChain, res.DefaultAction)
	for _, p := range res.Policies {
		fmt.Fprintf(&b, "policy %q %d %s\n", p.Policy.Name, p.Policy.Priority, p.Policy.DefaultAction)
		for _, r := range p.Rules {
			fmt.Fprintf(&b, "  %d %s\n", r.Position, describeRule(r))
		}
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(&b, "skipped %s: %s\n", s.origin(), s.Reason)
	}
	for _, s := range res.Ignored {
		fmt.Fprintf(&b, "ignored %s: %s\n", s.origin(), s.Reason)
	}
	return b.String()
}

func describeRule(r firewall.Rule) string {
	parts := []string{string(r.Action), string(r.Protocol)}
	add := func(name string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, name+"="+strings.Join(vals, ","))
		}
	}
	add("src", strs(r.Sources))
	add("dst", strs(r.Destinations))
	add("sport", strs(r.SourcePorts))
	add("dport", strs(r.DestinationPorts))
	return strings.Join(parts, " ")
}

func strs[T fmt.Stringer](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = v.String()
	}
	return out
}

// impRuleHandles reads the rule handles of each chain, in order, from nft
// -j output.
func impRuleHandles(dump []byte) (map[string][]int64, error) {
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Chain  string `json:"chain"`
				Handle int64  `json:"handle"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(dump, &doc); err != nil {
		return nil, err
	}
	out := map[string][]int64{}
	for _, o := range doc.Nftables {
		if o.Rule != nil {
			out[o.Rule.Chain] = append(out[o.Rule.Chain], o.Rule.Handle)
		}
	}
	return out, nil
}

// cmpDescribe compares two imports as describe prints them.
func cmpDescribe(want, got *ImportResult) string {
	w, g := describe(want), describe(got)
	if w == g {
		return ""
	}
	return "want:\n" + w + "\ngot:\n" + g
}
