package httpapi

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// Every JSON request body passes checkJSONBody once, before huma decodes
// it. encoding/json, which huma uses, replaces invalid UTF-8 and lone
// surrogates with U+FFFD, lets the last of two equal keys win, reports
// types in Go terms and decodes every unknown key of a huge body before
// the schema refuses it. One pass over the bytes, guided by the
// operation's schema, refuses all of these in words a person understands
// and stops at maxBodyProblems, so that a hostile body costs little
// memory and gets a short answer.

const (
	// maxBodyProblems bounds the problems listed in one answer.
	maxBodyProblems = 50
	// maxBodyDepth bounds the nesting of a body; FireFlow's deepest
	// document (a tree) nests 6 levels.
	maxBodyDepth = 64
	// maxExactInt is the largest integer a float64 holds exactly
	// (2^53-1), the bound of integers written with a fraction or
	// exponent.
	maxExactInt = 1<<53 - 1
)

// bodyScan is the state of one pass over a body.
type bodyScan struct {
	b   []byte
	i   int
	reg huma.Registry
	// out is the body with integral numbers rewritten as plain integers
	// (1.0 as 1, 1e2 as 100); nil while nothing is rewritten.
	out    []byte
	copied int // bytes of b already in out
	// problems found so far; stopped once there are maxBodyProblems, or
	// after a syntax error, beyond which nothing can be trusted.
	problems []ProblemDetail
	stopped  bool
}

// bodyLoc is where a value sits in the body; the name is built only when
// there is a problem to report.
type bodyLoc struct {
	parent *bodyLoc
	key    string
	index  int // array index, or -1 for an object member
}

func (l *bodyLoc) String() string {
	if l == nil {
		return "body"
	}
	if l.index >= 0 {
		return l.parent.String() + "[" + strconv.Itoa(l.index) + "]"
	}
	return l.parent.String() + "." + l.key
}

// field names the value in a sentence: "priority", "flows[2].source_port".
func (l *bodyLoc) field() string {
	if l == nil {
		return "the body"
	}
	return strings.TrimPrefix(l.String(), "body.")
}

// checkJSONBody checks body against schema (nil checks only the JSON
// rules) and returns the body to decode, with integral numbers of integer
// fields written plainly, or the problems found.
func checkJSONBody(reg huma.Registry, schema *huma.Schema, body []byte) ([]byte, []ProblemDetail) {
	s := &bodyScan{b: body, reg: reg}
	s.value(schema, nil, 0)
	if !s.stopped {
		s.space()
		if s.i < len(s.b) {
			s.syntax("unexpected data after the JSON value")
		}
	}
	if len(s.problems) > 0 {
		return nil, s.problems
	}
	if s.out == nil {
		return body, nil
	}
	return append(s.out, body[s.copied:]...), nil
}

// add records a problem, and stops the pass at the cap.
func (s *bodyScan) add(loc string, value any, format string, args ...any) {
	if s.stopped {
		return
	}
	if len(s.problems) == maxBodyProblems {
		s.problems = append(s.problems, ProblemDetail{Location: "body",
			Message: fmt.Sprintf("the check stopped after %d problems; fix these and send the body again", maxBodyProblems)})
		s.stopped = true
		return
	}
	s.problems = append(s.problems, ProblemDetail{Location: loc, Message: fmt.Sprintf(format, args...), Value: value})
}

// syntax records a syntax error at the current byte and stops the pass.
func (s *bodyScan) syntax(what string) {
	if s.stopped {
		return
	}
	msg := fmt.Sprintf("the body is not valid JSON: %s at byte %d", what, s.i)
	if s.i >= len(s.b) {
		msg = "the body is not valid JSON: it ends too soon"
	}
	s.problems = append(s.problems, ProblemDetail{Location: "body", Message: msg})
	s.stopped = true
}

