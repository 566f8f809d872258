package postgres

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// utc returns t in UTC: pgx reads timestamptz in the local zone, and the
// store promises UTC.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nullKey is the name key of an optional name: NULL for no name, because
// UNIQUE lets any number of NULLs through.
func nullKey(name string) *string {
	if name == "" {
		return nil
	}
	k := firewall.NameKey(name)
	return &k
}

// labelsOf returns labels for a jsonb column, which must hold an object.
func labelsOf(labels map[string]string) map[string]string {
	if labels == nil {
		return map[string]string{}
	}
	return labels
}

// encodeList stores a list as a JSON array of the entries' canonical text.
func encodeList[T fmt.Stringer](list []T) []string {
	text := make([]string, len(list)) // never nil, which would store JSON null
	for i, v := range list {
		text[i] = v.String()
	}
	return text
}

func decodePrefixes(entries []string) ([]netip.Prefix, error) {
	return store.ParseList(entries, firewall.ParsePrefix)
}

func decodePorts(entries []string) ([]firewall.PortRange, error) {
	return store.ParseList(entries, firewall.ParsePortRange)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
