package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

var groupTags = []string{"Groups"}

// GroupRef is a reference to a group as answers carry it: both its id and
// its name.
type GroupRef struct {
	ID   string `json:"id" doc:"The group's id."`
	Name string `json:"name" doc:"The group's name." example:"web-servers"`
}

func refsOut(refs []firewall.GroupRef) []GroupRef {
	out := make([]GroupRef, len(refs))
	for i, r := range refs {
		out[i] = GroupRef{ID: r.ID, Name: r.Name}
	}
	return out
}

// GroupParams names a group in the path.
type GroupParams struct {
	GroupID string `path:"group_id" maxLength:"64" doc:"The group's id." example:"01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f"`
}

// AddressGroup is an address group as the API shows it.
type AddressGroup struct {
	Resource
	Name        string            `json:"name" doc:"Unique name among address groups, compared case-insensitively." example:"web-servers"`
	Description string            `json:"description" doc:"Free text."`
	Labels      map[string]string `json:"labels" doc:"Labels with Kubernetes key and value rules."`
	Addresses   []string          `json:"addresses" doc:"The group's own members: IPv4 and IPv6 CIDRs." example:"[\"192.0.2.10/32\",\"2001:db8::/64\"]"`
	Groups      []GroupRef        `json:"groups" doc:"Nested address groups, whose members are members of this one too."`
}

// AddressGroupInput is the writable part of an address group.
type AddressGroupInput struct {
	Name        string            `json:"name" minLength:"1" maxLength:"255" doc:"Unique name, 1-255 characters, no leading or trailing blanks; compared case-insensitively." example:"web-servers"`
	Description string            `json:"description,omitempty" maxLength:"1024" doc:"Free text, up to 1024 characters."`
	Labels      map[string]string `json:"labels,omitempty" maxProperties:"64" doc:"Up to 64 labels, as for firewalls."`
	Addresses   []string          `json:"addresses,omitempty" maxItems:"1024" doc:"Up to 1024 IPv4 or IPv6 CIDRs or host addresses; host bits must be zero." example:"[\"192.0.2.10\",\"2001:db8::/64\"]"`
	Groups      []string          `json:"groups,omitempty" maxItems:"64" doc:"Up to 64 nested address groups, each by id or name. Cycles are refused; nesting is at most 8 levels deep and at most 16384 members expanded." example:"[\"dmz\"]"`
}

// AddressGroupPatch is a JSON merge patch of an address group; lists are
// replaced whole.
type AddressGroupPatch struct {
	Name        firewall.Optional[string]             `json:"name,omitempty" minLength:"1" maxLength:"255" doc:"New name."`
	Description firewall.Optional[string]             `json:"description,omitempty" maxLength:"1024" nullable:"true" doc:"New description; null clears it."`
	Labels      firewall.Optional[map[string]*string] `json:"labels,omitempty" nullable:"true" doc:"Labels to add or change; a label set to null is removed."`
	Addresses   firewall.Optional[[]string]           `json:"addresses,omitempty" maxItems:"1024" doc:"New members, replacing the old list."`
	Groups      firewall.Optional[[]string]           `json:"groups,omitempty" maxItems:"64" doc:"New nested groups by id or name, replacing the old list."`
}

func (in AddressGroupInput) domain() (firewall.AddressGroup, error) {
	var ps firewall.Problems
	g := firewall.AddressGroup{Name: in.Name, Description: in.Description, Labels: in.Labels}
	if g.Labels == nil {
		g.Labels = map[string]string{}
	}
	g.Addresses = firewall.ParseGroupAddresses("addresses", in.Addresses, &ps)
	g.Groups = firewall.ParseGroupRefs("groups", in.Groups, &ps)
	if err := ps.Err("the address group is not valid"); err != nil {
		return g, err
	}
	return g, g.Validate()
}

func (p AddressGroupPatch) domain() firewall.AddressGroupPatch {
	return firewall.AddressGroupPatch{Name: p.Name, Description: p.Description, Labels: p.Labels, Addresses: p.Addresses, Groups: p.Groups}
}

