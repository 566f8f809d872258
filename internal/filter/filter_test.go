package filter

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
)

// v4 and v6 are the 16-byte forms of addresses, as the child tables hold them.
func v4(a, b, c, d byte) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d} }

func TestWhereSQL(t *testing.T) {
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		res          *Resource
		filter       string
		sqlite, pg   string
		sqliteArgs   []any
		postgresArgs []any
	}{
		{Rules, `action = "deny" OR protocol = udp`,
			`(rules.action = ? OR rules.protocol = ?)`, `(rules.action = $1 OR rules.protocol = $2)`,
			[]any{"deny", "udp"}, []any{"deny", "udp"}},
		{Rules, `NOT enabled`, `NOT (rules.enabled = ?)`, `NOT (rules.enabled = $1)`, []any{true}, []any{true}},
		{Policies, `priority >= 10 AND priority < 20`,
			`(policies.priority >= ? AND policies.priority < ?)`, `(policies.priority >= $1 AND policies.priority < $2)`,
			[]any{int64(10), int64(20)}, []any{int64(10), int64(20)}},
		{Firewalls, `name = "edge-*"`, `substr(firewalls.name, 1, ?) = ?`, `left(firewalls.name, $1) = $2`,
			[]any{int64(5), "edge-"}, []any{int64(5), "edge-"}},
		{Firewalls, `name = "*-prod"`, `substr(firewalls.name, -?) = ?`, `right(firewalls.name, $1) = $2`,
			[]any{int64(5), "-prod"}, []any{int64(5), "-prod"}},
		{Firewalls, `name != "*é*"`, `NOT (instr(firewalls.name, ?) > 0)`, `NOT (strpos(firewalls.name, $1) > 0)`,
			[]any{"é"}, []any{"é"}},
		{Firewalls, `name > "m"`, `firewalls.name > ?`, `firewalls.name COLLATE "C" > $1`, []any{"m"}, []any{"m"}},
		{Firewalls, `labels.env = "prod"`,
			`EXISTS (SELECT 1 FROM json_each(firewalls.labels) WHERE key = ? AND value = ?)`,
			`COALESCE((firewalls.labels ->> $1) = $2, FALSE)`,
			[]any{"env", "prod"}, []any{"env", "prod"}},
		{Firewalls, `labels:"env"`,
			`EXISTS (SELECT 1 FROM json_each(firewalls.labels) WHERE key = ?)`, `(firewalls.labels ->> $1) IS NOT NULL`,
			[]any{"env"}, []any{"env"}},
		{Firewalls, `created_at > "2026-01-01T01:00:00+01:00"`, `firewalls.created_at > ?`, `firewalls.created_at > $1`,
			[]any{jan.UnixMicro()}, []any{jan}},
		{Rules, `expires_at < "2026-01-01T00:00:00Z"`, `COALESCE(rules.expires_at < ?, FALSE)`, `COALESCE(rules.expires_at < $1, FALSE)`,
			[]any{jan.UnixMicro()}, []any{jan}},
		{Rules, `sources:"10.0.0.0/8"`,
			`rules.id IN (SELECT a.rule_id FROM rule_addresses a WHERE a.side = ? AND a.family = ? AND a.lo = ? AND a.hi = ?)`,
			`rules.id IN (SELECT a.rule_id FROM rule_addresses a WHERE a.side = $1 AND a.family = $2 AND a.lo = $3 AND a.hi = $4)`,
			[]any{int64(1), int64(4), v4(10, 0, 0, 0), v4(10, 255, 255, 255)},
			[]any{int64(1), int64(4), v4(10, 0, 0, 0), v4(10, 255, 255, 255)}},
		// Through groups too: a literal entry, a group holding the address
		// (directly or by nesting), or an empty union.
		{Rules, `source_contains("10.1.2.3")`,
			`(((NOT EXISTS (SELECT 1 FROM rule_addresses a WHERE a.rule_id = rules.id AND a.side = ?) OR EXISTS (SELECT 1 FROM rule_addresses a WHERE a.rule_id = rules.id AND a.side = ? AND a.family = ? AND a.lo <= ? AND a.hi >= ?)) AND NOT (NOT EXISTS (SELECT 1 FROM rule_addresses a WHERE a.rule_id = rules.id AND a.side = ?) AND ` + sqliteNonEmpty + `)) OR ` + sqliteHit + `)`,
			`((COALESCE((SELECT bool_or(a.family = $2 AND a.lo <= $3 AND a.hi >= $4) FROM rule_addresses a WHERE a.rule_id = rules.id AND a.side = $1), TRUE) AND NOT (NOT EXISTS (SELECT 1 FROM rule_addresses a WHERE a.rule_id = rules.id AND a.side = $5) AND ` + pgNonEmpty + `)) OR ` + pgHit + `)`,
			[]any{int64(1), int64(1), int64(4), v4(10, 1, 2, 3), v4(10, 1, 2, 3), int64(1), int64(1), int64(1), int64(4), v4(10, 1, 2, 3), v4(10, 1, 2, 3)},
			[]any{int64(1), int64(4), v4(10, 1, 2, 3), v4(10, 1, 2, 3), int64(1), int64(1), int64(1), int64(4), v4(10, 1, 2, 3), v4(10, 1, 2, 3)}},
		{Rules, `destination_port_contains(443)`,
			`(NOT EXISTS (SELECT 1 FROM rule_ports p WHERE p.rule_id = rules.id AND p.side = ?) OR EXISTS (SELECT 1 FROM rule_ports p WHERE p.rule_id = rules.id AND p.side = ? AND p.lo <= ? AND p.hi >= ?))`,
			`COALESCE((SELECT bool_or(p.lo <= $2 AND p.hi >= $3) FROM rule_ports p WHERE p.rule_id = rules.id AND p.side = $1), TRUE)`,
			[]any{int64(2), int64(2), int64(443), int64(443)}, []any{int64(2), int64(443), int64(443)}},
		{AuditEvents, `actor_roles:"admin"`,
			`EXISTS (SELECT 1 FROM json_each(audit_events.actor_roles) WHERE value = ?)`,
			`audit_events.actor_roles @> jsonb_build_array($1::text)`, []any{"admin"}, []any{"admin"}},
		{Firewalls, `name = "x'; DROP TABLE firewalls; --"`, `firewalls.name = ?`, `firewalls.name = $1`,
			[]any{"x'; DROP TABLE firewalls; --"}, []any{"x'; DROP TABLE firewalls; --"}},
	}
	for _, tc := range tests {
		t.Run(tc.res.Name+" "+tc.filter, func(t *testing.T) {
			q, err := tc.res.Compile(tc.filter, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []struct {
				d    Dialect
				sql  string
				args []any
			}{{SQLite, tc.sqlite, tc.sqliteArgs}, {Postgres, tc.pg, tc.postgresArgs}} {
				b := NewBuilder(d.d)
				if got := q.Where(b); got != d.sql {
					t.Errorf("%s SQL:\n got %s\nwant %s", d.d, got, d.sql)
				}
				if diff := cmp.Diff(d.args, b.Args()); diff != "" {
					t.Errorf("%s args (-want +got):\n%s", d.d, diff)
				}
			}
		})
	}
}

