package firewall

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
)

// ServiceSpec is a service as clients write it: a protocol and port texts.
type ServiceSpec struct {
	Protocol string   `json:"protocol"`
	Ports    []string `json:"ports,omitempty"`
}

// ParseGroupRefs turns the group references a client wrote, each a
// group's id or name, into references the service resolves: the text is
// kept as the name, and resolution tries it as an id first. Blank or
// repeated entries are problems at location[i].
func ParseGroupRefs(location string, keys []string, ps *Problems) []GroupRef {
	out := make([]GroupRef, 0, len(keys))
	seen := make(map[string]int, len(keys))
	for i, k := range keys {
		loc := fmt.Sprintf("%s[%d]", location, i)
		switch j, dup := seen[NameKey(k)]; {
		case strings.TrimSpace(k) == "":
			ps.Add(loc, k, "a group reference is a group's id or name and cannot be blank")
		case dup:
			ps.Add(loc, k, "%q is listed twice (also at %s[%d])", k, location, j)
		default:
			seen[NameKey(k)] = i
			out = append(out, GroupRef{Name: k})
		}
	}
	return out
}

// ParseGroupAddresses parses an address group's members, each a CIDR or a
// host address of either family. Repeated entries are problems.
func ParseGroupAddresses(location string, in []string, ps *Problems) []netip.Prefix {
	// The count is bounded by AddressGroup.Validate (MaxGroupMembers).
	return parsePrefixList(location, in, ps)
}

// ParseServices parses a service group's members. The protocol and port
// rules are checked by ServiceGroup.Validate.
func ParseServices(location string, in []ServiceSpec, ps *Problems) []Service {
	out := make([]Service, len(in))
	for i, s := range in {
		loc := fmt.Sprintf("%s[%d]", location, i)
		out[i].Protocol = Protocol(s.Protocol)
		if s.Protocol == "" {
			out[i].Protocol = AnyProtocol
		}
		out[i].Ports = ParsePortRanges(loc+".ports", s.Ports, ps)
	}
	return out
}

// groupHeadPatch is the merge patch of the fields both kinds of group have.
type groupHeadPatch struct {
	Name        Optional[string]
	Description Optional[string]
	Labels      Optional[map[string]*string]
	Groups      Optional[[]string]
}

func (p groupHeadPatch) apply(ps *Problems, name, description *string, labels *map[string]string, groups *[]GroupRef) {
	p.Name.required(ps, "name")
	*name = p.Name.or(*name, "")
	*description = p.Description.or(*description, "")
	next := make(map[string]string, len(*labels))
	if !p.Labels.Null {
		maps.Copy(next, *labels)
	}
	for k, v := range p.Labels.Value {
		if v == nil {
			delete(next, k)
			continue
		}
		next[k] = *v
	}
	*labels = next
	if p.Groups.Set {
		*groups = ParseGroupRefs("groups", p.Groups.Value, ps)
	}
}

// AddressGroupPatch is a merge patch of an address group: lists are
// replaced whole, null empties them.
type AddressGroupPatch struct {
	Name        Optional[string]
	Description Optional[string]
	Labels      Optional[map[string]*string]
	Addresses   Optional[[]string]
	Groups      Optional[[]string]
}

// Apply returns cur with the patch applied and validated. Nested
// references are resolved and checked by the caller.
func (p AddressGroupPatch) Apply(cur AddressGroup) (AddressGroup, error) {
	var ps Problems
	next := cur
	groupHeadPatch{p.Name, p.Description, p.Labels, p.Groups}.apply(&ps, &next.Name, &next.Description, &next.Labels, &next.Groups)
	if p.Addresses.Set {
		next.Addresses = ParseGroupAddresses("addresses", p.Addresses.Value, &ps)
	}
	if err := ps.Err("the patch is not valid"); err != nil {
		return AddressGroup{}, err
	}
	return next, next.Validate()
}

// ServiceGroupPatch is a merge patch of a service group.
type ServiceGroupPatch struct {
	Name        Optional[string]
	Description Optional[string]
	Labels      Optional[map[string]*string]
	Services    Optional[[]ServiceSpec]
	Groups      Optional[[]string]
}

// Apply returns cur with the patch applied and validated.
func (p ServiceGroupPatch) Apply(cur ServiceGroup) (ServiceGroup, error) {
	var ps Problems
	next := cur
	groupHeadPatch{p.Name, p.Description, p.Labels, p.Groups}.apply(&ps, &next.Name, &next.Description, &next.Labels, &next.Groups)
	if p.Services.Set {
		next.Services = ParseServices("services", p.Services.Value, &ps)
	}
	if err := ps.Err("the patch is not valid"); err != nil {
		return ServiceGroup{}, err
	}
	return next, next.Validate()
}
