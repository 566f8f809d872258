package sqlstore

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
)

// FuzzCutLists checks that cutLists finds the four arrays in any four
// JSON arrays of strings written back to back, escapes, brackets and
// jsonb's spacing included, and that whatever it accepts is cut, in
// order, from the text.
func FuzzCutLists(f *testing.F) {
	f.Add("10.0.0.0/8", "a]b", "443,1024-65535", `"[\`, uint8(0), "")
	f.Add("", "", "", "", uint8(1), `[][][][]`)
	f.Add("x", "y", "z", "w", uint8(2), `["a"] ["b\"]"][{"c": [1]}] []`)
	f.Fuzz(func(t *testing.T, a, b, c, d string, spacing uint8, text string) {
		var want [4]string
		var joined strings.Builder
		for k, s := range []string{a, b, c, d} {
			var list []string
			if s != "" {
				list = strings.Split(s, ",")
			}
			if list == nil {
				list = []string{}
			}
			enc, err := json.Marshal(list)
			if err != nil {
				t.Fatal(err)
			}
			want[k] = string(enc)
			if spacing&(1<<k) != 0 {
				want[k] = strings.ReplaceAll(want[k], `","`, `", "`) // as jsonb prints
				joined.WriteString(" \n")
			}
			joined.WriteString(want[k])
		}
		got, ok := cutLists(joined.String())
		if !ok || got != want {
			t.Fatalf("cutLists(%q) = %q, %v; want %q", joined.String(), got, ok, want)
		}
		got, ok = cutLists(text)
		if !ok {
			return
		}
		rest := text
		for _, part := range got {
			if len(part) < 2 || part[0] != '[' || part[len(part)-1] != ']' {
				t.Fatalf("cutLists(%q) gave %q, not bracketed", text, part)
			}
			i := strings.Index(rest, part)
			if i < 0 || strings.Trim(rest[:i], " \t\n\r") != "" {
				t.Fatalf("cutLists(%q) gave %q, which does not follow in order", text, got)
			}
			rest = rest[i+len(part):]
		}
		if strings.Trim(rest, " \t\n\r") != "" {
			t.Fatalf("cutLists(%q) left %q out", text, rest)
		}
	})
}

// FuzzDecodeInto checks the arena decoder against decodeList: the same
// entries or an error for the same texts, lists that do not share
// capacity, and earlier lists left intact by later ones.
func FuzzDecodeInto(f *testing.F) {
	for _, s := range []string{`[]`, `["10.0.0.0/8","2001:db8::/32"]`, `["10.1.2.3", "::1"]`, `["10.0.0.1/8"]`,
		`["443","1024-65535"]`, `["a\"b"]`, `["\u0031\u0030.0.0.0/8"]`, `[1]`, `null`, `["é"]`} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		var a listArena
		var kept [][]netip.Prefix
		var keptPorts [][]firewall.PortRange
		for _, text := range []string{first, second, first} {
			got, err := decodeInto(&a, &a.prefixes, text, firewall.ParsePrefix)
			want, wantErr := decodeList(text, firewall.ParsePrefix)
			if (err != nil) != (wantErr != nil) || !slices.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("decodeInto(%q) = %v, %v; decodeList gives %v, %v", text, got, err, want, wantErr)
			}
			if len(got) != cap(got) {
				t.Fatalf("decodeInto(%q) left room after the list: len %d, cap %d", text, len(got), cap(got))
			}
			kept = append(kept, slices.Clone(got), got)
			gotPorts, err := decodeInto(&a, &a.ports, text, firewall.ParsePortRange)
			wantPorts, wantErr := decodeList(text, firewall.ParsePortRange)
			if (err != nil) != (wantErr != nil) || !slices.Equal(gotPorts, wantPorts) {
				t.Fatalf("decodeInto(%q) = %v, %v; decodeList gives %v, %v", text, gotPorts, err, wantPorts, wantErr)
			}
			keptPorts = append(keptPorts, slices.Clone(gotPorts), gotPorts)
		}
		for i := 0; i < len(kept); i += 2 {
			if !slices.Equal(kept[i], kept[i+1]) || !slices.Equal(keptPorts[i], keptPorts[i+1]) {
				t.Fatalf("a later decode changed list %d: %v, then %v", i/2, kept[i], kept[i+1])
			}
		}
	})
}

// TestSortRules compares sortRules with a plain sort of the rules, over
// runs that are sorted, reversed, nearly sorted and shuffled.
func TestSortRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 10, 1000} {
		for _, shape := range []string{"sorted", "reversed", "nearly", "shuffled"} {
			t.Run(fmt.Sprintf("%d/%s", n, shape), func(t *testing.T) {
				rules := make([]firewall.Rule, n)
				keys := make([]int64, n)
				for i := range rules {
					rules[i].ID = fmt.Sprint(i)
					rules[i].PolicyID = fmt.Sprintf("p%d", rng.IntN(4))
					keys[i] = int64(i)*3 + int64(rng.IntN(3))
				}
				type keyed struct {
					r   firewall.Rule
					key int64
				}
				all := make([]keyed, n)
				for i := range all {
					all[i] = keyed{rules[i], keys[i]}
				}
				byPolicyAndKey := func(a, b keyed) int {
					return cmp.Or(strings.Compare(a.r.PolicyID, b.r.PolicyID), cmp.Compare(a.key, b.key))
				}
				switch shape {
				case "sorted":
					slices.SortFunc(all, byPolicyAndKey)
				case "reversed":
					slices.SortFunc(all, func(a, b keyed) int { return byPolicyAndKey(b, a) })
				case "nearly":
					slices.SortFunc(all, byPolicyAndKey)
					for range n / 10 {
						i, j := rng.IntN(n), rng.IntN(n)
						all[i], all[j] = all[j], all[i]
					}
				case "shuffled":
					rng.Shuffle(n, func(i, j int) { all[i], all[j] = all[j], all[i] })
				}
				for i := range all {
					rules[i], keys[i] = all[i].r, all[i].key
				}
				slices.SortFunc(all, byPolicyAndKey)
				sortRules(rules, keys)
				for i := range all {
					if !reflect.DeepEqual(rules[i], all[i].r) {
						t.Fatalf("rule %d is %s, want %s", i, rules[i].ID, all[i].r.ID)
					}
				}
			})
		}
	}
}

// FuzzCutFlags checks that cutFlags reads back what flagsColumn writes,
// and that whatever text it accepts is what flagsColumn would write for
// what it read.
func FuzzCutFlags(f *testing.F) {
	f.Add("allow", "tcp", true, "deny icmpv6 0")
	f.Add("reject", "any", false, "allow  1")
	f.Fuzz(func(t *testing.T, action, protocol string, enabled bool, text string) {
		if action != "" && protocol != "" && !strings.Contains(action+protocol, " ") {
			flag := " 0"
			if enabled {
				flag = " 1"
			}
			a, p, e, ok := cutFlags(action + " " + protocol + flag)
			if !ok || string(a) != action || string(p) != protocol || e != enabled {
				t.Fatalf("cutFlags(%q) = %q, %q, %v, %v", action+" "+protocol+flag, a, p, e, ok)
			}
		}
		a, p, e, ok := cutFlags(text)
		if !ok {
			return
		}
		flag := " 0"
		if e {
			flag = " 1"
		}
		if again := string(a) + " " + string(p) + flag; again != text {
			t.Fatalf("cutFlags(%q) = %q, %q, %v, which writes %q", text, a, p, e, again)
		}
	})
}
