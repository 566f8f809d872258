package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fireflow/fireflow/internal/config"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/postgres"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// database is a store that can also manage its schema.
type database interface {
	store.Store
	Migrate(ctx context.Context) error
	MigrateDown(ctx context.Context) error
	SchemaVersion(ctx context.Context) (current, latest int64, err error)
}

// openStore opens the database the configuration names.
func openStore(ctx context.Context, cfg config.Config) (database, error) {
	driver, dsn, err := config.ParseDatabaseURL(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	switch driver {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(dsn), 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		db, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", cfg.DatabaseURL, err)
		}
		db.SetRetention(retention(cfg))
		return db, nil
	case "postgres":
		db, err := postgres.Open(ctx, dsn, postgres.WithTimeouts(postgres.Timeouts{
			Acquire: cfg.DB.Acquire, Statement: cfg.DB.Statement, IdleInTransaction: cfg.DB.IdleInTransaction, TCP: cfg.DB.TCP,
		}))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", config.MaskURL(cfg.DatabaseURL), err)
		}
		db.SetRetention(retention(cfg))
		return db, nil
	default:
		return nil, fmt.Errorf("unknown database driver %q; use sqlite:PATH or postgres://HOST/DB", driver)
	}
}

// retention is the revision history the configuration keeps.
func retention(cfg config.Config) firewall.Retention {
	return firewall.Retention{Keep: cfg.RevisionsKeep, MaxAge: cfg.RevisionsMaxAge}
}
