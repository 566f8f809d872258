package httpapi

import (
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
)

// The request and response bodies. They carry the OpenAPI documentation;
// the domain types stay free of transport concerns.

// Resource holds the fields every resource has.
type Resource struct {
	ID        string    `json:"id" doc:"The resource's id, a UUIDv7. Opaque to clients." example:"01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f"`
	ETag      string    `json:"etag" doc:"Changes on every write of the resource. Send it back in If-Match to make a write conditional." example:"5d41402abc4b2a76"`
	CreatedAt time.Time `json:"created_at" doc:"When the resource was created (RFC 3339, UTC)."`
	UpdatedAt time.Time `json:"updated_at" doc:"When the resource was last written (RFC 3339, UTC)."`
}

func resourceOf(m firewall.Meta) Resource {
	return Resource{ID: m.ID, ETag: m.ETag, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

// Firewall is a firewall as the API shows it.
type Firewall struct {
	Resource
	Name          string            `json:"name" doc:"Unique name, compared case-insensitively." example:"edge-par1"`
	Description   string            `json:"description" doc:"Free text." example:"Edge firewall of the Paris site"`
	Labels        map[string]string `json:"labels" doc:"Labels with Kubernetes key and value rules." example:"{\"env\":\"prod\",\"site\":\"par1\"}"`
	DefaultAction string            `json:"default_action" enum:"allow,deny" doc:"What happens to a flow that no policy decides." example:"deny"`
	Revision      int64             `json:"revision" doc:"Rises on any change anywhere in the firewall's tree." example:"7"`
}

// FirewallInput is the writable part of a firewall.
type FirewallInput struct {
	Name          string            `json:"name" minLength:"1" maxLength:"255" doc:"Unique name, 1-255 characters, no leading or trailing blanks; compared case-insensitively." example:"edge-par1"`
	Description   string            `json:"description,omitempty" maxLength:"1024" doc:"Free text, up to 1024 characters." example:"Edge firewall of the Paris site"`
	Labels        map[string]string `json:"labels,omitempty" maxProperties:"64" doc:"Up to 64 labels. Keys follow Kubernetes label-key rules (optional DNS prefix and '/', then a name of at most 63 characters); values are at most 63 characters of letters, digits, '-', '_' and '.'." example:"{\"env\":\"prod\"}"`
	DefaultAction string            `json:"default_action,omitempty" enum:"allow,deny" default:"deny" doc:"What happens to a flow that no policy decides."`
}

// FirewallPatch is a JSON merge patch of a firewall: fields left out stay
// as they are; null resets a field to its default; a null label deletes it.
type FirewallPatch struct {
	Name          firewall.Optional[string]             `json:"name,omitempty,omitzero" minLength:"1" maxLength:"255" doc:"New name." example:"edge-par2"`
	Description   firewall.Optional[string]             `json:"description,omitempty,omitzero" maxLength:"1024" nullable:"true" doc:"New description; null clears it."`
	Labels        firewall.Optional[map[string]*string] `json:"labels,omitempty" nullable:"true" doc:"Labels to add or change; a label set to null is removed; labels: null removes them all." example:"{\"env\":\"staging\",\"old\":null}"`
	DefaultAction firewall.Optional[firewall.Action]    `json:"default_action,omitempty,omitzero" enum:"allow,deny" nullable:"true" doc:"New default action; null resets it to deny."`
}

func (p FirewallPatch) domain() firewall.FirewallPatch {
	return firewall.FirewallPatch{Name: p.Name, Description: p.Description, Labels: p.Labels, DefaultAction: p.DefaultAction}
}

func firewallOut(f firewall.Firewall) Firewall {
	labels := f.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return Firewall{Resource: resourceOf(f.Meta), Name: f.Name, Description: f.Description,
		Labels: labels, DefaultAction: string(f.DefaultAction), Revision: f.Revision}
}

// domain converts the input to a firewall, applying defaults. The service
// validates it.
func (in FirewallInput) domain() firewall.Firewall {
	f := firewall.NewFirewall()
	f.Name, f.Description = in.Name, in.Description
	if in.Labels != nil {
		f.Labels = in.Labels
	}
	if in.DefaultAction != "" {
		f.DefaultAction = firewall.Action(in.DefaultAction)
	}
	return f
}

// Policy is a filtering policy as the API shows it.
type Policy struct {
	Resource
	FirewallID    string `json:"firewall_id" doc:"The firewall the policy belongs to."`
	Name          string `json:"name" doc:"Unique within the firewall, compared case-insensitively." example:"baseline"`
	Description   string `json:"description" doc:"Free text."`
	Priority      int    `json:"priority" doc:"0-65535, unique within the firewall. Lower numbers are evaluated first." example:"100"`
	DefaultAction string `json:"default_action" enum:"allow,deny,next" doc:"What happens when no rule of the policy matches; next moves on to the next policy." example:"next"`
	Enabled       bool   `json:"enabled" doc:"A disabled policy is skipped." example:"true"`
}

// PolicyInput is the writable part of a filtering policy.
type PolicyInput struct {
	Name          string `json:"name" minLength:"1" maxLength:"255" doc:"Unique within the firewall, 1-255 characters, no leading or trailing blanks." example:"baseline"`
	Description   string `json:"description,omitempty" maxLength:"1024" doc:"Free text, up to 1024 characters."`
	Priority      int    `json:"priority" minimum:"0" maximum:"65535" doc:"0-65535, unique within the firewall. Lower numbers are evaluated first." example:"100"`
	DefaultAction string `json:"default_action,omitempty" enum:"allow,deny,next" default:"next" doc:"What happens when no rule matches; next moves on to the next policy."`
	Enabled       *bool  `json:"enabled,omitempty" default:"true" doc:"A disabled policy is skipped."`
}

// PolicyPatch is a JSON merge patch of a filtering policy.
type PolicyPatch struct {
	Name          firewall.Optional[string]          `json:"name,omitempty,omitzero" minLength:"1" maxLength:"255" doc:"New name."`
	Description   firewall.Optional[string]          `json:"description,omitempty,omitzero" maxLength:"1024" nullable:"true" doc:"New description; null clears it."`
	Priority      firewall.Optional[int]             `json:"priority,omitempty,omitzero" minimum:"0" maximum:"65535" doc:"New priority."`
	DefaultAction firewall.Optional[firewall.Action] `json:"default_action,omitempty,omitzero" enum:"allow,deny,next" nullable:"true" doc:"New default action; null resets it to next."`
	Enabled       firewall.Optional[bool]            `json:"enabled,omitempty,omitzero" nullable:"true" doc:"Enable or disable the policy; null resets it to true."`
}

func (p PolicyPatch) domain() firewall.PolicyPatch {
	return firewall.PolicyPatch{Name: p.Name, Description: p.Description, Priority: p.Priority,
		DefaultAction: p.DefaultAction, Enabled: p.Enabled}
}

func policyOut(p firewall.Policy) Policy {
	return Policy{Resource: resourceOf(p.Meta), FirewallID: p.FirewallID, Name: p.Name, Description: p.Description,
		Priority: p.Priority, DefaultAction: string(p.DefaultAction), Enabled: p.Enabled}
}

// domain converts the input to a policy, applying defaults. The service
// validates it.
func (in PolicyInput) domain() firewall.Policy {
	p := firewall.NewPolicy()
	p.Name, p.Description, p.Priority = in.Name, in.Description, in.Priority
	if in.DefaultAction != "" {
		p.DefaultAction = firewall.Action(in.DefaultAction)
	}
	if in.Enabled != nil {
		p.Enabled = *in.Enabled
	}
	return p
}

// Rule is a rule as the API shows it.
type Rule struct {
	Resource
	FirewallID       string   `json:"firewall_id" doc:"The firewall the rule belongs to."`
	PolicyID         string   `json:"policy_id" doc:"The filtering policy the rule belongs to."`
	Name             string   `json:"name" doc:"Optional name, unique within the policy when set; empty when unnamed." example:"allow-https"`
	Description      string   `json:"description" doc:"Free text."`
	Position         int      `json:"position" doc:"1-based place in the policy; rules are evaluated in position order." example:"1"`
	Action           string   `json:"action" enum:"allow,deny,reject" doc:"What happens to a matching flow." example:"allow"`
	Protocol         string   `json:"protocol" enum:"any,tcp,udp,icmp,icmpv6" doc:"The protocol the rule matches." example:"tcp"`
	Sources          []string `json:"sources" doc:"Source CIDRs; empty means any." example:"[\"10.0.0.0/8\"]"`
	Destinations     []string `json:"destinations" doc:"Destination CIDRs; empty means any." example:"[\"192.0.2.10/32\"]"`
	SourcePorts      []string `json:"source_ports" doc:"Source ports and ranges; empty means any." example:"[]"`
	DestinationPorts []string `json:"destination_ports" doc:"Destination ports and ranges; empty means any." example:"[\"443\"]"`
	// The group lists sit beside the literal fields (see docs/groups.md).
	SourceGroups      []GroupRef `json:"source_groups" doc:"Address groups whose members join sources; the source set is their union, and an empty union means any."`
	DestinationGroups []GroupRef `json:"destination_groups" doc:"Address groups whose members join destinations."`
	ServiceGroups     []GroupRef `json:"service_groups" doc:"Service groups: the rule matches a flow when one of their services matches its protocol and destination port."`
	Enabled           bool       `json:"enabled" doc:"A disabled rule never matches." example:"true"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty" doc:"After this time the rule no longer matches."`
}

// RuleInput is the writable part of a rule.
type RuleInput struct {
	Name              string     `json:"name,omitempty" maxLength:"255" doc:"Optional name, unique within the policy; no leading or trailing blanks." example:"allow-https"`
	Description       string     `json:"description,omitempty" maxLength:"1024" doc:"Free text, up to 1024 characters."`
	Position          int        `json:"position,omitempty" minimum:"1" doc:"Where to insert the rule, 1 to n+1; the rules from there on shift down. Defaults to the end." example:"1"`
	Action            string     `json:"action" enum:"allow,deny,reject" doc:"What happens to a matching flow." example:"allow"`
	Protocol          string     `json:"protocol,omitempty" enum:"any,tcp,udp,icmp,icmpv6" default:"any" doc:"The protocol the rule matches." example:"tcp"`
	Sources           []string   `json:"sources,omitempty" maxItems:"256" doc:"Up to 256 IPv4 or IPv6 CIDRs; a host address is stored as /32 or /128; host bits must be zero. Empty means any." example:"[\"10.0.0.0/8\",\"2001:db8::/32\"]"`
	Destinations      []string   `json:"destinations,omitempty" maxItems:"256" doc:"Up to 256 destination CIDRs, as for sources. Empty means any." example:"[\"192.0.2.10\"]"`
	SourcePorts       []string   `json:"source_ports,omitempty" maxItems:"256" doc:"Up to 256 ports (\"443\") or ranges (\"1024-65535\"), 1-65535; only with tcp or udp. Empty means any." example:"[\"1024-65535\"]"`
	DestinationPorts  []string   `json:"destination_ports,omitempty" maxItems:"256" doc:"Up to 256 destination ports or ranges, as for source_ports." example:"[\"443\",\"8443-8444\"]"`
	SourceGroups      []string   `json:"source_groups,omitempty" maxItems:"64" doc:"Up to 64 address groups, each given by id or by name (an id is tried first); their members join sources." example:"[]"`
	DestinationGroups []string   `json:"destination_groups,omitempty" maxItems:"64" doc:"Up to 64 address groups by id or name; their members join destinations." example:"[]"`
	ServiceGroups     []string   `json:"service_groups,omitempty" maxItems:"64" doc:"Up to 64 service groups by id or name. A rule with service groups leaves protocol any and the port lists empty: the groups are its whole service set." example:"[]"`
	Enabled           *bool      `json:"enabled,omitempty" default:"true" doc:"A disabled rule never matches."`
	ExpiresAt         *time.Time `json:"expires_at,omitempty" doc:"Optional RFC 3339 time after which the rule no longer matches." example:"2027-01-01T00:00:00Z"`
}

// RulePatch is a JSON merge patch of a rule. Its position changes only
// through the move action.
type RulePatch struct {
	Name              firewall.Optional[string]            `json:"name,omitempty,omitzero" maxLength:"255" nullable:"true" doc:"New name; null or \"\" removes it."`
	Description       firewall.Optional[string]            `json:"description,omitempty,omitzero" maxLength:"1024" nullable:"true" doc:"New description; null clears it."`
	Action            firewall.Optional[firewall.Action]   `json:"action,omitempty,omitzero" enum:"allow,deny,reject" doc:"New action."`
	Protocol          firewall.Optional[firewall.Protocol] `json:"protocol,omitempty,omitzero" enum:"any,tcp,udp,icmp,icmpv6" nullable:"true" doc:"New protocol; null resets it to any."`
	Sources           firewall.Optional[[]string]          `json:"sources,omitempty" maxItems:"256" doc:"New source CIDRs, replacing the old list; null or [] means any."`
	Destinations      firewall.Optional[[]string]          `json:"destinations,omitempty" maxItems:"256" doc:"New destination CIDRs, replacing the old list; null or [] means any."`
	SourcePorts       firewall.Optional[[]string]          `json:"source_ports,omitempty" maxItems:"256" doc:"New source ports, replacing the old list; null or [] means any."`
	DestinationPorts  firewall.Optional[[]string]          `json:"destination_ports,omitempty" maxItems:"256" doc:"New destination ports, replacing the old list; null or [] means any."`
	SourceGroups      firewall.Optional[[]string]          `json:"source_groups,omitempty" maxItems:"64" doc:"New source groups by id or name, replacing the old list; null or [] removes them."`
	DestinationGroups firewall.Optional[[]string]          `json:"destination_groups,omitempty" maxItems:"64" doc:"New destination groups by id or name, replacing the old list."`
	ServiceGroups     firewall.Optional[[]string]          `json:"service_groups,omitempty" maxItems:"64" doc:"New service groups by id or name, replacing the old list."`
	Enabled           firewall.Optional[bool]              `json:"enabled,omitempty,omitzero" nullable:"true" doc:"Enable or disable the rule; null resets it to true."`
	ExpiresAt         firewall.Optional[time.Time]         `json:"expires_at,omitempty,omitzero" nullable:"true" doc:"New expiry; null removes it."`
}

func (p RulePatch) domain() firewall.RulePatch {
	return firewall.RulePatch{Name: p.Name, Description: p.Description, Action: p.Action, Protocol: p.Protocol,
		Sources: p.Sources, Destinations: p.Destinations, SourcePorts: p.SourcePorts, DestinationPorts: p.DestinationPorts,
		SourceGroups: p.SourceGroups, DestinationGroups: p.DestinationGroups, ServiceGroups: p.ServiceGroups,
		Enabled: p.Enabled, ExpiresAt: p.ExpiresAt}
}

func ruleOut(r firewall.Rule) Rule {
	return Rule{Resource: resourceOf(r.Meta), FirewallID: r.FirewallID, PolicyID: r.PolicyID, Name: r.Name,
		Description: r.Description, Position: r.Position, Action: string(r.Action), Protocol: string(r.Protocol),
		Sources: texts(r.Sources), Destinations: texts(r.Destinations),
		SourcePorts: texts(r.SourcePorts), DestinationPorts: texts(r.DestinationPorts),
		SourceGroups: refsOut(r.SourceGroups), DestinationGroups: refsOut(r.DestinationGroups), ServiceGroups: refsOut(r.ServiceGroups),
		Enabled: r.Enabled, ExpiresAt: r.ExpiresAt}
}

// domain converts the input to a rule, reporting parse and model problems
// together: a client should learn of a bad CIDR and of ports with icmp in
// one answer, and only here are both known. The service checks the model
// again, for every caller.
func (in RuleInput) domain() (firewall.Rule, error) {
	r := firewall.NewRule()
	var ps firewall.Problems
	r.Name, r.Description, r.Position, r.Action = in.Name, in.Description, in.Position, firewall.Action(in.Action)
	if in.Protocol != "" {
		r.Protocol = firewall.Protocol(in.Protocol)
	}
	r.Sources = firewall.ParsePrefixes("sources", in.Sources, &ps)
	r.Destinations = firewall.ParsePrefixes("destinations", in.Destinations, &ps)
	r.SourcePorts = firewall.ParsePortRanges("source_ports", in.SourcePorts, &ps)
	r.DestinationPorts = firewall.ParsePortRanges("destination_ports", in.DestinationPorts, &ps)
	r.SourceGroups = firewall.ParseGroupRefs("source_groups", in.SourceGroups, &ps)
	r.DestinationGroups = firewall.ParseGroupRefs("destination_groups", in.DestinationGroups, &ps)
	r.ServiceGroups = firewall.ParseGroupRefs("service_groups", in.ServiceGroups, &ps)
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		r.ExpiresAt = &t
	}
	r.Check(&ps)
	return r, ps.Err("the rule is not valid")
}

func texts[T interface{ String() string }](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = v.String()
	}
	return out
}

