package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

// Limits of the analysis operations.
const (
	// compareMaxBodySize lets a candidate tree of tens of thousands of
	// rules through.
	compareMaxBodySize = 32 << 20
	maxRegionsLimit    = 10000
)

// AnalysisOutput is what is wrong with a firewall, and what is worth
// knowing about it.
type AnalysisOutput struct {
	FirewallID string            `json:"firewall_id" doc:"The firewall analysed."`
	Revision   int64             `json:"revision" doc:"The firewall revision the analysis was made on." example:"7"`
	Findings   []AnalysisFinding `json:"findings" doc:"The findings, policy findings first, then in evaluation order."`
	Counts     map[string]int    `json:"counts" doc:"The number of findings of each kind listed."`
	// Conflicts are listed up to a cap, and all counted.
	ConflictsTotal int `json:"conflicts_total" doc:"The number of conflicts, listed or not (at most 100 are listed)."`
}

// AnalysisFinding is one finding.
type AnalysisFinding struct {
	Kind            string         `json:"kind" enum:"unreachable,redundant,unreachable_policy,conflict,expiring,disabled,expired" doc:"What the finding is about."`
	Severity        string         `json:"severity" enum:"error,warning,info" doc:"How much it matters: error (policy that cannot work as written), warning, info."`
	PolicyID        string         `json:"policy_id" doc:"The policy concerned, or holding the rule concerned."`
	RuleID          string         `json:"rule_id,omitempty" doc:"The rule concerned, for a rule finding."`
	Message         string         `json:"message" doc:"The finding in words."`
	Example         *FlowExample   `json:"example,omitempty" doc:"A flow that shows the finding, with the decision the firewall makes on it: for redundant, a flow the rule decides; for conflict, a flow both rules match."`
	CoveredBy       []Taker        `json:"covered_by,omitempty" doc:"For unreachable rules and policies, the earlier rules and defaults that decide all of their flows; for redundant rules, the later ones that would decide their flows without them. At most 10."`
	CoveredByTotal  int            `json:"covered_by_total,omitempty" doc:"How many rules and defaults covered_by would list without its cap."`
	DifferentAction bool           `json:"different_action,omitempty" doc:"For an unreachable rule: some of the rules and defaults that take its flows act differently from it."`
	ConflictsWith   string         `json:"conflicts_with,omitempty" doc:"For a conflict: the later rule, whose action differs."`
	ExpiresAt       *time.Time     `json:"expires_at,omitempty" doc:"For expiring and expired rules: the expiry."`
	Groups          []FindingGroup `json:"groups,omitempty" doc:"For a rule finding, the groups the rule refers to, in field order: the finding is about their members as they are now."`
}

// FindingGroup is a group a finding's rule refers to.
type FindingGroup struct {
	Field string `json:"field" enum:"source,destination,service" doc:"The rule field that refers: source (source_groups), destination (destination_groups) or service (service_groups)."`
	ID    string `json:"id" doc:"The group's id."`
	Name  string `json:"name" doc:"The group's name." example:"web-servers"`
}

// Taker is a rule or default that decides flows of a finding's rule.
type Taker struct {
	DecidedBy string `json:"decided_by" enum:"rule,policy_default,firewall_default" doc:"A rule, a policy's default or the firewall's default."`
	PolicyID  string `json:"policy_id,omitempty" doc:"Its policy, unless it is the firewall default."`
	RuleID    string `json:"rule_id,omitempty" doc:"The rule, when a rule."`
	Action    string `json:"action" enum:"allow,deny,reject" doc:"Its action."`
}

// FlowExample is a flow and the decision on it.
type FlowExample struct {
	Flow     Flow     `json:"flow" doc:"The flow."`
	Decision Decision `json:"decision" doc:"What the firewall does with it."`
}

