package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/fireflow/fireflow/internal/store/sqlstore"
)

// TestTransactionsUsePreparedStatements checks that a statement a write
// transaction ran is prepared for the next ones, and that a prepared
// statement whose rows are open runs again correctly in the same
// transaction (one SQLite handle cannot serve both).
func TestTransactionsUsePreparedStatements(t *testing.T) {
	s := open(t)
	for i := range 3 {
		createFirewall(t, s, fmt.Sprintf("fw-%d", i))
	}
	const list = `SELECT name FROM firewalls ORDER BY name`
	want := []string{"fw-0", "fw-1", "fw-2"}
	for round := range 3 {
		err := backend{s}.InWriteTx(t.Context(), func(tx, _ sqlstore.Conn) error {
			outer, err := readNames(t.Context(), tx, list, nil)
			if err != nil {
				return err
			}
			if !slices.Equal(outer, want) {
				return fmt.Errorf("outer query read %v, want %v", outer, want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		s.writeStmts.mu.RLock()
		st, prepared := s.writeStmts.m[list]
		s.writeStmts.mu.RUnlock()
		if round > 0 && (!prepared || st == nil) {
			t.Fatalf("round %d: the statement is not prepared after a transaction ran it", round)
		}
	}
}

// readNames reads the one-column rows of query; inside each row it runs
// query again and checks that the nested read sees every row too.
func readNames(ctx context.Context, c sqlstore.Conn, query string, outer []string) ([]string, error) {
	rows, err := c.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
		if outer == nil {
			inner, err := readNames(ctx, c, query, names)
			if err != nil {
				return nil, err
			}
			if len(inner) != 3 {
				return nil, fmt.Errorf("a nested read of the open statement found %v", inner)
			}
		}
	}
	return names, rows.Err()
}