func addressGroupOut(g firewall.AddressGroup) AddressGroup {
	labels := g.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return AddressGroup{Resource: resourceOf(g.Meta), Name: g.Name, Description: g.Description, Labels: labels,
		Addresses: texts(g.Addresses), Groups: refsOut(g.Groups)}
}

// ServiceSpec is one service of a service group.
type ServiceSpec struct {
	Protocol string   `json:"protocol" enum:"any,tcp,udp,icmp,icmpv6" doc:"The protocol." example:"tcp"`
	Ports    []string `json:"ports,omitempty" maxItems:"256" doc:"Destination ports (\"443\") or ranges (\"8000-8080\"), only with tcp or udp; empty means every port." example:"[\"443\"]"`
}

// ServiceGroup is a service group as the API shows it.
type ServiceGroup struct {
	Resource
	Name        string            `json:"name" doc:"Unique name among service groups, compared case-insensitively." example:"https"`
	Description string            `json:"description" doc:"Free text."`
	Labels      map[string]string `json:"labels" doc:"Labels with Kubernetes key and value rules."`
	Services    []ServiceSpec     `json:"services" doc:"The group's own services."`
	Groups      []GroupRef        `json:"groups" doc:"Nested service groups."`
}

// ServiceGroupInput is the writable part of a service group.
type ServiceGroupInput struct {
	Name        string            `json:"name" minLength:"1" maxLength:"255" doc:"Unique name, compared case-insensitively." example:"https"`
	Description string            `json:"description,omitempty" maxLength:"1024" doc:"Free text."`
	Labels      map[string]string `json:"labels,omitempty" maxProperties:"64" doc:"Up to 64 labels."`
	Services    []ServiceSpec     `json:"services,omitempty" maxItems:"1024" doc:"Up to 1024 services." example:"[{\"protocol\":\"tcp\",\"ports\":[\"443\"]}]"`
	Groups      []string          `json:"groups,omitempty" maxItems:"64" doc:"Up to 64 nested service groups, each by id or name; the same limits as address groups."`
}

// ServiceGroupPatch is a JSON merge patch of a service group.
type ServiceGroupPatch struct {
	Name        firewall.Optional[string]                 `json:"name,omitempty" minLength:"1" maxLength:"255" doc:"New name."`
	Description firewall.Optional[string]                 `json:"description,omitempty" maxLength:"1024" nullable:"true" doc:"New description; null clears it."`
	Labels      firewall.Optional[map[string]*string]     `json:"labels,omitempty" nullable:"true" doc:"Labels to add or change; a label set to null is removed."`
	Services    firewall.Optional[[]firewall.ServiceSpec] `json:"services,omitempty" maxItems:"1024" doc:"New services, replacing the old list."`
	Groups      firewall.Optional[[]string]               `json:"groups,omitempty" maxItems:"64" doc:"New nested groups by id or name, replacing the old list."`
}

func specs(in []ServiceSpec) []firewall.ServiceSpec {
	out := make([]firewall.ServiceSpec, len(in))
	for i, s := range in {
		out[i] = firewall.ServiceSpec{Protocol: s.Protocol, Ports: s.Ports}
	}
	return out
}

func (in ServiceGroupInput) domain() (firewall.ServiceGroup, error) {
	var ps firewall.Problems
	g := firewall.ServiceGroup{Name: in.Name, Description: in.Description, Labels: in.Labels}
	if g.Labels == nil {
		g.Labels = map[string]string{}
	}
	g.Services = firewall.ParseServices("services", specs(in.Services), &ps)
	g.Groups = firewall.ParseGroupRefs("groups", in.Groups, &ps)
	if err := ps.Err("the service group is not valid"); err != nil {
		return g, err
	}
	return g, g.Validate()
}

func (p ServiceGroupPatch) domain() firewall.ServiceGroupPatch {
	return firewall.ServiceGroupPatch{Name: p.Name, Description: p.Description, Labels: p.Labels, Services: p.Services, Groups: p.Groups}
}

func serviceGroupOut(g firewall.ServiceGroup) ServiceGroup {
	labels := g.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	svcs := make([]ServiceSpec, len(g.Services))
	for i, s := range g.Services {
		svcs[i] = ServiceSpec{Protocol: string(s.Protocol), Ports: texts(s.Ports)}
	}
	return ServiceGroup{Resource: resourceOf(g.Meta), Name: g.Name, Description: g.Description, Labels: labels,
		Services: svcs, Groups: refsOut(g.Groups)}
}

