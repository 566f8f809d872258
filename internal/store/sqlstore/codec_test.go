package sqlstore

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzSplitList checks the fast list reader against encoding/json: where
// it accepts a text, encoding/json reads the same strings from it.
func FuzzSplitList(f *testing.F) {
	for _, s := range []string{`[]`, `["10.0.0.0/8","2001:db8::/32"]`, `["443", "1024-65535"]`, ` [ "a" ] `,
		`["a",]`, `["a\"b"]`, `["\u00e9"]`, `["a" "b"]`, `[1]`, `null`, `["é"]`, "[\"\x01\"]", `["a",`, `[,]`, "[\"\xff\"]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, ok := splitList(text)
		if !ok {
			return
		}
		var want []string
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatalf("splitList(%q) = %q, but encoding/json refuses it: %v", text, got, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("splitList(%q) = %q, encoding/json reads %q", text, got, want)
		}
	})
}
