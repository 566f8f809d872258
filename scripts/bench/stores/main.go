// Command stores reads the vegeta JSON reports (vegeta report -type=json)
// that scripts/bench-stores.sh writes for FireFlow on SQLite and on
// PostgreSQL, and prints them side by side with the PostgreSQL targets:
//
//   - GET-by-id on PostgreSQL >= 60 % of the SQLite figure;
//   - rule creation on PostgreSQL >= 1,000/s.
//
// Each flag takes comma-separated reports of repeated rounds; the round
// with the median throughput counts, so that one noisy round on a shared
// machine does not decide a comparison. With -strict it exits 1 when a
// target is missed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of the store comparison.
const (
	minGetRatio     = 0.60
	minCreatePerSec = 1000.0
)

// report is the subset of vegeta's JSON report used here; latencies are in
// nanoseconds.
type report struct {
	Latencies struct {
		P50 time.Duration `json:"50th"`
		P99 time.Duration `json:"99th"`
	} `json:"latencies"`
	Requests    uint64         `json:"requests"`
	Throughput  float64        `json:"throughput"`
	Success     float64        `json:"success"`
	StatusCodes map[string]int `json:"status_codes"`
}

func readMedian(paths string) (*report, error) {
	var rounds []*report
	for _, path := range strings.Split(paths, ",") {
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
		rounds = append(rounds, &r)
	}
	slices.SortFunc(rounds, func(a, b *report) int {
		switch {
		case a.Throughput < b.Throughput:
			return -1
		case a.Throughput > b.Throughput:
			return 1
		}
		return 0
	})
	return rounds[len(rounds)/2], nil
}

// scenario is one measured request kind on both stores.
type scenario struct {
	name         string
	sqlite, pg   string // flag values
	sqliteR, pgR *report
}

func main() {
	scenarios := []*scenario{{name: "GET /firewalls/{id}"}, {name: "GET .../rules (list)"}, {name: "POST .../rules (create)"}}
	for i, key := range []string{"get", "rules", "create"} {
		flag.StringVar(&scenarios[i].sqlite, "sqlite-"+key, "", "vegeta JSON report(s) on SQLite: "+scenarios[i].name)
		flag.StringVar(&scenarios[i].pg, "pg-"+key, "", "vegeta JSON report(s) on PostgreSQL: "+scenarios[i].name)
	}
	workers := flag.Int("workers", 0, "vegeta -max-workers used")
	duration := flag.String("duration", "", "duration of each attack")
	strict := flag.Bool("strict", false, "exit 1 when a target is missed")
	flag.Parse()
	for _, s := range scenarios {
		var err error
		if s.sqliteR, err = readMedian(s.sqlite); err == nil {
			s.pgR, err = readMedian(s.pg)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "stores:", err)
			os.Exit(2)
		}
	}
	if missed := write(os.Stdout, scenarios, *workers, *duration); *strict && missed > 0 {
		os.Exit(1)
	}
}

// write prints the comparison and returns how many targets were missed.
func write(w io.Writer, scenarios []*scenario, workers int, duration string) int {
	fmt.Fprintln(w, "")
	fmt.Fprintf(w, "== FireFlow on SQLite vs PostgreSQL (loopback; vegeta -rate=0 -max-workers=%d, %s per round, median round) ==\n\n", workers, duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tSQLite req/s\tp50\tp99\tok\tPostgreSQL req/s\tp50\tp99\tok\tPG/SQLite\t")
	for _, s := range scenarios {
		a, b := s.sqliteR, s.pgR
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%.0f %%\t\n", s.name,
			a.Throughput, ms(a.Latencies.P50), ms(a.Latencies.P99), pct(a.Success),
			b.Throughput, ms(b.Latencies.P50), ms(b.Latencies.P99), pct(b.Success), 100*b.Throughput/a.Throughput)
	}
	_ = tw.Flush()

	missed := 0
	check := func(name, measured, limit string, ok bool) {
		res := "PASS"
		if !ok {
			res, missed = "FAIL", missed+1
		}
		fmt.Fprintf(w, "  %-44s %-30s %-10s %s\n", name, measured, limit, res)
	}
	fmt.Fprintln(w, "")
	get, create := scenarios[0], scenarios[2]
	ratio := get.pgR.Throughput / get.sqliteR.Throughput
	check("PostgreSQL GET by id vs SQLite", fmt.Sprintf("%.0f %% (%.0f / %.0f req/s)", 100*ratio, get.pgR.Throughput, get.sqliteR.Throughput),
		fmt.Sprintf(">= %.0f %%", 100*minGetRatio), ratio >= minGetRatio)
	check("PostgreSQL rule creation", fmt.Sprintf("%.0f rules/s", create.pgR.Throughput),
		fmt.Sprintf(">= %.0f/s", minCreatePerSec), create.pgR.Throughput >= minCreatePerSec)
	for _, s := range scenarios {
		for store, r := range map[string]*report{"SQLite": s.sqliteR, "PostgreSQL": s.pgR} {
			if r.Success < 1 {
				check(s.name+" on "+store+": every request succeeds", pct(r.Success)+" "+codes(r.StatusCodes), "100 %", false)
			}
		}
	}
	if missed > 0 {
		fmt.Fprintf(w, "\n%d store target(s) missed\n", missed)
	} else {
		fmt.Fprintln(w, "\nall store targets met")
	}
	return missed
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func codes(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