// GroupUsage lists what uses a group, directly or through nesting, one
// page of rules at a time.
type GroupUsage struct {
	Firewalls     []UsedFirewall `json:"firewalls" doc:"The firewalls of this page's rules."`
	Policies      []UsedPolicy   `json:"policies" doc:"The filtering policies of this page's rules."`
	Rules         []UsedRule     `json:"rules" doc:"One page of the rules that use the group, directly (via is the group itself) or through a group that nests it, ordered by firewall id, policy id, rule id, then field (source, destination, service) and place in it. A rule that refers in two fields, or through two groups, is listed once for each."`
	Groups        []GroupRef     `json:"groups" doc:"The groups that nest the group, directly or through others, by name: all of them on the first page (without page_token), none on later pages."`
	NextPageToken string         `json:"next_page_token" doc:"Pass it as page_token to get the next page of rules; empty on the last page."`
}

// UsageParams page the rules of a group's usage.
type UsageParams struct {
	PageSize  int    `query:"page_size" minimum:"1" maximum:"1000" default:"50" doc:"How many rules to return, 1 to 1000."`
	PageToken string `query:"page_token" maxLength:"2048" doc:"The next_page_token of the previous page; leave it out for the first page."`
}

// UsedFirewall is a firewall that uses a group.
type UsedFirewall struct {
	ID   string `json:"id" doc:"The firewall's id."`
	Name string `json:"name" doc:"The firewall's name."`
}

// UsedPolicy is a filtering policy that uses a group.
type UsedPolicy struct {
	ID         string `json:"id" doc:"The policy's id."`
	FirewallID string `json:"firewall_id" doc:"The firewall the policy belongs to."`
	Name       string `json:"name" doc:"The policy's name."`
}

// UsedRule is a rule that uses a group.
type UsedRule struct {
	ID         string   `json:"id" doc:"The rule's id."`
	FirewallID string   `json:"firewall_id" doc:"The firewall the rule belongs to."`
	PolicyID   string   `json:"policy_id" doc:"The policy the rule belongs to."`
	Name       string   `json:"name" doc:"The rule's name, empty when unnamed."`
	Field      string   `json:"field" enum:"source_groups,destination_groups,service_groups" doc:"The rule field that refers."`
	Via        GroupRef `json:"via" doc:"The group the rule names: the group itself, or one that nests it."`
}

func usageOut(u service.GroupUsagePage) GroupUsage {
	out := GroupUsage{Firewalls: []UsedFirewall{}, Policies: []UsedPolicy{}, Rules: []UsedRule{}, Groups: refsOut(u.Groups),
		NextPageToken: u.NextPageToken}
	seenFW, seenPol := map[string]bool{}, map[string]bool{}
	for _, r := range u.Rules {
		if !seenFW[r.FirewallID] {
			seenFW[r.FirewallID] = true
			out.Firewalls = append(out.Firewalls, UsedFirewall{ID: r.FirewallID, Name: r.FirewallName})
		}
		if !seenPol[r.PolicyID] {
			seenPol[r.PolicyID] = true
			out.Policies = append(out.Policies, UsedPolicy{ID: r.PolicyID, FirewallID: r.FirewallID, Name: r.PolicyName})
		}
		out.Rules = append(out.Rules, UsedRule{ID: r.RuleID, FirewallID: r.FirewallID, PolicyID: r.PolicyID, Name: r.RuleName,
			Field: r.Field, Via: GroupRef{ID: r.Via.ID, Name: r.Via.Name}})
	}
	return out
}

type addressGroupResponse struct {
	ETag     string `header:"ETag" doc:"The group's current etag."`
	Location string `header:"Location" doc:"The URL of the created group."`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this response replays an earlier request with the same Idempotency-Key."`
	Body     AddressGroup
}

type serviceGroupResponse struct {
	ETag     string `header:"ETag" doc:"The group's current etag."`
	Location string `header:"Location" doc:"The URL of the created group."`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this response replays an earlier request with the same Idempotency-Key."`
	Body     ServiceGroup
}

