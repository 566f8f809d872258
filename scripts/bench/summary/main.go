// Command summary reads the JSON reports of vegeta (vegeta report -type=json)
// written by scripts/bench.sh and memory figures taken from /proc, and prints
// the benchmark summary table with the FireFlow targets:
//
//   - idle RSS after seeding <= 30 MB;
//   - peak RSS under load <= 100 MB;
//   - GET-by-id throughput >= 50 % of the bare net/http baseline;
//   - metrics and access logs (tracing off) cost <= 10 % of GET-by-id
//     throughput, against the same API without them;
//   - token verification costs <= 5 % of GET-by-id throughput, against
//     that API with token checks stubbed out.
//
// With -strict it exits 1 when a target is missed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of the API benchmark.
const (
	maxIdleRSSMB = 30.0
	maxPeakRSSMB = 100.0
	minBareRatio = 0.50
	maxAuthCost  = 0.05
	maxObsCost   = 0.10
	// flowsPerEvaluate is the batch size of the evaluate benchmark.
	flowsPerEvaluate      = 10000
	minDecisionsPerSecond = 1e6
	minSuccessful         = 1.0
)

// report is the subset of vegeta's JSON report that the summary uses.
// Latencies and durations are in nanoseconds.
type report struct {
	Latencies struct {
		P50  time.Duration `json:"50th"`
		P90  time.Duration `json:"90th"`
		P99  time.Duration `json:"99th"`
		Max  time.Duration `json:"max"`
		Mean time.Duration `json:"mean"`
	} `json:"latencies"`
	Duration    time.Duration  `json:"duration"`
	Requests    uint64         `json:"requests"`
	Rate        float64        `json:"rate"`
	Throughput  float64        `json:"throughput"`
	Success     float64        `json:"success"`
	StatusCodes map[string]int `json:"status_codes"`
	Errors      []string       `json:"errors"`
}

// readMedian reads comma-separated reports of repeated rounds and returns
// the round with the median throughput, so that one noisy round on a shared
// machine does not decide a comparison.
func readMedian(paths string) (*report, error) {
	var rounds []*report
	for _, path := range strings.Split(paths, ",") {
		r, err := readReport(path)
		if err != nil {
			return nil, err
		}
		rounds = append(rounds, r)
	}
	sort.Slice(rounds, func(i, j int) bool { return rounds[i].Throughput < rounds[j].Throughput })
	return rounds[len(rounds)/2], nil
}

func readReport(path string) (*report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Requests == 0 {
		return nil, fmt.Errorf("%s: no requests in report", path)
	}
	return &r, nil
}

type input struct {
	get, rules, bare    *report
	noauth, eval, plain *report
	startupKB, idleKB   int64
	idleFileKB          int64 // of idleKB, the pages mapped from files: the binary's code and data
	idleAnonKB          int64 // of idleKB, private memory: Go heap, stacks, SQLite caches
	peakKB              int64
	peakIsLifetime      bool
	workers             int
	duration, firewalls string
	rulesN              string
}

