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

// The limits of a filter.
const (
	// MaxFilterLen is the longest filter accepted, in bytes.
	MaxFilterLen = 2048
	// MaxFilterTerms is the most terms (comparisons, function calls and
	// lone boolean fields) a filter may hold.
	MaxFilterTerms = 200
	// MaxFilterDepth bounds the nesting of a filter, so that no input
	// can exhaust the stack while it is checked or emitted. A chain of
	// terms joined by the same operator is one level, however long; a
	// NOT, or a parenthesised AND inside an OR (or the other way round),
	// is one more.
	MaxFilterDepth = 64
)

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
	if at := tooDeep(trimmed); at >= 0 {
		return nil, problem("filter", text, lead+at, "the filter nests deeper than %d levels of parentheses", MaxFilterDepth)
	}
	var p filtering.Parser
	p.Init(trimmed)
	parsed, err := p.Parse()
	if err != nil {
		offset, msg := parseFailure(err, trimmed)
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
		msg := err.Error()
		if strings.Contains(msg, "no matching overload") {
			// Our own checks word every wrong argument; this is the backstop.
			msg = "a function or operator is given arguments of the wrong type; docs/filtering.md lists what each takes"
		}
		return nil, problem("filter", text, lead, "%s", msg)
	}
	return where, nil
}

// parseFailure finds the innermost positioned error of the parser, which
// says most precisely what it expected, and rewords token names. text is
// the filter without surrounding blanks.
func parseFailure(err error, text string) (int, string) {
	type positioned interface {
		Position() filtering.Position
		Message() string
	}
	offset, msg := 0, err.Error()
	if words := strings.Fields(text); len(words) > 0 {
		if last := words[len(words)-1]; last == "AND" || last == "OR" || last == "NOT" {
			return len(text) - len(last), "the filter ends with " + last + "; put a term after it, or remove it"
		}
	}
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
	if word, ok := bareWordWithDash(text, offset); ok {
		return offset, fmt.Sprintf("a bare value cannot hold '-'; put it in quotes: \"%s\"", word)
	}
	switch {
	case strings.HasPrefix(msg, "unexpected trailing token"):
		msg += "; expected AND, OR or the end of the filter"
	case strings.HasPrefix(msg, "unexpected"):
		msg += "; expected a field, a value or '('"
	}
	return offset, msg
}

// tooDeep returns the offset of the first parenthesis that opens more
// than MaxFilterDepth levels, outside quoted strings, or -1. It runs
// before the parser, which recurses once per level.
func tooDeep(text string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(':
			if depth++; depth > MaxFilterDepth {
				return i
			}
		case c == ')':
			depth--
		}
	}
	return -1
}

// bareWordWithDash reports whether the parser stopped at a '-' inside a
// bare word, such as edge-par1, and returns the word to quote.
func bareWordWithDash(text string, offset int) (string, bool) {
	if offset <= 0 || offset >= len(text) || text[offset] != '-' || !isWordByte(text[offset-1]) {
		return "", false
	}
	start, end := offset, offset
	for start > 0 && (isWordByte(text[start-1]) || text[start-1] == '-') {
		start--
	}
	for end < len(text) && (isWordByte(text[end]) || text[end] == '-') {
		end++
	}
	return text[start:end], true
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
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
