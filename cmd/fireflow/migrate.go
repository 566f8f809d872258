package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fireflow/fireflow/internal/config"
)

// migrate runs "fireflow migrate up|down|status|version".
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: fireflow migrate up|down|status|version [flags]")
	}
	action := args[0]
	cfg, err := config.Load("migrate "+action, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	// A migration may rewrite whole tables: no statement timeout.
	cfg.DB.Statement, cfg.DB.IdleInTransaction = 0, 0
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	switch action {
	case "up":
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
	case "down":
		if err := db.MigrateDown(ctx); err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
	case "status", "version":
	default:
		return fmt.Errorf("unknown migrate action %q: use up, down, status or version", action)
	}
	current, latest, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if action == "version" {
		fmt.Fprintln(stdout, current)
		return nil
	}
	state := "current"
	if current < latest {
		state = "behind: run fireflow migrate up"
	}
	fmt.Fprintf(stdout, "schema version %d of %d (%s)\n", current, latest, state)
	return nil
}