func TestNoUserTextInSQL(t *testing.T) {
	for _, f := range []string{
		`name = "'; DROP TABLE rules; --"`, `description:"/* */ OR 1=1"`, `name = "ＤＲＯＰ\u202e"`,
		`source_contains("10.0.0.1") AND name = "a\"b"`,
	} {
		q, err := Rules.Compile(f, "")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range []Dialect{SQLite, Postgres} {
			sql := q.Where(NewBuilder(d))
			for _, bad := range []string{"DROP", "--", "/*", "'", "\u202e", "ＤＲＯＰ", `"b`} {
				if strings.Contains(sql, bad) {
					t.Errorf("%s: %s SQL %q contains %q", f, d, sql, bad)
				}
			}
		}
	}
}

func TestOrderSQL(t *testing.T) {
	tests := []struct {
		res                  *Resource
		orderBy              string
		sqlite, pg           string
		afterSQLite, afterPG string
		keys                 []any
	}{
		{Rules, "", "rules.order_key, rules.id", "rules.order_key, rules.id",
			"(rules.order_key, rules.id) > (?, ?)", "(rules.order_key, rules.id) > ($1, $2)", []any{int64(3), "r3"}},
		{AuditEvents, "", "audit_events.occurred_at DESC, audit_events.id DESC", "audit_events.occurred_at DESC, audit_events.id DESC",
			"(audit_events.occurred_at, audit_events.id) < (?, ?)", "(audit_events.occurred_at, audit_events.id) < ($1, $2)",
			[]any{int64(1700000000000000), "e1"}},
		{Firewalls, "name desc, revision", `firewalls.name_key DESC, firewalls.revision, firewalls.id DESC`,
			`firewalls.name_key COLLATE "C" DESC, firewalls.revision, firewalls.id DESC`,
			"((firewalls.name_key < ?) OR (firewalls.name_key = ? AND firewalls.revision > ?) OR (firewalls.name_key = ? AND firewalls.revision = ? AND firewalls.id < ?))",
			`((firewalls.name_key COLLATE "C" < $1) OR (firewalls.name_key COLLATE "C" = $2 AND firewalls.revision > $3) OR (firewalls.name_key COLLATE "C" = $4 AND firewalls.revision = $5 AND firewalls.id < $6))`,
			[]any{"edge", int64(2), "f1"}},
		{Policies, " enabled desc ,  id ", "policies.enabled DESC, policies.id", "policies.enabled DESC, policies.id",
			"((policies.enabled < ?) OR (policies.enabled = ? AND policies.id > ?))",
			"((policies.enabled < $1) OR (policies.enabled = $2 AND policies.id > $3))", []any{true, "p1"}},
	}
	for _, tc := range tests {
		t.Run(tc.res.Name+" "+tc.orderBy, func(t *testing.T) {
			q, err := tc.res.Compile("", tc.orderBy)
			if err != nil {
				t.Fatal(err)
			}
			raw := make([]json.RawMessage, len(tc.keys))
			for i, k := range tc.keys {
				raw[i], _ = json.Marshal(k)
			}
			for _, d := range []struct {
				d            Dialect
				order, after string
			}{{SQLite, tc.sqlite, tc.afterSQLite}, {Postgres, tc.pg, tc.afterPG}} {
				b := NewBuilder(d.d)
				if got := q.OrderBy(b); got != d.order {
					t.Errorf("%s ORDER BY:\n got %s\nwant %s", d.d, got, d.order)
				}
				got, err := q.After(b, raw)
				if err != nil {
					t.Fatal(err)
				}
				if got != d.after {
					t.Errorf("%s after:\n got %s\nwant %s", d.d, got, d.after)
				}
			}
		})
	}
}

