package postgres

import (
	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store/sqlstore"
)

// The statements that write a rule's rule_addresses and rule_ports rows
// (see migration 00003). They take the rows as arrays, so that their text
// is the same whatever the count, and pgx prepares each once.
const (
	insertAddresses = `INSERT INTO rule_addresses (rule_id, side, family, lo, hi)
		SELECT $1::text, * FROM unnest($2::smallint[], $3::smallint[], $4::bytea[], $5::bytea[])`
	insertPorts = `INSERT INTO rule_ports (rule_id, side, lo, hi)
		SELECT $1::text, * FROM unnest($2::smallint[], $3::integer[], $4::integer[])`
)

// indexRows returns the inserts of r's child rows: one statement per
// table, however many rows.
func indexRows(r *firewall.Rule) []sqlstore.Statement {
	var stmts []sqlstore.Statement
	if rows := filter.AddressRows(*r); len(rows) > 0 {
		sides, families := make([]int16, len(rows)), make([]int16, len(rows))
		los, his := make([][]byte, len(rows)), make([][]byte, len(rows))
		for i, a := range rows {
			sides[i], families[i], los[i], his[i] = int16(a.Side), int16(a.Family), a.Lo, a.Hi
		}
		stmts = append(stmts, sqlstore.Statement{SQL: insertAddresses, Args: []any{r.ID, sides, families, los, his}})
	}
	if rows := filter.PortRows(*r); len(rows) > 0 {
		sides, los, his := make([]int16, len(rows)), make([]int32, len(rows)), make([]int32, len(rows))
		for i, p := range rows {
			sides[i], los[i], his[i] = int16(p.Side), int32(p.Lo), int32(p.Hi)
		}
		stmts = append(stmts, sqlstore.Statement{SQL: insertPorts, Args: []any{r.ID, sides, los, his}})
	}
	return stmts
}
