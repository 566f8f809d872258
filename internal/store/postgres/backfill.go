package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/fireflow/fireflow/internal/firewall"
)

// backfillVersion is the Go migration that fills the child tables of
// migration 00003 for the rules written before it. It runs the store's own
// indexing code (filter.AddressRows and PortRows), as SQLite's 00004 does,
// so that the two stores index alike.
const backfillVersion = 4

func backfillMigration() *goose.Migration {
	m := goose.NewGoMigration(backfillVersion, &goose.GoFunc{RunTx: backfillRuleIndex}, nil)
	// Named like the SQL files, so that migration status lists it alike.
	m.Source = "00004_backfill_rule_match_index.go"
	return m
}

// backfillRuleIndex writes the rule_addresses and rule_ports rows of every
// rule that has none yet.
func backfillRuleIndex(ctx context.Context, sqlTx *sql.Tx) error {
	rows, err := sqlTx.QueryContext(ctx, `SELECT id, sources, destinations, source_ports, destination_ports FROM rules r
		WHERE NOT EXISTS (SELECT 1 FROM rule_addresses WHERE rule_id = r.id)
		  AND NOT EXISTS (SELECT 1 FROM rule_ports WHERE rule_id = r.id)`)
	if err != nil {
		return fmt.Errorf("read rules to index: %w", err)
	}
	var rules []firewall.Rule
	for rows.Next() {
		r, err := scanRuleLists(rows)
		if err != nil {
			return errors.Join(err, rows.Close())
		}
		rules = append(rules, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read rules to index: %w", err)
	}
	for i := range rules {
		addresses, ports := indexArgs(&rules[i])
		for _, s := range []struct {
			query string
			args  []any
		}{{insertAddresses, addresses}, {insertPorts, ports}} {
			if s.args == nil {
				continue
			}
			if _, err := sqlTx.ExecContext(ctx, s.query, s.args...); err != nil {
				return fmt.Errorf("index rule %s: %w", rules[i].ID, err)
			}
		}
	}
	return nil
}

// scanRuleLists reads a rule's id and its four jsonb lists.
func scanRuleLists(rows *sql.Rows) (firewall.Rule, error) {
	var r firewall.Rule
	var raw [4][]byte
	if err := rows.Scan(&r.ID, &raw[0], &raw[1], &raw[2], &raw[3]); err != nil {
		return r, err
	}
	var lists [4][]string
	for i := range raw {
		if err := json.Unmarshal(raw[i], &lists[i]); err != nil {
			return r, fmt.Errorf("decode stored rule %s: %w", r.ID, err)
		}
	}
	return r, decodeRuleLists(&r, lists[0], lists[1], lists[2], lists[3])
}
