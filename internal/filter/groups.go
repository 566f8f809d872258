package filter

import "github.com/fireflow/fireflow/internal/firewall"

// groupTables returns the reference and group tables of a side.
func groupTables(side Side) (refs, groups, nesting string) {
	if side == ServiceSide {
		return "rule_service_groups", "service_groups", "service_group_nesting"
	}
	return "rule_address_groups", "address_groups", "address_group_nesting"
}

// groupRefs selects the rule_id of the reference rows of side, aliased x,
// ready for more AND conditions.
func groupRefs(b *Builder, side Side) string {
	refs, _, _ := groupTables(side)
	s := "SELECT x.rule_id FROM " + refs + " x WHERE 1 = 1"
	if side != ServiceSide {
		s += " AND x.side = " + b.Arg(int64(side))
	}
	return s
}

// groupEntry emits "the rule refers on side to the group whose name (or
// id) is key, or to a group that nests it": a recursive walk up the
// nesting from the group, which needs no correlation with the rule.
func groupEntry(side Side, key string) cond {
	return func(b *Builder) string {
		_, groups, nesting := groupTables(side)
		return "rules.id IN (" + groupRefs(b, side) + " AND x.group_id IN (WITH RECURSIVE anc(id) AS (" +
			"SELECT id FROM " + groups + " WHERE name_key = " + b.Arg(firewall.NameKey(key)) + " OR id = " + b.Arg(key) +
			" UNION SELECT n.group_id FROM " + nesting + " n JOIN anc ON n.member_id = anc.id) SELECT id FROM anc))"
	}
}

// groupHit emits "a group the rule refers to on side holds an address
// that match accepts over the alias g of address_group_ranges, directly
// or through nesting".
func groupHit(b *Builder, side Side, match func() string) string {
	return "rules.id IN (" + groupRefs(b, side) + " AND x.group_id IN (WITH RECURSIVE hit(id) AS (" +
		"SELECT g.group_id FROM address_group_ranges g WHERE " + match() +
		" UNION SELECT n.group_id FROM address_group_nesting n JOIN hit ON n.member_id = hit.id) SELECT id FROM hit))"
}

// groupNonEmpty emits "the rule refers on side to a group that, expanded,
// has a member": such a rule's address set is not empty, so it is not
// "any" even without literal entries.
func groupNonEmpty(b *Builder, side Side) string {
	return "EXISTS (" + groupRefs(b, side) + " AND x.rule_id = rules.id AND x.group_id IN (WITH RECURSIVE ne(id) AS (" +
		"SELECT g.group_id FROM address_group_ranges g UNION SELECT n.group_id FROM address_group_nesting n JOIN ne ON n.member_id = ne.id) " +
		"SELECT id FROM ne))"
}
