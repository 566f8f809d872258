package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// Times are stored as unix microseconds: integers compare and index cheaply,
// and the service already truncates to microseconds, so nothing is lost.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func fromNullMicros(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

// nullKey is the name key of an optional name: NULL for no name, because
// UNIQUE lets any number of NULLs through.
func nullKey(name string) sql.NullString {
	if name == "" {
		return sql.NullString{}
	}
	return sql.NullString{String: firewall.NameKey(name), Valid: true}
}

func encodeLabels(labels map[string]string) (string, error) {
	if labels == nil {
		return "{}", nil
	}
	b, err := json.Marshal(labels)
	return string(b), err
}

// decodeLabels always returns a non-nil map, like firewall.NewFirewall.
func decodeLabels(text string) (map[string]string, error) {
	labels := map[string]string{}
	if err := json.Unmarshal([]byte(text), &labels); err != nil {
		return nil, fmt.Errorf("decode labels: %w", err)
	}
	return labels, nil
}

// encodeList stores a list as a JSON array of the entries' canonical text.
func encodeList[T fmt.Stringer](list []T) string {
	text := make([]string, len(list))
	for i, v := range list {
		text[i] = v.String()
	}
	b, _ := json.Marshal(text) // a []string always marshals
	return string(b)
}

// decodeList parses what encodeList stored.
func decodeList[T any](text string, parse func(string) (T, error)) ([]T, error) {
	var entries []string
	if err := json.Unmarshal([]byte(text), &entries); err != nil {
		return nil, err
	}
	return store.ParseList(entries, parse)
}

func decodePrefixes(text string) ([]netip.Prefix, error) {
	return decodeList(text, firewall.ParsePrefix)
}

func decodePorts(text string) ([]firewall.PortRange, error) {
	return decodeList(text, firewall.ParsePortRange)
}
