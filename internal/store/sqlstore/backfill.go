package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/fireflow/fireflow/internal/firewall"
)

// backfillVersion is the Go migration that fills the child tables of
// migration 00003 for the rules written before it. SQL cannot parse CIDR
// text into address bytes, so it runs the store's own indexing code, the
// same in both dialects.
const backfillVersion = 4

// BackfillMigration returns migration 00004 for d.
func BackfillMigration(d Dialect) *goose.Migration {
	m := goose.NewGoMigration(backfillVersion, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		return backfillRuleIndex(ctx, NewTx(DatabaseSQL(tx), DatabaseSQL(tx), d))
	}}, nil)
	// Named like the SQL files, so that migration status lists it alike.
	m.Source = "00004_backfill_rule_match_index.go"
	return m
}

// backfillRuleIndex writes the rule_addresses and rule_ports rows of every
// rule that has none yet.
func backfillRuleIndex(ctx context.Context, t *Tx) error {
	rules, err := queryAll(ctx, t.q, func(row Row) (firewall.Rule, error) {
		var r firewall.Rule
		var src, dst, srcPorts, dstPorts string
		if err := row.Scan(&r.ID, &src, &dst, &srcPorts, &dstPorts); err != nil {
			return r, err
		}
		return r, decodeRuleLists(&r, src, dst, srcPorts, dstPorts)
	}, `SELECT id, sources, destinations, source_ports, destination_ports FROM rules r
		WHERE NOT EXISTS (SELECT 1 FROM rule_addresses WHERE rule_id = r.id)
		  AND NOT EXISTS (SELECT 1 FROM rule_ports WHERE rule_id = r.id)`)
	if err != nil {
		return fmt.Errorf("read rules to index: %w", err)
	}
	for i := range rules {
		if err := t.q.run(ctx, t.indexStatements(&rules[i])); err != nil {
			return fmt.Errorf("index rule %s: %w", rules[i].ID, err)
		}
	}
	return nil
}