func TestKeysRoundTrip(t *testing.T) {
	q, err := Policies.Compile("", "enabled, created_at desc, name, priority")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 3, 4, 5, 6, 789000, time.UTC)
	// As SQLite scans them, and as PostgreSQL does.
	for _, scanned := range [][]any{
		{int64(1), at.UnixMicro(), "edge", int64(7), "id-1"},
		{true, at, []byte("edge"), int32(7), "id-1"},
	} {
		if _, ok := scanned[0].(bool); ok {
			// PostgreSQL ids may be uuids, which pgx scans as 16 bytes.
			q2, err := Rules.Compile("", "id")
			if err != nil {
				t.Fatal(err)
			}
			keys, err := q2.Keys([]any{[16]byte{0x01, 0x9a, 15: 0xff}})
			if err != nil || keys[0] != "019a0000-0000-0000-0000-0000000000ff" {
				t.Fatalf("uuid key: %v, %v", keys, err)
			}
		}
		keys, err := q.Keys(scanned)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]any{true, at.UnixMicro(), "edge", int64(7), "id-1"}, keys); diff != "" {
			t.Fatalf("keys (-want +got):\n%s", diff)
		}
		raw := make([]json.RawMessage, len(keys))
		for i, k := range keys {
			raw[i], _ = json.Marshal(k)
		}
		b := NewBuilder(Postgres)
		if _, err := q.After(b, raw); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]any{true, true, at, true, at, "edge", true, at, "edge", int64(7), true, at, "edge", int64(7), "id-1"}, b.Args()); diff != "" {
			t.Fatalf("bound keys (-want +got):\n%s", diff)
		}
	}
}