func (a *api) listAddressGroups() endpoint {
	return handle(huma.Operation{
		OperationID: "list-address-groups", Tags: groupTags,
		Summary:     "List address groups",
		Description: "Lists address groups, by default ordered by name, one page at a time; see docs/groups.md.",
	}, errs(http.StatusBadRequest), func(ctx context.Context, in *struct{ ListParams }) (*struct{ Body Page[AddressGroup] }, error) {
		page, err := a.svc.ListAddressGroups(ctx, in.query())
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[AddressGroup] }{Body: pageOf(page, addressGroupOut)}, nil
	}).with(nil, describeList(service.AddressGroupList))
}

func (a *api) createAddressGroup() endpoint {
	return handle(huma.Operation{
		OperationID: "create-address-group", Tags: groupTags,
		Summary: "Create an address group", DefaultStatus: http.StatusCreated,
		Description: "Creates an address group. Nested groups are given by id or name; a cycle, too deep a nesting or too many members answer 400 naming the problem.",
	}, errs(http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			IdempotencyHeader
			Body AddressGroupInput
		}) (*addressGroupResponse, error) {
			g, err := in.Body.domain()
			if err != nil {
				return nil, err
			}
			idem, err := in.idempotency(addressGroupsPath, in.Body)
			if err != nil {
				return nil, err
			}
			out, replayed, err := a.svc.CreateAddressGroup(ctx, g, idem)
			if err != nil {
				return nil, err
			}
			return &addressGroupResponse{ETag: quoteETag(out.ETag), Location: addressGroupsPath + "/" + out.ID,
				Replayed: replayHeader(replayed), Body: addressGroupOut(out)}, nil
		})
}

func (a *api) getAddressGroup() endpoint {
	return handle(huma.Operation{
		OperationID: "get-address-group", Tags: groupTags, Summary: "Get an address group",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *GroupParams) (*addressGroupResponse, error) {
		g, err := a.svc.GetAddressGroup(ctx, in.GroupID)
		if err != nil {
			return nil, err
		}
		return &addressGroupResponse{ETag: quoteETag(g.ETag), Body: addressGroupOut(g)}, nil
	})
}

func (a *api) updateAddressGroup() endpoint {
	return handle(huma.Operation{
		OperationID: "update-address-group", Tags: groupTags,
		Summary:     "Update an address group",
		Description: "Changes an address group with JSON merge-patch semantics. A change of its members, nesting or name raises the revision of every firewall that uses it, directly or through nesting.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			GroupParams
			IfMatchHeader
			Body AddressGroupPatch `contentType:"application/merge-patch+json"`
		}) (*addressGroupResponse, error) {
			g, err := a.svc.UpdateAddressGroup(ctx, in.GroupID, in.precondition(), in.Body.domain())
			if err != nil {
				return nil, err
			}
			return &addressGroupResponse{ETag: quoteETag(g.ETag), Body: addressGroupOut(g)}, nil
		})
}

func (a *api) deleteAddressGroup() endpoint {
	return handle(huma.Operation{
		OperationID: "delete-address-group", Tags: groupTags,
		Summary: "Delete an address group", DefaultStatus: http.StatusNoContent,
		Description: "Deletes an address group. A group that a rule or another group refers to answers 409 listing them.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed),
		func(ctx context.Context, in *struct {
			GroupParams
			IfMatchHeader
		}) (*struct{}, error) {
			return nil, a.svc.DeleteAddressGroup(ctx, in.GroupID, in.precondition())
		})
}

func (a *api) addressGroupUsage() endpoint {
	return handle(huma.Operation{
		OperationID: "get-address-group-usage", Tags: groupTags,
		Summary:     "List what uses an address group",
		Description: "Lists, one page at a time, the rules that use the group, directly and through nesting, with their firewalls and policies, and on the first page the groups that nest it.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *struct {
		GroupParams
		UsageParams
	}) (*struct{ Body GroupUsage }, error) {
		u, err := a.svc.AddressGroupUsage(ctx, in.GroupID, firewall.Query{PageSize: in.PageSize, PageToken: in.PageToken})
		if err != nil {
			return nil, err
		}
		return &struct{ Body GroupUsage }{Body: usageOut(u)}, nil
	})
}

