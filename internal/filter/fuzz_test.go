package filter_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/pgtest"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/postgres"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// fuzzSeeds are filters worth mutating: every operator, function and kind.
var fuzzSeeds = []string{
	`name = "edge-*" AND labels.env = "prod"`,
	`action = "deny" OR protocol = udp`,
	`NOT enabled AND -(position > 3)`,
	`source_contains("10.1.2.3") AND destination_port_contains(443)`,
	`destination_contains("2001:db8::1") OR source_overlaps("10.0.0.0/16")`,
	`sources:"10.0.0.0/8" destination_ports:443`,
	`labels:"env" AND labels.site:*`,
	`created_at > "2026-01-01T00:00:00Z" AND expires_at:*`,
	`actor_roles:"admin" AND resource_type = rule`,
	`priority >= 0x10 AND default_action != next`,
	`name = "x'; DROP TABLE rules; --"`,
	`name = "web\u0000"`, `(((a = 1)))`, `a.b.c(1, "x")`, `-1 = -2.5`, `"\u202e" : *`,
}

// TestMain starts the PostgreSQL cluster that FuzzFilterPostgres uses.
func TestMain(m *testing.M) { pgtest.Main(m) }

// sqliteStore is a migrated SQLite store in a temporary file.
func sqliteStore(f *testing.F) store.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// postgresStore is a migrated PostgreSQL store on a fresh database.
func postgresStore(f *testing.F) store.Store {
	s, err := postgres.Open(context.Background(), pgtest.NewDatabase(f))
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// migrator is what both stores offer to set up their schema.
type migrator interface {
	store.Store
	Migrate(ctx context.Context) error
	Close() error
}

// fuzzStore migrates s and fills it with one of each resource, so that
// every condition has rows to run against.
func fuzzStore(f *testing.F, s store.Store) firewall.Rule {
	ctx := context.Background()
	m := s.(migrator)
	f.Cleanup(func() { _ = m.Close() })
	if err := m.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	fw := firewall.NewFirewall()
	fw.Meta = firewall.Meta{ID: "fw", ETag: "e", CreatedAt: at, UpdatedAt: at}
	fw.Name, fw.Labels = "edge-1", map[string]string{"env": "prod"}
	p := firewall.NewPolicy()
	p.Meta, p.FirewallID, p.Name, p.Priority = firewall.Meta{ID: "p", ETag: "e", CreatedAt: at, UpdatedAt: at}, "fw", "main", 10
	r := firewall.NewRule()
	r.Meta, r.FirewallID, r.PolicyID, r.Action, r.Protocol = firewall.Meta{ID: "r", ETag: "e", CreatedAt: at, UpdatedAt: at}, "fw", "p", firewall.Allow, firewall.TCP
	r.Sources = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	r.DestinationPorts = []firewall.PortRange{{Low: 443, High: 443}}
	r.ExpiresAt = &at
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateFirewall(ctx, &fw); err != nil {
			return err
		}
		if err := tx.CreatePolicy(ctx, &p); err != nil {
			return err
		}
		if err := tx.CreateRule(ctx, &r); err != nil {
			return err
		}
		return tx.AppendAuditEvent(ctx, firewall.AuditEvent{ID: "a", OccurredAt: at, ActorSubject: "alice",
			ActorRoles: []string{"admin"}, Action: firewall.AuditCreate, ResourceType: firewall.KindRule, ResourceID: "r", FirewallID: "fw"})
	})
	if err != nil {
		f.Fatal(err)
	}
	return r
}

// FuzzFilter checks that any filter, order_by and page token either is
// refused as invalid input or becomes SQL that SQLite runs: never a panic,
// and never a database error, which the API would answer with 500.
func FuzzFilter(f *testing.F) { fuzzFilter(f, sqliteStore(f)) }

// FuzzFilterPostgres is FuzzFilter on PostgreSQL.
func FuzzFilterPostgres(f *testing.F) { fuzzFilter(f, postgresStore(f)) }

func fuzzFilter(f *testing.F, s store.Store) {
	r := fuzzStore(f, s)
	ctx := context.Background()
	page, err := s.ListRules(ctx, r.FirewallID, r.PolicyID, firewall.Query{PageSize: 1, OrderBy: "name desc"})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range fuzzSeeds {
		f.Add(seed, "name desc, position", page.NextPageToken)
		f.Add(seed, "", "")
	}
	f.Add("", "created_at desc , id", "eyJ2IjoyLCJjIjp7ImsiOlsxXSwiYiI6IngifX0")
	f.Fuzz(func(t *testing.T, filterText, orderBy, token string) {
		q := firewall.Query{PageSize: 2, Filter: filterText, OrderBy: orderBy, PageToken: token}
		lists := map[string]func() error{
			"firewalls": func() error { _, err := s.ListFirewalls(ctx, q); return err },
			"policies":  func() error { _, err := s.ListPolicies(ctx, r.FirewallID, q); return err },
			"rules":     func() error { _, err := s.ListRules(ctx, r.FirewallID, r.PolicyID, q); return err },
			"audit":     func() error { _, err := s.ListAuditEvents(ctx, q); return err },
			"revisions": func() error { _, err := s.ListRevisions(ctx, r.FirewallID, q); return err },
		}
		for name, list := range lists {
			if err := list(); err != nil && firewall.CodeOf(err) != firewall.CodeInvalid {
				t.Fatalf("%s: filter %q order_by %q token %q: %v", name, filterText, orderBy, token, err)
			}
		}
		// Compiling is deterministic, and both dialects emit.
		for _, res := range filter.Resources {
			cq, err := res.Compile(filterText, orderBy)
			if err != nil {
				continue
			}
			for _, d := range []filter.Dialect{filter.SQLite, filter.Postgres} {
				b := filter.NewBuilder(d)
				_ = cq.Where(b)
				_ = cq.OrderBy(b)
			}
		}
	})
}
