package service

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// GroupChange names a group whose contents differ between two states: a
// revision and the live groups (rollback), or two revisions (diff).
type GroupChange struct {
	Kind string `json:"kind" enum:"address_group,service_group" doc:"address_group or service_group."`
	ID   string `json:"id" doc:"The group's id."`
	Name string `json:"name" doc:"The group's name on the older side: at the revision rolled back to, or at against."`
	// Changed lists what differs: name, addresses, services, groups
	// (nesting), or deleted.
	Changed []string `json:"changed" doc:"What differs: name, addresses, services, groups (the nesting), or deleted."`
}

// addressChanges returns what differs from a to b.
func addressChanges(a, b firewall.AddressGroup) []string {
	var out []string
	if a.Name != b.Name {
		out = append(out, "name")
	}
	if !slices.Equal(a.Addresses, b.Addresses) {
		out = append(out, "addresses")
	}
	if !sameRefs(a.Groups, b.Groups) {
		out = append(out, "groups")
	}
	return out
}

func serviceChanges(a, b firewall.ServiceGroup) []string {
	var out []string
	if a.Name != b.Name {
		out = append(out, "name")
	}
	if !slices.EqualFunc(a.Services, b.Services, func(x, y firewall.Service) bool {
		return x.Protocol == y.Protocol && slices.Equal(x.Ports, y.Ports)
	}) {
		out = append(out, "services")
	}
	if !sameRefs(a.Groups, b.Groups) {
		out = append(out, "groups")
	}
	return out
}

// sameRefs compares references by id: a renamed nested group changes
// itself, not the groups nesting it.
func sameRefs(a, b []firewall.GroupRef) bool {
	return slices.EqualFunc(a, b, func(x, y firewall.GroupRef) bool { return x.ID == y.ID })
}

func sortChanges(out []GroupChange) []GroupChange {
	slices.SortFunc(out, func(a, b GroupChange) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(firewall.NameKey(a.Name), firewall.NameKey(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// diffGroups lists the groups on both sides whose contents differ from
// older to newer. Groups on one side only came or went with the rules'
// references, which the structural diff shows.
func diffGroups(older, newer firewall.Groups) []GroupChange {
	var out []GroupChange
	for id, a := range older.Address {
		if b, ok := newer.Address[id]; ok {
			if ch := addressChanges(a, b); len(ch) > 0 {
				out = append(out, GroupChange{Kind: firewall.KindAddressGroup, ID: id, Name: a.Name, Changed: ch})
			}
		}
	}
	for id, a := range older.Service {
		if b, ok := newer.Service[id]; ok {
			if ch := serviceChanges(a, b); len(ch) > 0 {
				out = append(out, GroupChange{Kind: firewall.KindServiceGroup, ID: id, Name: a.Name, Changed: ch})
			}
		}
	}
	return sortChanges(out)
}

// restorableGroups checks that the groups target's rules refer to (target
// is a revision's tree) still exist, answering a conflict naming each one
// deleted since, and lists the groups of the revision whose contents
// differ now. It leaves the references by id only, so that the replace
// resolves them to the same groups and never to another one that took a
// deleted group's name.
func restorableGroups(ctx context.Context, rd store.Reader, target *firewall.Tree, revision int64) ([]GroupChange, error) {
	var deleted firewall.Problems
	seen := map[string]bool{}
	for i := range target.Policies {
		for j := range target.Policies[i].Rules {
			r := &target.Policies[i].Rules[j]
			for _, side := range []struct {
				kind store.GroupKind
				refs []firewall.GroupRef
			}{{store.AddressGroupKind, r.SourceGroups}, {store.AddressGroupKind, r.DestinationGroups}, {store.ServiceGroupKind, r.ServiceGroups}} {
				for k, ref := range side.refs {
					side.refs[k].Name = ""
					key := side.kind.String() + " " + ref.ID
					if seen[key] {
						continue
					}
					seen[key] = true
					_, err := getGroup(ctx, rd, side.kind, ref.ID)
					switch {
					case firewall.CodeOf(err) == firewall.CodeNotFound:
						deleted.Add("revision", revision, "%s %q (%s), which rules used at revision %d, has been deleted", side.kind, ref.Name, ref.ID, revision)
					case err != nil:
						return nil, err
					}
				}
			}
		}
	}
	if len(deleted) > 0 {
		return nil, &firewall.Error{Code: firewall.CodeConflict, Problems: deleted,
			Message: fmt.Sprintf("revision %d refers to %d %s deleted since; a rollback cannot bring groups back (they are shared by every firewall): recreate them and point the rules at them, or roll back to another revision",
				revision, len(deleted), pluralWord(len(deleted), "group", "groups"))}
	}
	return liveGroupChanges(ctx, rd, target.Groups)
}

func getGroup(ctx context.Context, rd store.Reader, kind store.GroupKind, id string) (any, error) {
	if kind == store.ServiceGroupKind {
		return rd.GetServiceGroup(ctx, id)
	}
	return rd.GetAddressGroup(ctx, id)
}

// liveGroupChanges lists the groups of then whose live contents differ
// from then's, or that no longer exist.
func liveGroupChanges(ctx context.Context, rd store.Reader, then firewall.Groups) ([]GroupChange, error) {
	out := []GroupChange{}
	for id, a := range then.Address {
		b, err := rd.GetAddressGroup(ctx, id)
		ch, err := changedOrGone(addressChanges, a, b, err)
		if err != nil {
			return nil, err
		}
		if len(ch) > 0 {
			out = append(out, GroupChange{Kind: firewall.KindAddressGroup, ID: id, Name: a.Name, Changed: ch})
		}
	}
	for id, a := range then.Service {
		b, err := rd.GetServiceGroup(ctx, id)
		ch, err := changedOrGone(serviceChanges, a, b, err)
		if err != nil {
			return nil, err
		}
		if len(ch) > 0 {
			out = append(out, GroupChange{Kind: firewall.KindServiceGroup, ID: id, Name: a.Name, Changed: ch})
		}
	}
	return sortChanges(out), nil
}

func changedOrGone[G any](changes func(a, b G) []string, a, b G, err error) ([]string, error) {
	switch {
	case firewall.CodeOf(err) == firewall.CodeNotFound:
		return []string{"deleted"}, nil
	case err != nil:
		return nil, err
	}
	return changes(a, b), nil
}