func TestAfterRefusesForeignKeys(t *testing.T) {
	q, err := Rules.Compile("", "")
	if err != nil {
		t.Fatal(err)
	}
	for name, keys := range map[string][]string{
		"too few":     {`3`},
		"too many":    {`3`, `"a"`, `"b"`},
		"wrong types": {`"three"`, `"a"`},
	} {
		raw := make([]json.RawMessage, len(keys))
		for i, k := range keys {
			raw[i] = json.RawMessage(k)
		}
		if _, err := q.After(NewBuilder(SQLite), raw); firewall.CodeOf(err) != firewall.CodeInvalid {
			t.Errorf("%s: got %v, want an invalid page token", name, err)
		}
	}
}

func TestBinding(t *testing.T) {
	bind := func(r *Resource, f, o string) string {
		q, err := r.Compile(f, o)
		if err != nil {
			t.Fatal(err)
		}
		return q.Binding()
	}
	base := bind(Rules, "enabled", "name")
	for _, same := range [][2]string{{" enabled ", "name"}, {"enabled", "name asc"}, {"enabled", " name "}} {
		if got := bind(Rules, same[0], same[1]); got != base {
			t.Errorf("filter %q order %q binds differently from the same query", same[0], same[1])
		}
	}
	for _, other := range [][2]string{{"NOT enabled", "name"}, {"enabled", "name desc"}, {"", "name"}, {"enabled", ""}} {
		if got := bind(Rules, other[0], other[1]); got == base {
			t.Errorf("filter %q order %q binds like enabled/name", other[0], other[1])
		}
	}
	if bind(Rules, "", "") == bind(Policies, "", "") {
		t.Error("rules and policies bind alike")
	}
}

// TestErrors checks that each kind of mistake names its place and what
// was expected.
func TestErrors(t *testing.T) {
	tests := []struct {
		res              *Resource
		filter, orderBy  string
		location, substr string
	}{
		{Rules, `nme = "x"`, "", "filter", `at character 1: unknown field "nme"; rules have the fields id,`},
		{Rules, `action = "deny" AND proto = "tcp"`, "", "filter", `at character 21: unknown field "proto"`},
		{Rules, `  action = "drop"`, "", "filter", `at character 12: action is one of allow, deny, reject; found the string "drop"`},
		{Rules, `position = "3"`, "", "filter", "at character 12: position is an integer"},
		{Rules, `position = 1.5`, "", "filter", "position is an integer"},
		{Rules, `enabled = yes`, "", "filter", "at character 11: enabled is a boolean; expected true or false"},
		{Rules, `enabled > true`, "", "filter", "compares only with = and !="},
		{Rules, `created_at > "2026-13-01"`, "", "filter", "is not an RFC 3339 time"},
		{Rules, `sources = "10.0.0.0/8"`, "", "filter", `sources is a list: test an entry with sources:"..."`},
		{Rules, `sources:"10.0.0.1/8"`, "", "filter", "has host bits set; did you mean 10.0.0.0/8?"},
		{Rules, `destination_ports:"0"`, "", "filter", "out of range"},
		{Rules, `source_contains("10.0.0.0/8", "x")`, "", "filter", "takes one argument, found 2"},
		{Rules, `destination_port_contains("https")`, "", "filter", "takes a port from 1 to 65535"},
		{Rules, `frobnicate("x")`, "", "filter", `unknown function "frobnicate"; rules accept the functions destination_contains`},
		{Firewalls, `source_contains("10.0.0.1")`, "", "filter", `unknown function "source_contains"; firewalls accept the functions none`},
		{Firewalls, `labels = "x"`, "", "filter", "labels is a map"},
		{Firewalls, `labels.env > "a"`, "", "filter", "labels compare only with =, != and :"},
		{Rules, `name`, "", "filter", "expected a comparison such as name = ..."},
		{Rules, `"web"`, "", "filter", "free-text search is not supported"},
		{Rules, `name = `, "", "filter", "at character 7: the filter ends too early"},
		{Rules, `(name = "a"`, "", "filter", "at character 12:"},
		{Rules, `name = "a" )`, "", "filter", "at character 12: unexpected token )"},
		{Rules, `name = "unterminated`, "", "filter", "unterminated string"},
		{Rules, `name = "a` + "\xff" + `"`, "", "filter", "not valid UTF-8"},
		{Rules, strings.Repeat("(enabled OR ", 100) + `enabled` + strings.Repeat(")", 100), "", "filter", "nests deeper than 64"},
		{Rules, strings.Repeat("a", MaxFilterLen+1), "", "filter", "2049 bytes long; at most 2048"},
		{Rules, "", "nme", "order_by", `at character 1: cannot order rules by "nme"; order_by accepts id, created_at, updated_at, name, position, action, protocol, enabled`},
		{Rules, "", "name, expires_at", "order_by", `at character 7: cannot order rules by "expires_at"`},
		{Rules, "", "name; DROP TABLE rules", "order_by", "at character 5: expected comma-separated field names"},
		{Rules, "", "name upward", "order_by", "at character 1: expected comma-separated"},
		{Rules, "", "name,,position", "order_by", "at character 6: expected comma-separated"},
		{Rules, "", "name, name desc", "order_by", "name is named twice"},
		{Rules, "", strings.Repeat("name,", 200), "order_by", "at most 512"},
	}
	for _, tc := range tests {
		t.Run(tc.filter+"|"+tc.orderBy, func(t *testing.T) {
			_, err := tc.res.Compile(tc.filter, tc.orderBy)
			var fe *firewall.Error
			if !errors.As(err, &fe) || fe.Code != firewall.CodeInvalid || len(fe.Problems) != 1 {
				t.Fatalf("got %v, want one invalid-input problem", err)
			}
			p := fe.Problems[0]
			if p.Location != tc.location || !strings.Contains(p.Message, tc.substr) {
				t.Fatalf("got problem at %q: %s\nwant at %q containing %q", p.Location, p.Message, tc.location, tc.substr)
			}
		})
	}
}

