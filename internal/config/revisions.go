package config

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// revisionFlags declares the revision retention flags on fs, with defaults
// from the environment, and returns the errors of malformed variables. The
// defaults keep every revision.
func revisionFlags(fs *flag.FlagSet, getenv func(string) string, c *Config) []error {
	var errs []error
	keepDef := 0
	if v := getenv("FIREFLOW_REVISIONS_KEEP"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("FIREFLOW_REVISIONS_KEEP: %q is not a whole number of revisions such as 1000 (0 keeps all)", v))
		}
		keepDef = n
	}
	var ageDef time.Duration
	if v := getenv("FIREFLOW_REVISIONS_MAX_AGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("FIREFLOW_REVISIONS_MAX_AGE: %q is not a duration such as 2160h (0 keeps all)", v))
		}
		ageDef = d
	}
	fs.IntVar(&c.RevisionsKeep, "revisions-keep", keepDef, "how many of each firewall's newest revisions to keep; older ones are pruned; 0 keeps all (FIREFLOW_REVISIONS_KEEP)")
	fs.DurationVar(&c.RevisionsMaxAge, "revisions-max-age", ageDef, "prune each firewall's revisions older than this, such as 2160h; the current one is always kept; 0 keeps all (FIREFLOW_REVISIONS_MAX_AGE)")
	return errs
}

func (c Config) checkRevisions() []error {
	var errs []error
	if c.RevisionsKeep < 0 {
		errs = append(errs, fmt.Errorf("revisions to keep %d: use a positive number, or 0 to keep all", c.RevisionsKeep))
	}
	if c.RevisionsMaxAge < 0 {
		errs = append(errs, fmt.Errorf("revision max age %s: use a positive duration, or 0 to keep all", c.RevisionsMaxAge))
	}
	return errs
}