func (a *api) listServiceGroups() endpoint {
	return handle(huma.Operation{
		OperationID: "list-service-groups", Tags: groupTags,
		Summary:     "List service groups",
		Description: "Lists service groups, by default ordered by name, one page at a time; see docs/groups.md.",
	}, errs(http.StatusBadRequest), func(ctx context.Context, in *struct{ ListParams }) (*struct{ Body Page[ServiceGroup] }, error) {
		page, err := a.svc.ListServiceGroups(ctx, in.query())
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[ServiceGroup] }{Body: pageOf(page, serviceGroupOut)}, nil
	}).with(nil, describeList(service.ServiceGroupList))
}

func (a *api) createServiceGroup() endpoint {
	return handle(huma.Operation{
		OperationID: "create-service-group", Tags: groupTags,
		Summary: "Create a service group", DefaultStatus: http.StatusCreated,
		Description: "Creates a service group. Nested groups are given by id or name, with the same checks as address groups.",
	}, errs(http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			IdempotencyHeader
			Body ServiceGroupInput
		}) (*serviceGroupResponse, error) {
			g, err := in.Body.domain()
			if err != nil {
				return nil, err
			}
			idem, err := in.idempotency(serviceGroupsPath, in.Body)
			if err != nil {
				return nil, err
			}
			out, replayed, err := a.svc.CreateServiceGroup(ctx, g, idem)
			if err != nil {
				return nil, err
			}
			return &serviceGroupResponse{ETag: quoteETag(out.ETag), Location: serviceGroupsPath + "/" + out.ID,
				Replayed: replayHeader(replayed), Body: serviceGroupOut(out)}, nil
		})
}

func (a *api) getServiceGroup() endpoint {
	return handle(huma.Operation{
		OperationID: "get-service-group", Tags: groupTags, Summary: "Get a service group",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *GroupParams) (*serviceGroupResponse, error) {
		g, err := a.svc.GetServiceGroup(ctx, in.GroupID)
		if err != nil {
			return nil, err
		}
		return &serviceGroupResponse{ETag: quoteETag(g.ETag), Body: serviceGroupOut(g)}, nil
	})
}

func (a *api) updateServiceGroup() endpoint {
	return handle(huma.Operation{
		OperationID: "update-service-group", Tags: groupTags,
		Summary:     "Update a service group",
		Description: "Changes a service group with JSON merge-patch semantics. A change of its services, nesting or name raises the revision of every firewall that uses it.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			GroupParams
			IfMatchHeader
			Body ServiceGroupPatch `contentType:"application/merge-patch+json"`
		}) (*serviceGroupResponse, error) {
			g, err := a.svc.UpdateServiceGroup(ctx, in.GroupID, in.precondition(), in.Body.domain())
			if err != nil {
				return nil, err
			}
			return &serviceGroupResponse{ETag: quoteETag(g.ETag), Body: serviceGroupOut(g)}, nil
		})
}

func (a *api) deleteServiceGroup() endpoint {
	return handle(huma.Operation{
		OperationID: "delete-service-group", Tags: groupTags,
		Summary: "Delete a service group", DefaultStatus: http.StatusNoContent,
		Description: "Deletes a service group. A group that a rule or another group refers to answers 409 listing them.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed),
		func(ctx context.Context, in *struct {
			GroupParams
			IfMatchHeader
		}) (*struct{}, error) {
			return nil, a.svc.DeleteServiceGroup(ctx, in.GroupID, in.precondition())
		})
}

func (a *api) serviceGroupUsage() endpoint {
	return handle(huma.Operation{
		OperationID: "get-service-group-usage", Tags: groupTags,
		Summary:     "List what uses a service group",
		Description: "Lists, one page at a time, the rules that use the group, directly and through nesting, with their firewalls and policies, and on the first page the groups that nest it.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *struct {
		GroupParams
		UsageParams
	}) (*struct{ Body GroupUsage }, error) {
		u, err := a.svc.ServiceGroupUsage(ctx, in.GroupID, firewall.Query{PageSize: in.PageSize, PageToken: in.PageToken})
		if err != nil {
			return nil, err
		}
		return &struct{ Body GroupUsage }{Body: usageOut(u)}, nil
	})
}