func main() {
	var (
		in                           input
		getPath, rulesPath, barePath string
		noauthPath, evalPath         string
		plainPath                    string
		strict                       bool
	)
	flag.StringVar(&getPath, "get", "", "vegeta JSON report(s), comma-separated rounds: FireFlow GET-by-id")
	flag.StringVar(&rulesPath, "rules", "", "vegeta JSON report: FireFlow rules listing")
	flag.StringVar(&barePath, "bare", "", "vegeta JSON report(s), comma-separated rounds: bare net/http GET-by-id")
	flag.StringVar(&evalPath, "eval", "", "vegeta JSON report: POST evaluate with 10,000 flows per request")
	flag.StringVar(&plainPath, "plain", "", "vegeta JSON report(s), comma-separated rounds: FireFlow GET-by-id without metrics and access logs")
	flag.StringVar(&noauthPath, "noauth", "", "vegeta JSON report(s), comma-separated rounds: FireFlow GET-by-id without metrics, access logs and token checks")
	flag.Int64Var(&in.startupKB, "startup-rss-kb", -1, "FireFlow VmRSS right after /readyz, in kB")
	flag.Int64Var(&in.idleKB, "idle-rss-kb", -1, "FireFlow VmRSS after seeding and settling, in kB")
	flag.Int64Var(&in.idleFileKB, "idle-file-kb", -1, "of the idle RSS, RssFile (pages mapped from files), in kB")
	flag.Int64Var(&in.idleAnonKB, "idle-anon-kb", -1, "of the idle RSS, RssAnon (private memory), in kB")
	flag.Int64Var(&in.peakKB, "peak-rss-kb", -1, "FireFlow VmHWM after the load, in kB")
	flag.BoolVar(&in.peakIsLifetime, "peak-is-lifetime", false, "VmHWM could not be reset before the load")
	flag.IntVar(&in.workers, "workers", 0, "vegeta -max-workers used")
	flag.StringVar(&in.duration, "duration", "", "duration of each attack")
	flag.StringVar(&in.firewalls, "firewalls", "", "number of seeded firewalls")
	flag.StringVar(&in.rulesN, "rules-count", "", "number of rules listed")
	flag.BoolVar(&strict, "strict", false, "exit 1 when a target is missed")
	flag.Parse()

	var err error
	for _, x := range []struct {
		path string
		dst  **report
	}{{getPath, &in.get}, {rulesPath, &in.rules}, {barePath, &in.bare}, {noauthPath, &in.noauth}, {plainPath, &in.plain}, {evalPath, &in.eval}} {
		if x.path == "" {
			continue
		}
		if *x.dst, err = readMedian(x.path); err != nil {
			fmt.Fprintln(os.Stderr, "summary:", err)
			os.Exit(2)
		}
	}
	missed := write(os.Stdout, &in)
	if strict && missed > 0 {
		os.Exit(1)
	}
}