// HeaderSpace is a set of flows.
type HeaderSpace struct {
	Protocols          []string `json:"protocols,omitempty" maxItems:"5" enum:"any,tcp,udp,icmp,icmpv6" doc:"Protocols of the flows; empty or any is every protocol."`
	Sources            []string `json:"sources,omitempty" maxItems:"256" doc:"Source CIDRs or addresses; empty is any."`
	SourcesExcept      []string `json:"sources_except,omitempty" maxItems:"256" doc:"Source CIDRs or addresses left out of sources."`
	Destinations       []string `json:"destinations,omitempty" maxItems:"256" doc:"Destination CIDRs or addresses; empty is any."`
	DestinationsExcept []string `json:"destinations_except,omitempty" maxItems:"256" doc:"Destination CIDRs or addresses left out of destinations."`
	SourcePorts        []string `json:"source_ports,omitempty" maxItems:"256" doc:"Source ports and ranges, such as \"443\" or \"1024-65535\"; empty is any. Only tcp and udp flows have ports: a space with ports holds no icmp flow."`
	DestinationPorts   []string `json:"destination_ports,omitempty" maxItems:"256" doc:"Destination ports and ranges; empty is any."`
}

// SearchTarget is the decision searched for; every field given must hold.
type SearchTarget struct {
	Action    string `json:"action,omitempty" enum:"allow,deny,reject" doc:"The action of the decision."`
	RuleID    string `json:"rule_id,omitempty" maxLength:"255" doc:"The rule that decides."`
	DecidedBy string `json:"decided_by,omitempty" enum:"rule,policy_default,firewall_default" doc:"What decides."`
}

// SearchInput asks for a flow of a header space with a given decision.
type SearchInput struct {
	Space  HeaderSpace  `json:"space,omitempty" doc:"The flows to look among. Empty: every flow."`
	Target SearchTarget `json:"target,omitempty" doc:"The decision to look for. Empty: any decision (is the space empty?)."`
	Invert bool         `json:"invert,omitempty" doc:"Look among the flows outside the space instead."`
}

// SearchOutput is one flow with the decision asked for, or the guarantee
// that there is none.
type SearchOutput struct {
	Revision int64     `json:"revision" doc:"The firewall revision searched." example:"7"`
	Exists   bool      `json:"exists" doc:"Whether such a flow exists. false is a guarantee over every flow of the space, not a sample."`
	Flow     *Flow     `json:"flow,omitempty" doc:"One such flow."`
	Decision *Decision `json:"decision,omitempty" doc:"The firewall's decision on it."`
}

// CompareInput names what the firewall is compared with: another firewall
// or a candidate tree, which is compared but never saved.
type CompareInput struct {
	FirewallID string        `json:"firewall_id,omitempty" maxLength:"64" doc:"Another firewall, as it is now. Give either firewall_id or candidate."`
	Candidate  *TreeDocument `json:"candidate,omitempty" doc:"A candidate tree (the firewall's fields, its policies and their rules): what the firewall would do if it were this."`
	MaxRegions int           `json:"max_regions,omitempty" minimum:"0" maximum:"10000" doc:"How many regions to list (default 100); all are counted."`
}

// CompareOutput lists the flows whose decision changes.
type CompareOutput struct {
	Revision      int64           `json:"revision" doc:"The revision of this firewall used (the old side)." example:"7"`
	OtherRevision int64           `json:"other_revision" doc:"The revision of the other firewall, or of the candidate if it names one."`
	Total         int             `json:"total" doc:"How many regions change, listed or not."`
	Regions       []ChangedRegion `json:"regions" doc:"The regions whose decision changes, by the old tree's evaluation order and then the new one's."`
}

// ChangedRegion is the set of flows decided by one rule or default in the
// old tree and by one in the new, with different actions.
type ChangedRegion struct {
	Example Flow     `json:"example" doc:"One flow of the region."`
	Old     Decision `json:"old" doc:"The decision in this firewall."`
	New     Decision `json:"new" doc:"The decision in the other firewall or the candidate."`
}

var analysisTags = []string{"Analysis"}

func (a *api) analyzeFirewall() endpoint {
	return handle(huma.Operation{
		OperationID: "analyze-firewall", Tags: analysisTags,
		Summary: "Analyse a firewall",
		Description: "Reports unreachable and redundant rules, unreachable policies, conflicting rules, and expiring, expired and disabled rules. " +
			"Exact over the whole header space (both address families, every protocol, both ports), never sampled; every example flow is the engine's decision. " +
			"Cached per revision.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *struct {
		FirewallParams
		Kinds          string `query:"kinds" maxLength:"200" doc:"Comma-separated kinds to report (default: all): unreachable, redundant, unreachable_policy, conflict, expiring, disabled, expired." example:"unreachable,redundant"`
		ExpiringWithin int    `query:"expiring_within" minimum:"0" maximum:"36500" default:"30" doc:"Days ahead in which a rule's expiry makes it expiring."`
	}) (*struct{ Body AnalysisOutput }, error) {
		kinds, err := parseKinds(in.Kinds)
		if err != nil {
			return nil, newProblem(ctx, http.StatusBadRequest, "the request is not valid", ProblemDetail{Location: "query.kinds", Message: err.Error(), Value: in.Kinds})
		}
		rep, err := a.svc.Analyze(ctx, in.FirewallID, service.AnalysisOptions{Kinds: kinds, ExpiringWithin: time.Duration(in.ExpiringWithin) * 24 * time.Hour})
		if err != nil {
			return nil, err
		}
		return &struct{ Body AnalysisOutput }{Body: AnalysisOutputOf(in.FirewallID, rep)}, nil
	})
}

