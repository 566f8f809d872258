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

// FuzzSplitGroupRefs checks the fast group_refs reader against
// encoding/json: where it accepts a text, encoding/json reads the same
// references from it.
func FuzzSplitGroupRefs(f *testing.F) {
	for _, s := range []string{`{}`, `{"source":["ag-1","ag-2"],"service":["sg-1"]}`,
		`{"source" : ["a", "b"], "destination" : ["c"], "service" : ["d"]}`, `{"destination" : null, "service" : []}`,
		`{"source":["a]"]}`, `{"source":["a"],"source":["b"]}`, `{"SOURCE":["a"]}`, `{"source":["a"],}`,
		`{"sourcex":["a"]}`, `{"source":["a\"b"]}`, `{"source":"a"}`, `{"source":[1]}`, `{"source":["a"] "service":[]}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, ok := splitGroupRefs(text)
		if !ok {
			return
		}
		var want storedGroupRefs
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatalf("splitGroupRefs(%q) = %+v, but encoding/json refuses it: %v", text, got, err)
		}
		for i, pair := range [][2][]string{{got.Source, want.Source}, {got.Destination, want.Destination}, {got.Service, want.Service}} {
			if !slices.Equal(pair[0], pair[1]) {
				t.Fatalf("splitGroupRefs(%q) list %d = %q, encoding/json reads %q", text, i, pair[0], pair[1])
			}
		}
	})
}

// TestSplitGroupRefs checks that the fast reader takes the forms the
// stores write: encoding/json's and PostgreSQL json_build_object's.
func TestSplitGroupRefs(t *testing.T) {
	for _, tc := range []struct {
		text string
		want storedGroupRefs
	}{
		{`{"source":["a","b"],"destination":["c"],"service":["d"]}`, storedGroupRefs{[]string{"a", "b"}, []string{"c"}, []string{"d"}}},
		{`{"destination":["c"]}`, storedGroupRefs{Destination: []string{"c"}}},
		{`{"source" : ["a", "b"], "destination" : [], "service" : ["d"]}`, storedGroupRefs{[]string{"a", "b"}, nil, []string{"d"}}},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, ok := splitGroupRefs(tc.text)
			if !ok || !slices.Equal(got.Source, tc.want.Source) || !slices.Equal(got.Destination, tc.want.Destination) ||
				!slices.Equal(got.Service, tc.want.Service) {
				t.Fatalf("splitGroupRefs(%q) = %+v, %v; want %+v", tc.text, got, ok, tc.want)
			}
		})
	}
}