func TestAddressRows(t *testing.T) {
	r := firewall.NewRule()
	mustPrefix := func(s string) []byte {
		p, err := firewall.ParsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		a := p.Addr().As16()
		return a[:]
	}
	for _, s := range []string{"10.0.0.0/8", "2001:db8::/127"} {
		p, _ := firewall.ParsePrefix(s)
		r.Sources = append(r.Sources, p)
	}
	p, _ := firewall.ParsePrefix("::/0")
	r.Destinations = append(r.Destinations, p)
	want := []AddressRow{
		{Side: Source, Family: 4, Lo: v4(10, 0, 0, 0), Hi: v4(10, 255, 255, 255)},
		{Side: Source, Family: 6, Lo: mustPrefix("2001:db8::"), Hi: mustPrefix("2001:db8::1")},
		{Side: Destination, Family: 6, Lo: make([]byte, 16), Hi: []byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
	}
	if diff := cmp.Diff(want, AddressRows(r)); diff != "" {
		t.Fatalf("rows (-want +got):\n%s", diff)
	}
	pr, _ := firewall.ParsePortRange("1024-65535")
	r.DestinationPorts = []firewall.PortRange{pr}
	if diff := cmp.Diff([]PortRow{{Side: Destination, Lo: 1024, Hi: 65535}}, PortRows(r)); diff != "" {
		t.Fatalf("port rows (-want +got):\n%s", diff)
	}
}

func TestDescribe(t *testing.T) {
	for _, r := range Resources {
		d := r.Describe()
		for _, f := range r.Fields {
			if !strings.Contains(d, f.Name+" (") {
				t.Errorf("%s: the description does not list %s", r.Name, f.Name)
			}
		}
		if _, err := r.Compile(r.Example, ""); err != nil {
			t.Errorf("%s: the documented example %q does not compile: %v", r.Name, r.Example, err)
		}
		if !strings.Contains(r.DescribeOrder(), "Default: ") {
			t.Errorf("%s: the order description has no default", r.Name)
		}
	}
}

// TestDocsListEveryField keeps docs/filtering.md in step with the
// declarations: each resource's section names each of its fields, and
// marks exactly the orderable ones.
func TestDocsListEveryField(t *testing.T) {
	doc, err := os.ReadFile("../../docs/filtering.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[*Resource]string{Firewalls: "### Firewalls", Policies: "### Filtering policies", Rules: "### Rules", AuditEvents: "### Audit events", ChangeRequests: "### Change requests", Revisions: "### Revisions"}
	for res, title := range sections {
		_, rest, ok := strings.Cut(string(doc), title)
		if !ok {
			t.Fatalf("docs/filtering.md has no section %q", title)
		}
		section, _, _ := strings.Cut(rest, "\n### ")
		for _, f := range res.Fields {
			_, row, ok := strings.Cut(section, "| `"+f.Name+"` |")
			if !ok {
				t.Errorf("%s: docs/filtering.md does not list %s", res.Name, f.Name)
				continue
			}
			row, _, _ = strings.Cut(row, "\n")
			if ordered := strings.Contains(row, "| order |"); ordered != (f.OrderColumn != "") {
				t.Errorf("%s: docs/filtering.md says %s orders: %v; the declaration says %v", res.Name, f.Name, ordered, f.OrderColumn != "")
			}
		}
	}
}

// TestDocsExamplesCompile compiles every example filter and order of
// docs/filtering.md against the resource its heading names.
func TestDocsExamplesCompile(t *testing.T) {
	doc, err := os.ReadFile("../../docs/filtering.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "## Examples\n\n```text\n")
	block, rest, _ := strings.Cut(rest, "```")
	byHeading := map[string]*Resource{"# Firewalls": Firewalls, "# Filtering policies": Policies, "# Rules": Rules, "# Audit events": AuditEvents}
	var res *Resource
	n := 0
	for _, line := range strings.Split(block, "\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			res = byHeading[line]
		default:
			if _, err := res.Compile(line, ""); err != nil {
				t.Errorf("example %q: %v", line, err)
			}
			n++
		}
	}
	if n < 15 {
		t.Errorf("docs/filtering.md has %d examples, want at least 15", n)
	}
	orders, _, _ := strings.Cut(strings.TrimPrefix(rest, "\n\nOrders: "), "\n")
	for _, o := range strings.Split(strings.TrimSuffix(orders, "."), "`, `") {
		o = strings.Trim(o, "`")
		if _, err := Policies.Compile("", o); err != nil {
			if _, err2 := Rules.Compile("", o); err2 != nil {
				t.Errorf("order example %q: %v", o, err)
			}
		}
	}
}

// TestLimits checks that a filter's limits count nesting, not terms, and
// that each limit is refused with a sentence naming it.
func TestLimits(t *testing.T) {
	chain := func(n int, op string) string {
		terms := make([]string, n)
		for i := range terms {
			terms[i] = "priority = " + strings.Repeat("1", 1+i%3)
		}
		return strings.Join(terms, " "+op+" ")
	}
	ok := []string{
		chain(65, "OR"), chain(65, "AND"), chain(MaxFilterTerms, "OR")[:0] + chain(100, "OR"),
		strings.Repeat("(", MaxFilterDepth) + "enabled" + strings.Repeat(")", MaxFilterDepth),
		strings.Repeat("enabled ", MaxFilterTerms-1) + "enabled",
		"(" + chain(40, "OR") + ") AND (" + chain(40, "OR") + ")",
	}
	for _, f := range ok {
		if _, err := Policies.Compile(f, ""); err != nil {
			t.Errorf("%.60s… (%d bytes): %v", f, len(f), err)
		}
	}
	bad := []struct{ filter, substr string }{
		{strings.Repeat("(", MaxFilterDepth+1) + "enabled" + strings.Repeat(")", MaxFilterDepth+1), "nests deeper than 64"},
		{strings.Repeat("(NOT ", MaxFilterDepth) + "enabled" + strings.Repeat(")", MaxFilterDepth), "nests deeper than 64"},
		{strings.Repeat("enabled ", MaxFilterTerms) + "enabled", "more than 200 terms"},
	}
	for _, tc := range bad {
		_, err := Policies.Compile(tc.filter, "")
		if err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%.60s…: got %v, want %q", tc.filter, err, tc.substr)
		}
	}
	// A flat chain emits flat SQL, with its values bound in order.
	q, err := Policies.Compile(`priority = 1 OR priority = 2 OR priority = 3`, "")
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(SQLite)
	if got, want := q.Where(b), "(policies.priority = ? OR policies.priority = ? OR policies.priority = ?)"; got != want {
		t.Errorf("SQL %s, want %s", got, want)
	}
}

// TestFriendlyMessages checks the messages of the mistakes people make.
func TestFriendlyMessages(t *testing.T) {
	tests := []struct{ filter, substr string }{
		{`action = "deny" AND`, "the filter ends with AND; put a term after it"},
		{`action = "deny" OR `, "the filter ends with OR"},
		{`name = edge-par1`, `put it in quotes: "edge-par1"`},
		{`name = edge-par1 AND action = deny`, `put it in quotes: "edge-par1"`},
		{`source_port_contains("x")`, "source_port_contains takes a port from 1 to 65535"},
		{`source_port_contains(true)`, "source_port_contains takes a port from 1 to 65535"},
		{`source_contains(10)`, `source_contains takes a quoted address or CIDR`},
	}
	for _, tc := range tests {
		_, err := Rules.Compile(tc.filter, "")
		if err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%s: got %v, want %q", tc.filter, err, tc.substr)
		}
		if err != nil && strings.Contains(err.Error(), "overload") {
			t.Errorf("%s: %v names the library's internals", tc.filter, err)
		}
	}
	// A port is written as a number or a string alike.
	for _, fn := range []string{"source_port_contains", "destination_port_contains"} {
		var sqls []string
		for _, arg := range []string{`443`, `"443"`} {
			q, err := Rules.Compile(fn+"("+arg+")", "")
			if err != nil {
				t.Fatalf("%s(%s): %v", fn, arg, err)
			}
			sqls = append(sqls, q.Where(NewBuilder(Postgres)))
		}
		if sqls[0] != sqls[1] {
			t.Errorf("%s: 443 and \"443\" give different SQL:\n%s\n%s", fn, sqls[0], sqls[1])
		}
	}
}