func (s *bodyScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// resolve follows a schema reference; a schema this pass does not
// understand (oneOf and the like) is nil, which checks only the JSON rules.
func (s *bodyScan) resolve(schema *huma.Schema) *huma.Schema {
	if schema != nil && schema.Ref != "" {
		schema = s.reg.SchemaFromRef(schema.Ref)
	}
	if schema == nil || len(schema.OneOf) > 0 || len(schema.AnyOf) > 0 || len(schema.AllOf) > 0 {
		return nil
	}
	return schema
}

// value checks one value. null is left to the schema validation that
// follows, which knows which fields may be null.
func (s *bodyScan) value(schema *huma.Schema, loc *bodyLoc, depth int) {
	s.space()
	if s.i >= len(s.b) {
		s.syntax("")
		return
	}
	schema = s.resolve(schema)
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= maxBodyDepth {
			s.syntax(fmt.Sprintf("it nests deeper than %d levels", maxBodyDepth))
			return
		}
		s.object(s.expect(schema, "object", loc), loc, depth)
	case c == '[':
		if depth >= maxBodyDepth {
			s.syntax(fmt.Sprintf("it nests deeper than %d levels", maxBodyDepth))
			return
		}
		s.array(s.expect(schema, "array", loc), loc, depth)
	case c == '"':
		if str, ok := s.str(loc, false); ok {
			s.expectValue(schema, "string", loc, str)
		}
	case c == '-' || c >= '0' && c <= '9':
		s.number(schema, loc)
	case c == 't' || c == 'f':
		word := "true"
		if c == 'f' {
			word = "false"
		}
		if s.literal(word) {
			s.expectValue(schema, "boolean", loc, word == "true")
		}
	case c == 'n':
		if s.literal("null") && loc == nil && schema != nil && !schema.Nullable {
			s.expectValue(schema, "null", loc, nil) // a null member is left to the schema validation
		}
	default:
		s.syntax(fmt.Sprintf("unexpected %s", quoteByte(c)))
	}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// expect checks that a value of kind fits schema and returns the schema
// to check the value's contents with (nil after a mismatch).
func (s *bodyScan) expect(schema *huma.Schema, kind string, loc *bodyLoc) *huma.Schema {
	if !s.expectValue(schema, kind, loc, nil) {
		return nil
	}
	return schema
}

// expectValue reports a value of kind where schema wants another type.
func (s *bodyScan) expectValue(schema *huma.Schema, kind string, loc *bodyLoc, value any) bool {
	if schema == nil || schema.Type == "" || schema.Type == kind || schema.Type == "number" && kind == "integer" {
		return true
	}
	s.add(loc.String(), value, "%s must be %s", loc.field(), typeSentence(schema))
	return false
}

// typeSentence says in words what a schema's type is.
func typeSentence(schema *huma.Schema) string {
	switch schema.Type {
	case "string":
		if len(schema.Enum) > 0 {
			words := make([]string, len(schema.Enum))
			for i, e := range schema.Enum {
				words[i] = fmt.Sprint(e)
			}
			return "one of the strings " + strings.Join(words, ", ")
		}
		return "a string"
	case "integer":
		return integerSentence(schema)
	case "number":
		return "a number"
	case "boolean":
		return "true or false"
	case "array":
		return "a list (a JSON array)"
	case "object":
		return "an object"
	}
	return "of type " + schema.Type
}

// integerSentence says which integers a schema allows.
func integerSentence(schema *huma.Schema) string {
	num := func(f *float64) string { return strconv.FormatFloat(*f, 'f', -1, 64) }
	switch {
	case schema.Minimum != nil && schema.Maximum != nil:
		return "an integer from " + num(schema.Minimum) + " to " + num(schema.Maximum)
	case schema.Minimum != nil:
		return "an integer of at least " + num(schema.Minimum)
	case schema.Maximum != nil:
		return "an integer of at most " + num(schema.Maximum)
	}
	return "an integer"
}

func (s *bodyScan) literal(word string) bool {
	if !strings.HasPrefix(string(s.b[s.i:min(len(s.b), s.i+len(word))]), word) {
		s.syntax(fmt.Sprintf("unexpected %s", quoteByte(s.b[s.i])))
		return false
	}
	s.i += len(word)
	return true
}

// object checks an object: each key once, each key known to the schema,
// each member against its schema.
func (s *bodyScan) object(schema *huma.Schema, loc *bodyLoc, depth int) {
	s.i++ // {
	var keys []string
	var keySet map[string]struct{}
	members := 0
	for {
		s.space()
		if members == 0 && s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return
		}
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			s.syntax("expected a key in double quotes")
			return
		}
		key, ok := s.str(loc, true)
		if !ok {
			return
		}
		member := &bodyLoc{parent: loc, key: key, index: -1}
		if seen(&keys, &keySet, key) {
			s.add(member.String(), nil, "the key %q appears more than once in %s; keys must be unique (RFC 8259, I-JSON RFC 7493)", key, loc.field())
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			s.syntax("expected ':' after a key")
			return
		}
		s.i++
		members++
		s.value(s.memberSchema(schema, member, members), member, depth+1)
		if s.stopped {
			return
		}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			continue
		}
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return
		}
		s.syntax("expected ',' or '}' after a member")
		return
	}
}

