package store

import "time"

// MigrationState is one embedded migration and whether the database has it.
type MigrationState struct {
	// Version is the number the file name starts with.
	Version int64
	// Name is the file name, such as "00001_init.sql".
	Name string
	// Applied reports whether the migration is in the database.
	Applied bool
	// AppliedAt is when it was applied, in UTC; zero if it is pending.
	AppliedAt time.Time
}
