package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Limits of the evaluate action.
const (
	maxFlows            = 10000
	evaluateMaxBodySize = 4 << 20
	// maxFlowProblems bounds the errors listed for one bad batch, so that
	// 10,000 bad flows do not make a 10,000-entry answer.
	maxFlowProblems = 100
)

// Flow is one flow to decide.
type Flow struct {
	Protocol        string `json:"protocol" enum:"tcp,udp,icmp,icmpv6" doc:"The flow's protocol." example:"tcp"`
	SourceIP        string `json:"source_ip" maxLength:"64" doc:"IPv4 or IPv6 source address." example:"10.1.2.3"`
	DestinationIP   string `json:"destination_ip" maxLength:"64" doc:"IPv4 or IPv6 destination address." example:"192.0.2.10"`
	SourcePort      *int   `json:"source_port,omitempty" minimum:"1" maximum:"65535" doc:"Required for tcp and udp, refused otherwise." example:"51514"`
	DestinationPort *int   `json:"destination_port,omitempty" minimum:"1" maximum:"65535" doc:"Required for tcp and udp, refused otherwise." example:"443"`
}

// EvaluateInput is one flow or a batch of flows.
type EvaluateInput struct {
	Flow    *Flow  `json:"flow,omitempty" doc:"One flow to decide. Give either flow or flows."`
	Flows   []Flow `json:"flows,omitempty" maxItems:"10000" doc:"Up to 10,000 flows to decide in one request. Give either flow or flows."`
	Explain bool   `json:"explain,omitempty" doc:"Also return, for each flow, the policies visited and why each was skipped, fell through or decided."`
}

// Decision is what the firewall does with one flow.
type Decision struct {
	Action    string `json:"action" enum:"allow,deny,reject" doc:"What happens to the flow." example:"allow"`
	DecidedBy string `json:"decided_by" enum:"rule,policy_default,firewall_default" doc:"What decided: a rule, a policy's default action or the firewall's default action." example:"rule"`
	PolicyID  string `json:"policy_id,omitempty" doc:"The policy that decided, unless the firewall default did."`
	RuleID    string `json:"rule_id,omitempty" doc:"The rule that decided, when a rule did."`
	Path      []Step `json:"path,omitempty" doc:"With explain: each policy visited, in order."`
}

// Step is one policy visited while deciding a flow.
type Step struct {
	PolicyID         string   `json:"policy_id" doc:"The policy visited."`
	PolicyName       string   `json:"policy_name" doc:"Its name."`
	Outcome          string   `json:"outcome" enum:"skipped_disabled,rule_matched,policy_default,fell_through" doc:"Skipped because disabled, decided by a rule, decided by the policy's default, or fell through to the next policy."`
	RuleID           string   `json:"rule_id,omitempty" doc:"The rule that matched, when one did."`
	ExpiredRules     []string `json:"expired_rules,omitempty" doc:"Rules that would have matched but have expired."`
	SourceGroup      string   `json:"source_group,omitempty" doc:"The first source group of the matching rule that holds the flow's source, by name."`
	DestinationGroup string   `json:"destination_group,omitempty" doc:"The first destination group of the matching rule that holds the flow's destination."`
	ServiceGroup     string   `json:"service_group,omitempty" doc:"The first service group of the matching rule with a service that matches the flow."`
}

// EvaluateOutput holds the decisions, in the order of the flows.
type EvaluateOutput struct {
	Revision  int64      `json:"revision" doc:"The firewall revision the decisions were made on." example:"7"`
	Decision  *Decision  `json:"decision,omitempty" doc:"The decision, when one flow was given."`
	Decisions []Decision `json:"decisions" doc:"One decision per flow, in the order of the flows."`
}