// memberSchema returns the schema of the nth member of an object, after
// reporting an unknown key or one member too many.
func (s *bodyScan) memberSchema(schema *huma.Schema, member *bodyLoc, n int) *huma.Schema {
	if schema == nil {
		return nil
	}
	if schema.MaxProperties != nil && n == *schema.MaxProperties+1 {
		s.add(member.parent.String(), nil, "%s has more than %d entries; at most %d are allowed",
			member.parent.field(), *schema.MaxProperties, *schema.MaxProperties)
	}
	if p, ok := schema.Properties[member.key]; ok {
		return p
	}
	switch extra := schema.AdditionalProperties.(type) {
	case *huma.Schema:
		return extra
	case bool:
		if !extra {
			s.add(member.String(), nil, "unknown field; the schema at /openapi.json lists the fields")
		}
	}
	return nil
}

// seen reports whether key was seen before in this object, and records
// it: a list for the few keys of most objects, a set beyond.
func seen(keys *[]string, set *map[string]struct{}, key string) bool {
	if *set != nil {
		if _, ok := (*set)[key]; ok {
			return true
		}
		(*set)[key] = struct{}{}
		return false
	}
	for _, k := range *keys {
		if k == key {
			return true
		}
	}
	*keys = append(*keys, key)
	if len(*keys) > 16 {
		*set = make(map[string]struct{}, 2*len(*keys))
		for _, k := range *keys {
			(*set)[k] = struct{}{}
		}
	}
	return false
}

func (s *bodyScan) array(schema *huma.Schema, loc *bodyLoc, depth int) {
	s.i++ // [
	var items *huma.Schema
	if schema != nil {
		items = schema.Items
	}
	for n := 0; ; n++ {
		s.space()
		if n == 0 && s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return
		}
		if schema != nil && schema.MaxItems != nil && n == *schema.MaxItems {
			s.add(loc.String(), nil, "%s has more than %d items; at most %d are allowed", loc.field(), *schema.MaxItems, *schema.MaxItems)
			items = nil
		}
		s.value(items, &bodyLoc{parent: loc, index: n}, depth+1)
		if s.stopped {
			return
		}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			continue
		}
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return
		}
		s.syntax("expected ',' or ']' after an item")
		return
	}
}

// number checks a number's syntax, and against an integer schema: an
// integral number written with a fraction or an exponent is an integer
// (JSON Schema 2020-12), and is rewritten plainly for the decoder.
func (s *bodyScan) number(schema *huma.Schema, loc *bodyLoc) {
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	intStart := s.i
	if digits() == 0 {
		s.syntax("expected a digit")
		return
	}
	if s.b[intStart] == '0' && s.i-intStart > 1 {
		s.i = intStart + 1
		s.syntax("a number must not start with 0")
		return
	}
	plain := true
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		plain = false
		if digits() == 0 {
			s.syntax("expected a digit after '.'")
			return
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		plain = false
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			s.syntax("expected a digit in the exponent")
			return
		}
	}
	raw := string(s.b[start:s.i])
	f, err := strconv.ParseFloat(raw, 64)
	var echo any = f
	if err != nil {
		echo = raw // beyond float64: echoed as text, which every client decodes
	}
	if schema == nil || schema.Type != "integer" {
		s.expectValue(schema, "number", loc, echo)
		return
	}
	ok := err == nil && f == math.Trunc(f) && math.Abs(f) <= maxExactInt &&
		(schema.Minimum == nil || f >= *schema.Minimum) && (schema.Maximum == nil || f <= *schema.Maximum)
	if !ok {
		s.add(loc.String(), echo, "%s must be %s", loc.field(), integerSentence(schema))
		return
	}
	if !plain {
		s.rewrite(start, strconv.FormatInt(int64(f), 10))
	}
}