func (a *api) searchFlows() endpoint {
	return handle(huma.Operation{
		OperationID: "search-flows", Tags: analysisTags,
		Summary: "Search the header space",
		Description: "Finds one flow of a header space (sources and destinations with exclusions, protocols, ports) that the firewall decides as asked " +
			"(an action, a rule, what decides), or answers exists: false, a guarantee over the whole space. invert searches outside the space.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			FirewallParams
			Body SearchInput
		}) (*struct{ Body SearchOutput }, error) {
			sp, t, err := in.Body.parse()
			if err != nil {
				return nil, err
			}
			res, rev, err := a.svc.Search(ctx, in.FirewallID, sp, t, in.Body.Invert)
			if err != nil {
				return nil, err
			}
			out := SearchOutput{Revision: rev, Exists: res.Exists}
			if res.Example != nil {
				f, d := flowOut(res.Example.Flow), decisionOut(res.Example.Decision)
				out.Flow, out.Decision = &f, &d
			}
			return &struct{ Body SearchOutput }{Body: out}, nil
		})
}

func (a *api) compareFirewall() endpoint {
	return handle(huma.Operation{
		OperationID: "compare-firewall", Tags: analysisTags,
		Summary: "Compare with another firewall or a candidate tree",
		Description: "Lists the regions of the header space whose action changes from this firewall to another firewall or to a candidate tree " +
			"(a what-if that saves nothing), each with an example flow and both decisions. Exact. Takes a body of up to 32 MiB.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			FirewallParams
			Body CompareInput
		}) (*struct{ Body CompareOutput }, error) {
			candidate, err := in.Body.candidate()
			if err != nil {
				return nil, err
			}
			cmp, err := a.svc.CompareWith(ctx, in.FirewallID, in.Body.FirewallID, candidate, in.Body.MaxRegions)
			if err != nil {
				return nil, err
			}
			out := CompareOutput{Revision: cmp.OldRevision, OtherRevision: cmp.NewRevision, Total: cmp.Total, Regions: []ChangedRegion{}}
			for _, r := range cmp.Regions {
				out.Regions = append(out.Regions, ChangedRegion{Example: flowOut(r.Example), Old: decisionOut(r.Old), New: decisionOut(r.New)})
			}
			return &struct{ Body CompareOutput }{Body: out}, nil
		}).with(func(op *huma.Operation) {
		op.MaxBodyBytes = bodyLimit(compareMaxBodySize)
	}, nil)
}

// parseKinds reads a comma-separated list of finding kinds.
func parseKinds(s string) ([]service.FindingKind, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []service.FindingKind
	for _, part := range strings.Split(s, ",") {
		k := service.FindingKind(strings.TrimSpace(part))
		if !k.Valid() {
			var names []string
			for _, k := range service.FindingKinds() {
				names = append(names, string(k))
			}
			return nil, fmt.Errorf("%q is not a kind of finding; the kinds are %s", part, strings.Join(names, ", "))
		}
		out = append(out, k)
	}
	return out, nil
}

