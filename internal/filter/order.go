package filter

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.einride.tech/aip/ordering"

	"github.com/fireflow/fireflow/internal/firewall"
)

// OrderTerm is one field of an order.
type OrderTerm struct {
	Field string
	Desc  bool
}

// String writes the term as order_by takes it.
func (t OrderTerm) String() string {
	if t.Desc {
		return t.Field + " desc"
	}
	return t.Field
}

// orderKey is a term resolved against the resource's fields.
type orderKey struct {
	term   OrderTerm
	column string
	kind   Kind
}

func (r *Resource) compileOrder(text string) ([]orderKey, error) {
	if len(text) > MaxOrderByLen {
		return nil, problem("order_by", text, -1, "order_by is %d bytes long; at most %d are allowed", len(text), MaxOrderByLen)
	}
	terms := r.DefaultOrder
	if strings.TrimSpace(text) != "" {
		var ob ordering.OrderBy
		if err := ob.UnmarshalString(text); err != nil {
			return nil, problem("order_by", text, badOrderChar(text),
				"expected comma-separated field names, each optionally followed by asc or desc; order_by accepts %s",
				strings.Join(r.OrderNames(), ", "))
		}
		terms = make([]OrderTerm, len(ob.Fields))
		for i, f := range ob.Fields {
			terms[i] = OrderTerm{Field: f.Path, Desc: f.Desc}
		}
	}
	keys := make([]orderKey, 0, len(terms)+1)
	seen := map[string]bool{}
	for _, t := range terms {
		at := strings.Index(text, t.Field)
		f, ok := r.Field(t.Field)
		if !ok || f.OrderColumn == "" {
			return nil, problem("order_by", text, at, "cannot order %s by %q; order_by accepts %s", r.Name, t.Field, strings.Join(r.OrderNames(), ", "))
		}
		if seen[t.Field] {
			return nil, problem("order_by", text, at, "%s is named twice", t.Field)
		}
		seen[t.Field] = true
		keys = append(keys, orderKey{term: t, column: f.OrderColumn, kind: f.Kind})
	}
	// id makes the order total, so that a page token names one place in it.
	// It runs the way the first key does, so that an order in one direction
	// stays one row-value comparison.
	tie := cmp.Or(r.Tie, "id")
	if !seen[tie] {
		id, _ := r.Field(tie)
		keys = append(keys, orderKey{term: OrderTerm{Field: tie, Desc: keys[0].term.Desc}, column: id.OrderColumn, kind: id.Kind})
	}
	return keys, nil
}

// badOrderChar returns the offset of the first character order_by cannot
// hold, or of the term that is malformed.
func badOrderChar(text string) int {
	for i, r := range text {
		if !(r == '_' || r == ' ' || r == ',' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return i
		}
	}
	offset := 0
	for _, term := range strings.Split(text, ",") {
		parts := strings.Fields(term)
		if len(parts) == 0 || len(parts) > 2 || (len(parts) == 2 && parts[1] != "asc" && parts[1] != "desc") {
			return offset + len(term) - len(strings.TrimLeft(term, " "))
		}
		offset += len(term) + 1
	}
	return 0
}

// OrderBy emits the ORDER BY list, ending with the id tie-breaker.
func (q *Query) OrderBy(b *Builder) string {
	parts := make([]string, len(q.order))
	for i, k := range q.order {
		parts[i] = b.collate(k.column, k.kind)
		if k.term.Desc {
			parts[i] += " DESC"
		}
	}
	return strings.Join(parts, ", ")
}

// KeyColumns emits the sort key expressions, for the store to select after
// its own columns and hand back to Token.
func (q *Query) KeyColumns() []string {
	cols := make([]string, len(q.order))
	for i, k := range q.order {
		cols[i] = k.column
	}
	return cols
}

// Keys converts the sort key values a store scanned (in KeyColumns order)
// to the portable form a page token holds: strings, int64 (times as unix
// microseconds) and bools.
func (q *Query) Keys(scanned []any) ([]any, error) {
	out := make([]any, len(scanned))
	for i, v := range scanned {
		k := q.order[i]
		switch x := v.(type) {
		case time.Time:
			out[i] = x.UnixMicro()
		case []byte:
			out[i] = string(x)
		case [16]byte: // a PostgreSQL uuid, as pgx scans it into any
			out[i] = uuid.UUID(x).String()
		case int:
			out[i] = int64(x)
		case int16:
			out[i] = int64(x)
		case int32:
			out[i] = int64(x)
		case int64:
			if k.kind == KindBool {
				out[i] = x != 0
			} else {
				out[i] = x
			}
		case string, bool:
			out[i] = x
		default:
			return nil, fmt.Errorf("sort key %s: unexpected %T", k.term.Field, v)
		}
	}
	return out, nil
}

// After emits the keyset condition selecting the rows after the item whose
// sort keys (from a page token) are given. A token whose keys do not fit
// this order is refused as invalid.
func (q *Query) After(b *Builder, keys []json.RawMessage) (string, error) {
	if len(keys) != len(q.order) {
		return "", badToken("it was made for another order")
	}
	vals := make([]any, len(keys))
	for i, raw := range keys {
		v, err := decodeKey(q.order[i].kind, raw)
		if err != nil {
			return "", badToken("it was made for another order")
		}
		vals[i] = v
	}
	desc := q.order[0].term.Desc
	same := true
	for _, k := range q.order {
		same = same && k.term.Desc == desc
	}
	if same {
		cols := make([]string, len(q.order))
		marks := make([]string, len(q.order))
		for i, k := range q.order {
			cols[i], marks[i] = b.collate(k.column, k.kind), b.Arg(vals[i])
		}
		op := " > "
		if desc {
			op = " < "
		}
		return "(" + strings.Join(cols, ", ") + ")" + op + "(" + strings.Join(marks, ", ") + ")", nil
	}
	// Mixed directions: (a > x) OR (a = x AND b < y) OR ...
	var ors []string
	for i, k := range q.order {
		var ands []string
		for j := range i {
			ands = append(ands, b.collate(q.order[j].column, q.order[j].kind)+" = "+b.Arg(vals[j]))
		}
		op := " > "
		if k.term.Desc {
			op = " < "
		}
		ands = append(ands, b.collate(k.column, k.kind)+op+b.Arg(vals[i]))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", nil
}

func decodeKey(k Kind, raw json.RawMessage) (any, error) {
	switch k {
	case KindInt:
		return strconv.ParseInt(string(raw), 10, 64)
	case KindTime:
		us, err := strconv.ParseInt(string(raw), 10, 64)
		return time.UnixMicro(us).UTC(), err
	case KindBool:
		var v bool
		err := json.Unmarshal(raw, &v)
		return v, err
	default:
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
}

func badToken(why string) error {
	var ps firewall.Problems
	ps.Add("page_token", nil, "the page token is not valid here: %s; pass the next_page_token of the previous page with the same filter and order_by", why)
	return ps.Err("the page token is not valid")
}