// documentPatchFields makes huma document each firewall.Optional field as
// the plain type it carries: the patch types' tags then give the same
// schema as a pointer field would, and null stays allowed only where a
// field says nullable.
func documentPatchFields(r huma.Registry) {
	alias := func(optional, plain reflect.Type) { r.RegisterTypeAlias(optional, plain) }
	alias(reflect.TypeFor[firewall.Optional[string]](), reflect.TypeFor[string]())
	alias(reflect.TypeFor[firewall.Optional[int]](), reflect.TypeFor[int]())
	alias(reflect.TypeFor[firewall.Optional[bool]](), reflect.TypeFor[bool]())
	alias(reflect.TypeFor[firewall.Optional[firewall.Action]](), reflect.TypeFor[string]())
	alias(reflect.TypeFor[firewall.Optional[firewall.Protocol]](), reflect.TypeFor[string]())
	alias(reflect.TypeFor[firewall.Optional[time.Time]](), reflect.TypeFor[time.Time]())
	alias(reflect.TypeFor[firewall.Optional[[]string]](), reflect.TypeFor[[]string]())
	alias(reflect.TypeFor[firewall.Optional[map[string]*string]](), reflect.TypeFor[map[string]*string]())
	alias(reflect.TypeFor[firewall.Optional[[]firewall.ServiceSpec]](), reflect.TypeFor[[]ServiceSpec]())
}
