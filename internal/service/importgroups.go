package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ImportGroupsMode says what an import does with the address groups it
// makes of nftables named sets when a group of the same name exists with
// other members.
type ImportGroupsMode string

// The import group modes. Whatever the mode, a group of the set's name
// and with the set's members is reused, and a set whose name no group has
// becomes a new group.
const (
	// ImportGroupsFail, the default, refuses the import (a conflict naming
	// every such group), so that nothing changes what another firewall's
	// group means nor what the imported firewall decides without a word.
	ImportGroupsFail ImportGroupsMode = "fail"
	// ImportGroupsReuse refers to the existing group as it is: the imported
	// firewall then decides by that group's members, not the set's.
	ImportGroupsReuse ImportGroupsMode = "reuse"
	// ImportGroupsRename creates the set as a new group under the first
	// free name "<set>-2", "<set>-3" ... (or reuses one of those names
	// that already holds the set's members).
	ImportGroupsRename ImportGroupsMode = "rename"
	// ImportGroupsInline makes no groups: each set's elements go into the
	// rules that match on it, as literal addresses.
	ImportGroupsInline ImportGroupsMode = "inline"
)

// The actions an import takes for a named set.
const (
	GroupCreate = "create"
	GroupReuse  = "reuse"
	GroupRename = "rename"
)

// maxRenameTries bounds the names ImportGroupsRename tries for one set.
const maxRenameTries = 1000

// ImportedGroup is an address group an import creates, or reuses, for one
// nftables named set.
type ImportedGroup struct {
	// Set is the set's name, as the rules of the input refer to it.
	Set string
	// Addresses are the set's elements, as prefixes.
	Addresses []netip.Prefix
	// Action is GroupCreate, GroupReuse or GroupRename.
	Action string
	// Group is the group the imported rules refer to: the one created
	// (its id set once applied) or the existing one.
	Group firewall.AddressGroup
	// Differs is set when a reused group's members are not the set's.
	Differs bool
}

// checkImportGroupsMode reads the mode, "" meaning ImportGroupsFail.
func checkImportGroupsMode(m ImportGroupsMode) (ImportGroupsMode, error) {
	switch m {
	case "":
		return ImportGroupsFail, nil
	case ImportGroupsFail, ImportGroupsReuse, ImportGroupsRename, ImportGroupsInline:
		return m, nil
	}
	var ps firewall.Problems
	ps.Add("groups", string(m), "groups must be one of fail, reuse, rename, inline")
	return "", ps.Err("the import is not valid")
}

// planImportGroups decides, against the groups rd holds, what to do with
// each set the importer made a group of. A same-named group with other
// members is, under ImportGroupsFail, a conflict naming every such group.
func planImportGroups(ctx context.Context, rd store.Reader, sets []firewall.AddressGroup, mode ImportGroupsMode) ([]ImportedGroup, error) {
	out := make([]ImportedGroup, 0, len(sets))
	planned := map[string]int{} // lower-case name → index in out of a group to create
	var clashes []firewall.Problem
	for _, set := range sets {
		if err := set.Validate(); err != nil {
			return nil, fmt.Errorf("imported group %q: %w", set.Name, err)
		}
		ig := ImportedGroup{Set: set.Name, Addresses: set.Addresses}
		for try := 1; ig.Action == ""; try++ {
			if try > maxRenameTries {
				return nil, firewall.Conflict("no free name for set %q after %d tries", set.Name, maxRenameTries)
			}
			name := set.Name
			if try > 1 {
				name = renamed(set.Name, try)
			}
			same, other, err := findSameNamed(ctx, rd, name, set.Addresses, planned, out)
			switch {
			case err != nil:
				return nil, err
			case other == nil: // the name is free
				ig.Group = firewall.AddressGroup{Name: name, Addresses: set.Addresses, Description: set.Description}
				ig.Action = GroupCreate
				if try > 1 {
					ig.Action = GroupRename
				}
				planned[strings.ToLower(name)] = len(out)
			case same.Name != "":
				ig.Group, ig.Action = same, GroupReuse
			case mode == ImportGroupsRename:
				// try the next name
			case mode == ImportGroupsReuse:
				ig.Group, ig.Action, ig.Differs = *other, GroupReuse, true
			default:
				clashes = append(clashes, clash(set, *other))
				ig.Action = "conflict"
			}
		}
		out = append(out, ig)
	}
	if len(clashes) > 0 {
		return nil, &firewall.Error{Code: firewall.CodeConflict, Problems: clashes,
			Message: fmt.Sprintf("%d address %s of the import already %s with other members; pass groups=reuse to refer to %s as %s, groups=rename to create the sets under new names, or groups=inline to import the elements into the rules",
				len(clashes), pluralWord(len(clashes), "group", "groups"), pluralWord(len(clashes), "exists", "exist"),
				pluralWord(len(clashes), "it", "them"), pluralWord(len(clashes), "it is", "they are"))}
	}
	return out, nil
}

