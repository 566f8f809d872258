package storetest

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/store"
)

// Backfill is what CheckRevisionGroupsBackfill needs of a store opened at
// migration 8: a way to write rows past the store, the rest of the
// migrations, and the reads that must agree afterwards.
type Backfill struct {
	// Exec runs one statement on the database.
	Exec func(ctx context.Context, stmt string) error
	// Migrate runs the remaining migrations.
	Migrate func(ctx context.Context) error
	// Store reads the tree back.
	Store store.Store
	// Time and True are the dialect's literals for a timestamp and for true.
	Time, True string
}

// CheckRevisionGroupsBackfill writes, as of migration 8, a firewall whose
// rule uses nested address groups and a service group, migrates, and
// checks that migration 00009 gave the rule's open version its group
// references and the firewall the groups it uses: revision 7 reads back as
// the live tree, groups included.
func CheckRevisionGroupsBackfill(t *testing.T, b Backfill) {
	t.Helper()
	ctx := t.Context()
	at0, yes := b.Time, b.True
	for _, stmt := range []string{
		`INSERT INTO firewalls (id, name, name_key, description, labels, default_action, revision, etag, created_at, updated_at)
			VALUES ('fw', 'edge', 'edge', 'd', '{}', 'deny', 7, 'e1', ` + at0 + `, ` + at0 + `)`,
		`INSERT INTO firewall_revisions (firewall_id, revision, created_at) VALUES ('fw', 7, ` + at0 + `)`,
		`INSERT INTO firewall_versions (firewall_id, valid_from, name, description, labels, default_action, etag, created_at, updated_at)
			VALUES ('fw', 7, 'edge', 'd', '{}', 'deny', 'e1', ` + at0 + `, ` + at0 + `)`,
		`INSERT INTO policies (id, firewall_id, name, name_key, priority, default_action, enabled, etag, created_at, updated_at, rule_count)
			VALUES ('p', 'fw', 'main', 'main', 1, 'next', ` + yes + `, 'e', ` + at0 + `, ` + at0 + `, 1)`,
		`INSERT INTO policy_versions (policy_id, valid_from, firewall_id, name, description, priority, default_action, enabled, etag, created_at, updated_at)
			VALUES ('p', 7, 'fw', 'main', '', 1, 'next', ` + yes + `, 'e', ` + at0 + `, ` + at0 + `)`,
		`INSERT INTO rules (id, firewall_id, policy_id, name, order_key, action, protocol, enabled, etag, created_at, updated_at)
			VALUES ('r', 'fw', 'p', 'web', 4611686018427387904, 'allow', 'any', ` + yes + `, 'e', ` + at0 + `, ` + at0 + `)`,
		`INSERT INTO rule_versions (rule_id, valid_from, firewall_id, policy_id, name, description, order_key, action, protocol,
				sources, destinations, source_ports, destination_ports, enabled, etag, created_at, updated_at)
			VALUES ('r', 7, 'fw', 'p', 'web', '', 4611686018427387904, 'allow', 'any', '[]', '[]', '[]', '[]', ` + yes + `, 'e', ` + at0 + `, ` + at0 + `)`,
		`INSERT INTO address_groups (id, name, name_key, members, member_count, etag, created_at, updated_at)
			VALUES ('inner', 'inner', 'inner', '["192.0.2.0/24"]', 1, 'e', ` + at0 + `, ` + at0 + `),
			       ('outer', 'outer', 'outer', '["198.51.100.0/24"]', 1, 'e', ` + at0 + `, ` + at0 + `),
			       ('dst', 'dst', 'dst', '[]', 0, 'e', ` + at0 + `, ` + at0 + `)`,
		`INSERT INTO address_group_nesting (group_id, position, member_id) VALUES ('outer', 0, 'inner')`,
		`INSERT INTO service_groups (id, name, name_key, members, member_count, etag, created_at, updated_at)
			VALUES ('https', 'https', 'https', '[{"protocol":"tcp","ports":["443"]}]', 1, 'e', ` + at0 + `, ` + at0 + `)`,
		`INSERT INTO rule_address_groups (rule_id, side, position, group_id) VALUES ('r', 1, 0, 'outer'), ('r', 2, 0, 'dst')`,
		`INSERT INTO rule_service_groups (rule_id, position, group_id) VALUES ('r', 0, 'https')`,
	} {
		if err := b.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	live, err := b.Store.LoadTree(ctx, "fw")
	if err != nil {
		t.Fatal(err)
	}
	at, err := b.Store.TreeAt(ctx, "fw", 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(live, at, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("revision 7 after the backfill differs from the live tree (-live +at):\n%s", diff)
	}
	if len(at.Groups.Address) != 3 || len(at.Groups.Service) != 1 || len(at.Rules[0].SourceGroups) != 1 {
		t.Errorf("revision 7 has groups %+v and rule %+v, want outer, inner, dst and https", at.Groups, at.Rules[0])
	}
}
