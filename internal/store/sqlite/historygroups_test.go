package sqlite

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBackfillRevisionGroups checks that migration 00009 gives a rule
// written before it its group references in its open version, and each
// firewall the groups it uses, so that its current revision reads back as
// the live tree, groups included.
func TestBackfillRevisionGroups(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "fireflow.db"))
	if _, err := s.migrations.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO firewalls (id, name, name_key, description, labels, default_action, revision, etag, created_at, updated_at)
			VALUES ('fw', 'edge', 'edge', 'd', '{}', 'deny', 7, 'e1', 0, 0)`,
		`INSERT INTO firewall_revisions (firewall_id, revision, created_at) VALUES ('fw', 7, 0)`,
		`INSERT INTO firewall_versions (firewall_id, valid_from, name, description, labels, default_action, etag, created_at, updated_at)
			VALUES ('fw', 7, 'edge', 'd', '{}', 'deny', 'e1', 0, 0)`,
		`INSERT INTO policies (id, firewall_id, name, name_key, priority, default_action, enabled, etag, created_at, updated_at, rule_count)
			VALUES ('p', 'fw', 'main', 'main', 1, 'next', 1, 'e', 0, 0, 1)`,
		`INSERT INTO policy_versions (policy_id, valid_from, firewall_id, name, description, priority, default_action, enabled, etag, created_at, updated_at)
			VALUES ('p', 7, 'fw', 'main', '', 1, 'next', 1, 'e', 0, 0)`,
		`INSERT INTO rules (id, firewall_id, policy_id, name, order_key, action, protocol, enabled, etag, created_at, updated_at)
			VALUES ('r', 'fw', 'p', 'web', 4611686018427387904, 'allow', 'any', 1, 'e', 0, 0)`,
		`INSERT INTO rule_versions (rule_id, valid_from, firewall_id, policy_id, name, description, order_key, action, protocol,
				sources, destinations, source_ports, destination_ports, enabled, etag, created_at, updated_at)
			VALUES ('r', 7, 'fw', 'p', 'web', '', 4611686018427387904, 'allow', 'any', '[]', '[]', '[]', '[]', 1, 'e', 0, 0)`,
		`INSERT INTO address_groups (id, name, name_key, members, member_count, etag, created_at, updated_at)
			VALUES ('inner', 'inner', 'inner', '["192.0.2.0/24"]', 1, 'e', 0, 0),
			       ('outer', 'outer', 'outer', '["198.51.100.0/24"]', 1, 'e', 0, 0),
			       ('dst', 'dst', 'dst', '[]', 0, 'e', 0, 0)`,
		`INSERT INTO address_group_nesting (group_id, position, member_id) VALUES ('outer', 0, 'inner')`,
		`INSERT INTO service_groups (id, name, name_key, members, member_count, etag, created_at, updated_at)
			VALUES ('https', 'https', 'https', '[{"protocol":"tcp","ports":["443"]}]', 1, 'e', 0, 0)`,
		`INSERT INTO rule_address_groups (rule_id, side, position, group_id) VALUES ('r', 1, 0, 'outer'), ('r', 2, 0, 'dst')`,
		`INSERT INTO rule_service_groups (rule_id, position, group_id) VALUES ('r', 0, 'https')`,
	} {
		if _, err := s.write.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	live, err := s.LoadTree(ctx, "fw")
	if err != nil {
		t.Fatal(err)
	}
	at, err := s.TreeAt(ctx, "fw", 7)
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
