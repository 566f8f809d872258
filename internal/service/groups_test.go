package service

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// TestCheckGroupGraph checks the nesting refusals on small graphs: each
// refused graph names its problem, each accepted one passes.
func TestCheckGroupGraph(t *testing.T) {
	node := func(name string, members int, nested ...string) store.GroupNode {
		return store.GroupNode{Name: name, Members: members, Nested: nested}
	}
	chain := func(n int) map[string]store.GroupNode {
		g := map[string]store.GroupNode{}
		for i := range n {
			var nested []string
			if i > 0 {
				nested = []string{fmt.Sprint(i - 1)}
			}
			g[fmt.Sprint(i)] = node(fmt.Sprintf("g%d", i), 1, nested...)
		}
		return g
	}
	tests := []struct {
		name  string
		graph map[string]store.GroupNode
		id    string
		want  string // "" accepts
	}{
		{"flat", map[string]store.GroupNode{"a": node("a", 3)}, "a", ""},
		{"self", map[string]store.GroupNode{"a": node("web", 1, "a")}, "a", "web → web"},
		{"two", map[string]store.GroupNode{"w": node("web", 1, "d"), "d": node("dmz", 1, "w")}, "w", "web → dmz → web"},
		{"three", map[string]store.GroupNode{"a": node("a", 0, "b"), "b": node("b", 0, "c"), "c": node("c", 0, "a")}, "b", "b → c → a → b"},
		{"diamond", map[string]store.GroupNode{"top": node("top", 0, "l", "r"), "l": node("l", 1, "z"), "r": node("r", 1, "z"), "z": node("z", 1)}, "z", ""},
		{"depth at limit", chain(firewall.MaxGroupDepth), "0", ""},
		// Changing the innermost group makes the outermost one too deep.
		{"depth over limit through a nester", chain(firewall.MaxGroupDepth + 1), "0", fmt.Sprintf("%d levels deep", firewall.MaxGroupDepth+1)},
		{"size", map[string]store.GroupNode{"a": node("big", firewall.MaxGroupExpanded, "b"), "b": node("b", 1)}, "b", "would hold"},
		{"size counts a shared child once", map[string]store.GroupNode{"a": node("a", firewall.MaxGroupExpanded-2, "b", "c"), "b": node("b", 1, "z"), "c": node("c", 0, "z"), "z": node("z", 1)}, "z", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckGroupGraph(tc.graph, tc.id, "address group")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			case tc.want != "" && firewall.CodeOf(err) != firewall.CodeInvalid:
				t.Fatalf("code %q, want invalid", firewall.CodeOf(err))
			}
		})
	}
}