func (a *api) evaluate() endpoint {
	registry := a.humaAPI.OpenAPI().Components.Schemas
	inSchema := registry.Schema(reflect.TypeFor[EvaluateInput](), true, "EvaluateInput")
	outSchema := registry.Schema(reflect.TypeFor[EvaluateOutput](), true, "EvaluateOutput")
	return handle(huma.Operation{
		OperationID: "evaluate-flows", Tags: []string{"Evaluation"},
		Summary: "Decide flows",
		Description: "Says what the firewall does with each flow, and which policy and rule decide it: enabled policies in priority order, " +
			"then enabled, unexpired rules in position order; the first matching rule decides; a policy's default decides unless it is next; " +
			"else the firewall's default. Takes one flow or up to 10,000, in a body of up to 4 MiB.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			FirewallParams
			ContentType string `header:"Content-Type" doc:"application/json"`
			RawBody     []byte `contentType:"application/json"`
		}) (*struct {
			ContentType string `header:"Content-Type"`
			Body        []byte
		}, error) {
			if !isJSON(in.ContentType) {
				return nil, newProblem(ctx, http.StatusUnsupportedMediaType, "the request body must be JSON: send Content-Type: application/json")
			}
			input, err := a.decodeEvaluateInput(ctx, inSchema, in.RawBody)
			if err != nil {
				return nil, err
			}
			flows, err := input.flows()
			if err != nil {
				return nil, err
			}
			started := time.Now()
			decisions, err := a.svc.Evaluate(ctx, in.FirewallID, flows, input.Explain)
			if err != nil {
				return nil, err
			}
			a.opts.Observer.Evaluated(len(decisions), time.Since(started))
			body, err := encodeDecisions(decisions, input.Flow != nil)
			if err != nil {
				return nil, err
			}
			return &struct {
				ContentType string `header:"Content-Type"`
				Body        []byte
			}{ContentType: "application/json", Body: body}, nil
		}).with(func(op *huma.Operation) {
		op.MaxBodyBytes = bodyLimit(evaluateMaxBodySize)
		ownsBody(op)
		// The handler validates the body itself (decodeEvaluateInput), with a
		// fast path for large batches.
		op.SkipValidateBody = true
	}, func(doc *huma.Operation) {
		// The handler reads and writes raw JSON for speed; the document
		// shows the real shapes.
		doc.RequestBody.Content = map[string]*huma.MediaType{"application/json": {Schema: inSchema}}
		doc.Responses["200"].Content = map[string]*huma.MediaType{"application/json": {Schema: outSchema}}
	})
}

// decodeEvaluateInput takes the fast path when the body has the plain shape,
// and otherwise checks it with checkJSONBody and validates it against the
// schema as checkRequestBody and huma do for every other operation, so
// that a bad body gets the same detailed answer. The fast path accepts
// only bodies the check accepts (FuzzEvaluateFastPath holds it to that).
func (a *api) decodeEvaluateInput(ctx context.Context, schema *huma.Schema, body []byte) (EvaluateInput, error) {
	if in, ok := fastEvaluateInput(body); ok {
		return in, nil
	}
	registry := a.humaAPI.OpenAPI().Components.Schemas
	body, problems := checkJSONBody(registry, schema, body)
	if problems != nil {
		return EvaluateInput{}, newProblem(ctx, http.StatusBadRequest, "the request is not valid", problems...)
	}
	var parsed any
	if err := json.Unmarshal(body, &parsed); err != nil {
		return EvaluateInput{}, newProblem(ctx, http.StatusBadRequest, "the request is not valid",
			ProblemDetail{Location: "body", Message: err.Error()})
	}
	res := &huma.ValidateResult{}
	huma.Validate(registry, registry.SchemaFromRef(schema.Ref), huma.NewPathBuffer([]byte("body"), 4), huma.ModeWriteToServer, parsed, res)
	if len(res.Errors) > 0 {
		return EvaluateInput{}, humaProblem(ctx, http.StatusBadRequest, "the request is not valid", res.Errors)
	}
	var in EvaluateInput
	if err := json.Unmarshal(body, &in); err != nil {
		return EvaluateInput{}, newProblem(ctx, http.StatusBadRequest, "the request is not valid",
			ProblemDetail{Location: "body", Message: err.Error()})
	}
	return in, nil
}

// encodeDecisions writes the answer, by hand when every value is plain and
// there is no explain path, else with encoding/json.
func encodeDecisions(ds []firewall.Decision, single bool) ([]byte, error) {
	out := make([]Decision, len(ds))
	plain := true
	for i, d := range ds {
		out[i] = decisionOut(d)
		plain = plain && d.Path == nil && isPlainToken(d.PolicyID) && isPlainToken(d.RuleID)
	}
	var revision int64
	if len(ds) > 0 {
		revision = ds[0].Revision
	}
	if plain {
		return appendDecisions(make([]byte, 0, 64+len(ds)*128), revision, out, single), nil
	}
	body := EvaluateOutput{Revision: revision, Decisions: out}
	if single && len(out) == 1 {
		body.Decision = &out[0]
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode decisions: %w", err)
	}
	return b, nil
}

