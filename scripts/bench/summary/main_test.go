package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A report as written by vegeta v12 report -type=json.
const sample = `{"latencies":{"total":1234567890,"mean":250000,"50th":200000,"90th":400000,"95th":500000,"99th":1500000,"max":9000000,"min":50000},
"bytes_in":{"total":100,"mean":10},"bytes_out":{"total":0,"mean":0},
"earliest":"2025-01-01T00:00:00Z","latest":"2025-01-01T00:00:10Z","end":"2025-01-01T00:00:10.0002Z",
"duration":10000000000,"wait":200000,"requests":200000,"rate":20000.5,"throughput":19999.6,"success":1,
"status_codes":{"200":200000},"errors":[]}`

func writeReport(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadReport(t *testing.T) {
	r, err := readReport(writeReport(t, sample))
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 200000 || r.Latencies.P50 != 200*time.Microsecond || r.Latencies.P99 != 1500*time.Microsecond {
		t.Errorf("got %+v", r)
	}
	if r.Throughput != 19999.6 || r.Success != 1 {
		t.Errorf("throughput %v success %v", r.Throughput, r.Success)
	}
	if _, err := readReport(writeReport(t, `{"requests":0}`)); err == nil {
		t.Error("empty report: want error")
	}
}

func TestWriteTargets(t *testing.T) {
	r, err := readReport(writeReport(t, sample))
	if err != nil {
		t.Fatal(err)
	}
	bare := *r
	bare.Throughput = 30000

	var buf bytes.Buffer
	missed := write(&buf, &input{get: r, rules: r, bare: &bare, startupKB: 10 * 1024, idleKB: 20 * 1024, idleFileKB: 15 * 1024, idleAnonKB: 5 * 1024, peakKB: 50 * 1024})
	out := buf.String()
	if missed != 0 {
		t.Errorf("missed = %d, want 0\n%s", missed, out)
	}
	for _, want := range []string{"0.20ms", "1.50ms", "66.7 %", "20.0 MB", "15.0 MB", "5.0 MB", "50.0 MB", "all measured targets met"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	buf.Reset()
	bare.Throughput = 50000
	missed = write(&buf, &input{get: r, bare: &bare, startupKB: -1, idleKB: 40 * 1024, idleFileKB: -1, idleAnonKB: -1, peakKB: -1})
	if missed != 2 {
		t.Errorf("missed = %d, want 2 (idle RSS and ratio)\n%s", missed, buf.String())
	}
	if !strings.Contains(buf.String(), "n/a") {
		t.Errorf("unknown peak should be n/a:\n%s", buf.String())
	}
}

// TestWriteCosts checks the two cost figures: metrics and logs against the
// plain API, and auth against the plain API with auth stubbed out.
func TestWriteCosts(t *testing.T) {
	r, err := readReport(writeReport(t, sample)) // 19999.6 req/s
	if err != nil {
		t.Fatal(err)
	}
	plain, noauth := *r, *r
	plain.Throughput = 21000  // fireflow loses 4.8 % to metrics and logs
	noauth.Throughput = 23000 // the plain API loses 8.7 % to auth
	var buf bytes.Buffer
	missed := write(&buf, &input{get: r, plain: &plain, noauth: &noauth, startupKB: -1, idleKB: -1, idleFileKB: -1, idleAnonKB: -1, peakKB: -1})
	out := buf.String()
	for _, want := range []string{"throughput lost to metrics+logs (tracing off)  4.8 %", "throughput lost to auth", "8.7 % (21000 vs 23000 req/s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if missed != 1 {
		t.Errorf("missed = %d, want 1 (auth)\n%s", missed, out)
	}
}
