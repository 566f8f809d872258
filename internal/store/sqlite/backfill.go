package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/fireflow/fireflow/internal/firewall"
)

// backfillVersion is the Go migration that fills the child tables of
// migration 00003 for the rules written before it. SQL cannot parse CIDR
// text into address bytes, so it runs the store's own indexing code.
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
		var r firewall.Rule
		var src, dst, srcPorts, dstPorts string
		if err := rows.Scan(&r.ID, &src, &dst, &srcPorts, &dstPorts); err != nil {
			return errors.Join(err, rows.Close())
		}
		if err := decodeRuleLists(&r, src, dst, srcPorts, dstPorts); err != nil {
			return errors.Join(err, rows.Close())
		}
		rules = append(rules, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read rules to index: %w", err)
	}
	t := &tx{reader: reader{q: sqlTx}}
	for i := range rules {
		if err := t.indexRule(ctx, &rules[i], false); err != nil {
			return err
		}
	}
	return nil
}
