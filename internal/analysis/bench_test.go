package analysis

import (
	"fmt"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

var benchSizes = []int{1000, 10000, 100000}

// BenchmarkFindings is the full analysis (every kind) of a realistic
// firewall, compile included.
func BenchmarkFindings(b *testing.B) {
	for _, n := range benchSizes {
		tr := fwgen.Realistic(1, n, false)
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m, err := New(tr, fwgen.Now)
				if err != nil {
					b.Fatal(err)
				}
				rep, err := m.Findings(Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(rep.Findings)), "findings")
			}
		})
	}
}
