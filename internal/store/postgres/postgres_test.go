package postgres

import (
	"testing"

	"github.com/fireflow/fireflow/internal/pgtest"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openAt opens the store at url and closes it when the test ends.
func openAt(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// open returns a migrated store on a fresh database.
func open(t *testing.T) *Store {
	t.Helper()
	s := openAt(t, pgtest.NewDatabase(t))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestMigrations(t *testing.T) {
	storetest.Migrations(t, func(t *testing.T) storetest.Migrator {
		return openAt(t, pgtest.NewDatabase(t))
	}, 2)
}
