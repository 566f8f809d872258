package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// jsonRulesRef is the plain reference for checkJSONBody's JSON rules:
// encoding/json's own grammar check, utf8.Valid, and a walk of
// encoding/json tokens with a set of keys per object for duplicates and
// a count of open containers for depth.
func jsonRulesRef(body []byte) (valid, utf8OK, unique, shallow bool) {
	valid, utf8OK, unique, shallow = json.Valid(body), utf8.Valid(body), true, true
	if !valid {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		want   bool // the next string in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			valid = false
			return
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.object && top.want
		if top != nil && top.object {
			top.want = !top.want
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &frame{object: t == '{', keys: map[string]bool{}, want: true})
				if len(stack) > maxBodyDepth {
					shallow = false
				}
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].want = true // the container was a member's value
				}
			}
		case string:
			if isKey {
				if top.keys[t] {
					unique = false
				}
				top.keys[t] = true
			}
		}
	}
}

// surrogateEscape finds \u escapes of surrogates, after an even number of
// backslashes (an odd one escapes the backslash itself).
var surrogateEscape = regexp.MustCompile(`(?:^|[^\\])(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}`)

// FuzzJSONBodyCheck holds checkJSONBody's JSON rules to the reference:
// what it accepts is valid JSON, UTF-8, with unique keys and at most 64
// levels deep, and holds no U+FFFD that the body did not write; and it
// accepts every such body that escapes no surrogate at all.
func FuzzJSONBodyCheck(f *testing.F) {
	for _, s := range []string{
		`{"action":"allow"}`, `{"action":"allow","action":"deny"}`, `{"a":{"b":1,"b":2}}`, `[{"k":1},{"k":1}]`,
		`{"a\u0062":1,"ab":2}`, "{\"name\":\"\xff\"}", "{\"name\":\"\xc0\xaf\"}", "{\"name\":\"\xed\xa0\x80\"}",
		`{"name":"\ud800"}`, `{"name":"\udc00x"}`, `{"name":"\ud83d\ude00"}`, `{"name":"\\ud800"}`, `{"name":"\ufffd"}`,
		strings.Repeat("[", 65) + strings.Repeat("]", 65), strings.Repeat("[", 64) + strings.Repeat("]", 64),
		`{"n":1.0,"m":-0,"e":1e2,"x":01}`, `{"a":tru}`, `"x"`, ` null `, `{"a":1}x`, `{"a":"\x"}`, "{\"a\":\"\t\"}",
		`{"a":[1,2,]}`, `{,}`, `{"a" 1}`, `[1 2]`, `-`, `1e`, `1.`, `{"\u00e9":1,"é":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, problems := checkJSONBody(nil, nil, body)
		if len(problems) > maxBodyProblems+1 {
			t.Fatalf("%d problems for %q; the list is capped at %d and one more", len(problems), body, maxBodyProblems)
		}
		valid, utf8OK, unique, shallow := jsonRulesRef(body)
		if problems == nil {
			if !bytes.Equal(out, body) {
				t.Fatalf("without a schema the body %q came out changed: %q", body, out)
			}
			if !valid || !utf8OK || !unique || !shallow {
				t.Fatalf("accepted %q: valid JSON %v, UTF-8 %v, unique keys %v, at most %d deep %v",
					body, valid, utf8OK, unique, maxBodyDepth, shallow)
			}
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
			}
			enc, _ := json.Marshal(v)
			if bytes.Contains(enc, []byte("\ufffd")) && !bytes.Contains(body, []byte("\ufffd")) &&
				!bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
				t.Fatalf("accepted %q, which decodes to U+FFFD that the body did not write: a lone surrogate got through", body)
			}
			return
		}
		if valid && utf8OK && unique && shallow && !surrogateEscape.Match(body) {
			t.Fatalf("refused %q, which keeps every rule: %+v", body, problems)
		}
	})
}

// TestCheckJSONBodySchema checks the schema-guided part: unknown fields,
// types in words, integral numbers rewritten, lists and maps within their
// bounds, the cap on problems.
func TestCheckJSONBodySchema(t *testing.T) {
	reg := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	policy := reg.Schema(reflect.TypeFor[PolicyInput](), true, "PolicyInput")
	rule := reg.Schema(reflect.TypeFor[RuleInput](), true, "RuleInput")
	fw := reg.Schema(reflect.TypeFor[FirewallInput](), true, "FirewallInput")
	many := func(n int, item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
	}
	unknown := &strings.Builder{}
	unknown.WriteString(`{"name":"x"`)
	for i := range 1000 {
		unknown.WriteString(`,"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + `":1`)
	}
	unknown.WriteString("}")
	tests := []struct {
		name     string
		schema   *huma.Schema
		body     string
		out      string // the body handed on, when accepted
		loc, msg string // the first problem, when refused
		count    int    // the number of problems, when set
	}{
		{name: "integral 1.0", schema: policy, body: `{"name":"p","priority":1.0}`, out: `{"name":"p","priority":1}`},
		{name: "integral 1e2", schema: policy, body: `{"name":"p","priority":1e2}`, out: `{"name":"p","priority":100}`},
		{name: "integral 250E-1", schema: policy, body: `{"name":"p","priority":250E-1}`, out: `{"name":"p","priority":25}`},
		{name: "fraction", schema: policy, body: `{"name":"p","priority":1.5}`, loc: "body.priority", msg: "priority must be an integer from 0 to 65535"},
		{name: "huge", schema: policy, body: `{"priority":1e400}`, loc: "body.priority", msg: "must be an integer"},
		{name: "string for integer", schema: policy, body: `{"priority":"7"}`, loc: "body.priority", msg: "priority must be an integer from 0 to 65535"},
		{name: "number for string", schema: policy, body: `{"name":7}`, loc: "body.name", msg: "name must be a string"},
		{name: "enum", schema: policy, body: `{"default_action":true}`, loc: "body.default_action", msg: "must be one of the strings allow, deny, next"},
		{name: "unknown field", schema: policy, body: `{"name":"p","colour":"red"}`, loc: "body.colour", msg: "unknown field"},
		{name: "unknown field deep", schema: rule, body: `{"action":"allow","sources":[{"a":1}]}`, loc: "body.sources[0]", msg: "sources[0] must be a string"},
		{name: "too many items", schema: rule, body: `{"action":"allow","sources":` + many(257, `"10.0.0.0/8"`) + `}`, loc: "body.sources", msg: "more than 256 items"},
		{name: "too many labels", schema: fw, body: `{"name":"x","labels":{` + strings.TrimSuffix(strings.Repeat(`"a":"b",`, 1), ",") + `,"b":"c"}}`, out: `{"name":"x","labels":{"a":"b","b":"c"}}`},
		{name: "label of wrong type", schema: fw, body: `{"name":"x","labels":{"a":1}}`, loc: "body.labels.a", msg: "labels.a must be a string"},
		{name: "duplicate label", schema: fw, body: `{"name":"x","labels":{"a":"1","a":"2"}}`, loc: "body.labels.a", msg: `the key "a" appears more than once`},
		{name: "escaped duplicate", schema: fw, body: `{"name":"x","n\u0061me":"y"}`, loc: "body.name", msg: "appears more than once"},
		{name: "thousand unknown keys", schema: fw, body: unknown.String(), loc: "body.kaa", msg: "unknown field", count: maxBodyProblems + 1},
		{name: "lone surrogate", schema: fw, body: `{"name":"a\ud800b"}`, loc: "body.name", msg: "lone surrogate"},
		{name: "raw invalid byte", schema: fw, body: "{\"name\":\"a\xffb\"}", loc: "body.name", msg: "not UTF-8"},
		{name: "overlong slash", schema: fw, body: "{\"name\":\"a\xc0\xafb\"}", loc: "body.name", msg: "not UTF-8"},
		{name: "bad key", schema: fw, body: "{\"name\":\"x\",\"labels\":{\"\xff\":\"v\"}}", loc: "body.labels", msg: "a key of labels is not valid text"},
		{name: "null body", schema: fw, body: `null`, loc: "body", msg: "the body must be an object"},
		{name: "null member left to the schema", schema: fw, body: `{"name":"x","labels":null}`, out: `{"name":"x","labels":null}`},
		{name: "surrogate pair", schema: fw, body: `{"name":"\ud83d\ude00"}`, out: `{"name":"\ud83d\ude00"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, problems := checkJSONBody(reg, tt.schema, []byte(tt.body))
			if tt.loc == "" {
				if problems != nil {
					t.Fatalf("refused %s: %+v", tt.body, problems)
				}
				if string(out) != tt.out {
					t.Fatalf("handed on %s, want %s", out, tt.out)
				}
				return
			}
			if len(problems) == 0 {
				t.Fatalf("accepted %s", tt.body)
			}
			if problems[0].Location != tt.loc || !strings.Contains(problems[0].Message, tt.msg) {
				t.Fatalf("first problem %+v, want %s containing %q", problems[0], tt.loc, tt.msg)
			}
			if tt.count != 0 && len(problems) != tt.count {
				t.Fatalf("%d problems, want %d", len(problems), tt.count)
			}
		})
	}
}

// BenchmarkCheckJSONBody measures the body check on a typical rule body
// and on a batch of 10,000 flows in the generic shape (escapes take the
// evaluate fast path off).
func BenchmarkCheckJSONBody(b *testing.B) {
	reg := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	rule := reg.Schema(reflect.TypeFor[RuleInput](), true, "RuleInput")
	eval := reg.Schema(reflect.TypeFor[EvaluateInput](), true, "EvaluateInput")
	flow := `{"protocol":"tc\u0070","source_ip":"10.1.2.3","destination_ip":"192.0.2.10","source_port":51514,"destination_port":443}`
	for _, bc := range []struct {
		name   string
		schema *huma.Schema
		body   string
	}{
		{"rule", rule, `{"name":"allow-https","action":"allow","protocol":"tcp","sources":["10.0.0.0/8","2001:db8::/32"],"destination_ports":["443","8443-8444"],"description":"Web tier"}`},
		{"10k-flows", eval, `{"flows":[` + strings.TrimSuffix(strings.Repeat(flow+",", maxFlows), ",") + `]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, problems := checkJSONBody(reg, bc.schema, body); problems != nil {
					b.Fatal(problems)
				}
			}
		})
	}
}