// flows checks the input and converts it, reporting each bad field by its
// index in the batch.
func (in EvaluateInput) flows() ([]firewall.Flow, error) {
	var ps firewall.Problems
	raw, prefix := in.Flows, "flows"
	switch {
	case in.Flow != nil && in.Flows != nil:
		ps.Add("", nil, "give either flow or flows, not both")
	case in.Flow != nil:
		raw, prefix = []Flow{*in.Flow}, "flow"
	case len(in.Flows) == 0:
		ps.Add("flows", nil, "give one flow in flow, or 1 to %d in flows", maxFlows)
	}
	out := make([]firewall.Flow, len(raw))
	for i, f := range raw {
		out[i] = f.engineFlow(flowLoc{prefix: prefix, index: i}, &ps)
		if len(ps) >= maxFlowProblems {
			ps.Add("", nil, "stopped after %d problems", maxFlowProblems)
			break
		}
	}
	return out, ps.Err("the flows are not valid")
}

// flowLoc names a flow in problems. The name is built only when there is
// a problem to report, so a valid batch of 10,000 flows formats none.
type flowLoc struct {
	prefix string // "flow" or "flows"
	index  int
}

func (l flowLoc) field(name string) string {
	if l.prefix == "flow" {
		return "flow." + name
	}
	return fmt.Sprintf("%s[%d].%s", l.prefix, l.index, name)
}

func (f Flow) engineFlow(loc flowLoc, ps *firewall.Problems) firewall.Flow {
	out := firewall.Flow{Protocol: firewall.Protocol(f.Protocol)}
	out.Source = parseFlowAddr(loc, "source_ip", f.SourceIP, ps)
	out.Destination = parseFlowAddr(loc, "destination_ip", f.DestinationIP, ps)
	if out.Source.IsValid() && out.Destination.IsValid() && out.Source.Is4() != out.Destination.Is4() {
		ps.Add(loc.field("destination_ip"), f.DestinationIP, "the source and destination must be of the same address family")
	}
	if out.Source.IsValid() {
		if msg := firewall.ProtocolFamilyProblem(out.Protocol, out.Source); msg != "" {
			ps.Add(loc.field("protocol"), f.Protocol, "%s", msg)
		}
	}
	hasPorts := out.Protocol.HasPorts()
	out.SourcePort = flowPort(loc, "source_port", f.SourcePort, hasPorts, f.Protocol, ps)
	out.DestinationPort = flowPort(loc, "destination_port", f.DestinationPort, hasPorts, f.Protocol, ps)
	return out
}

// flowPort checks a flow's port against its protocol and returns it, or 0
// after adding a problem.
func flowPort(loc flowLoc, field string, port *int, hasPorts bool, protocol string, ps *firewall.Problems) uint16 {
	switch {
	case hasPorts && port == nil:
		ps.Add(loc.field(field), nil, "%s is required for protocol %s", field, protocol)
	case !hasPorts && port != nil:
		ps.Add(loc.field(field), *port, "%s is only allowed with protocol tcp or udp", field)
	case port != nil && (*port < 1 || *port > 65535):
		ps.Add(loc.field(field), *port, "ports are 1 to 65535")
	case port != nil:
		return uint16(*port)
	}
	return 0
}

func parseFlowAddr(loc flowLoc, field, s string, ps *firewall.Problems) netip.Addr {
	addr, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		ps.Add(loc.field(field), s, "%q is not an IPv4 or IPv6 address", s)
	case addr.Zone() != "":
		ps.Add(loc.field(field), s, "%q has a zone; zones are not allowed", s)
	default:
		return addr
	}
	return netip.Addr{}
}

func decisionOut(d firewall.Decision) Decision {
	out := Decision{Action: string(d.Action), DecidedBy: string(d.DecidedBy), PolicyID: d.PolicyID, RuleID: d.RuleID}
	for _, st := range d.Path {
		out.Path = append(out.Path, Step{PolicyID: st.PolicyID, PolicyName: st.PolicyName, Outcome: string(st.Outcome),
			RuleID: st.RuleID, ExpiredRules: st.ExpiredRules,
			SourceGroup: st.SourceGroup, DestinationGroup: st.DestinationGroup, ServiceGroup: st.ServiceGroup})
	}
	return out
}
