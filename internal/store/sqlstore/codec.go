package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// timeScan reads a timestamp stored either way: SQLite's unix
// microseconds or PostgreSQL's timestamptz. It returns UTC, which the
// store promises whatever the driver's zone.
type timeScan struct{ t *time.Time }

// Scan implements sql.Scanner, which both drivers call.
func (s timeScan) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("scan timestamp: unexpected %T", src)
	}
	return nil
}

// nullTimeScan reads a timestamp that may be NULL.
type nullTimeScan struct{ t **time.Time }

// Scan implements sql.Scanner.
func (s nullTimeScan) Scan(src any) error {
	if src == nil {
		*s.t = nil
		return nil
	}
	var t time.Time
	if err := (timeScan{&t}).Scan(src); err != nil {
		return err
	}
	*s.t = &t
	return nil
}

// nullTime binds an optional timestamp.
func (d Dialect) nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.Time(*t)
}

// nullKey is the name key of an optional name: NULL for no name, because
// UNIQUE lets any number of NULLs through.
func nullKey(name string) sql.NullString {
	if name == "" {
		return sql.NullString{}
	}
	return sql.NullString{String: firewall.NameKey(name), Valid: true}
}

// nullJSON passes an image as its text, or SQL NULL when there is none.
func nullJSON(raw json.RawMessage) sql.NullString {
	if raw == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: string(raw), Valid: true}
}

// encodeLabels stores labels as a JSON object, never null.
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
	if text == "{}" {
		return labels, nil // most rows have none: skip encoding/json
	}
	if err := json.Unmarshal([]byte(text), &labels); err != nil {
		return nil, fmt.Errorf("decode labels: %w", err)
	}
	return labels, nil
}

// encodeList stores a list as a JSON array of the entries' canonical text.
func encodeList[T fmt.Stringer](list []T) string {
	text := make([]string, len(list)) // never nil, which would store JSON null
	for i, v := range list {
		text[i] = v.String()
	}
	b, _ := json.Marshal(text) // a []string always marshals
	return string(b)
}

// decodeList parses what encodeList stored.
func decodeList[T any](text string, parse func(string) (T, error)) ([]T, error) {
	entries, ok := splitList(text)
	if !ok {
		if err := json.Unmarshal([]byte(text), &entries); err != nil {
			return nil, err
		}
	}
	return store.ParseList(entries, parse)
}

// splitList reads a JSON array of plain strings, as encodeList writes it
// and as PostgreSQL gives jsonb back (a space after each comma), without
// encoding/json: reading a tree decodes four lists per rule, and this was
// a third of the time of reading a 10,000-rule revision. It reports false
// for anything else (an escape, a control character, invalid UTF-8, other
// JSON), which the caller hands to encoding/json.
func splitList(text string) ([]string, bool) {
	out, ok := appendList(nil, text)
	if !ok {
		return nil, false
	}
	return out, true
}

// appendList is splitList appending the strings to out, so that a reader
// of many lists can reuse one buffer.
func appendList(out []string, text string) ([]string, bool) {
	s := trimJSONSpace(text)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return out, false
	}
	s = trimJSONSpace(s[1 : len(s)-1])
	for s != "" {
		if s[0] != '"' {
			return out, false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return out, false
		}
		item := s[1 : 1+end]
		for i := 0; i < len(item); i++ {
			if item[i] < 0x20 || item[i] == '\\' {
				return out, false
			}
		}
		if !utf8.ValidString(item) {
			return out, false
		}
		out = append(out, item)
		s = trimJSONSpace(s[2+end:])
		if s == "" {
			break
		}
		if s[0] != ',' {
			return out, false
		}
		if s = trimJSONSpace(s[1:]); s == "" {
			return out, false // a trailing comma
		}
	}
	return out, true
}

// trimJSONSpace trims the four characters JSON counts as whitespace.
// strings.Trim would build its set of four on every call, of which a tree
// read makes several per rule.
func trimJSONSpace(s string) string {
	for len(s) > 0 && isJSONSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isJSONSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func decodePrefixes(text string) ([]netip.Prefix, error) {
	return decodeList(text, firewall.ParsePrefix)
}

func decodePorts(text string) ([]firewall.PortRange, error) {
	return decodeList(text, firewall.ParsePortRange)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
