package filter

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"go.einride.tech/aip/filtering"
	expr "google.golang.org/genproto/googleapis/api/expr/v1alpha1"

	"github.com/fireflow/fireflow/internal/firewall"
)

// MaxFilterLen is the longest filter accepted, in bytes.
const MaxFilterLen = 2048

// MaxOrderByLen is the longest order_by accepted, in bytes.
const MaxOrderByLen = 512

// cond emits one SQL condition, binding its values through b.
type cond func(b *Builder) string

// Query is a compiled filter and order for one resource, ready to be
// emitted for any dialect.
type Query struct {
	res   *Resource
	where cond // nil: no filter
	order []orderKey
	// binding identifies the filter and order, so that a page token made
	// for one is refused for another.
	binding string
}

// Compile parses and checks a filter and an order_by for r. Any problem
// returns a firewall.CodeInvalid error located at "filter" or "order_by",
// whose message names the character position and what was expected.
func (r *Resource) Compile(filterText, orderBy string) (*Query, error) {
	q := &Query{res: r}
	var err error
	if q.where, err = r.compileFilter(filterText); err != nil {
		return nil, err
	}
	if q.order, err = r.compileOrder(orderBy); err != nil {
		return nil, err
	}
	canon := make([]string, len(q.order))
	for i, k := range q.order {
		canon[i] = k.term.String()
	}
	sum := sha256.Sum256([]byte(r.Name + "\x00" + strings.TrimSpace(filterText) + "\x00" + strings.Join(canon, ",")))
	q.binding = base64.RawURLEncoding.EncodeToString(sum[:12])
	return q, nil
}

// Binding identifies the filter and order the query was compiled from.
func (q *Query) Binding() string { return q.binding }

// Where emits the filter's condition, or "" if there is none.
func (q *Query) Where(b *Builder) string {
	if q.where == nil {
		return ""
	}
	return q.where(b)
}

// problem builds the error for a bad filter or order_by.
func problem(param, text string, offset int, format string, args ...any) error {
	var ps firewall.Problems
	msg := fmt.Sprintf(format, args...)
	if offset >= 0 {
		msg = fmt.Sprintf("at character %d: %s", utf8.RuneCountInString(text[:min(offset, len(text))])+1, msg)
	}
	ps.Add(param, echo(text), "%s", msg)
	return ps.Err("the " + param + " is not valid")
}

// echo bounds how much of a bad expression an error repeats.
func echo(s string) string {
	const most = 200
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (r *Resource) compileFilter(text string) (cond, error) {
	if len(text) > MaxFilterLen {
		return nil, problem("filter", text, -1, "the filter is %d bytes long; at most %d are allowed", len(text), MaxFilterLen)
	}
	if !utf8.ValidString(text) {
		return nil, problem("filter", text, -1, "the filter is not valid UTF-8")
	}
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		return nil, nil
	}
	lead := strings.Index(text, trimmed)
	var p filtering.Parser
	p.Init(trimmed)
	parsed, err := p.Parse()
	if err != nil {
		offset, msg := parseFailure(err)
		if offset < 0 {
			offset = lead + len(trimmed)
		} else {
			offset += lead
		}
		return nil, problem("filter", text, offset, "%s", msg)
	}
	c := checker{res: r, text: text, lead: lead, positions: parsed.GetSourceInfo().GetPositions()}
	if e := nulString(parsed.GetExpr()); e != nil {
		// PostgreSQL text cannot hold NUL, so binding it would fail there;
		// no stored value holds one either.
		return nil, c.fail(e, "a string cannot hold the NUL character (\\u0000)")
	}
	where, err := c.boolExpr(parsed.GetExpr())
	if err != nil {
		return nil, err
	}
	// The library's own type check backs ours up: what it refuses is refused.
	var tc filtering.Checker
	tc.Init(parsed.GetExpr(), parsed.GetSourceInfo(), r.decls)
	if _, err := tc.Check(); err != nil {
		return nil, problem("filter", text, lead, "%s", err.Error())
	}
	return where, nil
}

// parseFailure finds the innermost positioned error of the parser, which
// says most precisely what it expected, and rewords token names.
func parseFailure(err error) (int, string) {
	type positioned interface {
		Position() filtering.Position
		Message() string
	}
	offset, msg := 0, err.Error()
	if errors.Is(err, io.EOF) {
		return -1, "the filter ends too early; expected a field, a value or ')'"
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if pe, ok := e.(positioned); ok {
			offset, msg = int(pe.Position().Offset), pe.Message()
		}
	}
	replacer := strings.NewReplacer("token EOF", "end of the filter", "EOF", "end of the filter",
		"RIGHT_PAREN", "')'", "LEFT_PAREN", "'('", "TEXT", "a name", "STRING", "a string", "NUM", "a number", "WS", "a space")
	msg = replacer.Replace(msg)
	switch {
	case strings.HasPrefix(msg, "unexpected trailing token"):
		msg += "; expected AND, OR or the end of the filter"
	case strings.HasPrefix(msg, "unexpected"):
		msg += "; expected a field, a value or '('"
	}
	return offset, msg
}

// nulString returns the first string constant in e that holds a NUL
// character, or nil.
func nulString(e *expr.Expr) *expr.Expr {
	switch k := e.GetExprKind().(type) {
	case *expr.Expr_ConstExpr:
		if s, ok := stringConst(e); ok && strings.ContainsRune(s, 0) {
			return e
		}
	case *expr.Expr_SelectExpr:
		return nulString(k.SelectExpr.GetOperand())
	case *expr.Expr_CallExpr:
		if t := k.CallExpr.GetTarget(); t != nil {
			if found := nulString(t); found != nil {
				return found
			}
		}
		for _, a := range k.CallExpr.GetArgs() {
			if found := nulString(a); found != nil {
				return found
			}
		}
	}
	return nil
}