// The group parts of source_contains, as each dialect writes them.
const (
	sqliteNonEmpty = `EXISTS (SELECT x.rule_id FROM rule_address_groups x WHERE 1 = 1 AND x.side = ? AND x.rule_id = rules.id AND x.group_id IN (WITH RECURSIVE ne(id) AS (SELECT g.group_id FROM address_group_ranges g UNION SELECT n.group_id FROM address_group_nesting n JOIN ne ON n.member_id = ne.id) SELECT id FROM ne))`
	sqliteHit      = `rules.id IN (SELECT x.rule_id FROM rule_address_groups x WHERE 1 = 1 AND x.side = ? AND x.group_id IN (WITH RECURSIVE hit(id) AS (SELECT g.group_id FROM address_group_ranges g WHERE g.family = ? AND g.lo <= ? AND g.hi >= ? UNION SELECT n.group_id FROM address_group_nesting n JOIN hit ON n.member_id = hit.id) SELECT id FROM hit))`
	pgNonEmpty     = `EXISTS (SELECT x.rule_id FROM rule_address_groups x WHERE 1 = 1 AND x.side = $6 AND x.rule_id = rules.id AND x.group_id IN (WITH RECURSIVE ne(id) AS (SELECT g.group_id FROM address_group_ranges g UNION SELECT n.group_id FROM address_group_nesting n JOIN ne ON n.member_id = ne.id) SELECT id FROM ne))`
	pgHit          = `rules.id IN (SELECT x.rule_id FROM rule_address_groups x WHERE 1 = 1 AND x.side = $7 AND x.group_id IN (WITH RECURSIVE hit(id) AS (SELECT g.group_id FROM address_group_ranges g WHERE g.family = $8 AND g.lo <= $9 AND g.hi >= $10 UNION SELECT n.group_id FROM address_group_nesting n JOIN hit ON n.member_id = hit.id) SELECT id FROM hit))`
)