// findSameNamed looks for a group named name, stored or planned. It
// returns same (with Name set) when one holds exactly members, other
// when one holds other members, and neither when the name is free.
func findSameNamed(ctx context.Context, rd store.Reader, name string, members []netip.Prefix, planned map[string]int, out []ImportedGroup) (same firewall.AddressGroup, other *firewall.AddressGroup, err error) {
	if i, ok := planned[strings.ToLower(name)]; ok {
		g := out[i].Group
		if sameAddresses(g.Addresses, members) {
			return g, &g, nil
		}
		return firewall.AddressGroup{}, &g, nil
	}
	ref, err := rd.FindGroup(ctx, store.AddressGroupKind, name)
	if firewall.CodeOf(err) == firewall.CodeNotFound || err == nil && !strings.EqualFold(ref.Name, name) {
		// Not found, or found by id only: the name is free (a clash on
		// create is still refused by the store).
		return firewall.AddressGroup{}, nil, nil
	}
	if err != nil {
		return firewall.AddressGroup{}, nil, fmt.Errorf("find address group %q: %w", name, err)
	}
	g, err := rd.GetAddressGroup(ctx, ref.ID)
	if err != nil {
		return firewall.AddressGroup{}, nil, fmt.Errorf("read address group %q: %w", name, err)
	}
	expanded, err := expandAddressGroup(ctx, rd, g)
	if err != nil {
		return firewall.AddressGroup{}, nil, err
	}
	if sameAddresses(expanded, members) {
		return g, &g, nil
	}
	return firewall.AddressGroup{}, &g, nil
}

// expandAddressGroup returns g's addresses with its nested groups'.
func expandAddressGroup(ctx context.Context, rd store.Reader, g firewall.AddressGroup) ([]netip.Prefix, error) {
	out := slices.Clone(g.Addresses)
	seen := map[string]bool{g.ID: true}
	todo := slices.Clone(g.Groups)
	for len(todo) > 0 {
		ref := todo[0]
		todo = todo[1:]
		if seen[ref.ID] {
			continue
		}
		seen[ref.ID] = true
		n, err := rd.GetAddressGroup(ctx, ref.ID)
		if err != nil {
			return nil, fmt.Errorf("read address group %s nested in %q: %w", ref.ID, g.Name, err)
		}
		out = append(out, n.Addresses...)
		todo = append(todo, n.Groups...)
	}
	return out, nil
}

func clash(set firewall.AddressGroup, other firewall.AddressGroup) firewall.Problem {
	msg := fmt.Sprintf("address group %q (%s) exists with other members than set @%s of the import (%s)",
		other.Name, other.ID, set.Name, describePrefixes(set.Addresses))
	if other.ID == "" { // another set of this import, whose name differs only in case
		msg = fmt.Sprintf("set @%s of the import (%s) would make address group %q, which another set of the import with other members makes",
			set.Name, describePrefixes(set.Addresses), other.Name)
	}
	return firewall.Problem{Location: "groups", Value: set.Name, Message: msg}
}

// describePrefixes lists a few prefixes for a message.
func describePrefixes(ps []netip.Prefix) string {
	const shown = 4
	var parts []string
	for i, p := range ps {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-shown))
			break
		}
		parts = append(parts, p.String())
	}
	if len(parts) == 0 {
		return "no elements"
	}
	return strings.Join(parts, ", ")
}