// write prints the summary and returns how many targets were missed.
func write(w io.Writer, in *input) int {
	fmt.Fprintln(w, "")
	fmt.Fprintln(w, "== FireFlow API benchmark ==")
	var conf []string
	if in.firewalls != "" {
		conf = append(conf, in.firewalls+" firewalls")
	}
	if in.rulesN != "" {
		conf = append(conf, in.rulesN+" rules listed")
	}
	if in.workers > 0 {
		conf = append(conf, fmt.Sprintf("vegeta -rate=0 -max-workers=%d", in.workers))
	}
	if in.duration != "" {
		conf = append(conf, in.duration+" per attack")
	}
	if len(conf) > 0 {
		fmt.Fprintln(w, strings.Join(conf, ", "))
	}
	fmt.Fprintln(w, "")

	const rowFmt = "%-30s %9s %9s %9s %9s %9s %9s %8s\n"
	fmt.Fprintf(w, rowFmt, "scenario", "requests", "req/s", "p50", "p90", "p99", "max", "success")
	row := func(name string, r *report) {
		if r == nil {
			fmt.Fprintf(w, rowFmt, name, "-", "-", "-", "-", "-", "-", "-")
			return
		}
		fmt.Fprintf(w, rowFmt, name, fmt.Sprint(r.Requests), fmt.Sprintf("%.0f", r.Throughput),
			ms(r.Latencies.P50), ms(r.Latencies.P90), ms(r.Latencies.P99), ms(r.Latencies.Max),
			fmt.Sprintf("%.2f%%", 100*r.Success))
	}
	row("fireflow GET /firewalls/{id}", in.get)
	row("fireflow GET .../rules", in.rules)
	row("bare net/http GET by id", in.bare)
	if in.plain != nil {
		row("GET, no metrics/logs", in.plain)
	}
	if in.noauth != nil {
		row("GET, no metrics/logs/auth", in.noauth)
	}
	if in.eval != nil {
		row("fireflow evaluate 10k flows", in.eval)
	}

	for _, x := range []struct {
		name string
		r    *report
	}{{"fireflow GET by id", in.get}, {"fireflow rules", in.rules}, {"bare GET by id", in.bare}} {
		if x.r != nil && x.r.Success < minSuccessful {
			fmt.Fprintf(w, "warning: %s: status codes %s; errors: %s\n", x.name, codes(x.r.StatusCodes), firstErrors(x.r.Errors, 3))
		}
	}

	fmt.Fprintln(w, "")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\tlimit\tresult")
	missed := 0
	check := func(name, measured, limit string, ok bool, known bool) {
		res := "n/a"
		if known {
			res = "PASS"
			if !ok {
				res = "FAIL"
				missed++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, measured, limit, res)
	}
	if in.startupKB >= 0 {
		fmt.Fprintf(tw, "startup RSS (info)\t%s\t-\t-\n", mb(in.startupKB))
	}
	check("idle RSS after seeding", mb(in.idleKB), fmt.Sprintf("<= %.0f MB", maxIdleRSSMB),
		float64(in.idleKB)/1024 <= maxIdleRSSMB, in.idleKB >= 0)
	// The split shows what a miss is made of: file pages follow the binary's
	// size, private memory follows what the server holds.
	if in.idleFileKB >= 0 && in.idleAnonKB >= 0 {
		fmt.Fprintf(tw, "  of which the binary's pages (info)\t%s\t-\t-\n", mb(in.idleFileKB))
		fmt.Fprintf(tw, "  of which private memory (info)\t%s\t-\t-\n", mb(in.idleAnonKB))
	}
	peakName := "peak RSS under load"
	if in.peakIsLifetime {
		peakName += " (lifetime)"
	}
	check(peakName, mb(in.peakKB), fmt.Sprintf("<= %.0f MB", maxPeakRSSMB),
		float64(in.peakKB)/1024 <= maxPeakRSSMB, in.peakKB >= 0)
	ratio, ok := bareRatio(in.get, in.bare)
	measured := "-"
	if ok {
		measured = fmt.Sprintf("%.1f %% (%.0f / %.0f req/s)", 100*ratio, in.get.Throughput, in.bare.Throughput)
	}
	check("GET by id vs bare net/http", measured, fmt.Sprintf(">= %.0f %%", 100*minBareRatio), ratio >= minBareRatio, ok)
	if in.plain != nil {
		cost, ok := bareRatio(in.get, in.plain)
		cost = 1 - cost
		check("throughput lost to metrics+logs (tracing off)", fmt.Sprintf("%.1f %% (%.0f vs %.0f req/s)", 100*cost, in.get.Throughput, in.plain.Throughput),
			fmt.Sprintf("<= %.0f %%", 100*maxObsCost), cost <= maxObsCost, ok)
	}
	if in.noauth != nil {
		// Without the plain rounds, fireflow itself stands in for the API with auth.
		withAuth := in.get
		if in.plain != nil {
			withAuth = in.plain
		}
		cost, ok := bareRatio(withAuth, in.noauth)
		cost = 1 - cost
		check("throughput lost to auth", fmt.Sprintf("%.1f %% (%.0f vs %.0f req/s)", 100*cost, withAuth.Throughput, in.noauth.Throughput),
			fmt.Sprintf("<= %.0f %%", 100*maxAuthCost), cost <= maxAuthCost, ok)
	}
	if in.eval != nil {
		perSecond := in.eval.Throughput * flowsPerEvaluate
		check("decisions/s over HTTP (10k-flow batches)", fmt.Sprintf("%.0f", perSecond),
			fmt.Sprintf(">= %.0f", minDecisionsPerSecond), perSecond >= minDecisionsPerSecond, true)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "")
	if missed > 0 {
		fmt.Fprintf(w, "%d target(s) missed\n", missed)
	} else {
		fmt.Fprintln(w, "all measured targets met")
	}
	return missed
}

func bareRatio(get, bare *report) (float64, bool) {
	if get == nil || bare == nil || bare.Throughput <= 0 {
		return 0, false
	}
	return get.Throughput / bare.Throughput, true
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func mb(kb int64) string {
	if kb < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB", float64(kb)/1024)
}

func codes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func firstErrors(errs []string, n int) string {
	if len(errs) == 0 {
		return "none"
	}
	if len(errs) > n {
		return strings.Join(errs[:n], "; ") + fmt.Sprintf(" (+%d more)", len(errs)-n)
	}
	return strings.Join(errs, "; ")
}
