package analysis

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
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

// loop runs f b.N times and reports its CPU time an iteration, and the
// process's peak resident memory so far (which includes the benchmark's
// own trees).
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
	if kb := peakRSS(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
	}
}

// peakRSS reads the process's peak resident set (VmHWM) in kB, or 0.
func peakRSS() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return 0
}

// BenchmarkFindings is the full analysis (every kind) of a realistic
// firewall, compile included. "pool" trees draw addresses from a fixed
// pool of objects, so that at 100,000 rules most rules repeat earlier ones
// and are reported unreachable; "unique" trees give nearly every rule
// fresh prefixes, as a rule base with few dead rules has.
func BenchmarkFindings(b *testing.B) {
	for _, c := range []struct {
		name   string
		unique bool
	}{{"pool", false}, {"unique", true}} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/rules=%d", c.name, n), func(b *testing.B) {
				benchFindings(b, fwgen.Realistic(1, n, c.unique))
			})
		}
	}
}

func benchFindings(b *testing.B, tr firewall.Tree) {
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
}

// BenchmarkSearch looks, among tcp flows from 10.0.0.0/8 to 10.3.0.0/16,
// for an allowed one, a rejected one, and one the firewall default decides.
// The model and all its indexes are built first, as the service caches them
// per revision.
func BenchmarkSearch(b *testing.B) {
	sp := Space{
		Protocols:    []firewall.Protocol{firewall.TCP},
		Sources:      []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Destinations: []netip.Prefix{netip.MustParsePrefix("10.3.0.0/16")},
	}
	targets := []struct {
		name   string
		target Target
	}{
		{"allow", Target{Action: firewall.Allow}},
		{"reject", Target{Action: firewall.Reject}},
		{"default", Target{DecidedBy: firewall.ByFirewallDefault}},
	}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			m, err := New(fwgen.Realistic(1, n, false), fwgen.Now)
			if err != nil {
				b.Fatal(err)
			}
			for c := range nClasses {
				m.index(c).everything()
			}
			for _, tc := range targets {
				b.Run(tc.name, func(b *testing.B) {
					loop(b, func() {
						if _, err := m.Search(sp, tc.target, false); err != nil {
							b.Fatal(err)
						}
					})
				})
			}
		})
	}
}

// BenchmarkCompare compares two realistic firewalls that differ in one
// rule (its action flipped), compile of both included.
func BenchmarkCompare(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			a := fwgen.Realistic(1, n, false)
			c := cloneTree(a)
			pt := &c.Policies[3]
			r := &pt.Rules[len(pt.Rules)/2]
			if r.Action == firewall.Allow {
				r.Action = firewall.Deny
			} else {
				r.Action = firewall.Allow
			}
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

// BenchmarkSameEffect checks a change of one rule (its action flipped)
// after the firewall moved by another rule (deleted), compile of the four
// trees included: the work an apply does on a moved firewall beyond
// re-applying the change.
func BenchmarkSameEffect(b *testing.B) {
	for _, n := range benchSizes[:2] {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			base := fwgen.Realistic(1, n, false)
			flip := func(t firewall.Tree) firewall.Tree {
				t = cloneTree(t)
				pt := &t.Policies[3]
				r := &pt.Rules[len(pt.Rules)/2]
				if r.Action == firewall.Allow {
					r.Action = firewall.Deny
				} else {
					r.Action = firewall.Allow
				}
				return t
			}
			cur := cloneTree(base)
			pt := &cur.Policies[1]
			pt.Rules = pt.Rules[:len(pt.Rules)-1]
			trees := []firewall.Tree{base, flip(base), cur, flip(cur)}
			same := false
			loop(b, func() {
				var ms [4]*Model
				for i, t := range trees {
					m, err := New(t, fwgen.Now)
					if err != nil {
						b.Fatal(err)
					}
					ms[i] = m
				}
				got, err := SameEffect(ms[0], ms[1], ms[2], ms[3])
				if err != nil {
					b.Fatal(err)
				}
				same = got.Same
			})
			if !same {
				b.Log("the effect differs")
			}
		})
	}
}