// renamed is name with "-n" appended, cut so that it stays a valid name.
func renamed(name string, n int) string {
	suffix := "-" + strconv.Itoa(n)
	for utf8.RuneCountInString(name)+len(suffix) > firewall.MaxNameLen {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimSpace(name) + suffix
}

// addrRange is an inclusive range of one family's addresses.
type addrRange struct{ lo, hi netip.Addr }

// sameAddresses reports whether a and b hold the same addresses, however
// they are split into prefixes.
func sameAddresses(a, b []netip.Prefix) bool {
	return slices.Equal(mergedRanges(a), mergedRanges(b))
}

// mergedRanges turns prefixes into sorted, disjoint, non-adjacent ranges.
func mergedRanges(ps []netip.Prefix) []addrRange {
	rs := make([]addrRange, 0, len(ps))
	for _, p := range ps {
		p = p.Masked()
		rs = append(rs, addrRange{p.Addr(), lastAddr(p)})
	}
	slices.SortFunc(rs, func(x, y addrRange) int { return x.lo.Compare(y.lo) })
	var out []addrRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].lo.Is4() == r.lo.Is4() {
			last := &out[n-1]
			next := last.hi.Next()
			if !next.IsValid() || r.lo.Compare(next) <= 0 {
				if r.hi.Compare(last.hi) > 0 {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		for i := p.Bits(); i < 32; i++ {
			b[i/8] |= 1 << (7 - i%8)
		}
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom16(b)
}

// createImportGroups creates, in tx, the groups the plan creates, with an
// audit event each, and returns the reference each set's name resolves to.
func (s *Service) createImportGroups(ctx context.Context, tx store.Tx, plan []ImportedGroup) (map[string]firewall.GroupRef, error) {
	refs := make(map[string]firewall.GroupRef, len(plan))
	for i := range plan {
		ig := &plan[i]
		if ig.Action != GroupReuse && ig.Group.ID == "" {
			g := ig.Group
			g.Meta = firewall.Meta{}
			s.stamp(&g.Meta)
			if err := tx.CreateAddressGroup(ctx, &g); err != nil {
				if firewall.CodeOf(err) == firewall.CodeConflict {
					return nil, firewall.ConflictOn("groups", ig.Set, "address group %q for set @%s cannot be created: %v", g.Name, ig.Set, err)
				}
				return nil, fmt.Errorf("create address group %q: %w", g.Name, err)
			}
			if err := s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindAddressGroup, g.ID, "", nil, g}); err != nil {
				return nil, err
			}
			ig.Group = g
			// Later sets planned onto this name share the group.
			for j := i + 1; j < len(plan); j++ {
				if strings.EqualFold(plan[j].Group.Name, g.Name) && plan[j].Group.ID == "" {
					plan[j].Group = g
				}
			}
		}
		refs[ig.Set] = firewall.GroupRef{ID: ig.Group.ID, Name: ig.Group.Name}
	}
	return refs, nil
}

// bindImportRefs points each rule's references by set name at the groups.
func bindImportRefs(policies []ImportedPolicy, refs map[string]firewall.GroupRef) error {
	for i := range policies {
		for j := range policies[i].Rules {
			r := &policies[i].Rules[j]
			for _, side := range []*[]firewall.GroupRef{&r.SourceGroups, &r.DestinationGroups} {
				bound := make([]firewall.GroupRef, 0, len(*side))
				for _, ref := range *side {
					got, ok := refs[ref.Name]
					if !ok {
						return fmt.Errorf("imported rule %d of policy %q refers to set %q, which the import does not list", r.Position, policies[i].Policy.Name, ref.Name)
					}
					if !slices.ContainsFunc(bound, func(b firewall.GroupRef) bool { return refKey(b) == refKey(got) }) {
						bound = append(bound, got)
					}
				}
				if len(*side) > 0 {
					*side = bound
				}
			}
		}
	}
	return nil
}

// refKey identifies a reference: by id once there is one, else by name.
func refKey(r firewall.GroupRef) string {
	if r.ID != "" {
		return r.ID
	}
	return strings.ToLower(r.Name)
}

// plannedRefs is the reference each set's name resolves to in a plan; a
// group still to create has only its name.
func plannedRefs(plan []ImportedGroup) map[string]firewall.GroupRef {
	refs := make(map[string]firewall.GroupRef, len(plan))
	for _, ig := range plan {
		refs[ig.Set] = firewall.GroupRef{ID: ig.Group.ID, Name: ig.Group.Name}
	}
	return refs
}
