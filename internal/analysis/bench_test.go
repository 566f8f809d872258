package analysis

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

var benchSizes = []int{1000, 10000, 100000}

// cpuTime is the CPU time of the process so far. The benchmarks report it
// a loop (cpu-ms/op) beside the wall time, because on a shared machine
// the wall time mostly measures the other tenants.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports its CPU time an iteration.
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkFindings is the full analysis (every kind) of a realistic
// firewall, compile included.
func BenchmarkFindings(b *testing.B) {
	for _, n := range benchSizes {
		tr := fwgen.Realistic(1, n, false)
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			findings := 0
			loop(b, func() {
				m, err := New(tr, fwgen.Now)
				if err != nil {
					b.Fatal(err)
				}
				rep, err := m.Findings(Options{})
				if err != nil {
					b.Fatal(err)
				}
				findings = len(rep.Findings)
			})
			b.ReportMetric(float64(findings), "findings")
		})
	}
}

// BenchmarkSearch looks for an allowed flow from a source the rules name
// to a destination they name on tcp, and for one the firewall default
// decides (which must be proven absent or found past every rule).
func BenchmarkSearch(b *testing.B) {
	for _, n := range benchSizes {
		tr := fwgen.Realistic(1, n, false)
		m, err := New(tr, fwgen.Now)
		if err != nil {
			b.Fatal(err)
		}
		sp := Space{
			Protocols:    []firewall.Protocol{firewall.TCP},
			Sources:      []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			Destinations: []netip.Prefix{netip.MustParsePrefix("10.3.0.0/16")},
		}
		for name, target := range map[string]Target{
			"allow":    {Action: firewall.Allow},
			"default":  {DecidedBy: firewall.ByFirewallDefault},
			"reject22": {Action: firewall.Reject},
		} {
			b.Run(fmt.Sprintf("rules=%d/%s", n, name), func(b *testing.B) {
				loop(b, func() {
					if _, err := m.Search(sp, target, false); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}

// BenchmarkCompare compares two realistic firewalls that differ in one
// rule (its action flipped), compile of both included.
func BenchmarkCompare(b *testing.B) {
	for _, n := range benchSizes {
		a := fwgen.Realistic(1, n, false)
		c := cloneTree(a)
		pt := &c.Policies[3]
		r := &pt.Rules[len(pt.Rules)/2]
		if r.Action == firewall.Allow {
			r.Action = firewall.Deny
		} else {
			r.Action = firewall.Allow
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			loop(b, func() {
				ma, err := New(a, fwgen.Now)
				if err != nil {
					b.Fatal(err)
				}
				mc, err := New(c, fwgen.Now)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Compare(ma, mc, 0); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
