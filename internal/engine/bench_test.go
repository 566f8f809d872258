package engine

import (
	"fmt"
	"sync"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// Run the "one core" figures with:
//
//	go test -run XXX -bench . -cpu 1 -benchmem ./internal/engine/

var benchSizes = []int{100, 1000, 10000, 100000}

const benchFlows = 1 << 14

type benchSet struct {
	tree  firewall.Tree
	m     *Matcher
	flows []firewall.Flow
}

var (
	benchMu    sync.Mutex
	benchCache = map[string]*benchSet{}
)

// getBenchSet builds (once) a rule set with its matcher and flows.
func getBenchSet(b *testing.B, kind string, n int) *benchSet {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	key := fmt.Sprintf("%s/%d", kind, n)
	if s, ok := benchCache[key]; ok {
		return s
	}
	s := &benchSet{}
	switch kind {
	case "realistic", "unique":
		s.tree = fwgen.Realistic(uint64(n), n, kind == "unique")
		s.flows = fwgen.RealisticFlows(uint64(n)+1, &s.tree, benchFlows)
	case "random":
		s.tree = fwgen.Hard(uint64(n), n)
		s.flows = fwgen.HardFlows(uint64(n)+1, &s.tree, benchFlows)
	default:
		b.Fatalf("unknown bench set %q", kind)
	}
	m, err := Compile(s.tree)
	if err != nil {
		b.Fatal(err)
	}
	s.m = m
	benchCache[key] = s
	return s
}

var sinkDecision firewall.Decision

func benchEvaluate(b *testing.B, s *benchSet) {
	b.ReportAllocs()
	m, flows := s.m, s.flows
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sinkDecision = m.Evaluate(flows[i&(benchFlows-1)], fwgen.Now, false)
	}
}

func benchEvaluateBatch(b *testing.B, s *benchSet) {
	b.ReportAllocs()
	const batch = 1024
	m := s.m
	out := make([]firewall.Decision, batch)
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		off := (i * batch) & (benchFlows - 1)
		m.EvaluateBatch(s.flows[off:off+batch], fwgen.Now, false, out)
		n += batch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/decision")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
}

// The rule sets: "realistic" (rules draw their prefixes from a fixed pool
// of address objects), "unique" (the same, but nearly every rule has fresh
// prefixes: a much bigger index) and "random" (uniform prefixes, ports and
// protocols: nothing for an index to exploit). See gen_test.go.
var extraSets = []struct {
	kind string
	n    int
}{{"unique", 10000}, {"unique", 100000}, {"random", 10000}}

// BenchmarkEvaluate decides one flow per operation.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) { benchEvaluate(b, getBenchSet(b, "realistic", n)) })
	}
	for _, x := range extraSets {
		b.Run(fmt.Sprintf("%s/rules=%d", x.kind, x.n), func(b *testing.B) { benchEvaluate(b, getBenchSet(b, x.kind, x.n)) })
	}
}

// BenchmarkEvaluateBatch decides 1024 flows per operation.
func BenchmarkEvaluateBatch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) { benchEvaluateBatch(b, getBenchSet(b, "realistic", n)) })
	}
	for _, x := range extraSets {
		b.Run(fmt.Sprintf("%s/rules=%d", x.kind, x.n), func(b *testing.B) { benchEvaluateBatch(b, getBenchSet(b, x.kind, x.n)) })
	}
}

// BenchmarkCompile compiles realistic firewalls, and the random one.
func BenchmarkCompile(b *testing.B) {
	for _, c := range []struct {
		kind string
		n    int
	}{{"realistic", 1000}, {"realistic", 100000}, {"unique", 100000}, {"random", 10000}} {
		name := fmt.Sprintf("rules=%d", c.n)
		if c.kind != "realistic" {
			name = c.kind + "/" + name
		}
		b.Run(name, func(b *testing.B) {
			s := getBenchSet(b, c.kind, c.n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Compile(s.tree); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
