package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// tableShape is what the conformance suite relies on in one table, in
// terms both dialects share.
type tableShape struct {
	// Columns maps each column to "null" or "not null", with " checked"
	// when the database validates its values beyond their type.
	Columns map[string]string
	// Uniques lists the primary key and unique constraints as
	// "col1,col2", sorted.
	Uniques []string
	// ForeignKeys lists "cols -> table(cols) on delete ACTION", sorted.
	ForeignKeys []string
}

// TestSchemasAgree migrates an SQLite and a PostgreSQL database and checks
// that their tables have the same columns, nullability, checked columns,
// unique keys, foreign keys and cascades: the constraints the conformance
// suite relies on, so that the two stores cannot drift apart unnoticed.
func TestSchemasAgree(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "fireflow.db")
	lite, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if err := lite.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// A second handle reads the catalog; the store keeps its pools private.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pg := open(t)

	liteShapes, err := sqliteShapes(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	pgShapes, err := postgresShapes(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	if len(liteShapes) < 5 {
		t.Fatalf("read only %d SQLite tables: %v", len(liteShapes), liteShapes)
	}
	if diff := cmp.Diff(liteShapes, pgShapes); diff != "" {
		t.Fatalf("the schemas differ (-sqlite +postgres):\n%s", diff)
	}
}

// ignoredTable reports tables that are not FireFlow's own.
func ignoredTable(name string) bool {
	return name == "goose_db_version" || strings.HasPrefix(name, "sqlite_")
}

func sqliteShapes(ctx context.Context, db *sql.DB) (map[string]tableShape, error) {
	tables, err := queryStrings(ctx, db, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		return nil, err
	}
	shapes := map[string]tableShape{}
	for _, table := range tables {
		if ignoredTable(table) {
			continue
		}
		s := tableShape{Columns: map[string]string{}}
		var ddl string
		if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE name = ?`, table).Scan(&ddl); err != nil {
			return nil, err
		}
		checked := sqliteCheckedColumns(ddl)
		rows, err := db.QueryContext(ctx, `SELECT name, "notnull", pk FROM pragma_table_info(?)`, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var name string
			var notNull bool
			var pk int // the column's place in the primary key, 0 if not in it
			if err := rows.Scan(&name, &notNull, &pk); err != nil {
				return nil, err
			}
			s.Columns[name] = nullability(notNull || pk > 0, checked[name])
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		indexes, err := queryStrings(ctx, db, `SELECT name FROM pragma_index_list(?) WHERE "unique"`, table)
		if err != nil {
			return nil, err
		}
		for _, index := range indexes {
			cols, err := queryStrings(ctx, db, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, index)
			if err != nil {
				return nil, err
			}
			s.Uniques = append(s.Uniques, strings.Join(cols, ","))
		}
		fks := map[int][3][]string{} // id -> from, to, [table, on delete]
		rows, err = db.QueryContext(ctx, `SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int
			var ref, from, to, onDelete string
			if err := rows.Scan(&id, &ref, &from, &to, &onDelete); err != nil {
				return nil, err
			}
			fk := fks[id]
			fk[0], fk[1], fk[2] = append(fk[0], from), append(fk[1], to), []string{ref, onDelete}
			fks[id] = fk
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, fk := range fks {
			s.ForeignKeys = append(s.ForeignKeys, foreignKey(fk[0], fk[2][0], fk[1], fk[2][1]))
		}
		shapes[table] = sorted(s)
	}
	return shapes, nil
}

// sqliteCheckedColumns returns the columns with a column CHECK in a CREATE
// TABLE statement written one column per line, as the migrations are.
func sqliteCheckedColumns(ddl string) map[string]bool {
	checked := map[string]bool{}
	for line := range strings.Lines(ddl) {
		fields := strings.Fields(line)
		if len(fields) > 1 && strings.Contains(line, "CHECK (") {
			checked[fields[0]] = true
		}
	}
	return checked
}

func postgresShapes(ctx context.Context, s *Store) (map[string]tableShape, error) {
	shapes := map[string]tableShape{}
	rows, err := s.Pool().Query(ctx, `
		SELECT c.table_name, c.column_name, c.is_nullable = 'NO', c.data_type,
		       EXISTS (SELECT 1 FROM pg_constraint k
		               WHERE k.conrelid = (quote_ident(c.table_name))::regclass AND k.contype = 'c'
		                 AND (SELECT attnum FROM pg_attribute
		                      WHERE attrelid = k.conrelid AND attname = c.column_name) = ANY (k.conkey))
		FROM information_schema.columns c WHERE c.table_schema = 'public'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var table, column, dataType string
		var notNull, checked bool
		if err := rows.Scan(&table, &column, &notNull, &dataType, &checked); err != nil {
			return nil, err
		}
		if ignoredTable(table) {
			continue
		}
		sh, ok := shapes[table]
		if !ok {
			sh = tableShape{Columns: map[string]string{}}
		}
		// A boolean is checked by its type; SQLite needs CHECK (x IN (0, 1)).
		sh.Columns[column] = nullability(notNull, checked || dataType == "boolean")
		shapes[table] = sh
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.Pool().Query(ctx, `
		SELECT k.conrelid::regclass::text, k.contype::text,
		       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
		             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
		       COALESCE(k.confrelid::regclass::text, ''),
		       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
		             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i),
		       k.confdeltype::text
		FROM pg_constraint k JOIN pg_namespace ns ON ns.oid = k.connamespace
		WHERE ns.nspname = 'public' AND k.contype IN ('p', 'u', 'f')`)
	if err != nil {
		return nil, err
	}
	deleteActions := map[string]string{"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
	for rows.Next() {
		var table, kind, ref, onDelete string
		var cols, refCols []string
		if err := rows.Scan(&table, &kind, &cols, &ref, &refCols, &onDelete); err != nil {
			return nil, err
		}
		if ignoredTable(table) {
			continue
		}
		sh := shapes[table]
		if kind == "f" {
			sh.ForeignKeys = append(sh.ForeignKeys, foreignKey(cols, ref, refCols, deleteActions[onDelete]))
		} else {
			sh.Uniques = append(sh.Uniques, strings.Join(cols, ","))
		}
		shapes[table] = sh
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for table, sh := range shapes {
		shapes[table] = sorted(sh)
	}
	return shapes, nil
}

func nullability(notNull, checked bool) string {
	s := "null"
	if notNull {
		s = "not null"
	}
	if checked {
		s += " checked"
	}
	return s
}

func foreignKey(from []string, table string, to []string, onDelete string) string {
	return fmt.Sprintf("%s -> %s(%s) on delete %s", strings.Join(from, ","), table, strings.Join(to, ","), onDelete)
}

func sorted(s tableShape) tableShape {
	slices.Sort(s.Uniques)
	slices.Sort(s.ForeignKeys)
	return s
}

func queryStrings(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