// parse validates the search input, naming each bad field.
func (in SearchInput) parse() (service.HeaderSpace, service.SearchTarget, error) {
	var ps firewall.Problems
	sp := service.HeaderSpace{
		Sources:            firewall.ParsePrefixes("space.sources", in.Space.Sources, &ps),
		SourcesExcept:      firewall.ParsePrefixes("space.sources_except", in.Space.SourcesExcept, &ps),
		Destinations:       firewall.ParsePrefixes("space.destinations", in.Space.Destinations, &ps),
		DestinationsExcept: firewall.ParsePrefixes("space.destinations_except", in.Space.DestinationsExcept, &ps),
		SourcePorts:        firewall.ParsePortRanges("space.source_ports", in.Space.SourcePorts, &ps),
		DestinationPorts:   firewall.ParsePortRanges("space.destination_ports", in.Space.DestinationPorts, &ps),
	}
	for i, p := range in.Space.Protocols {
		switch proto := firewall.Protocol(p); proto {
		case firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6:
			sp.Protocols = append(sp.Protocols, proto)
		default:
			ps.Add(fmt.Sprintf("space.protocols[%d]", i), p, "%q is not a protocol; use any, tcp, udp, icmp or icmpv6", p)
		}
	}
	t := service.SearchTarget{Action: firewall.Action(in.Target.Action), RuleID: in.Target.RuleID, DecidedBy: firewall.DecidedBy(in.Target.DecidedBy)}
	switch t.Action {
	case "", firewall.Allow, firewall.Deny, firewall.Reject:
	default:
		ps.Add("target.action", in.Target.Action, "%q is not an action; use allow, deny or reject", in.Target.Action)
	}
	switch t.DecidedBy {
	case "", firewall.ByRule, firewall.ByPolicyDefault, firewall.ByFirewallDefault:
	default:
		ps.Add("target.decided_by", in.Target.DecidedBy, "%q is not a decider; use rule, policy_default or firewall_default", in.Target.DecidedBy)
	}
	return sp, t, ps.Err("the search is not valid")
}

// candidate checks that exactly one side is named, and converts the
// candidate tree, naming each bad field under candidate.
func (in CompareInput) candidate() (*firewall.Tree, error) {
	var ps firewall.Problems
	switch {
	case in.FirewallID != "" && in.Candidate != nil:
		ps.Add("", nil, "give either firewall_id or candidate, not both")
	case in.FirewallID == "" && in.Candidate == nil:
		ps.Add("", nil, "give firewall_id (another firewall) or candidate (a tree) to compare with")
	}
	if err := ps.Err("the comparison is not valid"); err != nil {
		return nil, err
	}
	if in.Candidate == nil {
		return nil, nil
	}
	t, err := in.Candidate.Tree()
	if err != nil {
		ps.AddFrom("candidate.", err)
		if len(ps) == 0 {
			ps.Add("candidate", nil, "%s", err)
		}
		return nil, ps.Err("the candidate tree is not valid")
	}
	return &t, nil
}

// AnalysisOutputOf is the API form of an analysis report, which the CLI
// also prints for offline runs.
func AnalysisOutputOf(firewallID string, rep service.AnalysisReport) AnalysisOutput {
	out := AnalysisOutput{FirewallID: firewallID, Revision: rep.Revision, Findings: []AnalysisFinding{}, Counts: map[string]int{}, ConflictsTotal: rep.Conflicts}
	for _, f := range rep.Findings {
		af := AnalysisFinding{Kind: string(f.Kind), Severity: string(f.Severity), PolicyID: f.PolicyID, RuleID: f.RuleID, Message: f.Message,
			CoveredByTotal: f.CoveredByTotal, DifferentAction: f.DifferentAction, ConflictsWith: f.ConflictsWith, ExpiresAt: f.ExpiresAt}
		if f.Example != nil {
			af.Example = &FlowExample{Flow: flowOut(f.Example.Flow), Decision: decisionOut(f.Example.Decision)}
		}
		for _, g := range f.Groups {
			af.Groups = append(af.Groups, FindingGroup{Field: g.Field, ID: g.ID, Name: g.Name})
		}
		for _, t := range f.CoveredBy {
			af.CoveredBy = append(af.CoveredBy, Taker{DecidedBy: string(t.DecidedBy), PolicyID: t.PolicyID, RuleID: t.RuleID, Action: string(t.Action)})
		}
		out.Findings = append(out.Findings, af)
		out.Counts[af.Kind]++
	}
	return out
}

// flowOut is the API form of a flow.
func flowOut(f firewall.Flow) Flow {
	out := Flow{Protocol: string(f.Protocol), SourceIP: f.Source.String(), DestinationIP: f.Destination.String()}
	if f.Protocol.HasPorts() {
		sp, dp := int(f.SourcePort), int(f.DestinationPort)
		out.SourcePort, out.DestinationPort = &sp, &dp
	}
	return out
}