// rewrite replaces b[start:s.i] with text in the body handed on.
func (s *bodyScan) rewrite(start int, text string) {
	if s.out == nil {
		s.out = make([]byte, 0, len(s.b))
	}
	s.out = append(s.out, s.b[s.copied:start]...)
	s.out = append(s.out, text...)
	s.copied = s.i
}

// str reads a string and returns its text, after reporting invalid UTF-8,
// lone surrogates and raw control characters. key says whether it is an
// object key of the object at loc, or the value at loc.
func (s *bodyScan) str(loc *bodyLoc, key bool) (string, bool) {
	s.i++ // opening quote
	start := s.i
	plain := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if plain {
				return string(raw), true
			}
			return s.unescape(raw, loc, key)
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				s.syntax("")
				return "", false
			}
			if !strings.ContainsRune(`"\/bfnrtu`, rune(s.b[s.i])) {
				s.syntax(fmt.Sprintf("unknown escape \\%c", s.b[s.i]))
				return "", false
			}
			s.i++
		case c < 0x20:
			s.syntax("a control character in a string must be escaped")
			return "", false
		case c >= 0x80:
			plain = false
			s.i++
		default:
			s.i++
		}
	}
	s.syntax("")
	return "", false
}

// unescape decodes a string that holds escapes or non-ASCII bytes,
// reporting what is not text: invalid UTF-8 (raw bytes, overlong forms,
// encoded surrogates) and \u escapes of lone surrogates.
func (s *bodyScan) unescape(raw []byte, loc *bodyLoc, key bool) (string, bool) {
	var sb strings.Builder
	sb.Grow(len(raw))
	bad := ""
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c >= 0x80:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				bad = fmt.Sprintf("byte 0x%02x at offset %d is not UTF-8; JSON text must be UTF-8 (RFC 8259)", c, i)
				sb.WriteRune(utf8.RuneError)
			} else {
				sb.Write(raw[i : i+size])
			}
			i += size
		case c != '\\':
			sb.WriteByte(c)
			i++
		case raw[i+1] != 'u':
			sb.WriteByte(unescapeByte(raw[i+1]))
			i += 2
		default:
			r, ok := hex4(raw[i+2:])
			if !ok {
				s.i = s.i - 1 - len(raw) + i // point at the bad escape
				s.syntax("\\u must be followed by 4 hexadecimal digits")
				return "", false
			}
			i += 6
			if utf16IsSurrogate(r) {
				if lo, ok := hex4(raw[min(i+2, len(raw)):]); r < 0xdc00 && ok && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' && lo >= 0xdc00 && lo <= 0xdfff {
					r = (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000
					i += 6
				} else {
					bad = fmt.Sprintf("\\u%04x is a lone surrogate, not a character; JSON text must be UTF-8 (RFC 8259)", r)
					r = utf8.RuneError
				}
			}
			sb.WriteRune(r)
		}
	}
	if bad != "" {
		if key {
			s.add(loc.String(), nil, "a key of %s is not valid text: %s", loc.field(), bad)
		} else {
			s.add(loc.String(), nil, "%s is not valid text: %s", loc.field(), bad)
		}
	}
	return sb.String(), true
}

// unescapeByte is the byte a one-letter escape stands for.
func unescapeByte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // '"', '\\' and '/' stand for themselves
}

func utf16IsSurrogate(r rune) bool { return r >= 0xd800 && r <= 0xdfff }

// hex4 reads 4 hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
