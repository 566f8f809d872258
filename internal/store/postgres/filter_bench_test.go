package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/storetest"
)

// benchStore builds a store holding storetest.FilterBenchTree, copying the
// rules and their child rows in with COPY.
func benchStore(b *testing.B) *Store {
	b.Helper()
	ctx := context.Background()
	s := open(b)
	fw, p, rules := storetest.FilterBenchTree()
	err := s.Update(ctx, func(ctx context.Context, stx store.Tx) error {
		if err := stx.CreateFirewall(ctx, &fw); err != nil {
			return err
		}
		return stx.CreatePolicy(ctx, &p)
	})
	if err != nil {
		b.Fatal(err)
	}
	var ruleRows, addressRows, portRows [][]any
	for i := range rules {
		r := &rules[i]
		ruleRows = append(ruleRows, []any{r.ID, r.FirewallID, r.PolicyID, r.Name, firewall.NameKey(r.Name), "", r.Action, r.Protocol,
			jsonList(r.Sources), jsonList(r.Destinations), "[]", jsonList(r.DestinationPorts),
			true, nil, r.ETag, r.CreatedAt, r.UpdatedAt, int64(r.Position)})
		for _, a := range filter.AddressRows(*r) {
			addressRows = append(addressRows, []any{r.ID, int16(a.Side), int16(a.Family), a.Lo, a.Hi})
		}
		for _, pr := range filter.PortRows(*r) {
			portRows = append(portRows, []any{r.ID, int16(pr.Side), int32(pr.Lo), int32(pr.Hi)})
		}
	}
	for _, c := range []struct {
		table   string
		columns []string
		rows    [][]any
	}{
		{"rules", []string{"id", "firewall_id", "policy_id", "name", "name_key", "description", "action", "protocol",
			"sources", "destinations", "source_ports", "destination_ports", "enabled", "expires_at", "etag", "created_at", "updated_at", "position"}, ruleRows},
		{"rule_addresses", []string{"rule_id", "side", "family", "lo", "hi"}, addressRows},
		{"rule_ports", []string{"rule_id", "side", "lo", "hi"}, portRows},
	} {
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{c.table}, c.columns, pgx.CopyFromRows(c.rows)); err != nil {
			b.Fatalf("copy %s: %v", c.table, err)
		}
	}
	if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return s
}

// jsonList is a rule list as its jsonb column holds it.
func jsonList[T fmt.Stringer](list []T) string {
	text := make([]string, len(list))
	for i, v := range list {
		text[i] = v.String()
	}
	b, _ := json.Marshal(text)
	return string(b)
}

// BenchmarkFilteredPage runs storetest.FilterBenchmark on PostgreSQL.
func BenchmarkFilteredPage(b *testing.B) { storetest.FilterBenchmark(b, benchStore(b)) }
